package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dsr"
	"dsrflow/internal/logtest"
	"dsrflow/internal/notify"
	"dsrflow/internal/store"
)

var emu *dynamotest.Emulator

func TestMain(m *testing.M) { os.Exit(dynamotest.Main(m, &emu)) }

var budgetKey = []byte(strings.Repeat("b", notify.MinBudgetKeyLen))

// budgetFixture is a Router writing to an outbox folder, with the message
// budget of a store on dynalite.
type budgetFixture struct {
	router *notify.Router
	st     *store.Store
	dir    string
	logs   *logtest.Buffer
	mu     sync.Mutex
	now    time.Time
}

func newBudgetFixture(t *testing.T, limits notify.BudgetLimits) *budgetFixture {
	t.Helper()
	f := &budgetFixture{dir: t.TempDir(), logs: &logtest.Buffer{}, now: time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)}
	clock := func() time.Time {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.now
	}
	f.st = store.New(store.Config{Table: emu.NewTable(t)}, store.Deps{DB: emu.Client(), Clock: clock})
	f.router = notify.NewRouter(
		notify.RouterConfig{From: "privacy@example.cn", OutboxDir: f.dir, Budget: limits, BudgetKey: budgetKey},
		notify.RouterDeps{Budget: f.st, Clock: clock, Logger: slog.New(slog.NewJSONHandler(f.logs, nil))})
	return f
}

func (f *budgetFixture) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

// sent lists the To headers of the outbox files, in order.
func (f *budgetFixture) sent(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(f.dir, "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	var to []string
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.SplitSeq(string(b), "\r\n") {
			if v, ok := strings.CutPrefix(line, "To: "); ok {
				to = append(to, v)
				break
			}
		}
	}
	return to
}

func code(id, email string) notify.Message {
	return notify.VerificationCode(id, dsr.Contact{Email: email}, dsr.LocaleEn, "123456", time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC), "")
}

// TestPlusTagsAndDotsShareABudget: plus tags, case and Gmail dots are one
// mailbox for the budget; the messages still go to the address given.
func TestPlusTagsAndDotsShareABudget(t *testing.T) {
	t.Parallel()
	f := newBudgetFixture(t, notify.BudgetLimits{PerMailbox: 5})
	ctx := context.Background()
	variants := []string{"Li.Lei+1@gmail.com", "lilei+2@googlemail.com", "LI.LEI@gmail.com", "l.i.l.e.i@gmail.com", "lilei+x@GMAIL.com"}
	for i, addr := range variants {
		if _, err := f.router.Send(ctx, code(fmt.Sprintf("r-%d", i), addr)); err != nil {
			t.Fatalf("message %d (%s): %v", i+1, addr, err)
		}
	}
	for _, addr := range []string{"lilei@gmail.com", "lilei+6@gmail.com", "li.lei+7@googlemail.com"} {
		ch, err := f.router.Send(ctx, code("r-x", addr))
		limit, over := notify.OverBudgetLimit(err)
		if !over || limit != notify.LimitMailbox || !errors.Is(err, notify.ErrNoChannel) || ch != notify.ChannelEmail {
			t.Errorf("%s after 5: %s, %v; want refused by the mailbox budget", addr, ch, err)
		}
	}
	// Messages went to the addresses exactly as given.
	got := f.sent(t)
	if len(got) != len(variants) {
		t.Fatalf("%d messages sent, want %d: %v", len(got), len(variants), got)
	}
	for i, addr := range variants {
		if got[i] != "<"+addr+">" {
			t.Errorf("message %d went to %s, want <%s>", i+1, got[i], addr)
		}
	}
	// Dots name another mailbox outside Gmail; so does another domain.
	for _, addr := range []string{"l.i.lei@example.cn", "lilei@example.cn", "lilei@gmail.cn"} {
		if _, err := f.router.Send(ctx, code("r-y", addr)); err != nil {
			t.Errorf("%s: %v; want sent (its own budget)", addr, err)
		}
	}
	// The next window is fresh.
	f.advance(24 * time.Hour)
	if _, err := f.router.Send(ctx, code("r-z", "lilei@gmail.com")); err != nil {
		t.Errorf("next day: %v; want sent", err)
	}
}

// TestPhoneVariantsShareABudget: a number written with 00 or spaces is the
// same E.164 mailbox.
func TestPhoneVariantsShareABudget(t *testing.T) {
	t.Parallel()
	f := newBudgetFixture(t, notify.BudgetLimits{PerMailbox: 2})
	ctx := context.Background()
	for i, p := range []string{"+8613800138000", "008613800138000"} {
		if _, err := f.router.Send(ctx, notify.Message{RequestID: "r-1", Template: notify.TemplateVerificationCode, To: dsr.Contact{Phone: p}, Subject: "s", Body: "b"}); err != nil {
			t.Fatalf("SMS %d: %v", i+1, err)
		}
	}
	_, err := f.router.Send(ctx, notify.Message{RequestID: "r-1", Template: notify.TemplateVerificationCode, To: dsr.Contact{Phone: "+86 138 0013 8000"}, Subject: "s", Body: "b"})
	if !errors.Is(err, notify.ErrOverBudget) {
		t.Errorf("third SMS: %v; want over budget", err)
	}
}

// TestGlobalBudget: the global budget caps all counted messages together;
// a mailbox refused by it keeps its own budget.
func TestGlobalBudget(t *testing.T) {
	t.Parallel()
	f := newBudgetFixture(t, notify.BudgetLimits{PerMailbox: 3, Global: 4, GlobalWindow: time.Hour})
	ctx := context.Background()
	for i := range 4 {
		if _, err := f.router.Send(ctx, code("r-1", fmt.Sprintf("person%d@example.cn", i))); err != nil {
			t.Fatalf("message %d: %v", i+1, err)
		}
	}
	for range 3 {
		_, err := f.router.Send(ctx, code("r-2", "late@example.cn"))
		if l, ok := notify.OverBudgetLimit(err); !ok || l != notify.LimitGlobal {
			t.Fatalf("fifth message: %v; want refused by the global budget", err)
		}
	}
	// An hour later the global budget is fresh, and late@ still has all
	// three of its own: the refusals took nothing from it.
	f.advance(time.Hour)
	for i := range 3 {
		if _, err := f.router.Send(ctx, code("r-2", "late@example.cn")); err != nil {
			t.Fatalf("message %d to late@ in the next hour: %v; want sent", i+1, err)
		}
	}
	if _, err := f.router.Send(ctx, code("r-2", "late@example.cn")); !errors.Is(err, notify.ErrOverBudget) {
		t.Errorf("fourth to late@: %v; want refused by its mailbox budget", err)
	}
	if n := len(f.sent(t)); n != 7 {
		t.Errorf("%d messages sent, want 7", n)
	}
}

// TestVerifiedRepliesUnaffected: with the mailbox and the global budgets
// spent by an attacker, a verified requester still gets every answer, and
// the answers spend nothing.
func TestVerifiedRepliesUnaffected(t *testing.T) {
	t.Parallel()
	f := newBudgetFixture(t, notify.BudgetLimits{PerMailbox: 2, Global: 2})
	ctx := context.Background()
	victim := "li.lei@example.cn"
	for i := range 2 {
		if _, err := f.router.Send(ctx, code(fmt.Sprintf("r-attack-%d", i), "li.lei+"+fmt.Sprint(i)+"@example.cn")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.router.Send(ctx, code("r-attack-3", victim)); !errors.Is(err, notify.ErrOverBudget) {
		t.Fatalf("attacker's third code: %v; want over budget", err)
	}
	to := dsr.Contact{Email: victim}
	refused := notify.Refused("r-own", to, dsr.LocaleEn, dsr.KindErasure, dsr.RefusalLegalHold, notify.Contact{})
	refused.Verified = true
	answers := []notify.Message{
		notify.Reply("r-own", to, dsr.LocaleEn, notify.ReplyContent{Kind: dsr.KindErasure}, notify.Contact{}),
		notify.Reply("r-own", to, dsr.LocaleEn, notify.ReplyContent{Kind: dsr.KindErasure, Partners: []notify.PartnerResult{{Name: "p", Outcome: notify.OutcomePending}}}, notify.Contact{}),
		notify.Duplicate("r-own", to, dsr.LocaleEn, dsr.KindErasure, "r-older", notify.Contact{}),
		{RequestID: "r-own", Template: notify.TemplateFinalConfirmation, To: to, Subject: "s", Body: "b"},
		refused,
	}
	for _, m := range answers {
		if _, err := f.router.Send(ctx, m); err != nil {
			t.Errorf("%s to the verified requester: %v; want sent", m.Template, err)
		}
	}
	if n := len(f.sent(t)); n != 2+len(answers) {
		t.Errorf("%d messages sent, want %d", n, 2+len(answers))
	}
	// An unverified refusal is counted like a code.
	if _, err := f.router.Send(ctx, notify.Refused("r-attack-4", to, dsr.LocaleEn, dsr.KindErasure, dsr.RefusalIdentityNotVerified, notify.Contact{})); !errors.Is(err, notify.ErrOverBudget) {
		t.Errorf("unverified refusal: %v; want over budget", err)
	}
}

// TestConcurrentSendsCannotOvershoot: parallel codes to variants of one
// mailbox deliver exactly the limit.
func TestConcurrentSendsCannotOvershoot(t *testing.T) {
	t.Parallel()
	f := newBudgetFixture(t, notify.BudgetLimits{PerMailbox: 5})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 30)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.router.Send(ctx, code("r-1", fmt.Sprintf("wang.fang+%d@example.cn", i)))
		}()
	}
	wg.Wait()
	over := 0
	for _, err := range errs {
		switch {
		case errors.Is(err, notify.ErrOverBudget):
			over++
		case err != nil:
			t.Errorf("send: %v", err)
		}
	}
	if n := len(f.sent(t)); n != 5 || over != 25 {
		t.Errorf("%d sent and %d over budget of 30 concurrent sends; want 5 and 25", n, over)
	}
}

// TestOverBudgetLogLine: a refusal is logged once, with the request,
// template, channel and limit, and nothing personal.
func TestOverBudgetLogLine(t *testing.T) {
	t.Parallel()
	f := newBudgetFixture(t, notify.BudgetLimits{PerMailbox: 1})
	ctx := context.Background()
	if _, err := f.router.Send(ctx, code("r-1", "zhang.wei@example.cn")); err != nil {
		t.Fatal(err)
	}
	_, err := f.router.Send(ctx, code("r-2", "zhang.wei+spam@example.cn"))
	if err == nil {
		t.Fatal("second message sent; want over budget")
	}
	if strings.Contains(err.Error(), "zhang") {
		t.Errorf("error %q names the address", err)
	}
	var lines []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(f.logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		lines = append(lines, rec)
	}
	if len(lines) != 1 || lines[0]["msg"] != notify.LogOverBudget || lines[0]["requestId"] != "r-2" ||
		lines[0]["template"] != notify.TemplateVerificationCode || lines[0]["channel"] != "email" || lines[0]["limit"] != notify.LimitMailbox {
		t.Errorf("log = %v; want one %q line for r-2", lines, notify.LogOverBudget)
	}
	if strings.Contains(f.logs.String(), "zhang") || strings.Contains(f.logs.String(), "@") {
		t.Errorf("log names the address: %s", f.logs.String())
	}
}

// failingBudget is a budget whose table cannot be reached.
type failingBudget struct{}

func (failingBudget) TakeBudget(context.Context, string, int, time.Duration, time.Time) (bool, error) {
	return false, errors.New("dynamodb unreachable")
}

func (failingBudget) ReturnBudget(context.Context, string, time.Duration, time.Time) error {
	return errors.New("dynamodb unreachable")
}

// TestBudgetFailsClosed: a budget that cannot be read or has no key sends
// no counted message (a retryable error for the first); answers to
// verified requesters still go.
func TestBudgetFailsClosed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name      string
		key       []byte
		retryable bool
	}{
		{"unreachable", budgetKey, true},
		{"no key", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			r := notify.NewRouter(notify.RouterConfig{From: "privacy@example.cn", OutboxDir: dir, BudgetKey: tt.key}, notify.RouterDeps{Budget: failingBudget{}})
			_, err := r.Send(ctx, code("r-1", "a@example.cn"))
			var de *notify.DeliveryError
			if !errors.As(err, &de) || de.Retryable != tt.retryable || errors.Is(err, notify.ErrNoChannel) {
				t.Errorf("code: %v; want a delivery error, retryable %v", err, tt.retryable)
			}
			if _, err := r.Send(ctx, notify.Reply("r-1", dsr.Contact{Email: "a@example.cn"}, dsr.LocaleEn, notify.ReplyContent{Kind: dsr.KindAccess}, notify.Contact{})); err != nil {
				t.Errorf("reply: %v; want sent", err)
			}
			if files, _ := filepath.Glob(filepath.Join(dir, "*.eml")); len(files) != 1 {
				t.Errorf("%d messages sent, want the reply only", len(files))
			}
		})
	}
}
