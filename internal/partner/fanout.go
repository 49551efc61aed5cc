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

// Store is the part of the store the dispatcher uses (a *store.Store).
type Store interface {
	GetRequest(ctx context.Context, id string) (*dsr.Request, error)
	GetIdentity(ctx context.Context, id string) (*dsr.Identity, error)
	GetPersonal(ctx context.Context, id string) (*dsr.Personal, error)
	AppendEvent(ctx context.Context, id string, ev store.Event) (store.Event, error)
	PutPartnerTask(ctx context.Context, t store.PartnerTask) (*store.PartnerTask, bool, error)
	GetPartnerTask(ctx context.Context, requestID, partnerID string) (*store.PartnerTask, error)
	UpdatePartnerTask(ctx context.Context, requestID, partnerID string, expectedVersion int, mutate func(*store.PartnerTask)) (*store.PartnerTask, error)
	ListPartnerTasks(ctx context.Context, requestID string) ([]store.PartnerTask, error)
	TaskToken(ctx context.Context, id, name string) (string, error)
}

// DispatcherConfig is what the dispatcher is told.
type DispatcherConfig struct {
	// Partners is the partner configuration.
	Partners *Config
	// CallbackBaseURL is the public base URL of the HTTP API; callbacks go to
	// {CallbackBaseURL}/partners/{partner}/callbacks.
	CallbackBaseURL string
}

// DispatcherDeps are the dispatcher's clients and clock.
type DispatcherDeps struct {
	Store   Store
	Secrets SecretSource
	// Client calls the partners; default a Client with its defaults.
	Client *Client
	// SFN answers waiting states; nil: nothing is answered (tests).
	SFN TaskSender
	// Exports keeps export data; required for access and portability.
	Exports ExportSink
	// Clock is the business clock (completion times, deadlines); it may
	// run scaled locally. Signatures use the Client's clock.
	Clock  func() time.Time
	Logger *slog.Logger
}

// Dispatcher reaches the partners of a request: Plan (which partners),
// Run (one Map iteration: dispatch to one partner and, for an asynchronous
// one, wait for its callback), Escalate (the Catch of an iteration), the
// account system's Resolve and Precheck, and the backup checks. See doc.go
// for the state machine wiring.
type Dispatcher struct {
	partners     *Config
	callbackBase string
	store        Store
	secrets      SecretSource
	client       *Client
	sfn          TaskSender
	exports      ExportSink
	clock        func() time.Time
	logger       *slog.Logger
}

// NewDispatcher returns a dispatcher.
func NewDispatcher(cfg DispatcherConfig, deps DispatcherDeps) *Dispatcher {
	d := &Dispatcher{
		partners: cfg.Partners, callbackBase: cfg.CallbackBaseURL,
		store: deps.Store, secrets: deps.Secrets, client: deps.Client, sfn: deps.SFN, exports: deps.Exports,
		clock: deps.Clock, logger: deps.Logger,
	}
	if d.partners == nil {
		d.partners = &Config{}
	}
	if d.secrets == nil {
		d.secrets = NewSecrets(nil)
	}
	if d.client == nil {
		d.client = &Client{}
	}
	if d.clock == nil {
		d.clock = time.Now
	}
	if d.logger == nil {
		d.logger = slog.Default()
	}
	return d
}

// Partners is the partner configuration.
func (d *Dispatcher) Partners() *Config { return d.partners }

// HasExports reports whether export storage is configured.
func (d *Dispatcher) HasExports() bool { return d.exports != nil }

// Actor is the audit actor of the fan-out handlers.
const Actor = "partner-fanout"

// DefaultDeadline is the deadline of a partner that answers pending without
// being configured async.
const DefaultDeadline = 24 * time.Hour

func (d *Dispatcher) now() time.Time { return d.clock().UTC() }

func (d *Dispatcher) log() *slog.Logger { return d.logger }

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
	req, err := d.store.GetRequest(ctx, in.RequestID)
	if err != nil {
		return PlanOutput{}, storeErr(in.RequestID, "load request", err)
	}
	out := PlanOutput{Partners: []PlanItem{}}
	created := false
	for _, a := range d.partners.PartnersFor(req.Kind, req.Purposes) {
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
		if _, err := d.store.AppendEvent(ctx, req.ID, store.Event{Type: "partner.planned", Actor: Actor, Data: data}); err != nil {
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
	idn, err := d.store.GetIdentity(ctx, req.ID)
	if err != nil {
		return nil, false, storeErr(req.ID, "load identity", err)
	}
	status := store.PartnerPending
	if len(Identities(a.Partner, idn.Subject)) == 0 {
		status = store.PartnerNoData
	}
	t, created, err := d.store.PutPartnerTask(ctx, store.PartnerTask{RequestID: req.ID, PartnerID: a.Partner.ID, Action: string(a.Action), Status: status})
	if err != nil {
		return nil, false, storeErr(req.ID, "put partner task", err)
	}
	return t, created, nil
}

// DispatchInput names one partner of one request.
type DispatchInput struct {
	RequestID string `json:"requestId"`
	PartnerID string `json:"partnerId"`
}

// RunInput is one Map iteration's input: the partner, and the task token
// the iteration's .waitForTaskToken state waits on.
type RunInput struct {
	RequestID string `json:"requestId"`
	PartnerID string `json:"partnerId"`
	TaskToken string `json:"taskToken"`
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
	if d.callbackBase == "" {
		return ""
	}
	return d.callbackBase + "/partners/" + url.PathEscape(partnerID) + "/callbacks"
}

// Run is one Map iteration: it reaches one partner of the request and
// settles its .waitForTaskToken state (TaskToken):
//   - the token is stored on the partner task first, so a callback that
//     comes before Run returns finds it;
//   - a task already settled (a retried or restarted iteration) is answered
//     at once and not sent again; one awaiting its callback keeps waiting;
//   - a partner that holds none of the identity's identifier types is
//     no_data, answered at once;
//   - a synchronous answer is recorded and answered at once; an
//     asynchronous partner's acceptance leaves the state waiting for the
//     callback (partner.Callback answers it);
//   - a failed call is recorded and returned as a named error: Retry
//     (PartnerRetryable) or Catch → Escalate in the definition.
func (d *Dispatcher) Run(ctx context.Context, in RunInput) (DispatchOutput, error) {
	if in.RequestID == "" || in.PartnerID == "" || in.TaskToken == "" {
		return DispatchOutput{}, &InvalidInput{Field: "requestId/partnerId/taskToken", Problem: "required"}
	}
	p, ok := d.partners.Partner(in.PartnerID)
	if !ok {
		return DispatchOutput{}, &InvalidInput{Field: "partnerId", Problem: "unknown partner " + in.PartnerID}
	}
	req, err := d.store.GetRequest(ctx, in.RequestID)
	if err != nil {
		return DispatchOutput{}, storeErr(in.RequestID, "load request", err)
	}
	t, err := d.store.GetPartnerTask(ctx, in.RequestID, in.PartnerID)
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
	for range 5 {
		nt, err := d.store.UpdatePartnerTask(ctx, t.RequestID, t.PartnerID, t.Version, func(x *store.PartnerTask) {
			x.TaskToken = in.TaskToken
			x.TokenAnswered = false
		})
		var ce *store.ConflictError
		if errors.As(err, &ce) {
			if t, err = d.store.GetPartnerTask(ctx, in.RequestID, in.PartnerID); err != nil {
				return DispatchOutput{}, storeErr(in.RequestID, "load partner task", err)
			}
			continue
		}
		if err != nil {
			return DispatchOutput{}, storeErr(in.RequestID, "store task token", err)
		}
		t = nt
		break
	}
	if t.TaskToken != in.TaskToken {
		return DispatchOutput{}, &ServiceUnavailable{RequestID: in.RequestID, Op: "store task token", Err: errors.New("too many concurrent writers")}
	}
	switch {
	case t.Status.Settled():
		return d.output(t), d.answer(ctx, t)
	case t.Status == store.PartnerAwaitingCallback:
		return d.output(t), nil
	}
	out, err := d.dispatch(ctx, req, p, t)
	if err != nil {
		return out, err
	}
	if out.Status.Settled() {
		nt, err := d.store.GetPartnerTask(ctx, in.RequestID, in.PartnerID)
		if err != nil {
			return DispatchOutput{}, storeErr(in.RequestID, "load partner task", err)
		}
		if nt.TokenAnswered && nt.TaskToken == in.TaskToken {
			// A callback that overtook the partner's acceptance answered it.
			return out, nil
		}
		return out, d.answer(ctx, nt)
	}
	return out, nil
}

// dispatch sends the request to partner p (task t not settled): no_data
// when the identity carries none of p's identifier types; otherwise one
// signed call, recorded.
func (d *Dispatcher) dispatch(ctx context.Context, req *dsr.Request, p Partner, t *store.PartnerTask) (DispatchOutput, error) {
	idn, err := d.store.GetIdentity(ctx, req.ID)
	if err != nil {
		return DispatchOutput{}, storeErr(req.ID, "load identity", err)
	}
	ids := Identities(p, idn.Subject)
	if len(ids) == 0 {
		t, err = d.store.UpdatePartnerTask(ctx, req.ID, p.ID, t.Version, func(x *store.PartnerTask) { x.Status = store.PartnerNoData })
		if err != nil {
			return DispatchOutput{}, storeErr(req.ID, "record no data", err)
		}
		if err := d.audit(ctx, req.ID, "partner.no_data", p.ID, nil); err != nil {
			return DispatchOutput{}, err
		}
		return d.output(t), nil
	}
	secret, err := d.secrets.Resolve(ctx, p.SecretRef)
	if err != nil {
		return DispatchOutput{}, &ServiceUnavailable{RequestID: req.ID, Op: "resolve secret of partner " + p.ID, Err: err}
	}
	t, err = d.store.UpdatePartnerTask(ctx, req.ID, p.ID, t.Version, func(x *store.PartnerTask) {
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
		pd, err := d.store.GetPersonal(ctx, req.ID)
		if err != nil {
			return DispatchOutput{}, storeErr(req.ID, "load corrections", err)
		}
		wire.Corrections = pd.Corrections
	case ActionWithdrawConsent:
		wire.ConsentPurposes = req.Purposes
	}
	resp, callErr := d.client.Dispatch(ctx, p, secret, wire)
	if callErr != nil {
		return d.recordError(ctx, t, callErr)
	}
	if resp.RequestStatus == StatusPending || resp.RequestStatus == StatusInProgress {
		deadline := p.CompletionDeadline.D()
		if deadline <= 0 {
			deadline = DefaultDeadline
		}
		at := d.now().Add(deadline)
		nt, err := d.store.UpdatePartnerTask(ctx, req.ID, p.ID, t.Version, func(x *store.PartnerTask) {
			x.Status = store.PartnerAwaitingCallback
			x.ExpectedBy = resp.ExpectedCompletionTime
			x.DeadlineAt = &at
			x.LastError = ""
		})
		var ce *store.ConflictError
		if errors.As(err, &ce) {
			// The partner's callback overtook its acceptance and recorded
			// the outcome (answering the waiting state): that stands.
			if cur, gerr := d.store.GetPartnerTask(ctx, req.ID, p.ID); gerr == nil && cur.Status.Settled() {
				return d.output(cur), nil
			}
		}
		if err != nil {
			return DispatchOutput{}, storeErr(req.ID, "record acceptance", err)
		}
		t = nt
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
	for _, a := range d.partners.PartnersFor(req.Kind, req.Purposes) {
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
	nt, err := d.store.UpdatePartnerTask(ctx, t.RequestID, t.PartnerID, t.Version, func(x *store.PartnerTask) {
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
		if d.exports == nil {
			return nil, &ServiceUnavailable{RequestID: t.RequestID, Op: "store export of partner " + t.PartnerID, Err: errors.New("no export storage configured")}
		}
		k, err := d.exports.PutPartnerExport(ctx, t.RequestID, t.PartnerID, resp.Export)
		if err != nil {
			return nil, &ServiceUnavailable{RequestID: t.RequestID, Op: "store export of partner " + t.PartnerID, Err: err}
		}
		exportKey = k
	}
	now := d.now()
	status := store.PartnerCompleted
	if resp.SubjectFound != nil && !*resp.SubjectFound && len(resp.Changed) == 0 {
		// The partner looked and holds nothing under these identities.
		status = store.PartnerNoData
	}
	nt, err := d.store.UpdatePartnerTask(ctx, t.RequestID, t.PartnerID, t.Version, func(x *store.PartnerTask) {
		x.Status = status
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
	if status == store.PartnerNoData {
		ev = "partner.no_data"
	}
	if late {
		ev += "_late"
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
	if _, err := d.store.AppendEvent(ctx, requestID, store.Event{Type: typ, Actor: Actor, Data: data}); err != nil {
		return storeErr(requestID, "append event", err)
	}
	return nil
}

// answer tells the waiting state the settled outcome of t: success for a
// final one (completed, no_data, settled_by_operator), PartnerFailed
// otherwise. A token Step Functions no longer knows (the deadline passed, the execution ended) is
// not an error: the outcome is recorded and audited.
func (d *Dispatcher) answer(ctx context.Context, t *store.PartnerTask) error {
	if d.sfn == nil || t.TaskToken == "" {
		return nil
	}
	var err error
	if t.Status.Final() {
		out, merr := json.Marshal(d.output(t))
		if merr != nil {
			return merr
		}
		_, err = d.sfn.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(t.TaskToken), Output: aws.String(string(out))})
	} else {
		_, err = d.sfn.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{
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
	_, _ = d.store.UpdatePartnerTask(ctx, t.RequestID, t.PartnerID, t.Version, func(x *store.PartnerTask) { x.TokenAnswered = true })
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
// settled for good meanwhile (completed, no_data, settled_by_operator) is
// left as it is. The output is the iteration's.
func (d *Dispatcher) Escalate(ctx context.Context, in EscalateInput) (DispatchOutput, error) {
	if in.RequestID == "" || in.PartnerID == "" {
		return DispatchOutput{}, &InvalidInput{Field: "requestId/partnerId", Problem: "required"}
	}
	for range 5 {
		t, err := d.store.GetPartnerTask(ctx, in.RequestID, in.PartnerID)
		if err != nil {
			return DispatchOutput{}, storeErr(in.RequestID, "load partner task", err)
		}
		if t.Status.Final() || t.Status == store.PartnerEscalated {
			return d.output(t), nil
		}
		code := t.LastError
		switch {
		case in.Error == "States.Timeout" || in.Error == "States.HeartbeatTimeout":
			code = "deadline_passed"
		case code == "":
			code = "error_" + in.Error
		}
		nt, err := d.store.UpdatePartnerTask(ctx, t.RequestID, t.PartnerID, t.Version, func(x *store.PartnerTask) {
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
// with in-process backoff (`dsr retry ID --partner P` and the console,
// outside Step Functions: the iteration ended when the partner was
// escalated). A completed or no_data task is not sent again. When the
// retry settles the request's last partner, the reply that waits for it
// goes on (ResumeReply).
func (d *Dispatcher) Retry(ctx context.Context, in DispatchInput, b Backoff) (DispatchOutput, error) {
	p, ok := d.partners.Partner(in.PartnerID)
	if !ok {
		return DispatchOutput{}, &InvalidInput{Field: "partnerId", Problem: "unknown partner " + in.PartnerID}
	}
	req, err := d.store.GetRequest(ctx, in.RequestID)
	if err != nil {
		return DispatchOutput{}, storeErr(in.RequestID, "load request", err)
	}
	t, err := d.store.GetPartnerTask(ctx, in.RequestID, in.PartnerID)
	if err != nil {
		return DispatchOutput{}, storeErr(in.RequestID, "load partner task", err)
	}
	if t.Status.Final() {
		return d.output(t), nil
	}
	if from := t.Status; from != store.PartnerPending {
		if _, err := d.store.UpdatePartnerTask(ctx, in.RequestID, in.PartnerID, t.Version, func(x *store.PartnerTask) {
			x.Status = store.PartnerPending
			x.TaskToken, x.TokenAnswered = "", false
		}); err != nil {
			return DispatchOutput{}, storeErr(in.RequestID, "reset partner task", err)
		}
		if err := d.audit(ctx, in.RequestID, "partner.retry", in.PartnerID, map[string]string{"from": string(from)}); err != nil {
			return DispatchOutput{}, err
		}
	}
	var out DispatchOutput
	err = b.Do(ctx, func(ctx context.Context) error {
		cur, err := d.store.GetPartnerTask(ctx, in.RequestID, in.PartnerID)
		if err != nil {
			return storeErr(in.RequestID, "load partner task", err)
		}
		if cur.Status.Settled() || cur.Status == store.PartnerAwaitingCallback {
			out = d.output(cur)
			return nil
		}
		var derr error
		out, derr = d.dispatch(ctx, req, p, cur)
		return derr
	})
	if err != nil {
		return out, err
	}
	if out.Status.Final() {
		if _, rerr := d.ResumeReply(ctx, in.RequestID); rerr != nil {
			return out, rerr
		}
	}
	return out, nil
}

// ReplyWait is the name of the task token the Reply state waits on while a
// partner has not acted (store.TaskToken).
const ReplyWait = "reply"

// ResumeReply wakes the Reply state of request id when every partner has
// settled for good (Final: acted, no data, or settled by an operator): the
// reply that promised to write again is then sent. It reports whether it
// woke it; nothing waits, or a partner still has not acted: false.
func (d *Dispatcher) ResumeReply(ctx context.Context, id string) (bool, error) {
	tasks, err := d.store.ListPartnerTasks(ctx, id)
	if err != nil {
		return false, storeErr(id, "list partner tasks", err)
	}
	for _, t := range tasks {
		if !t.Status.Final() {
			return false, nil
		}
	}
	token, err := d.store.TaskToken(ctx, id, ReplyWait)
	if err != nil {
		return false, storeErr(id, "load reply token", err)
	}
	if token == "" || d.sfn == nil {
		return false, nil
	}
	_, err = d.sfn.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(`{"complete":false,"resumed":true}`)})
	switch {
	case err == nil:
	case TokenGone(err):
		return false, nil
	default:
		return false, &ServiceUnavailable{RequestID: id, Op: "resume reply", Err: err}
	}
	if err := d.audit(ctx, id, "reply.resumed", "", nil); err != nil {
		return true, err
	}
	return true, nil
}
