package notify

import (
	"errors"
	"strings"
	"testing"
	"time"

	"dsrflow/internal/dsr"
	"dsrflow/internal/envconfig"
)

func TestBudgetMailbox(t *testing.T) {
	tests := []struct {
		ch   Channel
		to   dsr.Contact
		want string
	}{
		{ChannelEmail, dsr.Contact{Email: "Li.Lei@Example.CN"}, "li.lei@example.cn"},
		{ChannelEmail, dsr.Contact{Email: "li.lei+1@example.cn"}, "li.lei@example.cn"},
		{ChannelEmail, dsr.Contact{Email: "li.lei+a+b@example.cn"}, "li.lei@example.cn"},
		{ChannelEmail, dsr.Contact{Email: " li.lei@example.cn. "}, "li.lei@example.cn"},
		// Dots name other mailboxes outside Gmail.
		{ChannelEmail, dsr.Contact{Email: "lilei@example.cn"}, "lilei@example.cn"},
		{ChannelEmail, dsr.Contact{Email: "Li.Lei@gmail.com"}, "lilei@gmail.com"},
		{ChannelEmail, dsr.Contact{Email: "l.i.l.e.i+x@googlemail.com"}, "lilei@gmail.com"},
		{ChannelEmail, dsr.Contact{Email: "+x@gmail.com"}, "@gmail.com"},
		{ChannelEmail, dsr.Contact{Email: "no-at-sign"}, "no-at-sign"},
		{ChannelEmail, dsr.Contact{Phone: "+8613800138000"}, ""},
		{ChannelSMS, dsr.Contact{Phone: "+8613800138000"}, "+8613800138000"},
		{ChannelSMS, dsr.Contact{Phone: "008613800138000"}, "+8613800138000"},
		{ChannelSMS, dsr.Contact{Phone: "+86 138-0013-8000"}, "+8613800138000"},
		{ChannelSMS, dsr.Contact{Email: "a@example.cn"}, ""},
		{"", dsr.Contact{Email: "a@example.cn"}, ""},
	}
	for _, tt := range tests {
		if got := BudgetMailbox(tt.ch, tt.to); got != tt.want {
			t.Errorf("BudgetMailbox(%s, %+v) = %q, want %q", tt.ch, tt.to, got, tt.want)
		}
	}
}

// FuzzBudgetMailbox: any address maps to one mailbox, the same for its
// plus-tagged and case variants, without panicking.
func FuzzBudgetMailbox(f *testing.F) {
	for _, s := range []string{"a@b.cn", "A.b+c@GMAIL.com", "", "@", "+@+", "a@b@c", "\xff@x", "li+1@googlemail.com."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		got := BudgetMailbox(ChannelEmail, dsr.Contact{Email: addr})
		if again := BudgetMailbox(ChannelEmail, dsr.Contact{Email: got}); again != got {
			t.Errorf("not idempotent: %q -> %q -> %q", addr, got, again)
		}
		if at := strings.LastIndexByte(addr, '@'); at >= 0 && !strings.Contains(addr[:at], "+") {
			tagged := addr[:at] + "+tag" + addr[at:]
			if v := BudgetMailbox(ChannelEmail, dsr.Contact{Email: tagged}); v != got {
				t.Errorf("plus tag escapes the budget: %q -> %q, %q -> %q", addr, got, tagged, v)
			}
		}
	})
}

func TestBudgeted(t *testing.T) {
	to := dsr.Contact{Email: "a@example.cn"}
	tests := []struct {
		name string
		m    Message
		want bool
	}{
		{"code", VerificationCode("r-1", to, dsr.LocaleEn, "123456", time.Now(), ""), true},
		{"locked", VerificationLocked("r-1", to, dsr.LocaleEn, 1, "", Contact{}), true},
		{"expired", Expired("r-1", to, dsr.LocaleEn, 7, Contact{}), true},
		{"refusal of an unverified request", Refused("r-1", to, dsr.LocaleEn, dsr.KindErasure, dsr.RefusalIdentityNotVerified, Contact{}), true},
		{"refusal of a verified request", func() Message {
			m := Refused("r-1", to, dsr.LocaleEn, dsr.KindErasure, dsr.RefusalIdentityNotVerified, Contact{})
			m.Verified = true
			return m
		}(), false},
		{"unknown template", Message{Template: "something_new", To: to}, true},
		{"reply", Reply("r-1", to, dsr.LocaleEn, ReplyContent{Kind: dsr.KindErasure}, Contact{}), false},
		{"partial reply", Reply("r-1", to, dsr.LocaleEn, ReplyContent{Kind: dsr.KindErasure, Partners: []PartnerResult{{Outcome: OutcomePending}}}, Contact{}), false},
		{"final confirmation", Message{Template: TemplateFinalConfirmation, To: to}, false},
		{"duplicate", Duplicate("r-1", to, dsr.LocaleEn, dsr.KindErasure, "r-0", Contact{}), false},
	}
	for _, tt := range tests {
		if got := Budgeted(tt.m); got != tt.want {
			t.Errorf("%s: Budgeted = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestBudgetLimits(t *testing.T) {
	def, err := envconfig.ParseFrom[BudgetLimits](map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	want := BudgetLimits{PerMailbox: DefaultBudgetPerMailbox, MailboxWindow: DefaultBudgetMailboxWindow, Global: DefaultBudgetGlobal, GlobalWindow: DefaultBudgetGlobalWindow}
	if def != want || (BudgetLimits{}).withDefaults() != want {
		t.Errorf("defaults: env %+v, zero value %+v; want %+v", def, (BudgetLimits{}).withDefaults(), want)
	}
	if err := def.Check(); err != nil {
		t.Errorf("defaults: Check = %v", err)
	}
	if err := (BudgetLimits{}).Check(); err != nil {
		t.Errorf("zero value (the defaults): Check = %v", err)
	}
	set, err := envconfig.ParseFrom[BudgetLimits](map[string]string{
		"MESSAGE_BUDGET_PER_MAILBOX": "3", "MESSAGE_BUDGET_MAILBOX_WINDOW": "12h", "MESSAGE_BUDGET_GLOBAL": "50", "MESSAGE_BUDGET_GLOBAL_WINDOW": "30m",
	})
	if want := (BudgetLimits{3, 12 * time.Hour, 50, 30 * time.Minute}); err != nil || set != want {
		t.Errorf("from env: %+v, %v; want %+v", set, err, want)
	}
	for _, tt := range []struct {
		l    BudgetLimits
		want string
	}{
		{BudgetLimits{-1, time.Hour, 5, time.Hour}, "MESSAGE_BUDGET_PER_MAILBOX must be at least 1"},
		{BudgetLimits{5, time.Hour, -5, time.Hour}, "MESSAGE_BUDGET_GLOBAL must be at least 1"},
		{BudgetLimits{5, time.Hour, 4, time.Hour}, "MESSAGE_BUDGET_GLOBAL must be at least MESSAGE_BUDGET_PER_MAILBOX"},
		{BudgetLimits{5, time.Second, 5, time.Hour}, "MESSAGE_BUDGET_MAILBOX_WINDOW"},
		{BudgetLimits{5, time.Hour, 5, 8 * 24 * time.Hour}, "MESSAGE_BUDGET_GLOBAL_WINDOW"},
	} {
		if err := tt.l.Check(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Check(%+v) = %v; want an error naming %s", tt.l, err, tt.want)
		}
	}
}

func TestOverBudgetError(t *testing.T) {
	var err error = &DeliveryError{RequestID: "r-1", Channel: ChannelEmail, Code: "over the mailbox message budget", Err: &OverBudgetError{Limit: LimitMailbox}}
	if !errors.Is(err, ErrOverBudget) || !errors.Is(err, ErrNoChannel) {
		t.Errorf("%v: want errors.Is ErrOverBudget and ErrNoChannel", err)
	}
	if l, ok := OverBudgetLimit(err); !ok || l != LimitMailbox {
		t.Errorf("OverBudgetLimit = %q, %v; want mailbox", l, ok)
	}
	if _, ok := OverBudgetLimit(&DeliveryError{Err: ErrNoChannel}); ok {
		t.Error("OverBudgetLimit of a plain no-channel error: want false")
	}
}
