// Package workflow is the logic of the data-subject request workflow's task
// functions (statemachines/dsr.asl.json): Admit, VerifyIdentity, the
// operator waits, Review, Proceed, Reply and Close. Each handler takes the
// request ID (and IDs, codes and dates) from the state machine, loads what it
// needs from DynamoDB, acts, appends an audit event and returns IDs, kinds,
// statuses and dates only (DESIGN.md rule 1).
//
// Every handler tolerates being run twice (Lambda retries, the state
// machine's Retry): status changes go through guarded transitions, and a
// request already in the target status is success; messages to the requester
// are sent once per request and template (a NOTICE#<template> marker item).
package workflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dsrflow/internal/dsr"
	"dsrflow/internal/legalhold"
	"dsrflow/internal/notify"
	"dsrflow/internal/operator"
	"dsrflow/internal/partner"
	"dsrflow/internal/partner/export"
	"dsrflow/internal/store"
	"dsrflow/internal/verification"
	"dsrflow/internal/workday"
)

// DB is the part of the DynamoDB client the handlers use directly (notice
// markers).
type DB interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

// Handlers holds the task handlers' dependencies.
type Handlers struct {
	Store        *store.Store
	DB           DB
	Table        string
	Verification *verification.Service
	Operator     *operator.Service
	Holds        *legalhold.List
	Sender       notify.Sender
	Team         notify.Contact
	Policy       Policy
	// Partners holds the partner task handlers (FanOut, the account
	// pre-check, the backup window and confirmation). New always sets it;
	// with no partner configuration it reaches nobody.
	Partners *partner.Dispatcher
	// Assembler builds access and portability packages and Exports links
	// to them; both nil without export storage.
	Assembler *export.Assembler
	Exports   *export.Store
	Now       func() time.Time
	Logger    *slog.Logger
}

func (h *Handlers) now() time.Time {
	if h.Now != nil {
		return h.Now().UTC()
	}
	return time.Now().UTC()
}

func (h *Handlers) log() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}

// Actor names of the handlers in audit events.
const (
	ActorAdmit    = "workflow:admit"
	ActorVerify   = "workflow:verify-identity"
	ActorOperator = "workflow:await-operator"
	ActorReview   = "workflow:review"
	ActorProceed  = "workflow:proceed"
	ActorReply    = "workflow:reply"
	ActorClose    = "workflow:close"
)

// RequestInput is the input of tasks that need only the request ID.
type RequestInput struct {
	RequestID string `json:"requestId"`
}

func checkID(id string) error {
	if id == "" {
		return &InvalidInput{Field: "requestId", Problem: "required"}
	}
	if len(id) > 128 {
		return &InvalidInput{Field: "requestId", Problem: "longer than 128 characters"}
	}
	return nil
}

// StatusOutput reports the request's status after a step.
type StatusOutput struct {
	Status dsr.Status `json:"status"`
}

// move brings request id into status to, from one of the statuses in from,
// and applies mutate in the same write. A request already in status to is
// left as it is (a step run twice); any other status is a StatusConflict.
// A transition lost to a concurrent writer is retried after a reload.
func (h *Handlers) move(ctx context.Context, step, id string, to dsr.Status, from []dsr.Status, mutate func(*dsr.Request)) (*dsr.Request, bool, error) {
	for range 5 {
		r, err := h.Store.GetRequest(ctx, id)
		if err != nil {
			return nil, false, named(id, step, err)
		}
		if r.Status == to {
			return r, false, nil
		}
		ok := false
		for _, f := range from {
			ok = ok || f == r.Status
		}
		if !ok {
			return nil, false, &StatusConflict{RequestID: id, Step: step, Status: r.Status}
		}
		nr, err := h.Store.TransitionStatus(ctx, id, r.Status, to, r.Version, mutate)
		var ce *store.ConflictError
		if errors.As(err, &ce) {
			continue
		}
		if err != nil {
			return nil, false, named(id, step, err)
		}
		return nr, true, nil
	}
	return nil, false, &ServiceUnavailable{RequestID: id, Op: step, Err: errors.New("request kept changing")}
}

// audit appends an event; its failure is a ServiceUnavailable.
func (h *Handlers) audit(ctx context.Context, id, typ, actor string, data map[string]string) error {
	if _, err := h.Store.AppendEvent(ctx, id, store.Event{Type: typ, At: h.now(), Actor: actor, Data: data}); err != nil {
		return named(id, "audit "+typ, err)
	}
	return nil
}

// notice is the marker of a message sent to the requester.
type notice struct {
	PK      string `dynamodbav:"PK"`
	SK      string `dynamodbav:"SK"`
	State   string `dynamodbav:"state"` // sending, sent
	Channel string `dynamodbav:"channel,omitempty"`
	At      string `dynamodbav:"at"`
}

// sendOnce sends m unless a message with the same template was already sent
// for the request. A send that failed or was interrupted is tried again on
// the next run (at least once; exactly once unless the run dies between the
// provider accepting the message and the marker being updated).
func (h *Handlers) sendOnce(ctx context.Context, actor string, m notify.Message) error {
	id := m.RequestID
	key := map[string]dbtypes.AttributeValue{
		"PK": &dbtypes.AttributeValueMemberS{Value: "REQ#" + id},
		"SK": &dbtypes.AttributeValueMemberS{Value: "NOTICE#" + m.Template},
	}
	out, err := h.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(h.Table), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return named(id, "load notice marker", err)
	}
	if out.Item != nil {
		var n notice
		if err := attributevalue.UnmarshalMap(out.Item, &n); err == nil && n.State == "sent" {
			return nil
		}
	}
	put := func(n notice) error {
		n.PK, n.SK, n.At = "REQ#"+id, "NOTICE#"+m.Template, h.now().Format(time.RFC3339Nano)
		item, err := attributevalue.MarshalMap(n)
		if err != nil {
			return err
		}
		_, err = h.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(h.Table), Item: item})
		return err
	}
	if err := put(notice{State: "sending"}); err != nil {
		return named(id, "write notice marker", err)
	}
	ch, err := h.Sender.Send(ctx, m)
	if err != nil {
		err = named(id, "send "+m.Template, err)
		var nd *NoDeliveryChannel
		if errors.As(err, &nd) {
			// Nobody to tell: record it for the operators (dsr show) and go on.
			return h.audit(ctx, id, "notice_undeliverable", actor, map[string]string{"template": m.Template})
		}
		return err
	}
	if err := put(notice{State: "sent", Channel: string(ch)}); err != nil {
		return named(id, "write notice marker", err)
	}
	return h.audit(ctx, id, "notice_sent", actor, map[string]string{"template": m.Template, "channel": string(ch), "locale": string(m.Locale)})
}

// locale is the request's locale, the default when unknown.
func locale(r *dsr.Request) dsr.Locale {
	if l, ok := dsr.ParseLocale(r.Locale); ok {
		return l
	}
	return dsr.DefaultLocale
}

// ---- Admit

// Verification routes, in AdmitOutput.Route.
const (
	RouteCode   = "code"
	RouteManual = "manual"
	// RouteResume: a restarted execution (the reconciler's <id>-rN) of a
	// request already in progress goes straight to the partner fan-out,
	// which sends nothing again to partners that already answered.
	RouteResume = "resume"
	// RouteResumeReply: a restarted execution of a request already replied
	// to goes to Reply (which sends nothing twice) and on to the backup wait.
	RouteResumeReply = "resume_reply"
)

// AdmitOutput is the state after Admit: the request's ID and kind, and how
// identity will be verified.
type AdmitOutput struct {
	RequestID string   `json:"requestId"`
	Kind      dsr.Kind `json:"kind"`
	// Route is "code" (a one-time code to the contact on the request) or
	// "manual" (an operator checks documents or authority).
	Route string `json:"route"`
	// RouteCause says why the route is manual ("role_guardian",
	// "attachments", "no_contact"); empty for the code route.
	RouteCause string `json:"routeCause"`
}

// Admit checks the request exists and is new, and chooses how its identity
// is verified (a restarted execution of a request past verification
// resumes instead: RouteResume, RouteResumeReply): a requester acting for someone else (PIPL art. 49) or sending
// documents as proof is verified by hand (policy 五.5 书面材料), as is one we
// cannot send a code to.
func (h *Handlers) Admit(ctx context.Context, in RequestInput) (AdmitOutput, error) {
	if err := checkID(in.RequestID); err != nil {
		return AdmitOutput{}, err
	}
	r, err := h.Store.GetRequest(ctx, in.RequestID)
	if err != nil {
		return AdmitOutput{}, named(in.RequestID, "admit", err)
	}
	out := AdmitOutput{RequestID: r.ID, Kind: r.Kind, Route: RouteCode}
	switch r.Status {
	case dsr.StatusReceived, dsr.StatusAwaitingVerification, dsr.StatusInReview:
	case dsr.StatusInProgress:
		out.Route, out.RouteCause = RouteResume, string(r.Status)
	case dsr.StatusReplied, dsr.StatusAwaitingBackupRotation:
		out.Route, out.RouteCause = RouteResumeReply, string(r.Status)
	default:
		return AdmitOutput{}, &StatusConflict{RequestID: r.ID, Step: "admit", Status: r.Status}
	}
	switch {
	case out.Route != RouteCode:
	case r.Role.NeedsManualReview():
		out.Route, out.RouteCause = RouteManual, "role_"+string(r.Role)
	case len(r.Attachments) > 0:
		out.Route, out.RouteCause = RouteManual, "attachments"
	case notify.ChannelFor(r.Contact) == "":
		out.Route, out.RouteCause = RouteManual, "no_contact"
	}
	if err := h.audit(ctx, r.ID, "admitted", ActorAdmit, map[string]string{"route": out.Route, "routeCause": out.RouteCause, "kind": string(r.Kind)}); err != nil {
		return AdmitOutput{}, err
	}
	h.log().InfoContext(ctx, "admitted", "requestId", r.ID, "route", out.Route)
	return out, nil
}

// ---- VerifyIdentity

// TokenInput is the input of a .waitForTaskToken task.
type TokenInput struct {
	RequestID string `json:"requestId"`
	TaskToken string `json:"taskToken"`
}

// VerifyIdentityOutput is the handler's own result (Step Functions records
// it as TaskSubmitted; the state's result is what SendTaskSuccess sends).
type VerifyIdentityOutput struct {
	Channel   string    `json:"channel"`
	CodeSent  bool      `json:"codeSent"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// VerifyIdentity moves the request to awaiting_verification and sends a
// one-time code to its contact; the workflow then waits on the task token
// until the requester enters the code (verification.Service.SubmitCode).
func (h *Handlers) VerifyIdentity(ctx context.Context, in TokenInput) (VerifyIdentityOutput, error) {
	if err := checkID(in.RequestID); err != nil {
		return VerifyIdentityOutput{}, err
	}
	if in.TaskToken == "" {
		return VerifyIdentityOutput{}, &InvalidInput{Field: "taskToken", Problem: "required"}
	}
	id := in.RequestID
	if _, _, err := h.move(ctx, "verify identity", id, dsr.StatusAwaitingVerification, []dsr.Status{dsr.StatusReceived}, nil); err != nil {
		return VerifyIdentityOutput{}, err
	}
	iss, err := h.Verification.Begin(ctx, id, in.TaskToken)
	if err != nil {
		return VerifyIdentityOutput{}, named(id, "verify identity", err)
	}
	h.log().InfoContext(ctx, "verification started", "requestId", id, "codeSent", iss.Sent, "channel", string(iss.Channel))
	return VerifyIdentityOutput{Channel: string(iss.Channel), CodeSent: iss.Sent, ExpiresAt: iss.ExpiresAt}, nil
}

// ---- AwaitOperator

// AwaitInput is the input of ManualVerification and ManualReview.
type AwaitInput struct {
	RequestID string         `json:"requestId"`
	Stage     operator.Stage `json:"stage"`
	Cause     string         `json:"cause"`
	TaskToken string         `json:"taskToken"`
}

// AwaitOutput is the handler's own result.
type AwaitOutput struct {
	Stage operator.Stage `json:"stage"`
}

// AwaitOperator records that the workflow waits for an operator's decision
// (`dsr verify approve|refuse`, `dsr review approve|refuse`). For manual
// verification the request moves to in_review first (and any code sent
// stops working).
func (h *Handlers) AwaitOperator(ctx context.Context, in AwaitInput) (AwaitOutput, error) {
	if err := checkID(in.RequestID); err != nil {
		return AwaitOutput{}, err
	}
	if !in.Stage.Valid() {
		return AwaitOutput{}, &InvalidInput{Field: "stage", Problem: fmt.Sprintf("unknown stage %q", in.Stage)}
	}
	if in.TaskToken == "" {
		return AwaitOutput{}, &InvalidInput{Field: "taskToken", Problem: "required"}
	}
	id := in.RequestID
	step := "await operator " + string(in.Stage)
	if in.Stage == operator.StageVerification {
		if _, _, err := h.move(ctx, step, id, dsr.StatusInReview, []dsr.Status{dsr.StatusReceived, dsr.StatusAwaitingVerification}, nil); err != nil {
			return AwaitOutput{}, err
		}
		if err := h.Verification.Close(ctx, id); err != nil {
			return AwaitOutput{}, named(id, step, err)
		}
	} else {
		r, err := h.Store.GetRequest(ctx, id)
		if err != nil {
			return AwaitOutput{}, named(id, step, err)
		}
		if r.Status != dsr.StatusInReview {
			return AwaitOutput{}, &StatusConflict{RequestID: id, Step: step, Status: r.Status}
		}
	}
	first, err := h.Operator.Await(ctx, id, in.Stage, in.Cause, in.TaskToken)
	if err != nil {
		return AwaitOutput{}, named(id, step, err)
	}
	if first {
		if err := h.audit(ctx, id, "operator_requested", ActorOperator, map[string]string{"stage": string(in.Stage), "cause": in.Cause}); err != nil {
			return AwaitOutput{}, err
		}
	}
	h.log().InfoContext(ctx, "waiting for operator", "requestId", id, "stage", string(in.Stage), "cause", in.Cause)
	return AwaitOutput{Stage: in.Stage}, nil
}

// ---- Proceed

// Proceed moves a reviewed request to in_progress: the partners are asked
// to act (issue 6 adds the fan-out after this step).
func (h *Handlers) Proceed(ctx context.Context, in RequestInput) (StatusOutput, error) {
	if err := checkID(in.RequestID); err != nil {
		return StatusOutput{}, err
	}
	r, moved, err := h.move(ctx, "proceed", in.RequestID, dsr.StatusInProgress, []dsr.Status{dsr.StatusInReview}, nil)
	if err != nil {
		return StatusOutput{}, err
	}
	if moved {
		if err := h.audit(ctx, r.ID, "processing_started", ActorProceed, map[string]string{"kind": string(r.Kind)}); err != nil {
			return StatusOutput{}, err
		}
	}
	return StatusOutput{Status: r.Status}, nil
}

// dueAt computes the reply deadline from the verification time.
func (h *Handlers) dueAt(verifiedAt time.Time) (time.Time, error) {
	rule := h.Policy.DueRule
	if rule.Period == 0 {
		r, err := workday.RuleFor(workday.CN)
		if err != nil {
			return time.Time{}, err
		}
		rule = r
	}
	return workday.DueAt(rule, verifiedAt)
}
