package dsr

import "fmt"

// The life of a request: received → awaiting_verification → in_review →
// in_progress → replied → (erasure, account closure: awaiting_backup_rotation →)
// completed. What each status means and where it may go:
//
//   - received: stored, workflow not yet started or just started.
//   - awaiting_verification: a one-time code was sent to the contact on record.
//     A request whose requester role is not self, or that came by mail with
//     documents, goes from received straight to in_review (manual verification).
//   - in_review: identity proven or being checked by hand; duplicates, repeats,
//     legal holds and refusal grounds are reviewed. A reviewer may send it back
//     to awaiting_verification to ask for more proof.
//   - in_progress: partners are being asked to act.
//   - replied: the requester has the answer. Erasure and account closure then
//     wait in awaiting_backup_rotation until every backup has rotated; the other
//     kinds are completed.
//   - escalated: a partner or the backup confirmation failed beyond its retries;
//     the partial reply went out. An operator retries or settles the partner
//     (the reply promised goes out: replied) or the backup confirmation (back
//     to awaiting_backup_rotation), or refuses with a reason.
//   - completed, refused, expired (identity never proven in time) and duplicate
//     (another open request of the same subject covers it) are terminal.

// transitions lists, for each status, the statuses it may move to.
// Terminal statuses have no entry.
var transitions = map[Status][]Status{
	StatusReceived:               {StatusAwaitingVerification, StatusInReview, StatusRefused, StatusDuplicate},
	StatusAwaitingVerification:   {StatusInReview, StatusRefused, StatusExpired, StatusDuplicate},
	StatusInReview:               {StatusAwaitingVerification, StatusInProgress, StatusRefused, StatusDuplicate},
	StatusInProgress:             {StatusReplied, StatusEscalated, StatusRefused},
	StatusReplied:                {StatusAwaitingBackupRotation, StatusCompleted},
	StatusAwaitingBackupRotation: {StatusCompleted, StatusEscalated},
	StatusEscalated:              {StatusInProgress, StatusReplied, StatusAwaitingBackupRotation, StatusRefused},
}

// Statuses lists every status, in workflow order.
func Statuses() []Status {
	return []Status{
		StatusReceived, StatusAwaitingVerification, StatusInReview, StatusInProgress,
		StatusReplied, StatusAwaitingBackupRotation, StatusCompleted,
		StatusRefused, StatusExpired, StatusDuplicate, StatusEscalated,
	}
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	switch s {
	case StatusReceived, StatusAwaitingVerification, StatusInReview, StatusInProgress,
		StatusReplied, StatusAwaitingBackupRotation, StatusCompleted,
		StatusRefused, StatusExpired, StatusDuplicate, StatusEscalated:
		return true
	}
	return false
}

// Terminal reports whether s ends a request's life: completed, refused, expired
// or duplicate. A terminal status has no outgoing transition.
func (s Status) Terminal() bool {
	switch s {
	case StatusCompleted, StatusRefused, StatusExpired, StatusDuplicate:
		return true
	}
	return false
}

// Open reports whether a request in status s still needs work (and counts
// against its due date): any known status that is not terminal.
func (s Status) Open() bool { return s.Valid() && !s.Terminal() }

// Next lists the statuses s may move to (none for a terminal or unknown status).
func (s Status) Next() []Status {
	return append([]Status(nil), transitions[s]...)
}

// CanTransition reports whether a request may move from one status to another.
// Staying in the same status is not a transition.
func CanTransition(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// TransitionError is a status change the workflow does not allow.
type TransitionError struct {
	From, To Status
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("status transition %s → %s not allowed", e.From, e.To)
}

// Transition returns nil when from → to is allowed and a *TransitionError when not.
func Transition(from, to Status) error {
	if !CanTransition(from, to) {
		return &TransitionError{From: from, To: to}
	}
	return nil
}
