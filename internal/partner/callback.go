package partner

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"dsrflow/internal/store"
)

// Callback is the http.Handler of POST /partners/{partner}/callbacks, the
// endpoint where asynchronous partners report (mounted on an
// http.ServeMux with that pattern: the partner comes from
// r.PathValue("partner")).
//
// It verifies the signature over the raw body with the secret of the
// partner named in the path BEFORE it parses anything, then records the
// outcome on the partner task and answers the waiting state:
//
//	200 recorded           the outcome was recorded (and the state answered)
//	200 already_recorded   a redelivery: nothing changes
//	200 noted              a progress report (pending, in_progress)
//	400                    unknown partner, malformed body, unknown request
//	401                    missing or bad signature, stale timestamp
//	409 conflict           the partner already reported another outcome
//	413                    body too large
//	500                    a failure on our side; the partner should redeliver
//
// A callback that arrives after the deadline (the task was escalated, or
// Step Functions no longer knows the token) is still recorded: the partner
// did its part late, the record and audit trail say so, and when it was
// the last partner the reply that promised to write again goes on
// (ResumeReply).
type Callback struct {
	d *Dispatcher
}

// NewCallback returns the callback handler over d.
func NewCallback(d *Dispatcher) *Callback { return &Callback{d: d} }

// CallbackResult is the JSON body of every answer.
type CallbackResult struct {
	SubjectRequestID string `json:"subject_request_id,omitempty"`
	Result           string `json:"result,omitempty"`
	Error            string `json:"error,omitempty"`
}

// MaxCallbackBody bounds a callback body (an export may be large).
const MaxCallbackBody = MaxResponseLen

// ServeHTTP handles one callback.
func (c *Callback) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	status, res := c.handle(r)
	b, _ := json.Marshal(res)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (c *Callback) handle(r *http.Request) (int, CallbackResult) {
	ctx := r.Context()
	d := c.d
	log := d.log()
	partnerID := r.PathValue("partner")
	fail := func(status int, code string) (int, CallbackResult) {
		log.WarnContext(ctx, "partner callback refused", "partner", partnerID, "status", status, "code", code)
		return status, CallbackResult{Error: code}
	}
	if r.Method != http.MethodPost {
		return fail(http.StatusMethodNotAllowed, "method_not_allowed")
	}
	p, ok := d.partners.Partner(partnerID)
	if !ok {
		return fail(http.StatusBadRequest, "unknown_partner")
	}
	raw, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxCallbackBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return fail(http.StatusRequestEntityTooLarge, "too_large")
		}
		return fail(http.StatusBadRequest, "unreadable")
	}
	secret, err := d.secrets.Resolve(ctx, p.SecretRef)
	if err != nil {
		log.ErrorContext(ctx, "partner secret unavailable", "partner", p.ID, "error", err)
		return http.StatusInternalServerError, CallbackResult{Error: "internal"}
	}
	if err := Verify(secret, r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderSignature), raw, d.client.now()); err != nil {
		switch {
		case errors.Is(err, ErrMissingSignature):
			return fail(http.StatusUnauthorized, "missing_signature")
		case errors.Is(err, ErrStaleTimestamp):
			return fail(http.StatusUnauthorized, "stale_timestamp")
		default:
			return fail(http.StatusUnauthorized, "bad_signature")
		}
	}
	var peek struct {
		ID string `json:"subject_request_id"`
	}
	if err := json.Unmarshal(raw, &peek); err != nil || peek.ID == "" {
		return fail(http.StatusBadRequest, "malformed")
	}
	resp, err := ParseResponse(p.ID, peek.ID, raw)
	if err != nil {
		var g *PartnerGarbage
		if errors.As(err, &g) {
			return fail(http.StatusBadRequest, "malformed_"+g.Code)
		}
		return fail(http.StatusBadRequest, "malformed")
	}
	for range 5 {
		status, res, retry := c.apply(ctx, p, resp)
		if !retry {
			res.SubjectRequestID = resp.SubjectRequestID
			if status >= 400 {
				log.WarnContext(ctx, "partner callback refused", "requestId", resp.SubjectRequestID, "partner", p.ID, "status", status, "code", res.Error)
			} else {
				log.InfoContext(ctx, "partner callback", "requestId", resp.SubjectRequestID, "partner", p.ID, "result", res.Result)
			}
			return status, res
		}
	}
	return http.StatusInternalServerError, CallbackResult{SubjectRequestID: resp.SubjectRequestID, Error: "contention"}
}

// apply records resp on the partner task; retry says a concurrent write won
// and apply should run again on the new state.
func (c *Callback) apply(ctx context.Context, p Partner, resp Response) (int, CallbackResult, bool) {
	d := c.d
	t, err := d.store.GetPartnerTask(ctx, resp.SubjectRequestID, p.ID)
	if errors.Is(err, store.ErrNotFound) {
		return http.StatusBadRequest, CallbackResult{Error: "unknown_request"}, false
	}
	if err != nil {
		return http.StatusInternalServerError, CallbackResult{Error: "internal"}, false
	}
	final := resp.RequestStatus == StatusCompleted || resp.RequestStatus == StatusFailed || resp.RequestStatus == StatusCancelled
	switch t.Status {
	case store.PartnerPending, store.PartnerNoData, store.PartnerSettledByOperator:
		return http.StatusBadRequest, CallbackResult{Error: "unknown_request"}, false
	case store.PartnerDispatched, store.PartnerAwaitingCallback:
		if !final {
			return http.StatusOK, CallbackResult{Result: "noted"}, false
		}
	case store.PartnerCompleted:
		if resp.RequestStatus == StatusCompleted && resp.Receipt == t.Receipt {
			return c.redelivered(ctx, t)
		}
		if !final {
			return http.StatusOK, CallbackResult{Result: "noted"}, false
		}
		return http.StatusConflict, CallbackResult{Error: "conflict"}, false
	case store.PartnerFailed:
		if resp.RequestStatus != StatusCompleted {
			return c.redelivered(ctx, t)
		}
		return http.StatusConflict, CallbackResult{Error: "conflict"}, false
	case store.PartnerEscalated:
		if resp.RequestStatus != StatusCompleted {
			return http.StatusOK, CallbackResult{Result: "already_recorded"}, false
		}
		// Late completion: record it; the waiting state is gone. If it was
		// the last partner, the reply waiting for it goes on.
		nt, err := d.recordCompletion(ctx, t, resp, true)
		if err != nil {
			return conflictOr500(err)
		}
		if err := c.resumeDetached(ctx, nt); err != nil {
			return http.StatusInternalServerError, CallbackResult{Error: "internal"}, false
		}
		return http.StatusOK, CallbackResult{Result: "recorded_late"}, false
	}
	var nt *store.PartnerTask
	if resp.RequestStatus == StatusCompleted {
		nt, err = d.recordCompletion(ctx, t, resp, false)
	} else {
		code := "failed_" + failCode(resp)
		nt, err = d.store.UpdatePartnerTask(ctx, t.RequestID, t.PartnerID, t.Version, func(x *store.PartnerTask) {
			x.Status = store.PartnerFailed
			x.LastError = code
		})
		if err == nil {
			err = d.audit(ctx, t.RequestID, "partner.failed", t.PartnerID, map[string]string{"code": code, "via": "callback"})
		}
	}
	if err != nil {
		return conflictOr500(err)
	}
	if err := d.answer(ctx, nt); err != nil {
		d.log().ErrorContext(ctx, "answer waiting state", "requestId", t.RequestID, "partner", t.PartnerID, "error", err)
		return http.StatusInternalServerError, CallbackResult{Error: "internal"}, false
	}
	if err := c.resumeDetached(ctx, nt); err != nil {
		return http.StatusInternalServerError, CallbackResult{Error: "internal"}, false
	}
	return http.StatusOK, CallbackResult{Result: "recorded"}, false
}

// resumeDetached wakes the reply waiting for partners when t settled for
// good with no iteration of the fan-out waiting on it: the partner was
// retried outside Step Functions (Retry clears the token) or answered
// after its deadline.
func (c *Callback) resumeDetached(ctx context.Context, t *store.PartnerTask) error {
	if !t.Status.Final() || (t.TaskToken != "" && !t.Late) {
		return nil
	}
	if _, err := c.d.ResumeReply(ctx, t.RequestID); err != nil {
		c.d.log().ErrorContext(ctx, "resume reply", "requestId", t.RequestID, "error", err)
		return err
	}
	return nil
}

// redelivered answers a repeat of the recorded outcome. If the waiting state
// was not answered yet (the first delivery failed midway), it is answered now;
// nothing else changes.
func (c *Callback) redelivered(ctx context.Context, t *store.PartnerTask) (int, CallbackResult, bool) {
	if t.TaskToken != "" && !t.TokenAnswered && !t.Late {
		if err := c.d.answer(ctx, t); err != nil {
			return http.StatusInternalServerError, CallbackResult{Error: "internal"}, false
		}
	}
	// The first delivery may have failed before it woke the reply.
	if err := c.resumeDetached(ctx, t); err != nil {
		return http.StatusInternalServerError, CallbackResult{Error: "internal"}, false
	}
	return http.StatusOK, CallbackResult{Result: "already_recorded"}, false
}

func conflictOr500(err error) (int, CallbackResult, bool) {
	var ce *store.ConflictError
	if errors.As(err, &ce) {
		return 0, CallbackResult{}, true
	}
	return http.StatusInternalServerError, CallbackResult{Error: "internal"}, false
}

// CallbackRoute is the http.ServeMux pattern of the callback endpoint
// (template.yaml's route POST /partners/{partner}/callbacks).
const CallbackRoute = "POST /partners/{partner}/callbacks"
