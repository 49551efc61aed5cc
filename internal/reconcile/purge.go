package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/smithy-go"

	"dsrflow/internal/dsr"
	"dsrflow/internal/store"
)

// The purge sweep (docs/ARCHITECTURE.md, "The system forgets too"). The
// workflow deletes a closed request's personal data after the follow-up
// period (its Purge step); a request whose workflow never got there (it
// closed before the step existed, its execution died, it was closed by
// hand) is found here through the store's purge index and purged the same
// way: documents first (their objects in S3), then the personal, identity
// and document items (store.PurgePersonal).

// ActorSweep is the audit actor of the sweep's purges.
const ActorSweep = "reconcile:purge-personal"

// EventPersonalDataPurged is the audit event of a purge, the workflow's
// type (its actor tells the two apart).
const EventPersonalDataPurged = "personal_data_purged"

// backfillReadLimit bounds the items one pass's backfill step reads
// (store.BackfillPurgeIndex): about 1 MB at most, a fraction of a second.
const backfillReadLimit = 1000

// maxSweepPages bounds the purge index pages one pass reads, so that
// requests the sweep cannot purge (blocked) never make a pass unbounded.
const maxSweepPages = 10

// sweep purges the personal data of requests closed more than
// ContactRetention + PurgeGrace ago whose personal data is still there,
// at most PurgeLimit per pass, oldest closed first. It returns one error
// per request (or step) that failed; the others go on.
func (r *Reconciler) sweep(ctx context.Context, now time.Time, rep *Report) []error {
	var errs []error
	step, err := r.store.BackfillPurgeIndex(ctx, backfillReadLimit)
	if err != nil {
		errs = append(errs, err)
	}
	rep.Backfilled = step.Indexed
	if step.Indexed > 0 || (step.Done && step.Scanned > 0) {
		r.log().InfoContext(ctx, "purge index backfill", "scanned", step.Scanned, "indexed", step.Indexed, "done", step.Done)
	}

	before := now.Add(-(r.cfg.ContactRetention + r.cfg.PurgeGrace))
	limit := r.cfg.PurgeLimit
	attempts := 0
	cursor := ""
	for pages := 0; ; pages++ {
		if pages == maxSweepPages {
			rep.PurgeBacklog = true
			return errs
		}
		page, err := r.store.ListUnpurged(ctx, before, limit, cursor)
		if err != nil {
			return append(errs, err)
		}
		for i := range page.Requests {
			if attempts == limit {
				rep.PurgeBacklog = true
				return errs
			}
			req := &page.Requests[i]
			blocked, err := r.purge(ctx, req)
			switch {
			case blocked:
				rep.PurgeBlocked = append(rep.PurgeBlocked, req.ID)
				continue
			case err != nil:
				errs = append(errs, err)
			default:
				rep.Purged = append(rep.Purged, req.ID)
			}
			attempts++
		}
		if page.Next == "" {
			return errs
		}
		cursor = page.Next
	}
}

// purge deletes closed request req's documents and personal data and
// audits it. blocked is true, and nothing is done, when the request has
// documents and no document storage is wired: deleting the items would
// lose the only record of where the documents are.
//
// The audit event is appended before the items go, unless a purge was
// audited already: should the purge then fail, the request stays in the
// purge index and the next pass completes it without a second event; a
// purge is never left unaudited.
func (r *Reconciler) purge(ctx context.Context, req *dsr.Request) (blocked bool, err error) {
	id := req.ID
	docs, err := r.store.ListDocuments(ctx, id)
	if err != nil {
		return false, fmt.Errorf("sweep request %s: %w", id, err)
	}
	if len(docs) > 0 && r.docs == nil {
		if r.shouldWarn(id, "purgeBlocked") {
			r.log().WarnContext(ctx, "personal data due for purge kept: documents to delete and no document storage (RECONCILE_DELETE_DOCUMENTS)",
				"requestId", id, "status", string(req.Status), "documents", len(docs))
		}
		return true, nil
	}
	for _, d := range docs {
		if err := r.docs.Delete(ctx, d.Bucket, d.Key); err != nil {
			// The document's key and the service's message may name the
			// person: the error carries the request, the document's number
			// and the error code only.
			return false, fmt.Errorf("sweep request %s: delete document %d: %s", id, d.Seq, errorCode(err))
		}
	}
	events, err := r.store.ListEvents(ctx, id)
	if err != nil {
		return false, fmt.Errorf("sweep request %s: %w", id, err)
	}
	audited := false
	for _, e := range events {
		audited = audited || e.Type == EventPersonalDataPurged
	}
	if !audited {
		closed := req.UpdatedAt
		if req.ClosedAt != nil {
			closed = *req.ClosedAt
		}
		data := map[string]string{"documents": strconv.Itoa(len(docs)), "closedAt": closed.UTC().Format(time.RFC3339)}
		if _, err := r.store.AppendEvent(ctx, id, store.Event{Type: EventPersonalDataPurged, Actor: ActorSweep, At: r.now(), Data: data}); err != nil {
			return false, fmt.Errorf("sweep request %s: audit: %w", id, err)
		}
	}
	if _, err := r.store.PurgePersonal(ctx, id); err != nil {
		return false, fmt.Errorf("sweep request %s: %w", id, err)
	}
	r.log().InfoContext(ctx, "personal data purged by the sweep", "requestId", id, "status", string(req.Status), "documents", len(docs))
	return false, nil
}

// errorCode names err without its message: the API error code, or the
// kind of failure.
func errorCode(err error) string {
	var api smithy.APIError
	switch {
	case errors.As(err, &api):
		return api.ErrorCode()
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "canceled"
	}
	return "request failed"
}
