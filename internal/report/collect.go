package report

import (
	"context"
	"fmt"
	"time"

	"dsrflow/internal/dsr"
	"dsrflow/internal/store"
	"dsrflow/internal/workday"
)

// Source is the part of the store Collect reads (a *store.Store).
type Source interface {
	ScanByStatus(ctx context.Context, q store.StatusQuery) (store.StatusPage, error)
	ListEvents(ctx context.Context, id string) ([]store.Event, error)
}

// Audit events the report reads (written by the workflow).
const (
	eventReplied          = "replied"
	eventRepliedPartially = "replied_partially"
	eventNoticeSent       = "notice_sent"
	templateRefused       = "refused"
)

// Collect reads the rows of the requests received from from to to (China
// dates, both included). It scans every request item once (a page at a
// time) and reads the audit trail of each request answered or refused.
func Collect(ctx context.Context, src Source, from, to workday.Date) ([]Row, error) {
	start := from.In(workday.ChinaTime)
	end := to.AddDays(1).In(workday.ChinaTime)
	q := store.StatusQuery{Statuses: dsr.Statuses()}
	var rows []Row
	for {
		page, err := src.ScanByStatus(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		for i := range page.Requests {
			r := &page.Requests[i]
			if r.CreatedAt.Before(start) || !r.CreatedAt.Before(end) {
				continue
			}
			row, err := rowOf(ctx, src, r)
			if err != nil {
				return nil, err
			}
			rows = append(rows, row)
		}
		if page.Next == "" {
			return rows, nil
		}
		q.Cursor = page.Next
	}
}

// rowOf classifies one request; answered ones from their audit trail.
func rowOf(ctx context.Context, src Source, r *dsr.Request) (Row, error) {
	row := Row{ID: r.ID, Kind: r.Kind, ReceivedAt: r.CreatedAt, Outcome: OutcomeOpen}
	switch r.Status {
	case dsr.StatusDuplicate, dsr.StatusExpired:
		row.Outcome = OutcomeClosed
		return row, nil
	case dsr.StatusReceived, dsr.StatusAwaitingVerification, dsr.StatusInReview, dsr.StatusInProgress:
		return row, nil
	}
	evs, err := src.ListEvents(ctx, r.ID)
	if err != nil {
		return Row{}, fmt.Errorf("report: %w", err)
	}
	return classify(row, r, evs), nil
}

// classify sets a row's outcome and first answer from the request and its
// audit trail: the first reply (partial or whole) or refusal notice is
// the answer; the last reply says whether it was whole.
func classify(row Row, r *dsr.Request, evs []store.Event) Row {
	var first *time.Time
	answered := func(at time.Time) {
		if first == nil || at.Before(*first) {
			first = &at
		}
	}
	final, partial := false, false
	for _, e := range evs {
		switch {
		case e.Type == eventReplied:
			answered(e.At)
			final = true
			partial = e.Data["deferred"] != "" || (e.Data["pending"] != "" && e.Data["pending"] != "0")
		case e.Type == eventRepliedPartially:
			answered(e.At)
			if !final {
				partial = true
			}
		case e.Type == eventNoticeSent && e.Data["template"] == templateRefused:
			answered(e.At)
		}
	}
	switch {
	case r.Status == dsr.StatusRefused:
		row.Outcome, row.Reason = OutcomeRefused, r.RefusalReason
		if first == nil && r.ClosedAt != nil {
			at := *r.ClosedAt
			first = &at
		}
	case final && !partial:
		row.Outcome = OutcomeWhole
	case final || partial:
		row.Outcome = OutcomePart
	}
	row.RepliedAt = first
	return row
}
