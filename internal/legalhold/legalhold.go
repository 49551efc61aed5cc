// Package legalhold keeps the operator-managed list of legal holds: data
// subjects whose data must be kept (an investigation, a court order, a
// statutory duty; policy 五.1/五.2 "除非法律法规另有规定"). A hold either
// refuses requests about the subject or defers erasure while it lasts; the
// requester is told the reason either way (PIPL art. 50), in a neutral text
// where the law forbids telling more.
//
// A hold is keyed by the same HMAC subject key as requests (store.Hold), so
// no identifier is stored, and it is checked only against verified subject
// keys: someone who types another person's identifier learns nothing of
// their holds.
package legalhold

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"dsrflow/internal/dsr"
	"dsrflow/internal/store"
)

// Action is what a hold does to a request.
type Action string

const (
	// ActionRefuse refuses every request about the subject.
	ActionRefuse Action = "refuse"
	// ActionDeferErasure lets other requests through but defers erasure
	// (erasure and account closure are answered, erasure postponed).
	ActionDeferErasure Action = "defer_erasure"
)

// Valid reports whether a is a known action.
func (a Action) Valid() bool { return a == ActionRefuse || a == ActionDeferErasure }

// Hold is one legal hold.
type Hold struct {
	SubjectKey string            `json:"subjectKey"`
	Action     Action            `json:"action"`
	Reason     dsr.RefusalReason `json:"reason"`
	// Reference is the operator's case reference (no personal data).
	Reference string    `json:"reference,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	CreatedBy string    `json:"createdBy"`
}

func fromStore(h store.Hold) Hold {
	return Hold{SubjectKey: h.SubjectKey, Action: Action(h.Action), Reason: dsr.RefusalReason(h.Reason), Reference: h.Reference, CreatedAt: h.CreatedAt, CreatedBy: h.CreatedBy}
}

// Store is the part of the store the list uses (a *store.Store).
type Store interface {
	PutHold(ctx context.Context, h store.Hold) error
	GetHold(ctx context.Context, subjectKey string) (*store.Hold, error)
	DeleteHold(ctx context.Context, subjectKey string) (*store.Hold, error)
	ListHolds(ctx context.Context) ([]store.Hold, error)
}

// List is the legal-hold list.
type List struct {
	store Store
}

// New returns the list over st.
func New(st Store) *List { return &List{store: st} }

// Put adds or replaces a hold.
func (l *List) Put(ctx context.Context, h Hold) error {
	if h.SubjectKey == "" || !h.Action.Valid() {
		return errors.New("legal hold: subject key and a valid action are required")
	}
	if h.Reason == "" {
		h.Reason = dsr.RefusalLegalHold
	}
	if !ReasonFits(h.Reason) {
		return fmt.Errorf("legal hold: reason %q does not fit a hold", h.Reason)
	}
	return l.store.PutHold(ctx, store.Hold{SubjectKey: h.SubjectKey, Action: string(h.Action), Reason: string(h.Reason), Reference: h.Reference, CreatedAt: h.CreatedAt.UTC(), CreatedBy: h.CreatedBy})
}

// Lift removes the hold on subjectKey and returns the hold it removed, or
// nil when there was none.
func (l *List) Lift(ctx context.Context, subjectKey string) (*Hold, error) {
	h, err := l.store.DeleteHold(ctx, subjectKey)
	if err != nil || h == nil {
		return nil, err
	}
	out := fromStore(*h)
	return &out, nil
}

// Find returns the strongest hold on any of subjectKeys (verified keys): a
// refusal before a deferral; nil when there is none.
func (l *List) Find(ctx context.Context, subjectKeys []string) (*Hold, error) {
	var found *Hold
	for _, k := range subjectKeys {
		h, err := l.store.GetHold(ctx, k)
		if err != nil {
			return nil, err
		}
		if h == nil {
			continue
		}
		hold := fromStore(*h)
		if found == nil || (hold.Action == ActionRefuse && found.Action != ActionRefuse) {
			found = &hold
		}
	}
	return found, nil
}

// All returns every hold, oldest first (then by subject key).
func (l *List) All(ctx context.Context) ([]Hold, error) {
	hs, err := l.store.ListHolds(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Hold, 0, len(hs))
	for _, h := range hs {
		out = append(out, fromStore(h))
	}
	slices.SortFunc(out, func(a, b Hold) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.SubjectKey, b.SubjectKey))
	})
	return out, nil
}

// Reasons lists the refusal reasons a hold may give: legal_hold (a duty to
// keep the data) and the legal grounds of policy 五.5 (1)–(5). The other
// reasons (identity, duplicates, repetition, ...) are about one request, not
// about a subject, and have no place on the list.
func Reasons() []dsr.RefusalReason {
	out := []dsr.RefusalReason{dsr.RefusalLegalHold}
	for _, r := range dsr.RefusalReasons() {
		if r.Category() == dsr.RefusalLegal {
			out = append(out, r)
		}
	}
	return out
}

// ReasonFits reports whether r is one of Reasons.
func ReasonFits(r dsr.RefusalReason) bool { return slices.Contains(Reasons(), r) }
