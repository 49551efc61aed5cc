package dsr

import (
	"errors"
	"testing"
)

// allowed is the expected transition table, written out independently of the
// code: every pair not listed here must be refused.
var allowed = map[[2]Status]bool{
	{StatusReceived, StatusAwaitingVerification}: true,
	{StatusReceived, StatusInReview}:             true, // manual verification (role other than self, documents by mail)
	{StatusReceived, StatusRefused}:              true,
	{StatusReceived, StatusDuplicate}:            true,

	{StatusAwaitingVerification, StatusInReview}:  true,
	{StatusAwaitingVerification, StatusRefused}:   true,
	{StatusAwaitingVerification, StatusExpired}:   true,
	{StatusAwaitingVerification, StatusDuplicate}: true,

	{StatusInReview, StatusAwaitingVerification}: true, // reviewer asks for more proof
	{StatusInReview, StatusInProgress}:           true,
	{StatusInReview, StatusRefused}:              true,
	{StatusInReview, StatusDuplicate}:            true,

	{StatusInProgress, StatusReplied}:   true,
	{StatusInProgress, StatusEscalated}: true,
	{StatusInProgress, StatusRefused}:   true, // e.g. account closure pre-check finds obligations

	{StatusReplied, StatusAwaitingBackupRotation}: true,
	{StatusReplied, StatusCompleted}:              true,

	{StatusAwaitingBackupRotation, StatusCompleted}: true,
	{StatusAwaitingBackupRotation, StatusEscalated}: true,

	{StatusEscalated, StatusInProgress}:             true, // operator retry
	{StatusEscalated, StatusReplied}:                true, // the last partner settled: the reply promised
	{StatusEscalated, StatusAwaitingBackupRotation}: true, // operator retry of the backup confirmation
	{StatusEscalated, StatusRefused}:                true,
}

func TestTransitionsExhaustive(t *testing.T) {
	all := append(Statuses(), "", "bogus")
	n := 0
	for _, from := range all {
		for _, to := range all {
			want := allowed[[2]Status{from, to}]
			if got := CanTransition(from, to); got != want {
				t.Errorf("CanTransition(%q, %q) = %v, want %v", from, to, got, want)
			}
			err := Transition(from, to)
			if want {
				if err != nil {
					t.Errorf("Transition(%q, %q) = %v, want nil", from, to, err)
				}
				n++
				continue
			}
			var te *TransitionError
			if !errors.As(err, &te) || te.From != from || te.To != to {
				t.Errorf("Transition(%q, %q) = %v, want *TransitionError{%q, %q}", from, to, err, from, to)
			}
		}
	}
	if n != len(allowed) {
		t.Errorf("%d transitions allowed, the table lists %d", n, len(allowed))
	}
}

func TestStatusClasses(t *testing.T) {
	terminal := map[Status]bool{StatusCompleted: true, StatusRefused: true, StatusExpired: true, StatusDuplicate: true}
	if got := len(Statuses()); got != 11 {
		t.Errorf("len(Statuses()) = %d, want 11", got)
	}
	for _, s := range Statuses() {
		if !s.Valid() {
			t.Errorf("%s.Valid() = false", s)
		}
		if got := s.Terminal(); got != terminal[s] {
			t.Errorf("%s.Terminal() = %v, want %v", s, got, terminal[s])
		}
		if got := s.Open(); got != !terminal[s] {
			t.Errorf("%s.Open() = %v, want %v", s, got, !terminal[s])
		}
		// A terminal status has no way out; an open one has at least one.
		if next := s.Next(); (len(next) == 0) != terminal[s] {
			t.Errorf("%s.Next() = %v, terminal %v", s, next, terminal[s])
		}
		for _, to := range s.Next() {
			if !CanTransition(s, to) {
				t.Errorf("%s.Next() lists %s but CanTransition refuses it", s, to)
			}
		}
	}
	for _, s := range []Status{"", "open", "Received"} {
		if s.Valid() || s.Open() || s.Terminal() {
			t.Errorf("%q: Valid %v, Open %v, Terminal %v; want all false", s, s.Valid(), s.Open(), s.Terminal())
		}
	}
}

func TestNextIsACopy(t *testing.T) {
	next := StatusReceived.Next()
	next[0] = StatusCompleted
	if CanTransition(StatusReceived, StatusCompleted) {
		t.Error("modifying Next() changed the transition table")
	}
}

func TestTransitionErrorText(t *testing.T) {
	err := Transition(StatusCompleted, StatusInProgress)
	if got, want := err.Error(), "status transition completed → in_progress not allowed"; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
}
