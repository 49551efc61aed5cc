// Package intake is the path every new data-subject request takes, whichever
// channel it came by (the web form, the privacy mailbox): it derives the
// request ID from the channel's natural key, enforces the cap on open requests
// per subject, writes the request and its first audit events, and starts the
// request's Step Functions execution.
//
// Order of effects and what a failure leaves behind (docs/ARCHITECTURE.md, rules 1–3):
//
//  1. The request ID is derived from the natural key (RequestID), so a
//     resubmitted form or a redelivered message names the same request.
//  2. An existing request with that ID is returned as it is (Duplicate), and
//     is not counted against the cap. If its execution was never started,
//     Submit starts it now.
//  3. Otherwise, for a request verified at intake (an in-app login), the
//     subject's open requests are counted through the verified subject
//     index (store.FindBySubject); at the cap Submit returns a
//     *TooManyOpenError and writes nothing. Typed identifiers never count:
//     requests others make with someone's address must not block them.
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
// the reconciler, which lists every open request through the store's open
// index (store.ListOpen, no scan) and restarts those received and not
// started after a grace period with a Starter: it needs no subject-key
// secret.
//
// Nothing here writes personal data anywhere but the request's personal item:
// logs, audit events, error messages and the execution input carry the
// request ID, channel, kind, role and codes only.
package intake

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"dsrflow/internal/dsr"
	"dsrflow/internal/store"
)

// ExecutionStarter is the part of the sfn client intake uses.
type ExecutionStarter interface {
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
}

// Store is the part of *store.Store intake uses.
type Store interface {
	GetRequest(ctx context.Context, id string) (*dsr.Request, error)
	CreateRequest(ctx context.Context, r *dsr.Request, p *dsr.Personal) (*dsr.Request, bool, error)
	FindBySubject(ctx context.Context, subjectKey string) ([]dsr.Request, error)
	UpdateRequest(ctx context.Context, id string, expectedVersion int, mutate func(*dsr.Request)) (*dsr.Request, error)
	AppendEvent(ctx context.Context, id string, ev store.Event) (store.Event, error)
	VerifyChain(ctx context.Context, id string) (store.ChainReport, error)
	AddDocument(ctx context.Context, id string, d store.Document) (store.Document, error)
	UpdateIdentity(ctx context.Context, id string, mutate func(*dsr.Identity) error) (*dsr.Identity, error)
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

// ErrKeyReused is returned when a natural key (an idempotency key) comes
// again with another body: it names another request, which the caller must
// not be shown.
var ErrKeyReused = errors.New("idempotency key reused with a different request")

// TooManyOpenError is returned when the verified subject already has Max or
// more open requests. Nothing was written. Only verified subject keys count
// (an in-app login): requests others made with someone's typed contact
// never block that person. Its message states no count (it may reach the
// requester); Open and Max are for the service's own log.
type TooManyOpenError struct {
	Open int // open requests found for the subject
	Max  int // the cap
}

func (e *TooManyOpenError) Error() string {
	return "too many open requests for the subject"
}

// StarterConfig names the state machine.
type StarterConfig struct {
	StateMachineArn string
}

// StarterDeps are the Starter's clients and clock.
type StarterDeps struct {
	Store  Store
	SFN    ExecutionStarter
	Clock  func() time.Time
	Logger *slog.Logger
}

// Starter starts a stored request's execution. The reconciler needs only
// this, not the subject-key secret that Submit needs.
type Starter struct {
	arn    string
	store  Store
	sfn    ExecutionStarter
	clock  func() time.Time
	logger *slog.Logger
}

// NewStarter returns a Starter.
func NewStarter(cfg StarterConfig, deps StarterDeps) (*Starter, error) {
	if cfg.StateMachineArn == "" || deps.Store == nil || deps.SFN == nil {
		return nil, errors.New("intake: state machine ARN, Store and SFN are required")
	}
	st := &Starter{arn: cfg.StateMachineArn, store: deps.Store, sfn: deps.SFN, clock: deps.Clock, logger: deps.Logger}
	if st.clock == nil {
		st.clock = time.Now
	}
	if st.logger == nil {
		st.logger = slog.Default()
	}
	return st, nil
}

// Config sets Submit's secret and cap.
type Config struct {
	// SubjectSecret is the HMAC key of subject keys (dsr.SubjectKey).
	SubjectSecret []byte
	// MaxOpenPerSubject caps the open requests one verified subject may
	// have; zero or less means no cap.
	MaxOpenPerSubject int
}

// Deps are Submit's store, starter and clock.
type Deps struct {
	Store   Store
	Starter *Starter
	Clock   func() time.Time
	Logger  *slog.Logger
}

// Service submits new requests.
type Service struct {
	cfg     Config
	store   Store
	starter *Starter
	clock   func() time.Time
	logger  *slog.Logger
}

// New checks cfg and returns the service.
func New(cfg Config, deps Deps) (*Service, error) {
	if len(cfg.SubjectSecret) < dsr.MinSubjectSecretLen {
		return nil, fmt.Errorf("intake: subject key secret: want at least %d bytes", dsr.MinSubjectSecretLen)
	}
	if deps.Store == nil || deps.Starter == nil {
		return nil, errors.New("intake: Store and Starter are required")
	}
	s := &Service{cfg: cfg, store: deps.Store, starter: deps.Starter, clock: deps.Clock, logger: deps.Logger}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	return s, nil
}

// SubjectSecret is the subject-key secret (for channels that hash
// identifiers themselves, such as the idempotency scope).
func (s *Service) SubjectSecret() []byte { return s.cfg.SubjectSecret }

// Starter is the service's starter.
func (s *Service) Starter() *Starter { return s.starter }

// Login is an identity proved at intake: the app's ID token named the
// account (and perhaps its verified phone or email).
type Login struct {
	Account string
	Email   string // only when the provider marked it verified
	Phone   string // E.164, only when the provider marked it verified
	At      time.Time
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
	// BodyDigest is a keyed hash of the submission's body (web): a natural
	// key that comes again with another body is ErrKeyReused.
	BodyDigest string
	// Documents are documents sent with the request (mail attachments,
	// uploads); their objects are already stored.
	Documents []store.Document
	// Hints are identifiers a mail named in its text (unverified): stored
	// with the data subject's identifiers on the personal item, and as hint
	// keys (keyed hashes) on the request.
	Hints dsr.Identifiers
	// HintCorrections are corrections a mail's text asked for, and
	// HintPurposes the consent purposes (codes) it withdrew: unverified,
	// kept on the personal item only (Personal.Corrections after the
	// validated ones, Personal.ConsentPurposes), never on the request.
	HintCorrections []string
	HintPurposes    []string
	// Login, when set, is the identity the app's login proved: the
	// request is verified from the start, and no code is sent.
	Login *Login
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

func (s *Service) now() time.Time { return s.clock().UTC() }

func (st *Starter) now() time.Time { return st.clock().UTC() }

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
	key := sub.NaturalKey
	if key == "" {
		key = randomKey()
	}
	id := RequestID(sub.Channel, key)

	existing, err := s.store.GetRequest(ctx, id)
	switch {
	case err == nil:
		if existing.BodyDigest != "" && sub.BodyDigest != "" && !hmac.Equal([]byte(existing.BodyDigest), []byte(sub.BodyDigest)) {
			s.logger.WarnContext(ctx, "idempotency key reused with another body", "requestId", id, "channel", string(sub.Channel))
			return Result{}, fmt.Errorf("submit: %w", ErrKeyReused)
		}
		return s.duplicate(ctx, existing)
	case !errors.Is(err, store.ErrNotFound):
		return Result{}, fmt.Errorf("submit %s: %w", id, err)
	}

	req := &dsr.Request{
		ID:              id,
		Status:          dsr.StatusReceived,
		Channel:         sub.Channel,
		Source:          sub.Source,
		BodyDigest:      sub.BodyDigest,
		StatusTokenHash: sub.StatusTokenHash,
		CreatedAt:       s.now(),
	}
	p := &dsr.Personal{}
	v.Fill(req, p, s.cfg.SubjectSecret)
	for _, t := range []dsr.IdentifierType{dsr.IdentifierAccount, dsr.IdentifierEmail, dsr.IdentifierPhone} {
		for _, h := range sub.Hints.Of(t) {
			p.Subject.Add(t, h)
		}
	}
	for _, c := range sub.HintCorrections {
		if !slices.Contains(p.Corrections, c) {
			p.Corrections = append(p.Corrections, c)
		}
	}
	for _, pu := range sub.HintPurposes {
		if !slices.Contains(p.ConsentPurposes, pu) {
			p.ConsentPurposes = append(p.ConsentPurposes, pu)
		}
	}
	var proved []dsr.Proof
	if l := sub.Login; l != nil {
		at := l.At
		if at.IsZero() {
			at = req.CreatedAt
		}
		var ids dsr.Identifiers
		ids.Add(dsr.IdentifierAccount, l.Account)
		ids.Add(dsr.IdentifierEmail, l.Email)
		ids.Add(dsr.IdentifierPhone, l.Phone)
		for _, t := range []dsr.IdentifierType{dsr.IdentifierAccount, dsr.IdentifierEmail, dsr.IdentifierPhone} {
			for _, val := range ids.Of(t) {
				proved = append(proved, dsr.Proof{Type: t, Value: val, Method: dsr.ProofLogin, At: at})
				p.Subject.Add(t, val)
			}
		}
		req.SubjectKeys = ids.Keys(s.cfg.SubjectSecret)
		req.VerifiedBy = dsr.ProofLogin
	}
	all := p.Subject
	all.Add(dsr.IdentifierEmail, p.Contact.Email)
	all.Add(dsr.IdentifierPhone, p.Contact.Phone)
	req.HintKeys = all.Keys(s.cfg.SubjectSecret)
	if len(req.HintKeys) == 0 && len(req.SubjectKeys) == 0 {
		return Result{}, fmt.Errorf("submit %s: no subject identifier", id)
	}
	if err := s.checkCap(ctx, id, req.SubjectKeys); err != nil {
		return Result{}, err
	}

	stored, dup, err := s.store.CreateRequest(ctx, req, p)
	if err != nil {
		return Result{}, fmt.Errorf("submit %s: %w", id, err)
	}
	if dup {
		// A concurrent twin won the conditional put.
		return s.duplicate(ctx, stored)
	}
	if len(proved) > 0 {
		if _, err := s.store.UpdateIdentity(ctx, id, func(idn *dsr.Identity) error {
			idn.Proved = proved
			return nil
		}); err != nil {
			return Result{}, fmt.Errorf("submit %s: record login: %w", id, err)
		}
	}
	for _, d := range sub.Documents {
		if _, err := s.store.AddDocument(ctx, id, d); err != nil {
			return Result{}, fmt.Errorf("submit %s: %w", id, err)
		}
	}
	if err := s.appendReceived(ctx, stored, len(sub.Documents)); err != nil {
		return Result{}, err
	}
	s.logger.InfoContext(ctx, "request received",
		"requestId", id, "channel", string(stored.Channel), "kind", string(stored.Kind), "role", string(stored.Role), "login", sub.Login != nil)
	started, err := s.starter.Start(ctx, stored)
	if err != nil {
		return Result{Request: stored}, err
	}
	return Result{Request: started, Started: true}, nil
}

// duplicate handles a natural key seen before: it returns the existing
// request and starts it if an earlier attempt could not.
func (s *Service) duplicate(ctx context.Context, r *dsr.Request) (Result, error) {
	s.logger.InfoContext(ctx, "duplicate submission",
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
	rep, err := s.store.VerifyChain(ctx, r.ID)
	if err != nil {
		return Result{}, fmt.Errorf("submit %s: read audit trail: %w", r.ID, err)
	}
	if rep.Events == 0 {
		if err := s.appendReceived(ctx, r, r.Documents); err != nil {
			return Result{}, err
		}
	}
	started, err := s.starter.Start(ctx, r)
	if err != nil {
		return Result{Request: r, Duplicate: true}, err
	}
	return Result{Request: started, Duplicate: true, Started: true}, nil
}

// checkCap counts the verified subject's open requests other than id.
func (s *Service) checkCap(ctx context.Context, id string, keys []string) error {
	if s.cfg.MaxOpenPerSubject <= 0 {
		return nil
	}
	open := map[string]bool{}
	for i, k := range keys {
		found, err := s.store.FindBySubject(ctx, k)
		if err != nil {
			return fmt.Errorf("submit %s: find requests of subject key %d: %w", id, i, err)
		}
		for _, r := range found {
			if r.ID != id && r.Status.Open() {
				open[r.ID] = true
			}
		}
	}
	if len(open) >= s.cfg.MaxOpenPerSubject {
		s.logger.WarnContext(ctx, "too many open requests", "requestId", id, "open", len(open), "max", s.cfg.MaxOpenPerSubject)
		return &TooManyOpenError{Open: len(open), Max: s.cfg.MaxOpenPerSubject}
	}
	return nil
}

func (s *Service) appendReceived(ctx context.Context, r *dsr.Request, documents int) error {
	data := map[string]string{
		"channel": string(r.Channel),
		"kind":    string(r.Kind),
		"role":    string(r.Role),
		"locale":  r.Locale,
	}
	if documents > 0 {
		data["attachments"] = strconv.Itoa(documents)
	}
	if r.VerifiedBy != "" {
		data["verifiedBy"] = r.VerifiedBy
	}
	if _, err := s.store.AppendEvent(ctx, r.ID, store.Event{
		Type: EventReceived, At: s.now(), Actor: Actor(r.Channel), Data: data,
	}); err != nil {
		return fmt.Errorf("submit %s: audit %s: %w", r.ID, EventReceived, err)
	}
	return nil
}

// executionInput is the whole execution input: the request ID, nothing else
// (docs/ARCHITECTURE.md, rule 1).
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
func (s *Starter) Start(ctx context.Context, r *dsr.Request) (*dsr.Request, error) {
	out, err := s.sfn.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(s.arn),
		Name:            aws.String(r.ID),
		Input:           aws.String(ExecutionInput(r.ID)),
	})
	var exists *sfntypes.ExecutionAlreadyExists
	already := errors.As(err, &exists)
	if err != nil && !already {
		s.logger.ErrorContext(ctx, "start execution failed", "requestId", r.ID, "errorType", errorCode(err))
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
		updated, err := s.store.UpdateRequest(ctx, cur.ID, cur.Version, func(x *dsr.Request) { x.ExecutionStarted = true })
		var conflict *store.ConflictError
		if errors.As(err, &conflict) {
			if cur, err = s.store.GetRequest(ctx, r.ID); err != nil {
				return nil, fmt.Errorf("start %s: reload: %w", r.ID, err)
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("start %s: mark started: %w", r.ID, err)
		}
		data := map[string]string{"stateMachine": stateMachineName(s.arn)}
		if already {
			data["alreadyExisted"] = "true"
		}
		if executionArn != "" {
			data["executionArn"] = executionArn
		}
		if _, err := s.store.AppendEvent(ctx, r.ID, store.Event{
			Type: EventExecutionStarted, At: s.now(), Actor: Actor(r.Channel), Data: data,
		}); err != nil {
			return nil, fmt.Errorf("start %s: audit %s: %w", r.ID, EventExecutionStarted, err)
		}
		s.logger.InfoContext(ctx, "execution started", "requestId", r.ID, "alreadyExisted", already)
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
// secret SUBJECT_KEY_SECRET_ID names, for every function that computes
// subject keys):
// the string's bytes as they are, at least dsr.MinSubjectSecretLen of them.
// Every channel must read it the same way, or one subject gets two keys.
func ParseSubjectSecret(s string) ([]byte, error) {
	if len(s) < dsr.MinSubjectSecretLen {
		return nil, fmt.Errorf("subject key secret: %d bytes, want at least %d", len(s), dsr.MinSubjectSecretLen)
	}
	return []byte(s), nil
}
