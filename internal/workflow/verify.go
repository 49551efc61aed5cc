package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"dsrflow/internal/dsr"
	"dsrflow/internal/notify"
	"dsrflow/internal/operator"
	"dsrflow/internal/verification"
)

// Verification routes, in AdmitOutput.Route.
const (
	// RouteCode: a one-time code to the requester's contact.
	RouteCode = "code"
	// RouteManual: an operator checks documents or authority (a guardian,
	// an agent, documents sent as proof, no way to send a code).
	RouteManual = "manual"
	// RouteVerified: identity is proved already (the app's login at
	// intake), or a restarted execution of a request past verification:
	// Verify answers its own token at once.
	RouteVerified = "verified"
)

// manualTimeout is how long Verify waits for an operator (or for a
// restarted execution's own answer): Step Functions' year.
const manualTimeout = 365 * 24 * time.Hour

// AdmitOutput is the state after Admit: the request's ID and kind, how its
// identity is verified, and how long Verify may wait.
type AdmitOutput struct {
	RequestID string   `json:"requestId"`
	Kind      dsr.Kind `json:"kind"`
	Route     string   `json:"route"`
	// Cause says why the route is manual ("role_guardian", "attachments",
	// "no_contact"), or what was verified ("login", the status resumed).
	Cause string `json:"cause"`
	// VerifyTimeoutSeconds is Verify's TimeoutSecondsPath: the code's
	// window (policy, 7 days), or a year for an operator.
	VerifyTimeoutSeconds int `json:"verifyTimeoutSeconds"`
}

// Admit checks the request exists and is open, and chooses how its
// identity is verified: a requester acting for someone else (PIPL art. 49)
// or sending documents as proof is verified by hand (policy 五.5 书面材料),
// as is one we cannot send a code to; a login at intake verified it already.
func (h *Handlers) Admit(ctx context.Context, in RequestInput) (AdmitOutput, error) {
	if err := checkID(in.RequestID); err != nil {
		return AdmitOutput{}, err
	}
	r, err := h.store.GetRequest(ctx, in.RequestID)
	if err != nil {
		return AdmitOutput{}, named(in.RequestID, "admit", err)
	}
	out := AdmitOutput{RequestID: r.ID, Kind: r.Kind, Route: RouteCode, VerifyTimeoutSeconds: h.policy.expireAfterDays() * 86400}
	switch {
	case r.Status.Terminal():
		return AdmitOutput{}, &StatusConflict{RequestID: r.ID, Step: "admit", Status: r.Status}
	case r.VerifiedAt != nil || r.VerifiedBy == dsr.ProofLogin:
		out.Route, out.Cause = RouteVerified, r.VerifiedBy
	case r.Status != dsr.StatusReceived && r.Status != dsr.StatusAwaitingVerification && r.Status != dsr.StatusInReview:
		out.Route, out.Cause = RouteVerified, string(r.Status)
	case r.Role.NeedsManualReview():
		out.Route, out.Cause = RouteManual, "role_"+string(r.Role)
	case r.Documents > 0:
		out.Route, out.Cause = RouteManual, "attachments"
	case r.ContactChannel == "":
		out.Route, out.Cause = RouteManual, "no_contact"
	}
	if out.Route != RouteCode {
		out.VerifyTimeoutSeconds = int(manualTimeout / time.Second)
	}
	if err := h.audit(ctx, r.ID, "admitted", ActorAdmit, map[string]string{"route": out.Route, "routeCause": out.Cause, "kind": string(r.Kind)}); err != nil {
		return AdmitOutput{}, err
	}
	h.log().InfoContext(ctx, "admitted", "requestId", r.ID, "route", out.Route)
	return out, nil
}

// VerifyInput is Verify's input.
type VerifyInput struct {
	RequestID string `json:"requestId"`
	Route     string `json:"route"`
	Cause     string `json:"cause"`
	TaskToken string `json:"taskToken"`
}

// VerifyOutput is the handler's own result (Step Functions records it as
// TaskSubmitted; the state's result is what SendTaskSuccess sends:
// verification.TaskOutput or operator.TaskOutput).
type VerifyOutput struct {
	Route    string `json:"route"`
	Channel  string `json:"channel,omitempty"`
	CodeSent bool   `json:"codeSent"`
}

// Verify waits on the task token until identity is proved:
//   - code: the request moves to awaiting_verification and a one-time code
//     goes to the requester's contact; the verification page answers the
//     token (verification.Service.SubmitCode). No channel to send a code
//     on: an operator verifies instead.
//   - manual: the request moves to in_review and an operator decides
//     (operator.Service.Decide answers the token).
//   - verified: the token is answered at once.
func (h *Handlers) Verify(ctx context.Context, in VerifyInput) (VerifyOutput, error) {
	if err := checkToken(TokenInput{RequestID: in.RequestID, TaskToken: in.TaskToken}); err != nil {
		return VerifyOutput{}, err
	}
	id := in.RequestID
	out := VerifyOutput{Route: in.Route}
	switch in.Route {
	case RouteVerified:
		r, err := h.store.GetRequest(ctx, id)
		if err != nil {
			return out, named(id, "verify", err)
		}
		at := r.CreatedAt
		if r.VerifiedAt != nil {
			at = *r.VerifiedAt
		}
		method := r.VerifiedBy
		if method == "" {
			method = "resumed"
		}
		b, _ := json.Marshal(verification.TaskOutput{Result: operator.ResultApproved, Method: method, VerifiedAt: at.UTC().Format(time.RFC3339Nano)})
		return out, h.answer(ctx, id, in.TaskToken, b)
	case RouteCode:
		if _, _, err := h.move(ctx, "verify identity", id, dsr.StatusAwaitingVerification, []dsr.Status{dsr.StatusReceived}, nil); err != nil {
			return out, err
		}
		iss, err := h.verification.Begin(ctx, id, in.TaskToken)
		if err == nil {
			out.Channel, out.CodeSent = string(iss.Channel), iss.Sent
			h.log().InfoContext(ctx, "verification started", "requestId", id, "codeSent", iss.Sent, "channel", string(iss.Channel), "locked", iss.Locked)
			return out, nil
		}
		cause := "no_delivery_channel"
		if _, over := notify.OverBudgetLimit(err); over {
			cause = "over_budget"
		}
		var nd *NoDeliveryChannel
		if err = named(id, "verify identity", err); !errors.As(err, &nd) {
			return out, err
		}
		// Nobody to send a code to (a phone only, no SMS provider), or
		// the message budget refused it: an operator verifies.
		return out, h.awaitOperator(ctx, id, operator.StageVerification, cause, in.TaskToken)
	case RouteManual:
		return out, h.awaitOperator(ctx, id, operator.StageVerification, in.Cause, in.TaskToken)
	}
	return out, &InvalidInput{Field: "route", Problem: fmt.Sprintf("unknown route %q", in.Route)}
}

// AwaitInput is the input of OperatorWait: a decision Review asked for.
type AwaitInput struct {
	RequestID string         `json:"requestId"`
	Stage     operator.Stage `json:"stage"`
	Cause     string         `json:"cause"`
	TaskToken string         `json:"taskToken"`
}

// AwaitOperator records that the workflow waits for an operator's decision
// Review asked for (an identity mismatch, a repeat request, a resolution
// that failed); the console or `dsr review|verify approve|refuse` answers
// it, and Review runs again with the decision.
func (h *Handlers) AwaitOperator(ctx context.Context, in AwaitInput) (StatusOutput, error) {
	if err := checkToken(TokenInput{RequestID: in.RequestID, TaskToken: in.TaskToken}); err != nil {
		return StatusOutput{}, err
	}
	if !in.Stage.Valid() {
		return StatusOutput{}, &InvalidInput{Field: "stage", Problem: fmt.Sprintf("unknown stage %q", in.Stage)}
	}
	if err := h.awaitOperator(ctx, in.RequestID, in.Stage, in.Cause, in.TaskToken); err != nil {
		return StatusOutput{}, err
	}
	return StatusOutput{Status: dsr.StatusInReview}, nil
}

// awaitOperator moves the request to in_review (any code sent stops
// working) and records the wait.
func (h *Handlers) awaitOperator(ctx context.Context, id string, st operator.Stage, cause, token string) error {
	step := "await operator " + string(st)
	if _, _, err := h.move(ctx, step, id, dsr.StatusInReview, []dsr.Status{dsr.StatusReceived, dsr.StatusAwaitingVerification}, nil); err != nil {
		return err
	}
	if st == operator.StageVerification {
		if err := h.verification.Close(ctx, id); err != nil {
			return named(id, step, err)
		}
	}
	first, err := h.operator.Await(ctx, id, st, cause, token)
	if err != nil {
		return named(id, step, err)
	}
	if first {
		if err := h.audit(ctx, id, "operator_requested", ActorOperator, map[string]string{"stage": string(st), "cause": cause}); err != nil {
			return err
		}
	}
	h.log().InfoContext(ctx, "waiting for operator", "requestId", id, "stage", string(st), "cause", cause)
	return nil
}
