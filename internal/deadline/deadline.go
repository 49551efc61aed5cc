// Package deadline changes a request's reply deadline the ways its
// jurisdiction allows, for an operator: extend it (GDPR art. 12(3): by up
// to two further months; CCPA §1798.130(a)(2): once, by up to 45 days;
// the CN rule, 15 working days, has no extension), and pause the reply
// clock while the requester is asked for information (GDPR only: the
// EDPB's guidelines 01/2022 on the right of access let the time limit
// wait for information needed to identify the requester; the CCPA's 45
// days run from receipt whatever verification takes, and the CN clock
// only starts once identity is verified). Each change is a guarded update
// of the request and an audit event naming the operator.
//
// Which jurisdiction applies is configuration (the deployment's rule);
// the deadline itself is computed by package workday.
package deadline

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"dsrflow/internal/dsr"
	"dsrflow/internal/store"
	"dsrflow/internal/workday"
)

// Allowance is what a jurisdiction's rule lets an operator do.
type Allowance struct {
	Jurisdiction workday.Jurisdiction
	// Unit is what the extension counts (months, calendar days).
	Unit workday.Unit
	// MaxExtension is the most units the due date may be extended by in
	// all; 0: no extension.
	MaxExtension int
	// Pause reports whether the reply clock may wait while the requester
	// is asked for information.
	Pause bool
}

// CanExtend reports whether the rule has an extension at all.
func (a Allowance) CanExtend() bool { return a.MaxExtension > 0 }

// AllowanceFor is the allowance of jurisdiction j.
func AllowanceFor(j workday.Jurisdiction) (Allowance, error) {
	r, err := workday.RuleFor(j)
	if err != nil {
		return Allowance{}, err
	}
	return Allowance{Jurisdiction: j, Unit: r.Unit, MaxExtension: r.Extension, Pause: j == workday.GDPR}, nil
}

// Reason is why a deadline is extended: the two grounds GDPR art. 12(3)
// names, which also say why an extension is "reasonably necessary" under
// the CCPA. The requester is told it.
type Reason string

const (
	ReasonComplexity Reason = "complexity"
	ReasonNumber     Reason = "number_of_requests"
)

var reasonTexts = map[Reason]dsr.Text{
	ReasonComplexity: {ZhCN: "您的请求较为复杂，需要更多时间处理", En: "your request is complex and needs more time"},
	ReasonNumber:     {ZhCN: "我们同时收到的请求数量较多", En: "we have received a large number of requests"},
}

// Reasons lists the extension reasons.
func Reasons() []Reason { return []Reason{ReasonComplexity, ReasonNumber} }

// Valid reports whether r is a known reason.
func (r Reason) Valid() bool { _, ok := reasonTexts[r]; return ok }

// Text is the reason as the requester reads it.
func (r Reason) Text(l dsr.Locale) string { return reasonTexts[r].In(l) }

// Audit event types.
const (
	EventExtended = "deadline_extended"
	EventPaused   = "clock_paused"
	EventResumed  = "clock_resumed"
)

// Errors. Each is wrapped with the request ID.
var (
	// ErrNotAllowed: the jurisdiction has no such change (a CN extension,
	// a CCPA or CN pause), or the extension asked for exceeds what is left.
	ErrNotAllowed = errors.New("not allowed under the jurisdiction's rule")
	// ErrNoDueDate: the clock has not started (identity not verified yet).
	ErrNoDueDate = errors.New("the request has no due date yet")
	// ErrClosed: the request is closed.
	ErrClosed = errors.New("the request is closed")
	// ErrPaused: the clock is paused already.
	ErrPaused = errors.New("the reply clock is paused")
	// ErrNotPaused: there is no pause to end.
	ErrNotPaused = errors.New("the reply clock is not paused")
	// ErrInvalid: units or reason out of range, no actor.
	ErrInvalid = errors.New("invalid change")
)

// Store is the part of the store the service uses (a *store.Store).
type Store interface {
	GetRequest(ctx context.Context, id string) (*dsr.Request, error)
	UpdateRequest(ctx context.Context, id string, expectedVersion int, mutate func(*dsr.Request)) (*dsr.Request, error)
	AppendEvent(ctx context.Context, id string, ev store.Event) (store.Event, error)
}

// Config names the jurisdiction whose rule applies.
type Config struct {
	Jurisdiction workday.Jurisdiction
}

// Deps are the service's store and clock.
type Deps struct {
	Store Store
	Clock func() time.Time
}

// Service changes deadlines.
type Service struct {
	allow Allowance
	store Store
	clock func() time.Time
}

// New returns the service for cfg's jurisdiction.
func New(cfg Config, deps Deps) (*Service, error) {
	a, err := AllowanceFor(cfg.Jurisdiction)
	if err != nil {
		return nil, fmt.Errorf("deadline: %w", err)
	}
	if deps.Store == nil {
		return nil, errors.New("deadline: Store is required")
	}
	s := &Service{allow: a, store: deps.Store, clock: deps.Clock}
	if s.clock == nil {
		s.clock = time.Now
	}
	return s, nil
}

// Allowance is what the configured jurisdiction allows.
func (s *Service) Allowance() Allowance { return s.allow }

// Left is how many units of extension request r may still get.
func (s *Service) Left(r *dsr.Request) int { return max(s.allow.MaxExtension-r.DueExtension, 0) }

func (s *Service) now() time.Time { return s.clock().UTC() }

// change applies mutate to request id with a version guard, retrying a
// lost race after check passes again on the fresh request.
func (s *Service) change(ctx context.Context, id string, check func(*dsr.Request) error, mutate func(*dsr.Request)) (before, after *dsr.Request, err error) {
	for range 5 {
		r, err := s.store.GetRequest(ctx, id)
		if err != nil {
			return nil, nil, err
		}
		if r.Status.Terminal() {
			return nil, nil, fmt.Errorf("request %s: %w", id, ErrClosed)
		}
		if err := check(r); err != nil {
			return nil, nil, fmt.Errorf("request %s: %w", id, err)
		}
		nr, err := s.store.UpdateRequest(ctx, id, r.Version, mutate)
		var ce *store.ConflictError
		if errors.As(err, &ce) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		return r, nr, nil
	}
	return nil, nil, fmt.Errorf("request %s: %w", id, store.ErrContention)
}

// Extend moves request id's due date on by units of the rule (months
// under the GDPR, calendar days under the CCPA) for reason, as actor
// decided. The total may not exceed the rule's extension.
func (s *Service) Extend(ctx context.Context, id string, units int, reason Reason, actor string) (*dsr.Request, error) {
	switch {
	case !s.allow.CanExtend():
		return nil, fmt.Errorf("request %s: %s has no extension: %w", id, s.allow.Jurisdiction, ErrNotAllowed)
	case units < 1 || units > s.allow.MaxExtension:
		return nil, fmt.Errorf("request %s: %w: extension of %d, want 1 to %d", id, ErrInvalid, units, s.allow.MaxExtension)
	case !reason.Valid():
		return nil, fmt.Errorf("request %s: %w: unknown reason %q", id, ErrInvalid, reason)
	case actor == "":
		return nil, fmt.Errorf("request %s: %w: no actor", id, ErrInvalid)
	}
	var due time.Time
	before, after, err := s.change(ctx, id, func(r *dsr.Request) error {
		if r.DueAt == nil {
			return ErrNoDueDate
		}
		if left := s.Left(r); units > left {
			return fmt.Errorf("%w: %d of %d left", ErrNotAllowed, left, s.allow.MaxExtension)
		}
		due = s.extended(*r.DueAt, units)
		return nil
	}, func(r *dsr.Request) {
		r.DueAt = &due
		r.DueExtension += units
	})
	if err != nil {
		return nil, err
	}
	data := map[string]string{
		"by": strconv.Itoa(units), "unit": string(s.allow.Unit), "reason": string(reason),
		"jurisdiction": string(s.allow.Jurisdiction), "dueAt": due.Format(time.RFC3339), "previousDueAt": before.DueAt.UTC().Format(time.RFC3339),
	}
	if _, err := s.store.AppendEvent(ctx, id, store.Event{Type: EventExtended, At: s.now(), Actor: actor, Data: data}); err != nil {
		return after, fmt.Errorf("audit extension of %s: %w", id, err)
	}
	return after, nil
}

// extended is due moved on by units of the rule, kept at the end of its
// day in China time (workday.Deadline.At).
func (s *Service) extended(due time.Time, units int) time.Time {
	d := workday.DateOf(due.In(workday.ChinaTime))
	if s.allow.Unit == workday.Months {
		d = d.AddMonthsClamped(units)
	} else {
		d = d.AddDays(units)
	}
	return workday.Deadline{Date: d}.At().UTC()
}

// Pause stops request id's reply clock while the requester is asked for
// information (cause: a code, e.g. "identity_document"). paused is false
// when the clock has not started yet (no due date): there is nothing to
// pause. Only the GDPR allows a pause.
func (s *Service) Pause(ctx context.Context, id, cause, actor string) (r *dsr.Request, paused bool, err error) {
	if !s.allow.Pause {
		return nil, false, fmt.Errorf("request %s: %s lets the clock run: %w", id, s.allow.Jurisdiction, ErrNotAllowed)
	}
	if actor == "" {
		return nil, false, fmt.Errorf("request %s: %w: no actor", id, ErrInvalid)
	}
	cur, err := s.store.GetRequest(ctx, id)
	if err != nil {
		return nil, false, err
	}
	if cur.DueAt == nil && !cur.Status.Terminal() {
		return cur, false, nil
	}
	at := s.now()
	_, after, err := s.change(ctx, id, func(r *dsr.Request) error {
		if r.PausedAt != nil {
			return ErrPaused
		}
		if r.DueAt == nil {
			return ErrNoDueDate
		}
		return nil
	}, func(r *dsr.Request) { r.PausedAt = &at })
	if err != nil {
		return nil, false, err
	}
	if _, err := s.store.AppendEvent(ctx, id, store.Event{Type: EventPaused, At: at, Actor: actor, Data: map[string]string{"cause": cause}}); err != nil {
		return after, true, fmt.Errorf("audit pause of %s: %w", id, err)
	}
	return after, true, nil
}

// Resume ends request id's pause: the due date moves on by the calendar
// days the clock was paused (China time; a pause within one day moves it
// by none).
func (s *Service) Resume(ctx context.Context, id, actor string) (*dsr.Request, error) {
	if actor == "" {
		return nil, fmt.Errorf("request %s: %w: no actor", id, ErrInvalid)
	}
	var days int
	var due time.Time
	now := s.now()
	_, after, err := s.change(ctx, id, func(r *dsr.Request) error {
		if r.PausedAt == nil {
			return ErrNotPaused
		}
		if r.DueAt == nil {
			return ErrNoDueDate
		}
		from := workday.DateOf(r.PausedAt.In(workday.ChinaTime))
		to := workday.DateOf(now.In(workday.ChinaTime))
		days = int(to.In(time.UTC).Sub(from.In(time.UTC)).Hours() / 24)
		due = workday.Deadline{Date: workday.DateOf(r.DueAt.In(workday.ChinaTime)).AddDays(days)}.At().UTC()
		return nil
	}, func(r *dsr.Request) {
		r.PausedAt = nil
		r.DueAt = &due
	})
	if err != nil {
		return nil, err
	}
	data := map[string]string{"days": strconv.Itoa(days), "dueAt": due.Format(time.RFC3339)}
	if _, err := s.store.AppendEvent(ctx, id, store.Event{Type: EventResumed, At: now, Actor: actor, Data: data}); err != nil {
		return after, fmt.Errorf("audit resumption of %s: %w", id, err)
	}
	return after, nil
}
