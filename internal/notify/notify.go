// Package notify sends messages to requesters: email through an EmailSender
// (Amazon SES in package sesmail), text messages through an SMS provider
// behind an interface, or, when an outbox folder is configured, RFC 5322 .eml
// files written to that folder (the local stack). Messages are composed by
// Compose (compose.go) with the standard library's MIME encoders.
//
// Message bodies and addresses are personal data: nothing here logs them, and
// errors name only the request, the channel and an error code.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"dsrflow/internal/dsr"
)

// Channel is how a message reaches the requester.
type Channel string

const (
	ChannelEmail Channel = "email"
	ChannelSMS   Channel = "sms"
)

// Message is one message to a requester.
type Message struct {
	// RequestID is the request the message is about; it goes into the
	// X-Dsrflow-Request header and into errors, never the address.
	RequestID string
	// Template names what the message is ("verification_code", "refused", ...),
	// for headers, audit events and logs.
	Template string
	To       dsr.Contact
	Locale   dsr.Locale
	Subject  string
	Body     string
	// SMS is the message's text-message form (sms.go), filled by the
	// builders in texts.go; SMS senders send it instead of Body.
	SMS SMSContent
	// Attachments go with email only (the signed deletion certificate).
	Attachments []Attachment
	// MessageID, when set, is the Message-ID to use (default: MessageID).
	MessageID string
	// Verified is set by the caller when the request was verified (a code
	// sent to this contact, a login, an operator): the message answers a
	// requester who proved who they are and does not count against the
	// message budget (budget.go). Left false, the template decides
	// (Budgeted).
	Verified bool
}

// Attachment is a file attached to an email. Name is ASCII ([A-Za-z0-9._-]).
type Attachment struct {
	Name        string
	ContentType string
	Data        []byte
}

// ChannelFor is the channel a message to c goes by: email when there is an
// address, otherwise SMS; empty when c has neither.
func ChannelFor(c dsr.Contact) Channel {
	switch {
	case c.Email != "":
		return ChannelEmail
	case c.Phone != "":
		return ChannelSMS
	}
	return ""
}

// Sender delivers messages.
type Sender interface {
	Send(ctx context.Context, m Message) (Channel, error)
}

// ErrNoChannel is returned (wrapped in a *DeliveryError) when a message cannot
// be sent at all: the contact has neither an email address nor a phone
// number, or SMS is needed and no SMS provider is configured. Retrying does
// not help.
var ErrNoChannel = errors.New("no delivery channel")

// DeliveryError is a message that could not be sent. Code is the provider's
// error code (e.g. SES "TooManyRequestsException") or a short description;
// it never holds the address or the body.
type DeliveryError struct {
	RequestID string
	Channel   Channel
	Code      string
	// Retryable reports that the same message may go through if sent
	// again shortly (throttling, a provider's transient fault, a timeout);
	// false for what a retry cannot fix (a refused number, a bad template,
	// a configuration or account problem).
	Retryable bool
	Err       error
}

func (e *DeliveryError) Error() string {
	return fmt.Sprintf("deliver %s message for request %s: %s", e.Channel, e.RequestID, e.Code)
}

func (e *DeliveryError) Unwrap() error { return e.Err }

// EmailSender sends one composed RFC 5322 email.
type EmailSender interface {
	SendRaw(ctx context.Context, m Message, raw []byte) error
}

// SMSSender sends one text message to an E.164 phone number. The provider
// (in mainland China, a licensed SMS gateway) is chosen by configuration.
type SMSSender interface {
	SendSMS(ctx context.Context, m Message) error
}

// Router picks the channel for each message, takes the message's share of
// the message budget (budget.go) and composes email.
type Router struct {
	// From is the sender address of email ("隐私团队 <privacy@example.cn>").
	From string
	// FromName is the display name of the sender.
	FromName string
	Email    EmailSender
	// SMS may be nil: a message to a requester without an email address
	// then fails with ErrNoChannel.
	SMS SMSSender
	Now func() time.Time

	// budget, when set (NewRouter), counts the messages that go to
	// contacts not proved (budget.go), under limits, with mailboxes
	// hashed under budgetKey.
	budget    Budget
	limits    BudgetLimits
	budgetKey []byte
	logger    *slog.Logger
}

// Send delivers m by email when the contact has an address, else by SMS.
// A message that counts against the budget and finds it spent is not sent:
// the error wraps an *OverBudgetError (budget.go).
func (r *Router) Send(ctx context.Context, m Message) (Channel, error) {
	ch := ChannelFor(m.To)
	switch ch {
	case ChannelEmail:
		if r.Email == nil {
			return ch, &DeliveryError{RequestID: m.RequestID, Channel: ch, Code: "no email sender configured", Err: ErrNoChannel}
		}
		raw, err := Compose(m, r.FromName, r.From, r.now())
		if err != nil {
			return ch, &DeliveryError{RequestID: m.RequestID, Channel: ch, Code: "compose", Err: err}
		}
		if err := r.spend(ctx, ch, m); err != nil {
			return ch, err
		}
		return ch, r.Email.SendRaw(ctx, m, raw)
	case ChannelSMS:
		if r.SMS == nil {
			return ch, &DeliveryError{RequestID: m.RequestID, Channel: ch, Code: "no SMS provider configured", Err: ErrNoChannel}
		}
		if err := r.spend(ctx, ch, m); err != nil {
			return ch, err
		}
		return ch, r.SMS.SendSMS(ctx, m)
	}
	return "", &DeliveryError{RequestID: m.RequestID, Code: "no email address or phone number on the request", Err: ErrNoChannel}
}

func (r *Router) log() *slog.Logger {
	if r.logger != nil {
		return r.logger
	}
	return slog.Default()
}

func (r *Router) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// RouterConfig is where messages go.
type RouterConfig struct {
	// From is the sender address of email; FromName its display name.
	From     string
	FromName string
	// OutboxDir, when set, writes every email (and every text message, when
	// no SMS provider is given) as an .eml file there instead of sending it:
	// the local stack.
	OutboxDir string
	// Budget limits the messages to contacts not proved (budget.go); zero
	// fields take the defaults. It applies when RouterDeps.Budget is set.
	Budget BudgetLimits
	// BudgetKey keys the hashes of mailboxes in the budget's counters (at
	// least MinBudgetKeyLen bytes; the functions pass the subject key secret,
	// the hash is domain-separated from subject keys). With a Budget and
	// a shorter key, counted messages fail rather than go uncounted.
	BudgetKey []byte
}

// RouterDeps are the senders.
type RouterDeps struct {
	// Email sends email when OutboxDir is empty (SES or the SMTP relay);
	// nil: email fails as a delivery error.
	Email EmailSender
	// SMS sends text messages (End User Messaging SMS, a Chinese SMS
	// provider); nil: the outbox when OutboxDir is set, else requesters
	// with a phone only are verified by hand.
	SMS SMSSender
	// Budget counts the messages to contacts not proved (a *store.Store);
	// nil: no budget (tests of other packages).
	Budget Budget
	Clock  func() time.Time
	// Logger gets the LogOverBudget lines; default slog.Default().
	Logger *slog.Logger
}

// NewRouter returns the one router every function that writes to
// requesters uses.
func NewRouter(cfg RouterConfig, deps RouterDeps) *Router {
	r := &Router{From: cfg.From, FromName: cfg.FromName, Email: deps.Email, SMS: deps.SMS, Now: deps.Clock,
		budget: deps.Budget, limits: cfg.Budget.withDefaults(), budgetKey: cfg.BudgetKey, logger: deps.Logger}
	if cfg.OutboxDir != "" {
		box := &Outbox{Dir: cfg.OutboxDir, From: cfg.From, FromName: cfg.FromName, Now: deps.Clock}
		r.Email = box
		if r.SMS == nil {
			r.SMS = box
		}
	}
	return r
}
