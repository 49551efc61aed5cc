// Package report counts what the privacy team did over a period, per month
// of receipt and request kind: requests received, complied with in whole
// or in part, refused (by reason), closed otherwise or still open, and the
// median and 95th-percentile working days to reply. These are the metrics
// the CCPA regulations (11 CCR §7102) ask large businesses to publish,
// counted in mainland China working days (package workday), the unit of
// the policy's own promise.
//
// Build is pure: it takes one Row per request. Collect reads the rows from
// the store: a Scan of the request items (store.ScanByStatus: reports are
// an operator's occasional question, never a handler's) and each answered
// request's audit trail for the time of its first answer.
package report

import (
	"cmp"
	"math"
	"slices"
	"time"

	"dsrflow/internal/dsr"
	"dsrflow/internal/workday"
)

// Outcome is how a request ended, as the report counts it.
type Outcome string

const (
	// OutcomeWhole: the reply carried out everything asked.
	OutcomeWhole Outcome = "whole"
	// OutcomePart: a reply was sent while part of the request was not
	// carried out: a partner had not acted (a partial reply), or a legal
	// hold deferred an erasure.
	OutcomePart Outcome = "part"
	// OutcomeRefused: refused, with a reason.
	OutcomeRefused Outcome = "refused"
	// OutcomeClosed: closed without an answer on the merits: a duplicate
	// of an open request, or expired (identity never verified).
	OutcomeClosed Outcome = "closed"
	// OutcomeOpen: not answered yet.
	OutcomeOpen Outcome = "open"
)

// Row is one request.
type Row struct {
	ID         string
	Kind       dsr.Kind
	Outcome    Outcome
	Reason     dsr.RefusalReason // OutcomeRefused only
	ReceivedAt time.Time
	// RepliedAt is the first answer on the merits (the reply, partial or
	// whole, or the refusal); nil when there is none yet.
	RepliedAt *time.Time
}

// Line is one month and kind.
type Line struct {
	// Month is the month of receipt, China time, "2026-03"; Kind is a
	// request kind, or "all" on a total line.
	Month    string `json:"month"`
	Kind     string `json:"kind"`
	Received int    `json:"received"`
	Whole    int    `json:"compliedInWhole"`
	Part     int    `json:"compliedInPart"`
	Refused  int    `json:"refused"`
	// RefusedBy counts refusals by reason code.
	RefusedBy map[dsr.RefusalReason]int `json:"refusedBy,omitempty"`
	Closed    int                       `json:"closedOtherwise"`
	Open      int                       `json:"open"`
	// Replied counts the requests answered, whose working days to reply
	// the median and 95th percentile are taken over (nil when none).
	Replied    int      `json:"replied"`
	MedianDays *float64 `json:"medianWorkingDays"`
	P95Days    *int     `json:"p95WorkingDays"`
	// Estimated is set when a count went through a year without an
	// official holiday schedule (Monday to Friday were counted).
	Estimated bool `json:"estimated,omitempty"`
}

// Report is the whole period.
type Report struct {
	From  workday.Date `json:"from"`
	To    workday.Date `json:"to"`
	Lines []Line       `json:"lines"`
	// Total sums the period (Month "", Kind "all").
	Total Line `json:"total"`
}

// KindAll is the Kind of total lines.
const KindAll = "all"

// Build counts rows received from from to to (China dates, both
// included), per month and kind, in month order then the kinds' order.
// Working days to reply are the Chinese working days after the day of
// receipt up to the day of the answer (an answer on the day it came, or
// on the weekend after, is 0). The median of an even count is the mean of
// the middle two; the 95th percentile is the nearest rank (the
// ⌈0.95·n⌉-th smallest).
func Build(rows []Row, from, to workday.Date, cal *workday.Calendar) Report {
	rep := Report{From: from, To: to, Total: Line{Kind: KindAll}}
	type key struct {
		month string
		kind  dsr.Kind
	}
	lines := map[key]*Line{}
	days := map[key][]int{}
	var all []int
	for _, r := range rows {
		rd := workday.DateOf(r.ReceivedAt.In(workday.ChinaTime))
		if rd.Before(from) || to.Before(rd) {
			continue
		}
		k := key{month: rd.String()[:7], kind: r.Kind}
		l := lines[k]
		if l == nil {
			l = &Line{Month: k.month, Kind: string(k.kind)}
			lines[k] = l
		}
		for _, x := range []*Line{l, &rep.Total} {
			count(x, r)
		}
		if r.RepliedAt != nil {
			n, est := cal.WorkdaysBetween(rd, workday.DateOf(r.RepliedAt.In(workday.ChinaTime)))
			n = max(n, 0)
			days[k] = append(days[k], n)
			all = append(all, n)
			l.Estimated = l.Estimated || est
			rep.Total.Estimated = rep.Total.Estimated || est
		}
	}
	for k, l := range lines {
		l.MedianDays, l.P95Days = stats(days[k])
		rep.Lines = append(rep.Lines, *l)
	}
	rep.Total.MedianDays, rep.Total.P95Days = stats(all)
	order := map[string]int{}
	for i, k := range dsr.Kinds() {
		order[string(k)] = i
	}
	slices.SortFunc(rep.Lines, func(a, b Line) int {
		return cmp.Or(cmp.Compare(a.Month, b.Month), cmp.Compare(order[a.Kind], order[b.Kind]), cmp.Compare(a.Kind, b.Kind))
	})
	return rep
}

func count(l *Line, r Row) {
	l.Received++
	switch r.Outcome {
	case OutcomeWhole:
		l.Whole++
	case OutcomePart:
		l.Part++
	case OutcomeRefused:
		l.Refused++
		if l.RefusedBy == nil {
			l.RefusedBy = map[dsr.RefusalReason]int{}
		}
		l.RefusedBy[r.Reason]++
	case OutcomeClosed:
		l.Closed++
	default:
		l.Open++
	}
	if r.RepliedAt != nil {
		l.Replied++
	}
}

// stats is the median and the nearest-rank 95th percentile of days.
func stats(days []int) (*float64, *int) {
	if len(days) == 0 {
		return nil, nil
	}
	s := slices.Clone(days)
	slices.Sort(s)
	n := len(s)
	med := float64(s[n/2])
	if n%2 == 0 {
		med = float64(s[n/2-1]+s[n/2]) / 2
	}
	rank := int(math.Ceil(0.95 * float64(n)))
	p95 := s[rank-1]
	return &med, &p95
}
