// Package intake is the path every new data-subject request takes, whichever
// channel it came by (the web form, the privacy mailbox): it derives the
// request ID from the channel's natural key, enforces the cap on open requests
// per subject, writes the request and its first audit events, and starts the
// request's Step Functions execution.
//
// Order of effects and what a failure leaves behind (DESIGN.md rules 1–3):
//
//  1. The request ID is derived from the natural key (RequestID), so a
//     resubmitted form or a redelivered message names the same request.
//  2. An existing request with that ID is returned as it is (Duplicate), and
//     is not counted against the cap. If its execution was never started,
//     Submit starts it now.
//  3. Otherwise the subject's open requests are counted through the subject
//     index (store.FindBySubject over every subject key); at the cap Submit
//     returns a *TooManyOpenError and writes nothing.
//  4. The request is written with status received and ExecutionStarted=false
//     (a conditional put: a concurrent twin becomes a Duplicate), then the
//     audit event "received" is appended.
//  5. StartExecution is called with name = request ID and input exactly
//     {"requestId":"<id>"}; ExecutionAlreadyExists counts as started.
//  6. ExecutionStarted is set with a version-guarded update and the audit
//     event "execution_started" is appended.
//
// When step 5 fails, the request stays received with ExecutionStarted=false
// and Submit returns an error wrapping ErrStart. The next delivery of the same
// natural key starts it (step 2). Requests nobody delivers again are found by
// the reconciler with a Scan of the table filtered on
// status = "received" AND executionStarted = false AND createdAt older than
// a grace period (a few seconds of in-flight submits), and restarted with
// Service.Start. A Scan is enough: requests arrive at a few per day and the
// reconciler runs every few minutes. Should that change, the store can give
// such requests a sparse GSI2 entry (GSI2PK "UNSTARTED") instead.
//
// Nothing here writes personal data anywhere but the request's own fields:
// logs, audit events, error messages and the execution input carry the
// request ID, channel, kind, role and codes only.
package intake

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"dsrflow/internal/dsr"
	"dsrflow/internal/store"
)

// Starter is the part of the sfn client intake uses.
type Starter interface {
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
}

// Store is the part of *store.Store intake uses.
type Store interface {
	GetRequest(ctx context.Context, id string) (*dsr.Request, error)
	CreateRequest(ctx context.Context, r *dsr.Request) (*dsr.Request, bool, error)
	FindBySubject(ctx context.Context, subjectKey string) ([]dsr.Request, error)
	UpdateRequest(ctx context.Context, id string, expectedVersion int, mutate func(*dsr.Request)) (*dsr.Request, error)
	AppendEvent(ctx context.Context, id string, ev store.Event) (store.Event, error)
	VerifyChain(ctx context.Context, id string) (store.ChainReport, error)
}

// Audit event types written by intake.
const (
	EventReceived         = "received"
	EventExecutionStarted = "execution_started"
)

// ErrStart is wrapped by Submit's and Start's error when StartExecution failed
// after the request was written: the request exists (received, not started)
// and a later delivery or the reconciler starts it.
var ErrStart = errors.New("start execution failed")

// TooManyOpenError is returned when the subject already has Max or more open
// requests. Nothing was written.
type TooManyOpenError struct {
	Open int // open requests found for the subject
	Max  int // the cap (Service.MaxOpenPerSubject)
}

func (e *TooManyOpenError) Error() string {
	return fmt.Sprintf("too many open requests: the subject has %d open, at most %d allowed", e.Open, e.Max)
}

// Service submits new requests. Store, SFN, StateMachineArn and SubjectSecret
// are required; the rest have defaults.
type Service struct {
	Store           Store
	SFN             Starter
	StateMachineArn string
	// SubjectSecret is the HMAC key of subject keys (dsr.SubjectKey).
	SubjectSecret []byte
	// MaxOpenPerSubject caps the open requests one subject may have; zero or
	// less means no cap.
	MaxOpenPerSubject int
	// Now is the clock; it defaults to time.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Submission is one new request as a channel hands it over.
type Submission struct {
	// Validated is the request, already validated and normalized.
	Validated dsr.Validated
	Channel   dsr.Channel
	// NaturalKey names the request across repeats: the web form's idempotency
	// key or nonce, the mail's dedupe key. Empty means a new random ID.
	NaturalKey string
	// StatusTokenHash is the hex SHA-256 of the status-link token (web).
	StatusTokenHash string
	// Attachments are S3 keys of documents sent with the request (mail).
	Attachments []string
	// Source is non-personal provenance, e.g. "web" or "s3://bucket/key".
	Source string
}

// Result is what Submit did.
type Result struct {
	// Request is the stored request (the existing one when Duplicate).
	Request *dsr.Request
	// Duplicate reports that a request with the same natural key existed.
	Duplicate bool
	// Started reports that the request's execution is known to be started,
	// by this call or an earlier one.
	Started bool
}

// idLen is the number of base32 characters of a request ID after "r-":
// 26 characters carry 130 bits of the SHA-256.
const idLen = 26

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// RequestID derives the request ID from a channel's natural key:
// "r-" + the first 26 characters of the lower-case base32 (RFC 4648, no
// padding) of SHA-256(channel + ":" + naturalKey). IDs are 28 characters of
// [a-z2-7-], safe in URLs, DynamoDB keys and Step Functions execution names;
// 130 bits make collisions impossible in practice. The ID is not a secret:
// whoever knows the natural key can compute it, so nothing may be granted on
// the ID alone (the status link carries its own token).
func RequestID(channel dsr.Channel, naturalKey string) string {
	sum := sha256.Sum256([]byte(string(channel) + ":" + naturalKey))
	return "r-" + strings.ToLower(idEncoding.EncodeToString(sum[:]))[:idLen]
}

// randomKey is a natural key for submissions that have none.
func randomKey() string {
	return "random:" + rand.Text()
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// Actor is the audit actor of a channel's intake: "system:intake-web",
// "system:intake-mail".
func Actor(c dsr.Channel) string { return "system:intake-" + string(c) }

// Submit stores a new request and starts its execution; see the package
// documentation for the steps and what a failure leaves behind.
func (s *Service) Submit(ctx context.Context, sub Submission) (Result, error) {
	if !sub.Channel.Valid() {
		return Result{}, fmt.Errorf("submit: unknown channel %q", sub.Channel)
	}
	v := sub.Validated
	if !v.Kind.Valid() || !v.Role.Valid() {
		return Result{}, errors.New("submit: the submission was not validated (kind or role unknown)")
	}
	if len(s.SubjectSecret) == 0 {
		return Result{}, errors.New("submit: no subject key secret")
	}
	key := sub.NaturalKey
	if key == "" {
		key = randomKey()
	}
	id := RequestID(sub.Channel, key)

	existing, err := s.Store.GetRequest(ctx, id)
	switch {
	case err == nil:
		return s.duplicate(ctx, existing)
	case !errors.Is(err, store.ErrNotFound):
		return Result{}, fmt.Errorf("submit %s: %w", id, err)
	}

	req := &dsr.Request{
		ID:              id,
		Status:          dsr.StatusReceived,
		Channel:         sub.Channel,
		Attachments:     sub.Attachments,
		Source:          sub.Source,
		StatusTokenHash: sub.StatusTokenHash,
		CreatedAt:       s.now(),
	}
	v.Fill(req, s.SubjectSecret)
	if len(req.SubjectKeys) == 0 {
		return Result{}, fmt.Errorf("submit %s: no subject identifier", id)
	}
	if err := s.checkCap(ctx, id, req.SubjectKeys); err != nil {
		return Result{}, err
	}

	stored, dup, err := s.Store.CreateRequest(ctx, req)
	if err != nil {
		return Result{}, fmt.Errorf("submit %s: %w", id, err)
	}
	if dup {
		// A concurrent twin won the conditional put.
		return s.duplicate(ctx, stored)
	}
	if err := s.appendReceived(ctx, stored); err != nil {
		return Result{}, err
	}
	s.logger().InfoContext(ctx, "request received",
		"requestId", id, "channel", string(stored.Channel), "kind", string(stored.Kind), "role", string(stored.Role))
	started, err := s.Start(ctx, stored)
	if err != nil {
		return Result{Request: stored}, err
	}
	return Result{Request: started, Started: true}, nil
}

// duplicate handles a natural key seen before: it returns the existing
// request and starts it if an earlier attempt could not.
func (s *Service) duplicate(ctx context.Context, r *dsr.Request) (Result, error) {
	s.logger().InfoContext(ctx, "duplicate submission",
		"requestId", r.ID, "channel", string(r.Channel), "executionStarted", r.ExecutionStarted)
	if r.ExecutionStarted {
		return Result{Request: r, Duplicate: true, Started: true}, nil
	}
	if r.Status != dsr.StatusReceived {
		// Moved on without the flag (set by hand or by another path): the
		// workflow owns it now; starting it again would be wrong.
		return Result{Request: r, Duplicate: true}, nil
	}
	// The earlier attempt may have died before its "received" event.
	rep, err := s.Store.VerifyChain(ctx, r.ID)
	if err != nil {
		return Result{}, fmt.Errorf("submit %s: read audit trail: %w", r.ID, err)
	}
	if rep.Events == 0 {
		if err := s.appendReceived(ctx, r); err != nil {
			return Result{}, err
		}
	}
	started, err := s.Start(ctx, r)
	if err != nil {
		return Result{Request: r, Duplicate: true}, err
	}
	return Result{Request: started, Duplicate: true, Started: true}, nil
}

// checkCap counts the subject's open requests other than id.
func (s *Service) checkCap(ctx context.Context, id string, keys []string) error {
	if s.MaxOpenPerSubject <= 0 {
		return nil
	}
	open := map[string]bool{}
	for i, k := range keys {
		found, err := s.Store.FindBySubject(ctx, k)
		if err != nil {
			return fmt.Errorf("submit %s: find requests of subject key %d: %w", id, i, err)
		}
		for _, r := range found {
			if r.ID != id && r.Status.Open() {
				open[r.ID] = true
			}
		}
	}
	if len(open) >= s.MaxOpenPerSubject {
		s.logger().WarnContext(ctx, "too many open requests", "requestId", id, "open", len(open), "max", s.MaxOpenPerSubject)
		return &TooManyOpenError{Open: len(open), Max: s.MaxOpenPerSubject}
	}
	return nil
}

func (s *Service) appendReceived(ctx context.Context, r *dsr.Request) error {
	data := map[string]string{
		"channel": string(r.Channel),
		"kind":    string(r.Kind),
		"role":    string(r.Role),
		"locale":  r.Locale,
	}
	if len(r.Attachments) > 0 {
		data["attachments"] = strconv.Itoa(len(r.Attachments))
	}
	if _, err := s.Store.AppendEvent(ctx, r.ID, store.Event{
		Type: EventReceived, At: s.now(), Actor: Actor(r.Channel), Data: data,
	}); err != nil {
		return fmt.Errorf("submit %s: audit %s: %w", r.ID, EventReceived, err)
	}
	return nil
}

// executionInput is the whole execution input: the request ID, nothing else
// (DESIGN.md rule 1).
type executionInput struct {
	RequestID string `json:"requestId"`
}

// ExecutionInput is the execution input of request id: {"requestId":"<id>"}.
func ExecutionInput(id string) string {
	b, _ := json.Marshal(executionInput{RequestID: id}) // a struct of one string cannot fail
	return string(b)
}

// Start starts request r's execution (name = r.ID) and records that it did:
// ExecutionStarted=true with a version-guarded update and the audit event
// "execution_started". ExecutionAlreadyExists means an earlier call started it
// and counts as success. A failing StartExecution returns an error wrapping
// ErrStart and leaves r as it was. The reconciler calls Start for requests
// found received and not started.
func (s *Service) Start(ctx context.Context, r *dsr.Request) (*dsr.Request, error) {
	out, err := s.SFN.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(s.StateMachineArn),
		Name:            aws.String(r.ID),
		Input:           aws.String(ExecutionInput(r.ID)),
	})
	var exists *sfntypes.ExecutionAlreadyExists
	already := errors.As(err, &exists)
	if err != nil && !already {
		s.logger().ErrorContext(ctx, "start execution failed", "requestId", r.ID, "errorType", errorCode(err))
		return nil, fmt.Errorf("start %s: %w: %w", r.ID, ErrStart, err)
	}
	executionArn := ""
	if out != nil {
		executionArn = aws.ToString(out.ExecutionArn)
	}

	cur := r
	for range 5 {
		if cur.ExecutionStarted {
			return cur, nil // someone else recorded it
		}
		updated, err := s.Store.UpdateRequest(ctx, cur.ID, cur.Version, func(x *dsr.Request) { x.ExecutionStarted = true })
		var conflict *store.ConflictError
		if errors.As(err, &conflict) {
			if cur, err = s.Store.GetRequest(ctx, r.ID); err != nil {
				return nil, fmt.Errorf("start %s: reload: %w", r.ID, err)
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("start %s: mark started: %w", r.ID, err)
		}
		data := map[string]string{"stateMachine": stateMachineName(s.StateMachineArn)}
		if already {
			data["alreadyExisted"] = "true"
		}
		if executionArn != "" {
			data["executionArn"] = executionArn
		}
		if _, err := s.Store.AppendEvent(ctx, r.ID, store.Event{
			Type: EventExecutionStarted, At: s.now(), Actor: Actor(r.Channel), Data: data,
		}); err != nil {
			return nil, fmt.Errorf("start %s: audit %s: %w", r.ID, EventExecutionStarted, err)
		}
		s.logger().InfoContext(ctx, "execution started", "requestId", r.ID, "alreadyExisted", already)
		return updated, nil
	}
	return nil, fmt.Errorf("start %s: mark started: too many concurrent updates", r.ID)
}

// stateMachineName is the last segment of a state machine ARN.
func stateMachineName(arn string) string {
	if i := strings.LastIndexByte(arn, ':'); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

// errorCode is the AWS error code of err, or its Go type, for logs: never the
// message, which could quote a request.
func errorCode(err error) string {
	var coded interface{ ErrorCode() string }
	if errors.As(err, &coded) {
		return coded.ErrorCode()
	}
	return fmt.Sprintf("%T", err)
}

// ParseSubjectSecret reads the subject-key secret from configuration (the
// SUBJECT_KEY_SECRET variable of every function that computes subject keys):
// the string's bytes as they are, at least dsr.MinSubjectSecretLen of them.
// Every channel must read it the same way, or one subject gets two keys.
func ParseSubjectSecret(s string) ([]byte, error) {
	if len(s) < dsr.MinSubjectSecretLen {
		return nil, fmt.Errorf("subject key secret: %d bytes, want at least %d", len(s), dsr.MinSubjectSecretLen)
	}
	return []byte(s), nil
}
