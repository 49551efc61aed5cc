// Package operator keeps the workflow's waits for a person: manual identity
// verification (a requester acting for someone else, or documents sent as
// proof) and manual review (repeat requests, policy 五.5). The workflow's
// .waitForTaskToken task records its token on the item REQ#<id> /
// OPERATOR#<stage>; the dsr command line's `verify` and `review` commands
// answer it with SendTaskSuccess. The token never leaves the table except
// to Step Functions.
package operator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"dsrflow/internal/dsr"
	"dsrflow/internal/store"
)

// Stage is what the operator decides.
type Stage string

const (
	StageVerification Stage = "verification"
	StageReview       Stage = "review"
)

// Valid reports whether s is a known stage.
func (s Stage) Valid() bool { return s == StageVerification || s == StageReview }

// Results in the task output.
const (
	ResultApproved = "approved"
	ResultRefused  = "refused"
)

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

// DB is the part of the DynamoDB client the service uses.
type DB interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// SFN is the part of the Step Functions client the service uses.
type SFN interface {
	SendTaskSuccess(ctx context.Context, in *sfn.SendTaskSuccessInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error)
}

// Events appends audit events (a *store.Store).
type Events interface {
	AppendEvent(ctx context.Context, id string, ev store.Event) (store.Event, error)
}

// Service records waits and answers them.
type Service struct {
	DB     DB
	Table  string
	SFN    SFN
	Events Events
	Now    func() time.Time
}

// Wait is one awaited decision.
type Wait struct {
	PK          string    `dynamodbav:"PK"`
	SK          string    `dynamodbav:"SK"`
	RequestID   string    `dynamodbav:"requestId"`
	Stage       Stage     `dynamodbav:"stage"`
	Cause       string    `dynamodbav:"cause"`
	TaskToken   string    `dynamodbav:"taskToken"`
	RequestedAt time.Time `dynamodbav:"requestedAt"`
	// Decided is set once answered, with the result, reason and actor.
	Decided *time.Time `dynamodbav:"decided,omitempty"`
	Result  string     `dynamodbav:"result,omitempty"`
	Reason  string     `dynamodbav:"reason,omitempty"`
	Actor   string     `dynamodbav:"actor,omitempty"`
	// Sent is set once Step Functions accepted the decision.
	Sent     bool `dynamodbav:"sent"`
	Version  int  `dynamodbav:"version"`
	TokenSet int  `dynamodbav:"tokenSet"` // how often a token was recorded
}

// TaskOutput is what SendTaskSuccess passes to the workflow.
type TaskOutput struct {
	Result string `json:"result"`
	Reason string `json:"reason"`
	Method string `json:"method"`
	// VerifiedAt is set when a manual verification is approved.
	VerifiedAt string `json:"verifiedAt"`
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func key(id string, st Stage) map[string]dbtypes.AttributeValue {
	return map[string]dbtypes.AttributeValue{
		"PK": &dbtypes.AttributeValueMemberS{Value: "REQ#" + id},
		"SK": &dbtypes.AttributeValueMemberS{Value: "OPERATOR#" + string(st)},
	}
}

// Get returns the wait for a request's stage (nil when none was recorded).
func (s *Service) Get(ctx context.Context, id string, st Stage) (*Wait, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: key(id, st), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("load %s wait of %s: %w", st, id, err)
	}
	if out.Item == nil {
		return nil, nil
	}
	var w Wait
	if err := attributevalue.UnmarshalMap(out.Item, &w); err != nil {
		return nil, fmt.Errorf("load %s wait of %s: %w", st, id, err)
	}
	return &w, nil
}

var errStale = errors.New("stale")

func (s *Service) put(ctx context.Context, w *Wait) error {
	prev := w.Version
	w.Version++
	item, err := attributevalue.MarshalMap(w)
	if err != nil {
		return err
	}
	in := &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: item}
	if prev == 0 {
		in.ConditionExpression = aws.String("attribute_not_exists(PK)")
	} else {
		in.ConditionExpression = aws.String("version = :v")
		in.ExpressionAttributeValues = map[string]dbtypes.AttributeValue{":v": &dbtypes.AttributeValueMemberN{Value: fmt.Sprint(prev)}}
	}
	if _, err := s.DB.PutItem(ctx, in); err != nil {
		w.Version = prev
		var ccf *dbtypes.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			return errStale
		}
		return fmt.Errorf("save %s wait of %s: %w", w.Stage, w.RequestID, err)
	}
	return nil
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
			w = &Wait{PK: "REQ#" + id, SK: "OPERATOR#" + string(st), RequestID: id, Stage: st, Cause: cause, RequestedAt: s.now()}
		}
		w.TaskToken = taskToken
		w.TokenSet++
		if err := s.put(ctx, w); errors.Is(err, errStale) {
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
		if errors.Is(err, errStale) {
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
	if _, err := s.Events.AppendEvent(ctx, d.RequestID, store.Event{Type: "operator_decision", At: now, Actor: "operator:" + d.Actor, Data: data}); err != nil {
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
		cur, err := s.Get(ctx, w.RequestID, w.Stage)
		if err != nil {
			return err
		}
		if cur == nil || cur.Sent || cur.TaskToken != w.TaskToken {
			return serr
		}
		cur.Sent = true
		if err := s.put(ctx, cur); errors.Is(err, errStale) {
			continue
		} else if err != nil {
			return err
		}
		return serr
	}
	return serr
}

func (s *Service) send(ctx context.Context, w *Wait) error {
	out := TaskOutput{Result: w.Result, Reason: w.Reason, Method: "manual"}
	if w.Stage == StageVerification && w.Result == ResultApproved && w.Decided != nil {
		out.VerifiedAt = w.Decided.UTC().Format(time.RFC3339Nano)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	_, err = s.SFN.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(w.TaskToken), Output: aws.String(string(b))})
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
