// Package verification proves that a requester controls the contact on their
// request (policy 五.5): a one-time code is sent to it, and the requester types
// the code into the verification page.
//
// Codes are 6 digits from crypto/rand, stored only as an HMAC-SHA256 keyed
// with a secret (so a copy of the table does not reveal them, even though a
// 6-digit space is small), and expire after CodeTTL. Each code allows
// MaxAttempts wrong entries, then verification locks until the requester asks
// for a new code; at most MaxResends new codes are sent. The workflow waits on
// a Step Functions task token, which is kept on the verification item and
// never shown to the requester or logged; a correct code sends SendTaskSuccess
// with it.
//
// The verification item is the store's (store.Verification). It is updated
// with a put conditioned on its version, so concurrent submissions cannot
// both count as the one allowed success or skip a wrong attempt. A code that
// is entered right proves control of the contact it went to: the proof is
// recorded on the request's identity (dsr.Identity), and nothing more is
// proved (docs/ARCHITECTURE.md, rule 7).
//
// Codes go to a contact nobody has proved yet, so they count against the
// message budget of package notify, and so do the lock notices (one per
// request, however often it locks). When the budget refuses a message,
// nothing is sent, the audit event notify.EventOverBudget records it, and
// the request is not lost:
//   - Begin returns the *notify.DeliveryError, which wraps
//     notify.ErrOverBudget and notify.ErrNoChannel: the workflow has an
//     operator verify the requester instead (as for a contact without a
//     channel).
//   - Resend returns it too (the page answers "cannot send a new code
//     right now, try later") and undoes itself: the resend is not counted,
//     and the code the requester holds, its attempts and a lock stay as
//     they were, so the real owner can ask again when the budget allows.
//   - SubmitCode records the lock as usual and the lock notice is dropped.
package verification

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"dsrflow/internal/dsr"
	"dsrflow/internal/notify"
	"dsrflow/internal/secretstore"
	"dsrflow/internal/store"
)

// Defaults of the Service limits.
const (
	DefaultCodeTTL     = 30 * time.Minute
	DefaultMaxAttempts = 5
	DefaultMaxResends  = 3
	// MinSecretLen is the shortest code-hash secret accepted.
	MinSecretLen = 32
)

// Methods, in the task output.
const (
	MethodCode   = "code"
	MethodManual = "manual"
)

// States of a verification item.
const (
	StatePending  = "pending"  // a code was issued and may be entered
	StateLocked   = "locked"   // too many wrong codes; a resend unlocks
	StateVerified = "verified" // the right code was entered
	StateClosed   = "closed"   // the request no longer waits (expired, refused)
)

// Outcome is the result of a code submission or a resend, for the page.
type Outcome string

const (
	OutcomeVerified        Outcome = "verified"
	OutcomeAlreadyVerified Outcome = "already_verified"
	OutcomeWrongCode       Outcome = "wrong_code"
	OutcomeLocked          Outcome = "locked"
	OutcomeCodeExpired     Outcome = "code_expired"
	OutcomeNotWaiting      Outcome = "not_waiting" // no code issued, or the request no longer waits
	OutcomeResent          Outcome = "resent"
	OutcomeResendLimit     Outcome = "resend_limit"
	OutcomeInvalidCode     Outcome = "invalid_code" // not six digits: not counted as an attempt
)

// Result describes an Outcome for the verification page.
type Result struct {
	Outcome Outcome `json:"outcome"`
	// AttemptsLeft is how many more wrong codes the current code allows.
	AttemptsLeft int `json:"attemptsLeft"`
	// ResendsLeft is how many more codes may be sent.
	ResendsLeft int `json:"resendsLeft"`
	// ExpiresAt is when the current code expires (zero when none).
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
	// Message is what to tell the requester, in their language.
	Message string `json:"message"`
}

// Errors of SubmitCode and Resend.
var (
	// ErrNotFound: no request with this ID.
	ErrNotFound = errors.New("request not found")
	// ErrForbidden: the status token does not belong to the request.
	ErrForbidden = errors.New("status token does not match the request")
	// ErrContention: the item kept changing under concurrent submissions.
	ErrContention = errors.New("too many concurrent submissions")
	// ErrNoCodeSecret: the service was built without a code secret (a
	// function that closes verifications but issues and checks no codes).
	ErrNoCodeSecret = errors.New("verification: no code secret configured")
)

// SFN is the part of the Step Functions client the service uses.
type SFN interface {
	SendTaskSuccess(ctx context.Context, in *sfn.SendTaskSuccessInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error)
}

// Store is the part of the store the service uses (a *store.Store).
type Store interface {
	GetRequest(ctx context.Context, id string) (*dsr.Request, error)
	GetPersonal(ctx context.Context, id string) (*dsr.Personal, error)
	AppendEvent(ctx context.Context, id string, ev store.Event) (store.Event, error)
	GetVerification(ctx context.Context, id string) (*store.Verification, error)
	PutVerification(ctx context.Context, id string, v *store.Verification) error
	UpdateIdentity(ctx context.Context, id string, mutate func(*dsr.Identity) error) (*dsr.Identity, error)
}

// Config sets the service's secrets and limits.
type Config struct {
	// Secret keys the code hash (at least MinSecretLen bytes). Empty: the
	// service issues and checks no codes (ErrNoCodeSecret) but still closes
	// verifications and reports their status.
	Secret []byte
	// PreviousSecrets are code secrets replaced by a rotation: a code issued
	// under one of them is still accepted until it expires, so rotating the
	// secret does not turn codes in flight into wrong attempts. New codes
	// are always hashed with Secret.
	PreviousSecrets [][]byte
	// StatusSecret, when set, is the status-link secret (the web intake's
	// status token secret, STATUS_TOKEN_SECRET_ID): a token derived from it (StatusToken) is accepted
	// even for requests that store no token hash (mail requests, whose
	// requesters get the link in the code message), and with BaseURL it
	// makes the verification page link in code messages.
	StatusSecret []byte
	// BaseURL is the privacy center ("https://privacy.example.cn"); empty:
	// no link in messages.
	BaseURL string
	Team    notify.Contact

	CodeTTL     time.Duration // default DefaultCodeTTL
	MaxAttempts int           // default DefaultMaxAttempts
	MaxResends  int           // default DefaultMaxResends
	// Actor names the service in audit events for code issuance.
	Actor string
}

// Deps are the service's clients and clock.
type Deps struct {
	Store  Store
	SFN    SFN
	Sender notify.Sender
	Clock  func() time.Time
	// Rand draws codes; default crypto/rand.
	Rand   io.Reader
	Logger *slog.Logger
}

// Service issues and checks codes.
type Service struct {
	cfg    Config
	store  Store
	sfn    SFN
	sender notify.Sender
	clock  func() time.Time
	rand   io.Reader
	logger *slog.Logger
	link   func(id string) string
}

// New checks cfg and returns the service.
func New(cfg Config, deps Deps) (*Service, error) {
	switch {
	case len(cfg.Secret) > 0 && len(cfg.Secret) < MinSecretLen:
		return nil, fmt.Errorf("verification: the code secret must be at least %d bytes", MinSecretLen)
	case slices.ContainsFunc(cfg.PreviousSecrets, func(p []byte) bool { return len(p) < MinSecretLen }):
		return nil, fmt.Errorf("verification: a previous code secret must be at least %d bytes", MinSecretLen)
	case deps.Store == nil || deps.SFN == nil || deps.Sender == nil:
		return nil, errors.New("verification: Store, SFN and Sender are required")
	}
	if cfg.CodeTTL <= 0 {
		cfg.CodeTTL = DefaultCodeTTL
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.MaxResends <= 0 {
		cfg.MaxResends = DefaultMaxResends
	}
	if cfg.Actor == "" {
		cfg.Actor = "verification"
	}
	s := &Service{cfg: cfg, store: deps.Store, sfn: deps.SFN, sender: deps.Sender, clock: deps.Clock, rand: deps.Rand, logger: deps.Logger}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	s.link = func(string) string { return "" }
	if len(cfg.StatusSecret) > 0 && cfg.BaseURL != "" {
		s.link = PageLink(cfg.BaseURL, cfg.StatusSecret)
	}
	return s, nil
}

// record is the verification item.
type record = store.Verification

// TaskOutput is what SendTaskSuccess passes to the workflow: no personal data.
type TaskOutput struct {
	Result     string `json:"result"` // "approved"
	Method     string `json:"method"`
	VerifiedAt string `json:"verifiedAt"`
	Reason     string `json:"reason"`
}

func (s *Service) now() time.Time { return s.clock().UTC() }

func (s *Service) ttl() time.Duration { return s.cfg.CodeTTL }

func (s *Service) maxAttempts() int { return s.cfg.MaxAttempts }

func (s *Service) maxResends() int { return s.cfg.MaxResends }

func (s *Service) log() *slog.Logger { return s.logger }

func (s *Service) actor() string { return s.cfg.Actor }

// newCode draws a uniformly random 6-digit code.
func (s *Service) newCode() (string, error) {
	n, err := rand.Int(s.rand, big.NewInt(1_000_000))
	if err != nil {
		return "", fmt.Errorf("draw code: %w", err)
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}

func (s *Service) newNonce() (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(s.rand, b[:]); err != nil {
		return "", fmt.Errorf("draw nonce: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// hash is HMAC-SHA256(secret, id ":" nonce ":" code), hex, under the
// current secret.
func (s *Service) hash(id, nonce, code string) string {
	return codeHash(s.cfg.Secret, id, nonce, code)
}

func codeHash(secret []byte, id, nonce, code string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(id + ":" + nonce + ":" + code))
	return hex.EncodeToString(m.Sum(nil))
}

// codeMatches reports whether code is the one hashed in want, under the
// current secret or one a rotation replaced.
func (s *Service) codeMatches(id, nonce, code, want string) bool {
	if hmac.Equal([]byte(s.hash(id, nonce, code)), []byte(want)) {
		return true
	}
	for _, p := range s.cfg.PreviousSecrets {
		if hmac.Equal([]byte(codeHash(p, id, nonce, code)), []byte(want)) {
			return true
		}
	}
	return false
}

func (s *Service) load(ctx context.Context, id string) (*record, error) {
	return s.store.GetVerification(ctx, id)
}

// update reads the item, applies fn and saves it, retrying when a concurrent
// writer got there first. fn returns false to leave the item unchanged.
func (s *Service) update(ctx context.Context, id string, fn func(r *record, exists bool) (bool, error)) (*record, error) {
	for range 8 {
		r, err := s.load(ctx, id)
		if err != nil {
			return nil, err
		}
		exists := r != nil
		if r == nil {
			r = &record{}
		}
		change, err := fn(r, exists)
		if err != nil || !change {
			return r, err
		}
		err = s.store.PutVerification(ctx, id, r)
		if errors.Is(err, store.ErrStale) {
			continue
		}
		return r, err
	}
	return nil, fmt.Errorf("verification %s: %w", id, ErrContention)
}

// Issued says what Begin did.
type Issued struct {
	// Sent is true when a new code was sent; false when a code still valid
	// had been sent already (a retried task) and only the token was updated.
	Sent      bool
	Channel   notify.Channel
	ExpiresAt time.Time
	// Verified is true when the requester had already verified; the new
	// token was then signalled at once.
	Verified bool
	// Locked is true when the verification was locked by wrong codes: it
	// stays locked, no code was sent.
	Locked bool
}

// Begin starts code verification for request id, whose workflow waits on
// taskToken: a code is issued and sent to the requester's contact. It is
// safe to call again with a new token (a retried task, a restarted
// execution): a code already sent is not sent again, a locked verification
// stays locked, and attempts and resends are kept; only the token is
// replaced. A request without any contact gives a *notify.DeliveryError
// wrapping notify.ErrNoChannel; so does a code the message budget refuses
// (wrapping notify.ErrOverBudget too, after the audit event
// notify.EventOverBudget).
func (s *Service) Begin(ctx context.Context, id, taskToken string) (Issued, error) {
	if len(s.cfg.Secret) == 0 {
		return Issued{}, ErrNoCodeSecret
	}
	req, err := s.store.GetRequest(ctx, id)
	if err != nil {
		return Issued{}, err
	}
	p, err := s.store.GetPersonal(ctx, id)
	if err != nil {
		return Issued{}, err
	}
	if notify.ChannelFor(p.Contact) == "" {
		return Issued{}, &notify.DeliveryError{RequestID: id, Code: "no email address or phone number on the request", Err: notify.ErrNoChannel}
	}
	now := s.now()
	var code string
	var iss Issued
	r, err := s.update(ctx, id, func(r *record, exists bool) (bool, error) {
		code, iss = "", Issued{}
		if exists {
			switch {
			case r.State == StateVerified:
				iss.Verified = true
				r.TaskToken, r.Signalled = taskToken, false
				return true, nil
			case r.State == StateLocked:
				// Too many wrong codes: a rerun of the task does not
				// unlock it; only the requester's resend does.
				iss.Locked = true
				r.TaskToken = taskToken
				return true, nil
			case r.State == StatePending && r.SentAt != nil:
				// A code went out; if it expired, the requester asks for
				// a new one (counted against the resends).
				iss.ExpiresAt, iss.Channel = r.CodeExpiresAt, notify.Channel(r.Channel)
				r.TaskToken = taskToken
				return true, nil
			}
		}
		// No code yet, or one whose sending failed: a new one, with the
		// counters as they are.
		c, err := s.newCode()
		if err != nil {
			return false, err
		}
		nonce, err := s.newNonce()
		if err != nil {
			return false, err
		}
		code = c
		r.State, r.Nonce, r.CodeHash = StatePending, nonce, s.hash(id, nonce, c)
		r.CodeExpiresAt, r.TaskToken, r.SentAt = now.Add(s.ttl()), taskToken, nil
		r.Signalled, r.VerifiedAt = false, nil
		iss.ExpiresAt = r.CodeExpiresAt
		return true, nil
	})
	if err != nil {
		return Issued{}, err
	}
	if iss.Verified {
		if err := s.signal(ctx, id, r); err != nil {
			return iss, err
		}
		return iss, nil
	}
	if code == "" {
		return iss, nil
	}
	if err := s.send(ctx, req, p.Contact, r, code); err != nil {
		return iss, err
	}
	iss.Sent, iss.Channel = true, notify.Channel(r.Channel)
	return iss, nil
}

// send delivers code and records that it was sent.
func (s *Service) send(ctx context.Context, req *dsr.Request, to dsr.Contact, r *record, code string) error {
	id := req.ID
	msg := notify.VerificationCode(id, to, dsr.Locale(req.Locale), code, r.CodeExpiresAt, s.link(id))
	ch, err := s.sender.Send(ctx, msg)
	if err != nil {
		if aerr := s.auditNotSent(ctx, id, msg.Template, ch, err); aerr != nil {
			return aerr
		}
		return err
	}
	sentAt := s.now()
	hash := r.CodeHash
	if _, err := s.update(ctx, id, func(r *record, exists bool) (bool, error) {
		if !exists || r.CodeHash != hash {
			return false, nil
		}
		r.SentAt, r.Channel = &sentAt, string(ch)
		return true, nil
	}); err != nil {
		return err
	}
	r.Channel = string(ch)
	if _, err := s.store.AppendEvent(ctx, id, store.Event{
		Type: "verification_code_sent", At: sentAt, Actor: s.actor(),
		Data: map[string]string{"channel": string(ch), "expiresAt": r.CodeExpiresAt.Format(time.RFC3339), "resends": fmt.Sprint(r.Resends)},
	}); err != nil {
		return fmt.Errorf("audit code sent for %s: %w", id, err)
	}
	return nil
}

// auditNotSent records the audit event notify.EventOverBudget when err
// says the message budget refused a message; other errors record nothing.
func (s *Service) auditNotSent(ctx context.Context, id, template string, ch notify.Channel, err error) error {
	limit, over := notify.OverBudgetLimit(err)
	if !over {
		return nil
	}
	if _, aerr := s.store.AppendEvent(ctx, id, store.Event{
		Type: notify.EventOverBudget, At: s.now(), Actor: s.actor(),
		Data: map[string]string{"template": template, "channel": string(ch), "limit": limit},
	}); aerr != nil {
		return fmt.Errorf("audit %s not sent for %s: %w", template, id, aerr)
	}
	s.log().InfoContext(ctx, "message not sent: over budget", "requestId", id, "template", template, "limit", limit)
	return nil
}

// prove records on the request's identity that the requester controls the
// contact the code went to (by channel: email or sms).
func (s *Service) prove(ctx context.Context, id string, r *record, at time.Time) error {
	p, err := s.store.GetPersonal(ctx, id)
	if err != nil {
		return err
	}
	proof := dsr.Proof{Method: dsr.ProofCode, At: at}
	switch notify.Channel(r.Channel) {
	case notify.ChannelEmail:
		proof.Type, proof.Value = dsr.IdentifierEmail, p.Contact.Email
	case notify.ChannelSMS:
		proof.Type, proof.Value = dsr.IdentifierPhone, p.Contact.Phone
	}
	if proof.Value == "" {
		return nil
	}
	_, err = s.store.UpdateIdentity(ctx, id, func(idn *dsr.Identity) error {
		for _, have := range idn.Proved {
			if have.Type == proof.Type && have.Value == proof.Value {
				return nil
			}
		}
		idn.Proved = append(idn.Proved, proof)
		return nil
	})
	return err
}

// authorize loads the request and checks the status token.
func (s *Service) authorize(ctx context.Context, id, statusToken string) (*dsr.Request, error) {
	req, err := s.store.GetRequest(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("request %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	ok := CheckStatusTokenHash(req, statusToken)
	if !ok && len(s.cfg.StatusSecret) > 0 && statusToken != "" {
		ok = subtle.ConstantTimeCompare([]byte(StatusToken(s.cfg.StatusSecret, id)), []byte(statusToken)) == 1
	}
	if !ok {
		return nil, fmt.Errorf("request %s: %w", id, ErrForbidden)
	}
	return req, nil
}

// StatusToken is the status-link token of request id: base64url (no padding)
// of HMAC-SHA256(secret, "status-token:" + id), the derivation the web intake
// uses (webintake.StatusToken), so one secret serves both.
func StatusToken(secret []byte, id string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("status-token:" + id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// PageLink returns a Link function: the verification page of a request on
// baseURL, with its status token (derived from secret) in the query.
func PageLink(baseURL string, secret []byte) func(id string) string {
	base := strings.TrimRight(baseURL, "/")
	return func(id string) string {
		return base + "/requests/" + url.PathEscape(id) + "/verification?token=" + url.QueryEscape(StatusToken(secret, id))
	}
}

// CheckStatusTokenHash reports whether hex(SHA-256(token)) is the request's
// StatusTokenHash, in constant time.
func CheckStatusTokenHash(r *dsr.Request, token string) bool {
	if r.StatusTokenHash == "" || token == "" {
		return false
	}
	sum := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), []byte(strings.ToLower(r.StatusTokenHash))) == 1
}

// normalizeCode accepts digits with spaces or dashes, and full-width digits.
func normalizeCode(code string) (string, bool) {
	var b strings.Builder
	for _, c := range code {
		switch {
		case c >= '0' && c <= '9':
			b.WriteRune(c)
		case c >= '０' && c <= '９':
			b.WriteRune('0' + (c - '０'))
		case c == ' ' || c == '-' || c == '\t':
		default:
			return "", false
		}
	}
	s := b.String()
	return s, len(s) == 6
}

// SubmitCode checks a code the requester entered on the verification page.
// statusToken proves the caller holds the request's status link. A right code
// sends SendTaskSuccess once; a second submission after success changes
// nothing and answers already_verified. The submission that locks
// verification also sends the requester a message saying what to do. Errors
// are ErrNotFound, ErrForbidden or failures of DynamoDB and Step Functions;
// every outcome the requester caused is a Result.
func (s *Service) SubmitCode(ctx context.Context, id, statusToken, code string) (Result, error) {
	if len(s.cfg.Secret) == 0 {
		return Result{}, ErrNoCodeSecret
	}
	req, err := s.authorize(ctx, id, statusToken)
	if err != nil {
		return Result{}, err
	}
	l := dsr.Locale(req.Locale)
	now := s.now()
	norm, ok := normalizeCode(code)
	var out Outcome
	var justLocked, notifyLock bool
	r, err := s.update(ctx, id, func(r *record, exists bool) (bool, error) {
		justLocked, notifyLock = false, false
		switch {
		case !exists || r.State == StateClosed:
			out = OutcomeNotWaiting
			return false, nil
		case r.State == StateVerified:
			out = OutcomeAlreadyVerified
			return false, nil
		case r.State == StateLocked:
			out = OutcomeLocked
			return false, nil
		case !now.Before(r.CodeExpiresAt):
			out = OutcomeCodeExpired
			return false, nil
		case !ok:
			out = OutcomeInvalidCode
			return false, nil
		}
		if s.codeMatches(id, r.Nonce, norm, r.CodeHash) {
			out = OutcomeVerified
			r.State, r.VerifiedAt = StateVerified, &now
			return true, nil
		}
		r.Attempts++
		out = OutcomeWrongCode
		if r.Attempts >= s.maxAttempts() {
			out, justLocked = OutcomeLocked, true
			r.State = StateLocked
			// The requester hears of a lock once per request: the
			// page tells whoever entered the codes every time.
			notifyLock = !r.LockNotified
			r.LockNotified = true
		}
		return true, nil
	})
	if err != nil {
		return Result{}, err
	}
	switch out {
	case OutcomeVerified:
		if err := s.prove(ctx, id, r, now); err != nil {
			return Result{}, fmt.Errorf("record proof for %s: %w", id, err)
		}
		if _, err := s.store.AppendEvent(ctx, id, store.Event{
			Type: "identity_verified", At: now, Actor: "requester",
			Data: map[string]string{"method": MethodCode, "wrongAttempts": fmt.Sprint(r.Attempts)},
		}); err != nil {
			return Result{}, fmt.Errorf("audit verification of %s: %w", id, err)
		}
		if err := s.signal(ctx, id, r); err != nil {
			return Result{}, err
		}
	case OutcomeAlreadyVerified:
		// A lost SendTaskSuccess is sent again; a delivered one is not.
		if err := s.prove(ctx, id, r, now); err != nil {
			return Result{}, fmt.Errorf("record proof for %s: %w", id, err)
		}
		if !r.Signalled {
			if err := s.signal(ctx, id, r); err != nil {
				return Result{}, err
			}
		}
	case OutcomeWrongCode:
		if _, err := s.store.AppendEvent(ctx, id, store.Event{
			Type: "verification_code_wrong", At: now, Actor: "requester",
			Data: map[string]string{"attempts": fmt.Sprint(r.Attempts)},
		}); err != nil {
			return Result{}, fmt.Errorf("audit wrong code for %s: %w", id, err)
		}
	case OutcomeLocked:
		if justLocked {
			if err := s.locked(ctx, req, r, now, notifyLock); err != nil {
				return Result{}, err
			}
		}
	}
	s.log().InfoContext(ctx, "verification code submitted", "requestId", id, "outcome", string(out))
	return s.result(out, r, l), nil
}

// locked records the lock and, when notifyLock, tells the requester what
// to do. A notice the message budget refuses is recorded and dropped.
func (s *Service) locked(ctx context.Context, req *dsr.Request, r *record, now time.Time, notifyLock bool) error {
	id := req.ID
	left := max(s.maxResends()-r.Resends, 0)
	if _, err := s.store.AppendEvent(ctx, id, store.Event{
		Type: "verification_locked", At: now, Actor: "requester",
		Data: map[string]string{"attempts": fmt.Sprint(r.Attempts), "resendsLeft": fmt.Sprint(left)},
	}); err != nil {
		return fmt.Errorf("audit lock of %s: %w", id, err)
	}
	if !notifyLock {
		return nil
	}
	p, err := s.store.GetPersonal(ctx, id)
	if err != nil {
		return err
	}
	msg := notify.VerificationLocked(id, p.Contact, dsr.Locale(req.Locale), left, s.link(id), s.cfg.Team)
	ch, err := s.sender.Send(ctx, msg)
	if _, over := notify.OverBudgetLimit(err); over {
		return s.auditNotSent(ctx, id, msg.Template, ch, err)
	}
	return err
}

// signal sends SendTaskSuccess with the stored token and records that it was
// delivered. A token the workflow no longer waits on (TaskTimedOut,
// TaskDoesNotExist) counts as delivered: there is nothing left to wake.
func (s *Service) signal(ctx context.Context, id string, r *record) error {
	if r.TaskToken == "" {
		return nil
	}
	at := ""
	if r.VerifiedAt != nil {
		at = r.VerifiedAt.UTC().Format(time.RFC3339Nano)
	}
	out, err := json.Marshal(TaskOutput{Result: "approved", Method: MethodCode, VerifiedAt: at})
	if err != nil {
		return err
	}
	_, err = s.sfn.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(r.TaskToken), Output: aws.String(string(out))})
	if err != nil && !TaskGone(err) {
		return fmt.Errorf("signal verification of %s: %w", id, err)
	}
	token := r.TaskToken
	_, uerr := s.update(ctx, id, func(r *record, exists bool) (bool, error) {
		if !exists || r.TaskToken != token || r.Signalled {
			return false, nil
		}
		r.Signalled = true
		return true, nil
	})
	return uerr
}

// TaskGone reports whether a SendTask* error means the task no longer waits:
// TaskTimedOut (finished, timed out or already answered) or TaskDoesNotExist.
func TaskGone(err error) bool {
	var to *sfntypes.TaskTimedOut
	var dne *sfntypes.TaskDoesNotExist
	return errors.As(err, &to) || errors.As(err, &dne)
}

// Resend issues a new code (at most MaxResends times) and unlocks a locked
// verification. The previous code stops working. A new code that cannot
// be sent at all (no channel, or the message budget refused it) undoes the
// resend: the error is returned and the verification is as it was.
func (s *Service) Resend(ctx context.Context, id, statusToken string) (Result, error) {
	if len(s.cfg.Secret) == 0 {
		return Result{}, ErrNoCodeSecret
	}
	req, err := s.authorize(ctx, id, statusToken)
	if err != nil {
		return Result{}, err
	}
	l := dsr.Locale(req.Locale)
	now := s.now()
	var out Outcome
	var code string
	var prev record
	r, err := s.update(ctx, id, func(r *record, exists bool) (bool, error) {
		code = ""
		switch {
		case !exists || r.State == StateClosed || r.TaskToken == "":
			out = OutcomeNotWaiting
			return false, nil
		case r.State == StateVerified:
			out = OutcomeAlreadyVerified
			return false, nil
		case r.Resends >= s.maxResends():
			out = OutcomeResendLimit
			return false, nil
		}
		c, err := s.newCode()
		if err != nil {
			return false, err
		}
		nonce, err := s.newNonce()
		if err != nil {
			return false, err
		}
		out, code, prev = OutcomeResent, c, *r
		r.State, r.Nonce, r.CodeHash = StatePending, nonce, s.hash(id, nonce, c)
		r.CodeExpiresAt, r.Attempts, r.SentAt = now.Add(s.ttl()), 0, nil
		r.Resends++
		return true, nil
	})
	if err != nil {
		return Result{}, err
	}
	if code != "" {
		p, err := s.store.GetPersonal(ctx, id)
		if err != nil {
			return Result{}, err
		}
		if err := s.send(ctx, req, p.Contact, r, code); err != nil {
			if errors.Is(err, notify.ErrNoChannel) {
				if uerr := s.undoResend(ctx, id, r.CodeHash, prev); uerr != nil {
					return Result{}, uerr
				}
			}
			return Result{}, err
		}
	}
	s.log().InfoContext(ctx, "verification code resend", "requestId", id, "outcome", string(out))
	return s.result(out, r, l), nil
}

// undoResend puts back the code, attempts, state and resends a resend
// replaced, when its new code (hash) could not be sent at all: the
// requester may ask again, and the code they hold works as before.
func (s *Service) undoResend(ctx context.Context, id, hash string, prev record) error {
	_, err := s.update(ctx, id, func(r *record, exists bool) (bool, error) {
		if !exists || r.CodeHash != hash {
			return false, nil
		}
		r.State, r.Nonce, r.CodeHash, r.CodeExpiresAt = prev.State, prev.Nonce, prev.CodeHash, prev.CodeExpiresAt
		r.Attempts, r.Resends, r.SentAt, r.Channel = prev.Attempts, prev.Resends, prev.SentAt, prev.Channel
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("undo resend of %s: %w", id, err)
	}
	return nil
}

// Close stops verification of a request that no longer waits for it (it
// expired or was refused): later codes answer not_waiting.
func (s *Service) Close(ctx context.Context, id string) error {
	_, err := s.update(ctx, id, func(r *record, exists bool) (bool, error) {
		if !exists || r.State == StateClosed || r.State == StateVerified {
			return false, nil
		}
		r.State = StateClosed
		return true, nil
	})
	return err
}

// Status is a read-only view of a verification, for the page and operators.
type Status struct {
	State        string
	ExpiresAt    time.Time
	AttemptsLeft int
	ResendsLeft  int
	Channel      string
}

// Status returns the verification state of a request (State empty when no
// code was issued). It never returns the code hash or the task token.
func (s *Service) Status(ctx context.Context, id string) (Status, error) {
	r, err := s.load(ctx, id)
	if err != nil || r == nil {
		return Status{}, err
	}
	return Status{State: r.State, ExpiresAt: r.CodeExpiresAt, AttemptsLeft: max(s.maxAttempts()-r.Attempts, 0), ResendsLeft: max(s.maxResends()-r.Resends, 0), Channel: r.Channel}, nil
}

func (s *Service) result(out Outcome, r *record, l dsr.Locale) Result {
	res := Result{Outcome: out}
	if r != nil {
		res.AttemptsLeft = max(s.maxAttempts()-r.Attempts, 0)
		res.ResendsLeft = max(s.maxResends()-r.Resends, 0)
		if r.State == StatePending {
			res.ExpiresAt = r.CodeExpiresAt
		}
		if r.State == StateLocked {
			res.AttemptsLeft = 0
		}
	}
	res.Message = message(out, res, l, s.cfg.Team)
	return res
}

// The code secret is a JSON object in Secrets Manager (template.yaml's
// VerificationCodeSecret): "current" hashes new codes; a rotation moves the
// old value to "previous", which still checks codes issued before it
// until they expire (at most CodeTTL after the rotation).
const (
	CodeSecretCurrent  = "current"
	CodeSecretPrevious = "previous"
)

// SecretReader reads a secret by name, "ID#KEY" for a key of a JSON
// secret (internal/secretstore).
type SecretReader interface {
	Secret(ctx context.Context, name string) ([]byte, error)
}

// ReadCodeSecret reads the current and, when there is one, the previous
// code secret from secret id; an empty id reads nothing. Errors name the
// secret, never a value.
func ReadCodeSecret(ctx context.Context, src SecretReader, id string) (current, previous []byte, err error) {
	if id == "" {
		return nil, nil, nil
	}
	if current, err = src.Secret(ctx, id+"#"+CodeSecretCurrent); err != nil {
		return nil, nil, fmt.Errorf("code secret: %w", err)
	}
	if len(current) < MinSecretLen {
		return nil, nil, fmt.Errorf("code secret %s: %q is shorter than %d bytes", id, CodeSecretCurrent, MinSecretLen)
	}
	previous, err = src.Secret(ctx, id+"#"+CodeSecretPrevious)
	switch {
	case errors.Is(err, secretstore.ErrNotFound):
		return current, nil, nil
	case err != nil:
		return nil, nil, fmt.Errorf("code secret: %w", err)
	case len(previous) < MinSecretLen:
		return nil, nil, fmt.Errorf("code secret %s: %q is shorter than %d bytes", id, CodeSecretPrevious, MinSecretLen)
	}
	return current, previous, nil
}
