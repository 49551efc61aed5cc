package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"dsrflow/internal/dsr"
)

// The message budget keeps the code mailer from being used to harass
// anyone (docs/ARCHITECTURE.md, rule 11): anyone can make a request with
// someone else's address, so the messages that go to a contact that has
// not proved it is the requester's are counted, per mailbox and in all,
// and refused past a limit. The Router enforces it where every message
// leaves (Router.Send).
//
// What counts (Budgeted): every message unless its Verified field is set or
// its template only ever follows a verification. That is, the verification
// codes (first code and resends), the notice that verification locked, the
// notice that an unverified request expired, and a refusal of a request
// that was not verified. Replies, partial replies, final confirmations and
// duplicate notices go to requesters who proved who they are; an attacker's
// spending can never block them, and they never spend the budget.
//
// A mailbox is normalised for the budget only (BudgetMailbox): the address
// a message goes to stays exactly as given. The budget stores a keyed hash
// of the normalised mailbox, never the address.
//
// Over budget, the message is not sent: Send returns a *DeliveryError
// whose Err is an *OverBudgetError (errors.Is ErrOverBudget, and
// ErrNoChannel: like a contact without a channel, a retry soon does not
// help), and logs LogOverBudget with the request ID, template, channel and
// the limit reached, nothing personal. The caller records the audit event
// EventOverBudget and keeps the request going (package verification: the
// code goes to an operator, a resend is given back).

// Budget counts messages in fixed windows (a *store.Store): TakeBudget
// takes one from key's window of length window holding now unless limit
// were taken (ok false, nothing taken); concurrent takes never exceed
// limit. ReturnBudget gives one back.
type Budget interface {
	TakeBudget(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (ok bool, err error)
	ReturnBudget(ctx context.Context, key string, window time.Duration, now time.Time) error
}

// BudgetLimits are the message budget's limits, read from the environment
// by the functions that send messages (embed it in their Config). Windows
// are fixed and aligned on multiples of their length (24h windows start at
// 00:00 UTC), so a burst across a window's end can reach twice a limit
// within one window's length.
type BudgetLimits struct {
	// PerMailbox is how many counted messages one mailbox (an email
	// address with plus tags and Gmail dots ignored, or a phone number)
	// may receive in MailboxWindow.
	PerMailbox    int           `env:"MESSAGE_BUDGET_PER_MAILBOX" envDefault:"5"`
	MailboxWindow time.Duration `env:"MESSAGE_BUDGET_MAILBOX_WINDOW" envDefault:"24h"`
	// Global is how many counted messages may go out in GlobalWindow, to
	// everyone together.
	Global       int           `env:"MESSAGE_BUDGET_GLOBAL" envDefault:"500"`
	GlobalWindow time.Duration `env:"MESSAGE_BUDGET_GLOBAL_WINDOW" envDefault:"1h"`
}

// Defaults of BudgetLimits, used for fields left zero.
const (
	DefaultBudgetPerMailbox    = 5
	DefaultBudgetMailboxWindow = 24 * time.Hour
	DefaultBudgetGlobal        = 500
	DefaultBudgetGlobalWindow  = time.Hour
)

// MinBudgetKeyLen is the shortest key the budget's mailbox hashes take.
const MinBudgetKeyLen = 32

// maxBudgetWindow bounds the windows: a budget counts recent messages.
const maxBudgetWindow = 7 * 24 * time.Hour

// Check reports limits that make no sense, by variable name. Zero fields
// stand for the defaults.
func (l BudgetLimits) Check() error {
	l = l.withDefaults()
	var errs []error
	if l.PerMailbox < 1 {
		errs = append(errs, errors.New("MESSAGE_BUDGET_PER_MAILBOX must be at least 1"))
	}
	if l.Global < 1 {
		errs = append(errs, errors.New("MESSAGE_BUDGET_GLOBAL must be at least 1"))
	}
	if l.Global < l.PerMailbox {
		errs = append(errs, errors.New("MESSAGE_BUDGET_GLOBAL must be at least MESSAGE_BUDGET_PER_MAILBOX"))
	}
	if l.MailboxWindow < time.Minute || l.MailboxWindow > maxBudgetWindow {
		errs = append(errs, fmt.Errorf("MESSAGE_BUDGET_MAILBOX_WINDOW must be from 1m to %s", maxBudgetWindow))
	}
	if l.GlobalWindow < time.Minute || l.GlobalWindow > maxBudgetWindow {
		errs = append(errs, fmt.Errorf("MESSAGE_BUDGET_GLOBAL_WINDOW must be from 1m to %s", maxBudgetWindow))
	}
	return errors.Join(errs...)
}

// withDefaults fills the zero fields.
func (l BudgetLimits) withDefaults() BudgetLimits {
	if l.PerMailbox == 0 {
		l.PerMailbox = DefaultBudgetPerMailbox
	}
	if l.MailboxWindow == 0 {
		l.MailboxWindow = DefaultBudgetMailboxWindow
	}
	if l.Global == 0 {
		l.Global = DefaultBudgetGlobal
	}
	if l.GlobalWindow == 0 {
		l.GlobalWindow = DefaultBudgetGlobalWindow
	}
	return l
}

// Limits reached, in OverBudgetError.Limit, logs and audit events.
const (
	LimitMailbox = "mailbox"
	LimitGlobal  = "global"
)

// LogOverBudget is the message of the log line written for every message
// refused by the budget (a metric filter counts it).
const LogOverBudget = "message over budget"

// EventOverBudget is the audit event callers record for a message the
// budget refused, with the data template, channel and limit.
const EventOverBudget = "message_over_budget"

// ErrOverBudget is wrapped by the error of a message the budget refused.
// It wraps ErrNoChannel: for now the message has no way to go, and a
// retry soon does not help.
var ErrOverBudget = fmt.Errorf("%w: over the message budget", ErrNoChannel)

// OverBudgetError is the Err of the *DeliveryError of a message the budget
// refused: Limit is LimitMailbox or LimitGlobal.
type OverBudgetError struct{ Limit string }

func (e *OverBudgetError) Error() string { return "over the " + e.Limit + " message budget" }

func (e *OverBudgetError) Unwrap() error { return ErrOverBudget }

// OverBudgetLimit returns the limit that refused a message when err says
// the budget refused it.
func OverBudgetLimit(err error) (string, bool) {
	var ob *OverBudgetError
	if errors.As(err, &ob) {
		return ob.Limit, true
	}
	return "", false
}

// Budgeted reports whether m counts against the message budget: every
// message but those to a requester who proved who they are (m.Verified, or
// a template sent only after verification).
func Budgeted(m Message) bool {
	if m.Verified {
		return false
	}
	switch m.Template {
	case TemplateReply, TemplateReplyPartial, TemplateFinalConfirmation, TemplateDuplicate:
		return false
	}
	return true
}

// BudgetMailbox is the mailbox a message to c by ch counts against: for
// email, the address lower-cased, without a "+tag" after the local part,
// and for gmail.com and googlemail.com (one mailbox service) without dots
// in the local part and with the domain gmail.com; for SMS, the E.164
// number (digits after "+", a leading 00 read as "+"). Empty when c has
// nothing for ch.
func BudgetMailbox(ch Channel, c dsr.Contact) string {
	switch ch {
	case ChannelEmail:
		return budgetEmail(c.Email)
	case ChannelSMS:
		return budgetPhone(c.Phone)
	}
	return ""
}

func budgetEmail(addr string) string {
	addr = strings.ToLower(strings.TrimSpace(addr))
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return addr
	}
	local, domain := addr[:at], strings.TrimRight(addr[at+1:], ". \t\r\n")
	if i := strings.IndexByte(local, '+'); i >= 0 {
		local = local[:i]
	}
	if domain == "googlemail.com" {
		domain = "gmail.com"
	}
	if domain == "gmail.com" {
		local = strings.ReplaceAll(local, ".", "")
	}
	return local + "@" + domain
}

func budgetPhone(p string) string {
	var b strings.Builder
	for _, r := range p {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	digits := strings.TrimPrefix(b.String(), "00")
	if digits == "" {
		return ""
	}
	return "+" + digits
}

// budgetKey is the budget counter's name for a mailbox: the channel and a
// keyed hash of the normalised mailbox (base64url of
// HMAC-SHA256(key, "message-budget:<channel>:<mailbox>")), so the table
// never holds the address and the key cannot be linked to a subject key.
func budgetKey(key []byte, ch Channel, mailbox string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("message-budget:" + string(ch) + ":" + mailbox))
	return string(ch) + ":" + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// globalBudgetKey names the global counter.
const globalBudgetKey = "global"

// spend takes m's share of the budget before it is sent by ch: nothing
// for a message that does not count; otherwise one from its mailbox, then
// one from the global budget (the mailbox's is given back when the global
// budget refuses, so a full global budget costs no mailbox anything).
func (r *Router) spend(ctx context.Context, ch Channel, m Message) error {
	if r.budget == nil || !Budgeted(m) {
		return nil
	}
	if len(r.budgetKey) < MinBudgetKeyLen {
		return &DeliveryError{RequestID: m.RequestID, Channel: ch, Code: "message budget has no key", Err: errors.New("message budget key shorter than MinBudgetKeyLen")}
	}
	lim, now := r.limits, r.now()
	key := budgetKey(r.budgetKey, ch, BudgetMailbox(ch, m.To))
	ok, err := r.budget.TakeBudget(ctx, key, lim.PerMailbox, lim.MailboxWindow, now)
	if err != nil {
		return &DeliveryError{RequestID: m.RequestID, Channel: ch, Code: "message budget unavailable", Retryable: true, Err: err}
	}
	if !ok {
		return r.overBudget(ctx, ch, m, LimitMailbox)
	}
	ok, err = r.budget.TakeBudget(ctx, globalBudgetKey, lim.Global, lim.GlobalWindow, now)
	if err == nil && ok {
		return nil
	}
	if rerr := r.budget.ReturnBudget(ctx, key, lim.MailboxWindow, now); rerr != nil {
		r.log().WarnContext(ctx, "return message budget", "requestId", m.RequestID, "error", rerr.Error())
	}
	if err != nil {
		return &DeliveryError{RequestID: m.RequestID, Channel: ch, Code: "message budget unavailable", Retryable: true, Err: err}
	}
	return r.overBudget(ctx, ch, m, LimitGlobal)
}

func (r *Router) overBudget(ctx context.Context, ch Channel, m Message, limit string) error {
	r.log().WarnContext(ctx, LogOverBudget, "requestId", m.RequestID, "template", m.Template, "channel", string(ch), "limit", limit)
	return &DeliveryError{RequestID: m.RequestID, Channel: ch, Code: "over the " + limit + " message budget", Err: &OverBudgetError{Limit: limit}}
}
