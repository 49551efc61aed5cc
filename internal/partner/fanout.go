package partner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"dsrflow/internal/dsr"
	"dsrflow/internal/store"
)

// TaskSender is the part of the Step Functions client that answers a state
// waiting with .waitForTaskToken.
type TaskSender interface {
	SendTaskSuccess(ctx context.Context, in *sfn.SendTaskSuccessInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error)
	SendTaskFailure(ctx context.Context, in *sfn.SendTaskFailureInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error)
}

// SecretSource resolves a partner's secret reference (see Secrets).
type SecretSource interface {
	Resolve(ctx context.Context, ref string) ([]byte, error)
}

// ExportSink keeps a partner's export of the subject's data (personal data:
// it goes to encrypted storage, never into the table or the workflow) and
// returns where it put it.
type ExportSink interface {
	PutPartnerExport(ctx context.Context, requestID, partnerID string, data []byte) (key string, err error)
}

// Dispatcher holds the FanOut task handlers: Plan (the partners a request
// reaches), Dispatch (one Map iteration: one partner), Await (the
// .waitForTaskToken state of an async partner) and Escalate (the Catch of an
// iteration). See doc.go for the state machine wiring.
type Dispatcher struct {
	Store   *store.Store
	Config  *Config
	Secrets SecretSource
	Client  *Client
	// SFN answers waiting states (Await; a callback that arrived first).
	SFN TaskSender
	// Exports keeps export data; required for access and portability.
	Exports ExportSink
	// CallbackBaseURL is the public base URL of the HTTP API; callbacks go to
	// {CallbackBaseURL}/partners/{partner}/callbacks.
	CallbackBaseURL string
	// Now is the business clock (completion times, deadlines); it defaults
	// to time.Now and may run scaled locally. Signatures use Client.Now.
	Now func() time.Time
	// Log defaults to slog.Default().
	Log *slog.Logger
}

// Actor is the audit actor of the fan-out handlers.
const Actor = "partner-fanout"

// DefaultDeadline is the deadline of a partner that answers pending without
// being configured async.
const DefaultDeadline = 24 * time.Hour

func (d *Dispatcher) now() time.Time {
	if d.Now != nil {
		return d.Now().UTC()
	}
	return time.Now().UTC()
}

func (d *Dispatcher) log() *slog.Logger {
	if d.Log != nil {
		return d.Log
	}
	return slog.Default()
}

// PlanInput is the input of Plan.
type PlanInput struct {
	RequestID string `json:"requestId"`
}

// PlanItem is one Map item: a partner to reach.
type PlanItem struct {
	RequestID string `json:"requestId"`
	PartnerID string `json:"partnerId"`
	Action    Action `json:"action"`
	Mode      Mode   `json:"mode"`
	// DeadlineSeconds bounds the wait for an async partner's callback
	// (TimeoutSecondsPath of the Await state).
	DeadlineSeconds int `json:"deadlineSeconds"`
}

// PlanOutput lists the partners to reach. It holds no personal data.
type PlanOutput struct {
	Partners []PlanItem `json:"partners"`
	// Skipped are partners that hold none of the request's identity types.
	Skipped []string `json:"skipped,omitempty"`
}

// Plan writes a pending partner task for every partner the request reaches
// (idempotently: existing tasks are kept) and lists them for the Map.
func (d *Dispatcher) Plan(ctx context.Context, in PlanInput) (PlanOutput, error) {
	if in.RequestID == "" {
		return PlanOutput{}, &InvalidInput{Field: "requestId", Problem: "required"}
	}
	req, err := d.Store.GetRequest(ctx, in.RequestID)
	if err != nil {
		return PlanOutput{}, storeErr(in.RequestID, "load request", err)
	}
	out := PlanOutput{Partners: []PlanItem{}}
	created := false
	for _, a := range d.Config.PartnersFor(req.Kind, req.Purposes) {
		t, isNew, err := d.ensureTask(ctx, req, a)
		if err != nil {
			return PlanOutput{}, err
		}
		created = created || isNew
		if t.Status == store.PartnerNoData {
			out.Skipped = append(out.Skipped, a.Partner.ID)
			continue
		}
		out.Partners = append(out.Partners, planItem(req.ID, a))
	}
	if created {
		data := map[string]string{"kind": string(req.Kind), "partners": strconv.Itoa(len(out.Partners)), "skipped": strconv.Itoa(len(out.Skipped))}
		if _, err := d.Store.AppendEvent(ctx, req.ID, store.Event{Type: "partner.planned", Actor: Actor, Data: data}); err != nil {
			return PlanOutput{}, storeErr(req.ID, "append event", err)
		}
	}
	return out, nil
}

func planItem(id string, a Assignment) PlanItem {
	deadline := a.Partner.CompletionDeadline.D()
	if deadline <= 0 {
		deadline = DefaultDeadline
	}
	return PlanItem{RequestID: id, PartnerID: a.Partner.ID, Action: a.Action, Mode: a.Partner.Mode, DeadlineSeconds: int(deadline / time.Second)}
}

func (d *Dispatcher) ensureTask(ctx context.Context, req *dsr.Request, a Assignment) (*store.PartnerTask, bool, error) {
	idn, err := d.Store.GetIdentity(ctx, req.ID)
	if err != nil {
		return nil, false, storeErr(req.ID, "load identity", err)
	}
	status := store.PartnerPending
	if len(Identities(a.Partner, idn.Subject)) == 0 {
		status = store.PartnerNoData
	}
	t, created, err := d.Store.PutPartnerTask(ctx, store.PartnerTask{RequestID: req.ID, PartnerID: a.Partner.ID, Action: string(a.Action), Status: status})
	if err != nil {
		return nil, false, storeErr(req.ID, "put partner task", err)
	}
	return t, created, nil
}

// DispatchInput is one Map iteration's input.
type DispatchInput struct {
	RequestID string `json:"requestId"`
	PartnerID string `json:"partnerId"`
}

// DispatchOutput is one partner's outcome: IDs, status, receipt. No
// personal data, no export data, no links.
type DispatchOutput struct {
	RequestID string              `json:"requestId"`
	PartnerID string              `json:"partnerId"`
	Action    string              `json:"action"`
	Status    store.PartnerStatus `json:"status"`
	Receipt   string              `json:"receipt,omitempty"`
	// DeadlineSeconds is what remains of an async partner's deadline.
	DeadlineSeconds int    `json:"deadlineSeconds,omitempty"`
	Error           string `json:"error,omitempty"`
}

func (d *Dispatcher) output(t *store.PartnerTask) DispatchOutput {
	o := DispatchOutput{RequestID: t.RequestID, PartnerID: t.PartnerID, Action: t.Action, Status: t.Status, Receipt: t.Receipt}
	if t.Status == store.PartnerAwaitingCallback && t.DeadlineAt != nil {
		o.DeadlineSeconds = max(1, int(t.DeadlineAt.Sub(d.now())/time.Second))
	}
	if t.Status == store.PartnerFailed || t.Status == store.PartnerEscalated {
		o.Error = t.LastError
	}
	return o
}

// CallbackURL is where partner p sends its callbacks.
func (d *Dispatcher) CallbackURL(partnerID string) string {
	if d.CallbackBaseURL == "" {
		return ""
	}
	return d.CallbackBaseURL + "/partners/" + url.PathEscape(partnerID) + "/callbacks"
}

// Dispatch sends the request to one partner, once: a task that is completed,
// failed, escalated, skipped or awaiting its callback is not sent again (so a
// fan-out stopped midway resumes without resending). The outcome is recorded
// on the partner task and in the audit trail; a partner error is returned
// as a named error after it is recorded.
func (d *Dispatcher) Dispatch(ctx context.Context, in DispatchInput) (DispatchOutput, error) {
	if in.RequestID == "" || in.PartnerID == "" {
		return DispatchOutput{}, &InvalidInput{Field: "requestId/partnerId", Problem: "required"}
	}
	p, ok := d.Config.Partner(in.PartnerID)
	if !ok {
		return DispatchOutput{}, &InvalidInput{Field: "partnerId", Problem: "unknown partner " + in.PartnerID}
	}
	req, err := d.Store.GetRequest(ctx, in.RequestID)
	if err != nil {
		return DispatchOutput{}, storeErr(in.RequestID, "load request", err)
	}
	t, err := d.Store.GetPartnerTask(ctx, in.RequestID, in.PartnerID)
	if errors.Is(err, store.ErrNotFound) {
		a, assigned := d.assignment(req, p.ID)
		if !assigned {
			return DispatchOutput{}, &InvalidInput{Field: "partnerId", Problem: fmt.Sprintf("partner %s is not concerned by a %s request", p.ID, req.Kind)}
		}
		t, _, err = d.ensureTask(ctx, req, a)
	}
	if err != nil {
		return DispatchOutput{}, storeErr(in.RequestID, "load partner task", err)
	}
	if t.Status.Settled() || t.Status == store.PartnerAwaitingCallback {
		return d.output(t), nil
	}
	idn, err := d.Store.GetIdentity(ctx, req.ID)
	if err != nil {
		return DispatchOutput{}, storeErr(req.ID, "load identity", err)
	}
	ids := Identities(p, idn.Subject)
	if len(ids) == 0 {
		t, err = d.Store.UpdatePartnerTask(ctx, req.ID, p.ID, t.Version, func(x *store.PartnerTask) { x.Status = store.PartnerNoData })
		if err != nil {
			return DispatchOutput{}, storeErr(req.ID, "skip partner", err)
		}
		return d.output(t), nil
	}
	secret, err := d.Secrets.Resolve(ctx, p.SecretRef)
	if err != nil {
		return DispatchOutput{}, &ServiceUnavailable{RequestID: req.ID, Op: "resolve secret of partner " + p.ID, Err: err}
	}
	t, err = d.Store.UpdatePartnerTask(ctx, req.ID, p.ID, t.Version, func(x *store.PartnerTask) {
		x.Status = store.PartnerDispatched
		x.Attempts++
	})
	if err != nil {
		return DispatchOutput{}, storeErr(req.ID, "mark dispatched", err)
	}
	if err := d.audit(ctx, req.ID, "partner.dispatched", p.ID, map[string]string{"action": t.Action, "attempt": strconv.Itoa(t.Attempts)}); err != nil {
		return DispatchOutput{}, err
	}

	wire := Request{
		SubjectRequestID:   req.ID,
		SubjectRequestType: Action(t.Action),
		SubmittedTime:      req.CreatedAt.UTC(),
		SubjectIdentities:  ids,
		APIVersion:         APIVersion,
	}
	if u := d.CallbackURL(p.ID); u != "" {
		wire.StatusCallbackURLs = []string{u}
	}
	switch Action(t.Action) {
	case ActionCorrect:
		pd, err := d.Store.GetPersonal(ctx, req.ID)
		if err != nil {
			return DispatchOutput{}, storeErr(req.ID, "load corrections", err)
		}
		wire.Corrections = pd.Corrections
	case ActionWithdrawConsent:
		wire.ConsentPurposes = req.Purposes
	}
	resp, callErr := d.Client.Dispatch(ctx, p, secret, wire)
	if callErr != nil {
		return d.recordError(ctx, t, callErr)
	}
	if resp.RequestStatus == StatusPending || resp.RequestStatus == StatusInProgress {
		deadline := p.CompletionDeadline.D()
		if deadline <= 0 {
			deadline = DefaultDeadline
		}
		at := d.now().Add(deadline)
		t, err = d.Store.UpdatePartnerTask(ctx, req.ID, p.ID, t.Version, func(x *store.PartnerTask) {
			x.Status = store.PartnerAwaitingCallback
			x.ExpectedBy = resp.ExpectedCompletionTime
			x.DeadlineAt = &at
			x.LastError = ""
		})
		if err != nil {
			return DispatchOutput{}, storeErr(req.ID, "record acceptance", err)
		}
		if err := d.audit(ctx, req.ID, "partner.accepted", p.ID, nil); err != nil {
			return DispatchOutput{}, err
		}
		return d.output(t), nil
	}
	t, err = d.recordCompletion(ctx, t, resp, false)
	if err != nil {
		return DispatchOutput{}, err
	}
	return d.output(t), nil
}

func (d *Dispatcher) assignment(req *dsr.Request, partnerID string) (Assignment, bool) {
	for _, a := range d.Config.PartnersFor(req.Kind, req.Purposes) {
		if a.Partner.ID == partnerID {
			return a, true
		}
	}
	return Assignment{}, false
}

// recordError records a failed call and returns the call's named error.
func (d *Dispatcher) recordError(ctx context.Context, t *store.PartnerTask, callErr error) (DispatchOutput, error) {
	var retryable *PartnerRetryable
	if !errors.As(callErr, &retryable) && ctx.Err() != nil {
		return DispatchOutput{}, &ServiceUnavailable{RequestID: t.RequestID, Op: "dispatch to partner " + t.PartnerID, Err: ctx.Err()}
	}
	code := errorCode(callErr)
	status := store.PartnerFailed
	evType := "partner.failed"
	if retryable != nil {
		status, evType = store.PartnerDispatched, "partner.retryable"
	}
	nt, err := d.Store.UpdatePartnerTask(ctx, t.RequestID, t.PartnerID, t.Version, func(x *store.PartnerTask) {
		x.Status = status
		x.LastError = code
	})
	if err != nil {
		return DispatchOutput{}, storeErr(t.RequestID, "record partner error", err)
	}
	d.log().WarnContext(ctx, "partner call failed", "requestId", t.RequestID, "partner", t.PartnerID, "code", code, "attempt", nt.Attempts)
	if err := d.audit(ctx, t.RequestID, evType, t.PartnerID, map[string]string{"code": code, "attempt": strconv.Itoa(nt.Attempts)}); err != nil {
		return DispatchOutput{}, err
	}
	return DispatchOutput{}, callErr
}

// recordCompletion stores a completed answer (sync reply or callback): the
// export in the sink, the receipt on the task, an audit event.
func (d *Dispatcher) recordCompletion(ctx context.Context, t *store.PartnerTask, resp Response, late bool) (*store.PartnerTask, error) {
	var exportKey string
	if len(resp.Export) > 0 {
		if d.Exports == nil {
			return nil, &ServiceUnavailable{RequestID: t.RequestID, Op: "store export of partner " + t.PartnerID, Err: errors.New("no export storage configured")}
		}
		k, err := d.Exports.PutPartnerExport(ctx, t.RequestID, t.PartnerID, resp.Export)
		if err != nil {
			return nil, &ServiceUnavailable{RequestID: t.RequestID, Op: "store export of partner " + t.PartnerID, Err: err}
		}
		exportKey = k
	}
	now := d.now()
	nt, err := d.Store.UpdatePartnerTask(ctx, t.RequestID, t.PartnerID, t.Version, func(x *store.PartnerTask) {
		x.Status = store.PartnerCompleted
		x.Receipt = resp.Receipt
		x.Changed = resp.Changed
		x.ExportKey = exportKey
		x.CompletedAt = &now
		x.LastError = ""
		x.Late = late
	})
	if err != nil {
		return nil, storeErr(t.RequestID, "record completion", err)
	}
	ev := "partner.completed"
	if late {
		ev = "partner.completed_late"
	}
	if err := d.audit(ctx, t.RequestID, ev, t.PartnerID, map[string]string{"action": t.Action, "receipt": resp.Receipt}); err != nil {
		return nil, err
	}
	return nt, nil
}

func (d *Dispatcher) audit(ctx context.Context, requestID, typ, partnerID string, data map[string]string) error {
	if data == nil {
		data = map[string]string{}
	}
	data["partner"] = partnerID
	if _, err := d.Store.AppendEvent(ctx, requestID, store.Event{Type: typ, Actor: Actor, Data: data}); err != nil {
		return storeErr(requestID, "append event", err)
	}
	return nil
}

// AwaitInput is the input of the .waitForTaskToken state of an async
// partner: Parameters {"requestId.$", "partnerId.$", "taskToken.$": "$$.Task.Token"}.
type AwaitInput struct {
	RequestID string `json:"requestId"`
	PartnerID string `json:"partnerId"`
	TaskToken string `json:"taskToken"`
}

// Await stores the task token on the partner task so the callback can answer
// the waiting state. If the callback came first, Await answers the state
// itself: SendTaskSuccess with the DispatchOutput, or SendTaskFailure with
// PartnerFailed. (Both may answer when they race; the second answer is
// refused by Step Functions and ignored.)
func (d *Dispatcher) Await(ctx context.Context, in AwaitInput) error {
	if in.RequestID == "" || in.PartnerID == "" || in.TaskToken == "" {
		return &InvalidInput{Field: "requestId/partnerId/taskToken", Problem: "required"}
	}
	for range 5 {
		t, err := d.Store.GetPartnerTask(ctx, in.RequestID, in.PartnerID)
		if err != nil {
			return storeErr(in.RequestID, "load partner task", err)
		}
		switch t.Status {
		case store.PartnerPending:
			return &InvalidInput{Field: "partnerId", Problem: "partner " + in.PartnerID + " has not been dispatched"}
		case store.PartnerAwaitingCallback, store.PartnerDispatched:
			_, err := d.Store.UpdatePartnerTask(ctx, t.RequestID, t.PartnerID, t.Version, func(x *store.PartnerTask) {
				x.TaskToken = in.TaskToken
				x.TokenAnswered = false
			})
			var ce *store.ConflictError
			if errors.As(err, &ce) {
				continue // the callback arrived meanwhile: look again
			}
			if err != nil {
				return storeErr(in.RequestID, "store task token", err)
			}
			return nil
		default:
			t.TaskToken = in.TaskToken
			return d.answer(ctx, t)
		}
	}
	return &ServiceUnavailable{RequestID: in.RequestID, Op: "store task token", Err: errors.New("too many concurrent writers")}
}

// answer tells the waiting state the settled outcome of t. A token Step
// Functions no longer knows (the deadline passed, the execution ended) is
// not an error: the outcome is recorded and audited.
func (d *Dispatcher) answer(ctx context.Context, t *store.PartnerTask) error {
	if d.SFN == nil || t.TaskToken == "" {
		return nil
	}
	var err error
	if t.Status == store.PartnerCompleted {
		out, merr := json.Marshal(d.output(t))
		if merr != nil {
			return merr
		}
		_, err = d.SFN.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(t.TaskToken), Output: aws.String(string(out))})
	} else {
		_, err = d.SFN.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{
			TaskToken: aws.String(t.TaskToken),
			Error:     aws.String("PartnerFailed"),
			Cause:     aws.String(fmt.Sprintf("partner %s: %s", t.PartnerID, t.LastError)),
		})
	}
	switch {
	case err == nil:
	case TokenGone(err):
		if aerr := d.audit(ctx, t.RequestID, "partner.token_gone", t.PartnerID, map[string]string{"status": string(t.Status)}); aerr != nil {
			return aerr
		}
	default:
		return &ServiceUnavailable{RequestID: t.RequestID, Op: "answer waiting state for partner " + t.PartnerID, Err: err}
	}
	// Best effort: remember the state was answered so a redelivered
	// callback does not answer again. Losing this write only means a
	// harmless second answer.
	_, _ = d.Store.UpdatePartnerTask(ctx, t.RequestID, t.PartnerID, t.Version, func(x *store.PartnerTask) { x.TokenAnswered = true })
	return nil
}

// TokenGone reports whether a SendTask* error means Step Functions no
// longer waits on the token: TaskTimedOut, TaskDoesNotExist or InvalidToken.
func TokenGone(err error) bool {
	var (
		to *sfntypes.TaskTimedOut
		ne *sfntypes.TaskDoesNotExist
		it *sfntypes.InvalidToken
	)
	return errors.As(err, &to) || errors.As(err, &ne) || errors.As(err, &it)
}

// EscalateInput is the input of an iteration's Catch handler: the partner
// and the caught error's name ($.error.Error).
type EscalateInput struct {
	RequestID string `json:"requestId"`
	PartnerID string `json:"partnerId"`
	Error     string `json:"error"`
}

// Escalate records that the fan-out gave up on a partner (retries
// exhausted, the partner refused or failed, the callback deadline passed),
// so the request goes on without it and an operator follows up. A task that
// completed meanwhile is left completed. The output is the iteration's.
func (d *Dispatcher) Escalate(ctx context.Context, in EscalateInput) (DispatchOutput, error) {
	if in.RequestID == "" || in.PartnerID == "" {
		return DispatchOutput{}, &InvalidInput{Field: "requestId/partnerId", Problem: "required"}
	}
	for range 5 {
		t, err := d.Store.GetPartnerTask(ctx, in.RequestID, in.PartnerID)
		if err != nil {
			return DispatchOutput{}, storeErr(in.RequestID, "load partner task", err)
		}
		if t.Status == store.PartnerCompleted || t.Status == store.PartnerEscalated || t.Status == store.PartnerNoData {
			return d.output(t), nil
		}
		code := t.LastError
		switch {
		case in.Error == "States.Timeout" || in.Error == "States.HeartbeatTimeout":
			code = "deadline_passed"
		case code == "":
			code = "error_" + in.Error
		}
		nt, err := d.Store.UpdatePartnerTask(ctx, t.RequestID, t.PartnerID, t.Version, func(x *store.PartnerTask) {
			x.Status = store.PartnerEscalated
			x.LastError = code
		})
		var ce *store.ConflictError
		if errors.As(err, &ce) {
			continue
		}
		if err != nil {
			return DispatchOutput{}, storeErr(in.RequestID, "escalate partner", err)
		}
		d.log().WarnContext(ctx, "partner escalated", "requestId", in.RequestID, "partner", in.PartnerID, "error", in.Error, "code", code)
		if err := d.audit(ctx, in.RequestID, "partner.escalated", in.PartnerID, map[string]string{"error": in.Error, "code": code}); err != nil {
			return DispatchOutput{}, err
		}
		return d.output(nt), nil
	}
	return DispatchOutput{}, &ServiceUnavailable{RequestID: in.RequestID, Op: "escalate partner", Err: errors.New("too many concurrent writers")}
}

// Retry resets a settled partner task to pending and dispatches it again
// with in-process backoff (for `dsr retry ID --partner P`, outside Step
// Functions). A completed task is not sent again.
func (d *Dispatcher) Retry(ctx context.Context, in DispatchInput, b Backoff) (DispatchOutput, error) {
	t, err := d.Store.GetPartnerTask(ctx, in.RequestID, in.PartnerID)
	if err != nil {
		return DispatchOutput{}, storeErr(in.RequestID, "load partner task", err)
	}
	if t.Status == store.PartnerCompleted {
		return d.output(t), nil
	}
	if t.Status != store.PartnerPending {
		if _, err := d.Store.UpdatePartnerTask(ctx, in.RequestID, in.PartnerID, t.Version, func(x *store.PartnerTask) {
			x.Status = store.PartnerPending
		}); err != nil {
			return DispatchOutput{}, storeErr(in.RequestID, "reset partner task", err)
		}
		if err := d.audit(ctx, in.RequestID, "partner.retry", in.PartnerID, map[string]string{"from": string(t.Status)}); err != nil {
			return DispatchOutput{}, err
		}
	}
	var out DispatchOutput
	err = b.Do(ctx, func(ctx context.Context) error {
		var derr error
		out, derr = d.Dispatch(ctx, in)
		return derr
	})
	return out, err
}
