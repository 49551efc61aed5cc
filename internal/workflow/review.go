package workflow

import (
	"context"
	"fmt"
	"sort"
	"time"

	"dsrflow/internal/dsr"
	"dsrflow/internal/legalhold"
)

// Review results, in ReviewOutput.Result.
const (
	ResultProceed      = "proceed"
	ResultManualReview = "manual_review"
	ResultRefused      = "refused"
	ResultDuplicate    = "duplicate"
)

// ReviewInput is Review's input: the request and when its identity was
// verified (from the verification task's output).
type ReviewInput struct {
	RequestID  string `json:"requestId"`
	VerifiedAt string `json:"verifiedAt"`
}

// ReviewOutput is the review's decision.
type ReviewOutput struct {
	Result string `json:"result"`
	// Reason is the refusal reason code (refused).
	Reason dsr.RefusalReason `json:"reason,omitempty"`
	// LinkedRequestID is the open request this one duplicates (duplicate).
	LinkedRequestID string `json:"linkedRequestId,omitempty"`
	// Cause says why manual review is needed ("repeat_limit").
	Cause string `json:"cause,omitempty"`
	// DueAt is the reply deadline (15 Chinese working days after verification).
	DueAt time.Time `json:"dueAt"`
}

// Review records the verification, computes and stores the due date, and
// decides: a duplicate of an open, verified request of the same subject and
// kind; a refusal under a legal hold; manual review when the subject made
// more than Policy.RepeatLimit requests in Policy.RepeatWindow; otherwise
// proceed.
func (h *Handlers) Review(ctx context.Context, in ReviewInput) (ReviewOutput, error) {
	if err := checkID(in.RequestID); err != nil {
		return ReviewOutput{}, err
	}
	id := in.RequestID
	verifiedAt := h.now()
	if in.VerifiedAt != "" {
		t, err := time.Parse(time.RFC3339Nano, in.VerifiedAt)
		if err != nil {
			return ReviewOutput{}, &InvalidInput{Field: "verifiedAt", Problem: "not an RFC 3339 time"}
		}
		verifiedAt = t.UTC()
	}
	// Identity is proven: in_review, with the verification time.
	setVerified := func(r *dsr.Request) {
		if r.VerifiedAt == nil {
			r.VerifiedAt = &verifiedAt
		}
	}
	r, _, err := h.move(ctx, "review", id, dsr.StatusInReview, []dsr.Status{dsr.StatusAwaitingVerification, dsr.StatusReceived}, setVerified)
	if err != nil {
		return ReviewOutput{}, err
	}
	if r.VerifiedAt == nil || r.DueAt == nil {
		due, err := h.dueAt(derefOr(r.VerifiedAt, verifiedAt))
		if err != nil {
			return ReviewOutput{}, &InvalidInput{Field: "verifiedAt", Problem: err.Error()}
		}
		r, err = h.Store.UpdateRequest(ctx, id, r.Version, func(q *dsr.Request) {
			setVerified(q)
			if q.DueAt == nil {
				q.DueAt = &due
			}
		})
		if err != nil {
			return ReviewOutput{}, named(id, "store due date", err)
		}
	}
	out := ReviewOutput{Result: ResultProceed, DueAt: r.DueAt.UTC()}

	related, err := h.related(ctx, r)
	if err != nil {
		return ReviewOutput{}, err
	}
	hold, err := h.Holds.Find(ctx, r.SubjectKeys)
	if err != nil {
		return ReviewOutput{}, named(id, "look up legal holds", err)
	}
	switch {
	case duplicateOf(r, related) != "":
		out.Result, out.LinkedRequestID = ResultDuplicate, duplicateOf(r, related)
	case hold != nil && hold.Action == legalhold.ActionRefuse:
		out.Result, out.Reason = ResultRefused, hold.Reason
	case h.repeats(r, related) > h.repeatLimit():
		out.Result, out.Cause = ResultManualReview, "repeat_limit"
	}
	data := map[string]string{"result": out.Result, "dueAt": out.DueAt.Format(time.RFC3339), "verifiedAt": r.VerifiedAt.UTC().Format(time.RFC3339Nano)}
	if out.Reason != "" {
		data["reason"] = string(out.Reason)
	}
	if out.LinkedRequestID != "" {
		data["linkedRequestId"] = out.LinkedRequestID
	}
	if out.Cause != "" {
		data["cause"] = out.Cause
		data["repeats"] = fmt.Sprint(h.repeats(r, related))
	}
	if hold != nil {
		data["legalHold"] = string(hold.Action)
	}
	if err := h.audit(ctx, id, "reviewed", ActorReview, data); err != nil {
		return ReviewOutput{}, err
	}
	h.log().InfoContext(ctx, "reviewed", "requestId", id, "result", out.Result)
	return out, nil
}

func derefOr(t *time.Time, d time.Time) time.Time {
	if t != nil {
		return *t
	}
	return d
}

func (h *Handlers) repeatLimit() int {
	if h.Policy.RepeatLimit > 0 {
		return h.Policy.RepeatLimit
	}
	return DefaultPolicy().RepeatLimit
}

// related returns the subject's other requests, found through every subject
// key of r, each once, oldest first.
func (h *Handlers) related(ctx context.Context, r *dsr.Request) ([]dsr.Request, error) {
	seen := map[string]bool{r.ID: true}
	var out []dsr.Request
	for _, k := range r.SubjectKeys {
		reqs, err := h.Store.FindBySubject(ctx, k)
		if err != nil {
			return nil, named(r.ID, "find the subject's requests", err)
		}
		for _, o := range reqs {
			if !seen[o.ID] {
				seen[o.ID] = true
				out = append(out, o)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return before(&out[i], &out[j]) })
	return out, nil
}

// before orders requests by creation, then ID, so that of two requests
// exactly one is the earlier.
func before(a, b *dsr.Request) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.Before(b.CreatedAt)
	}
	return a.ID < b.ID
}

// duplicateOf is the earliest open request of the same kind, made before r,
// whose requester proved their identity; "" when none. An unverified request
// does not count: anyone can type someone's address into the form, and such a
// request must not turn the real requester's into a duplicate.
func duplicateOf(r *dsr.Request, related []dsr.Request) string {
	for i := range related {
		o := &related[i]
		if o.Kind == r.Kind && o.Status.Open() && o.VerifiedAt != nil && before(o, r) {
			return o.ID
		}
	}
	return ""
}

// repeats counts the subject's requests in the repeat window up to and
// including r, leaving out those never processed (expired, duplicate).
func (h *Handlers) repeats(r *dsr.Request, related []dsr.Request) int {
	from := r.CreatedAt.Add(-h.Policy.repeatWindow())
	n := 1
	for i := range related {
		o := &related[i]
		if o.Status == dsr.StatusExpired || o.Status == dsr.StatusDuplicate {
			continue
		}
		if !o.CreatedAt.Before(from) && before(o, r) {
			n++
		}
	}
	return n
}
