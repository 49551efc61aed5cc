package operator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"dsrflow/internal/dsr"
	"dsrflow/internal/store"
)

// Amending the identifiers typed for a data subject (a mistyped account
// ID, a guardian who gave the child's address late) is an operator's
// correction before fan-out. The request's personal item gets the new
// identifiers, their hint keys are indexed (a search by them finds the
// request), and what the identity step resolved is reset, keeping what
// the requester proved by a code or a login: when Review runs again
// (after the operator's decision the workflow waits for) it resolves the
// amended identifiers through the account system, and an operator's
// approval vouches for them (docs/ARCHITECTURE.md, rule 7). Nothing of
// this reaches a partner before that.

// EventAmended is the audit event of an amendment; its data counts the
// identifiers of each type (never their values).
const EventAmended = "identifiers_amended"

// MaxIdentifiers bounds the identifiers of each type an amendment gives.
const MaxIdentifiers = 10

// ErrTooLate is returned (wrapped) when the request is past review: its
// partners were asked already, or it is closed.
var ErrTooLate = errors.New("the request is past review")

// ErrNotAwaiting is returned (wrapped) for a request in review whose
// workflow waits for no operator: Review is running, and would not see
// the amendment.
var ErrNotAwaiting = errors.New("the request waits for no operator decision")

// AmendStore is the part of the store an Amender uses (a *store.Store).
type AmendStore interface {
	GetRequest(ctx context.Context, id string) (*dsr.Request, error)
	ListOperatorWaits(ctx context.Context, id string) ([]store.OperatorWait, error)
	UpdatePersonal(ctx context.Context, id string, mutate func(*dsr.Personal)) (*dsr.Personal, error)
	AddHintKeys(ctx context.Context, id string, keys []string) (*dsr.Request, error)
	GetIdentity(ctx context.Context, id string) (*dsr.Identity, error)
	UpdateIdentity(ctx context.Context, id string, mutate func(*dsr.Identity) error) (*dsr.Identity, error)
	AppendEvent(ctx context.Context, id string, ev store.Event) (store.Event, error)
}

// AmenderDeps are an Amender's store and clock.
type AmenderDeps struct {
	Store AmendStore
	Clock func() time.Time
}

// Amender amends a subject's identifiers.
type Amender struct {
	store AmendStore
	clock func() time.Time
}

// NewAmender returns an Amender.
func NewAmender(deps AmenderDeps) *Amender {
	a := &Amender{store: deps.Store, clock: deps.Clock}
	if a.clock == nil {
		a.clock = time.Now
	}
	return a
}

// Amendment is the identifiers an operator gives for a request's data
// subject, replacing those typed.
type Amendment struct {
	RequestID string
	// Subject holds normalized identifiers (dsr.ParseEmail, phone.Parse,
	// dsr.ParseAccountID), at most MaxIdentifiers of each type.
	Subject dsr.Identifiers
	// HintKeys are Subject's keyed hashes (Subject.Keys with the
	// subject-key secret, which this package does not hold).
	HintKeys []string
	// Actor is the operator's ID, as in Decision.
	Actor string
}

func (a Amendment) validate() error {
	n := len(a.Subject.Accounts) + len(a.Subject.Emails) + len(a.Subject.Phones)
	switch {
	case a.RequestID == "":
		return fmt.Errorf("%w: request ID required", ErrInvalid)
	case a.Actor == "":
		return fmt.Errorf("%w: operator required", ErrInvalid)
	case n == 0:
		return fmt.Errorf("%w: no identifier given", ErrInvalid)
	case len(a.Subject.Accounts) > MaxIdentifiers || len(a.Subject.Emails) > MaxIdentifiers || len(a.Subject.Phones) > MaxIdentifiers:
		return fmt.Errorf("%w: more than %d identifiers of one type", ErrInvalid, MaxIdentifiers)
	case len(a.HintKeys) != n || slices.Contains(a.HintKeys, ""):
		return fmt.Errorf("%w: %d hint keys for %d identifiers", ErrInvalid, len(a.HintKeys), n)
	case slices.Contains(a.Subject.Accounts, "") || slices.Contains(a.Subject.Emails, "") || slices.Contains(a.Subject.Phones, ""):
		return fmt.Errorf("%w: empty identifier", ErrInvalid)
	}
	return nil
}

// Amend replaces request id's typed subject identifiers with a.Subject,
// before fan-out: while the request is received or awaits verification,
// or is in review with the workflow waiting for an operator.
func (m *Amender) Amend(ctx context.Context, a Amendment) error {
	if err := a.validate(); err != nil {
		return err
	}
	id := a.RequestID
	r, err := m.store.GetRequest(ctx, id)
	if err != nil {
		return err
	}
	switch r.Status {
	case dsr.StatusReceived, dsr.StatusAwaitingVerification:
	case dsr.StatusInReview:
		waits, err := m.store.ListOperatorWaits(ctx, id)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(waits, func(w store.OperatorWait) bool { return w.Decided == nil && w.TaskToken != "" }) {
			return fmt.Errorf("request %s: %w", id, ErrNotAwaiting)
		}
	default:
		return fmt.Errorf("request %s is %s: %w", id, r.Status, ErrTooLate)
	}
	if _, err := m.store.UpdatePersonal(ctx, id, func(p *dsr.Personal) { p.Subject = a.Subject }); err != nil {
		return err
	}
	if _, err := m.store.AddHintKeys(ctx, id, a.HintKeys); err != nil {
		return err
	}
	idn, err := m.store.GetIdentity(ctx, id)
	if err != nil {
		return err
	}
	reset := idn.Resolution != "" || slices.ContainsFunc(idn.Proved, func(p dsr.Proof) bool { return p.Method == dsr.ProofOperator })
	if reset {
		if _, err := m.store.UpdateIdentity(ctx, id, func(x *dsr.Identity) error {
			// What the requester proved stays; what an operator vouched
			// for was the old identifiers.
			x.Proved = slices.DeleteFunc(x.Proved, func(p dsr.Proof) bool { return p.Method == dsr.ProofOperator })
			x.Subject, x.Resolution, x.Mismatched, x.ResolvedAt = dsr.Identifiers{}, "", 0, nil
			return nil
		}); err != nil {
			return err
		}
	}
	data := map[string]string{
		"accounts": strconv.Itoa(len(a.Subject.Accounts)), "emails": strconv.Itoa(len(a.Subject.Emails)),
		"phones": strconv.Itoa(len(a.Subject.Phones)), "resolutionReset": strconv.FormatBool(reset),
	}
	if _, err := m.store.AppendEvent(ctx, id, store.Event{Type: EventAmended, At: m.clock().UTC(), Actor: "operator:" + a.Actor, Data: data}); err != nil {
		return fmt.Errorf("audit amendment of %s: %w", id, err)
	}
	return nil
}
