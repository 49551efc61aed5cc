// Package operator keeps the workflow's waits for a person: manual identity
// verification (a requester acting for someone else, or documents sent as
// proof) and manual review (repeat requests, policy 五.5). The workflow's
// .waitForTaskToken task records its token on the request's operator wait
// (store.OperatorWait); the console and the dsr command line's `verify` and
// `review` commands answer it with SendTaskSuccess. The token never leaves
// the table except to Step Functions.
package operator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"dsrflow/internal/dsr"
	"dsrflow/internal/store"
)

// Stage is what the operator decides.
type Stage string

const (
	StageVerification Stage = "verification"
	// StageIdentity: a typed identifier does not belong to the person whose
	// contact was proved (identity_mismatch), or the account system could
	// not resolve the identity: an operator checks documents and approves
	// the identifiers, or refuses.
	StageIdentity Stage = "identity"
	StageReview   Stage = "review"
)

// Valid reports whether s is a known stage.
func (s Stage) Valid() bool {
	return s == StageVerification || s == StageIdentity || s == StageReview
}

// Results in the task output.
const (
	ResultApproved = "approved"
	ResultRefused  = "refused"
)

// MethodManual is the method of an operator's verification, in the task
// output.
const MethodManual = "manual"

// MaxNote is the longest approval note, in characters.
const MaxNote = 500

// Errors of Decide.
var (
	// ErrNotWaiting: the workflow does not wait for this decision (never
	// asked, or the wait ended).
	ErrNotWaiting = errors.New("no decision is awaited")
	// ErrAlreadyDecided: an operator already answered.
	ErrAlreadyDecided = errors.New("already decided")
	// ErrInvalid: the decision is malformed (no reason for a refusal, unknown
	// reason code, note too long, no actor).
	ErrInvalid = errors.New("invalid decision")
)

// SFN is the part of the Step Functions client the service uses.
type SFN interface {
	SendTaskSuccess(ctx context.Context, in *sfn.SendTaskSuccessInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error)
}

// Store is the part of the store the service uses (a *store.Store).
type Store interface {
	GetOperatorWait(ctx context.Context, id, stage string) (*store.OperatorWait, error)
	PutOperatorWait(ctx context.Context, w *store.OperatorWait) error
	AppendEvent(ctx context.Context, id string, ev store.Event) (store.Event, error)
}

// Deps are the service's clients and clock.
type Deps struct {
	Store Store
	SFN   SFN
	Clock func() time.Time
}

// Service records waits and answers them.
type Service struct {
	store Store
	sfn   SFN
	clock func() time.Time
}

// New returns the service.
func New(deps Deps) *Service {
	s := &Service{store: deps.Store, sfn: deps.SFN, clock: deps.Clock}
	if s.clock == nil {
		s.clock = time.Now
	}
	return s
}

// Wait is one awaited decision.
type Wait = store.OperatorWait

// TaskOutput is what SendTaskSuccess passes to the workflow.
type TaskOutput struct {
	Result string `json:"result"`
	Reason string `json:"reason"`
	Method string `json:"method"`
	// VerifiedAt is set when a manual verification is approved.
	VerifiedAt string `json:"verifiedAt"`
}

func (s *Service) now() time.Time { return s.clock().UTC() }

// Get returns the wait for a request's stage (nil when none was recorded).
func (s *Service) Get(ctx context.Context, id string, st Stage) (*Wait, error) {
	return s.store.GetOperatorWait(ctx, id, string(st))
}

func (s *Service) put(ctx context.Context, w *Wait) error {
	return s.store.PutOperatorWait(ctx, w)
}

// Await records that the workflow waits on taskToken for an operator's
// decision at stage, and why (cause: "role_guardian", "attachments",
// "repeat_limit", ...). Called again with a new token (a retried task), it
// replaces the token; a wait already decided is answered again at once, so
// a retried task does not wait for a decision already made.
// first is true the first time the wait is recorded.
func (s *Service) Await(ctx context.Context, id string, st Stage, cause, taskToken string) (first bool, err error) {
	for range 8 {
		w, err := s.Get(ctx, id, st)
		if err != nil {
			return false, err
		}
		first = w == nil
		if w == nil {
			w = &Wait{RequestID: id, Stage: string(st), Cause: cause, RequestedAt: s.now()}
		}
		w.TaskToken = taskToken
		w.TokenSet++
		if err := s.put(ctx, w); errors.Is(err, store.ErrStale) {
			continue
		} else if err != nil {
			return false, err
		}
		if w.Decided != nil {
			w.Sent = false
			return first, s.sendAndMark(ctx, w)
		}
		return first, nil
	}
	return false, fmt.Errorf("record %s wait of %s: contention", st, id)
}

// Decision is an operator's answer.
type Decision struct {
	RequestID string
	Stage     Stage
	Approve   bool
	// Reason is the refusal reason (required to refuse).
	Reason dsr.RefusalReason
	// Note is the operator's free-text note on an approval (what was
	// checked). It goes into the audit trail: no personal data.
	Note string
	// Actor is the operator's ID.
	Actor string
}

func (d Decision) validate() error {
	switch {
	case d.RequestID == "":
		return fmt.Errorf("%w: request ID required", ErrInvalid)
	case !d.Stage.Valid():
		return fmt.Errorf("%w: unknown stage %q", ErrInvalid, d.Stage)
	case d.Actor == "":
		return fmt.Errorf("%w: operator required", ErrInvalid)
	case !d.Approve && d.Reason == "":
		return fmt.Errorf("%w: a refusal needs a reason code", ErrInvalid)
	case !d.Approve && !d.Reason.Valid():
		return fmt.Errorf("%w: unknown refusal reason %q", ErrInvalid, d.Reason)
	case utf8.RuneCountInString(d.Note) > MaxNote:
		return fmt.Errorf("%w: note longer than %d characters", ErrInvalid, MaxNote)
	}
	return nil
}

// Decide answers an awaited decision: it records it, appends an audit event
// and sends SendTaskSuccess. Deciding twice is ErrAlreadyDecided and changes
// nothing.
func (s *Service) Decide(ctx context.Context, d Decision) error {
	if err := d.validate(); err != nil {
		return err
	}
	now := s.now()
	var w *Wait
	for range 8 {
		var err error
		w, err = s.Get(ctx, d.RequestID, d.Stage)
		if err != nil {
			return err
		}
		if w == nil || w.TaskToken == "" {
			return fmt.Errorf("%s of request %s: %w", d.Stage, d.RequestID, ErrNotWaiting)
		}
		if w.Decided != nil && w.Sent {
			return fmt.Errorf("%s of request %s: %w (%s by %s)", d.Stage, d.RequestID, ErrAlreadyDecided, w.Result, w.Actor)
		}
		if w.Decided != nil {
			// Recorded, but Step Functions never got it: send it again.
			return s.sendAndMark(ctx, w)
		}
		w.Decided, w.Actor = &now, d.Actor
		w.Result, w.Reason = ResultApproved, ""
		if !d.Approve {
			w.Result, w.Reason = ResultRefused, string(d.Reason)
		}
		err = s.put(ctx, w)
		if errors.Is(err, store.ErrStale) {
			continue
		}
		if err != nil {
			return err
		}
		break
	}
	data := map[string]string{"stage": string(d.Stage), "result": w.Result}
	if w.Reason != "" {
		data["reason"] = w.Reason
	}
	if d.Note != "" {
		data["note"] = d.Note
	}
	if _, err := s.store.AppendEvent(ctx, d.RequestID, store.Event{Type: "operator_decision", At: now, Actor: "operator:" + d.Actor, Data: data}); err != nil {
		return fmt.Errorf("audit decision on %s: %w", d.RequestID, err)
	}
	return s.sendAndMark(ctx, w)
}

// sendAndMark sends the recorded decision and marks it sent. A task the
// workflow no longer waits on is marked too (there is nothing to resend).
func (s *Service) sendAndMark(ctx context.Context, w *Wait) error {
	serr := s.send(ctx, w)
	if serr != nil && !errors.Is(serr, ErrNotWaiting) {
		return serr
	}
	for range 8 {
		cur, err := s.Get(ctx, w.RequestID, Stage(w.Stage))
		if err != nil {
			return err
		}
		if cur == nil || cur.Sent || cur.TaskToken != w.TaskToken {
			return serr
		}
		cur.Sent = true
		if err := s.put(ctx, cur); errors.Is(err, store.ErrStale) {
			continue
		} else if err != nil {
			return err
		}
		return serr
	}
	return serr
}

func (s *Service) send(ctx context.Context, w *Wait) error {
	out := TaskOutput{Result: w.Result, Reason: w.Reason, Method: MethodManual}
	if Stage(w.Stage) == StageVerification && w.Result == ResultApproved && w.Decided != nil {
		out.VerifiedAt = w.Decided.UTC().Format(time.RFC3339Nano)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	_, err = s.sfn.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(w.TaskToken), Output: aws.String(string(b))})
	var to *sfntypes.TaskTimedOut
	var dne *sfntypes.TaskDoesNotExist
	if errors.As(err, &to) || errors.As(err, &dne) {
		return fmt.Errorf("%s of request %s: %w (the workflow no longer waits)", w.Stage, w.RequestID, ErrNotWaiting)
	}
	if err != nil {
		return fmt.Errorf("send %s decision on %s: %w", w.Stage, w.RequestID, err)
	}
	return nil
}
