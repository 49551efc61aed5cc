package verification_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jhillyerd/enmime"

	"dsrflow/internal/dsr"
	"dsrflow/internal/notify"
	"dsrflow/internal/store"
	"dsrflow/internal/verification"
)

// routed is a verification service whose messages go through the real
// Router, with the message budget on dynalite, into an outbox folder.
type routed struct {
	st     *store.Store
	svc    *verification.Service
	router *notify.Router
	sfn    *fakeSFN
	dir    string
	mu     sync.Mutex
	now    time.Time
}

func (f *routed) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *routed) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

// newRouted makes a service over a Router with limits, and creates the
// code-verified request id for contact.
func newRouted(t *testing.T, limits notify.BudgetLimits) *routed {
	t.Helper()
	f := &routed{sfn: &fakeSFN{}, dir: t.TempDir(), now: time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)}
	f.st = store.New(store.Config{Table: emu.NewTable(t)}, store.Deps{DB: emu.Client(), Clock: f.clock})
	f.router = notify.NewRouter(
		notify.RouterConfig{From: "privacy@example.cn", OutboxDir: f.dir, Budget: limits, BudgetKey: []byte(strings.Repeat("k", 32))},
		notify.RouterDeps{Budget: f.st, Clock: f.clock})
	svc, err := verification.New(verification.Config{Secret: []byte(strings.Repeat("x", 32))},
		verification.Deps{Store: f.st, SFN: f.sfn, Sender: f.router, Clock: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	return f
}

// request stores an anonymous web request (awaiting verification) whose
// status token is statusToken.
func (f *routed) request(t *testing.T, id, email string) {
	t.Helper()
	sum := sha256.Sum256([]byte(statusToken))
	if _, _, err := f.st.CreateRequest(context.Background(), &dsr.Request{
		ID: id, Kind: dsr.KindErasure, Status: dsr.StatusAwaitingVerification, Channel: dsr.ChannelWeb, Role: dsr.RoleSelf, Locale: "en",
		HintKeys: []string{"h-" + id}, StatusTokenHash: hex.EncodeToString(sum[:]),
	}, &dsr.Personal{Contact: dsr.Contact{Email: email}}); err != nil {
		t.Fatal(err)
	}
}

// sentMessage is one outbox file.
type sentMessage struct{ to, template, request, code string }

var outboxCodeRE = regexp.MustCompile(`this code: (\d{6})`)

// sent reads the outbox, in the order of writing.
func (f *routed) sent(t *testing.T) []sentMessage {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(f.dir, "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []sentMessage
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		env, err := enmime.ReadEnvelope(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		m := sentMessage{to: strings.Trim(env.GetHeader("To"), "<>"), template: env.GetHeader("X-Dsrflow-Template"), request: env.GetHeader("X-Dsrflow-Request")}
		if c := outboxCodeRE.FindStringSubmatch(env.Text); c != nil {
			m.code = c[1]
		}
		out = append(out, m)
	}
	return out
}

func (f *routed) lastCode(t *testing.T, id string) string {
	t.Helper()
	msgs := f.sent(t)
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].request == id && msgs[i].code != "" {
			return msgs[i].code
		}
	}
	t.Fatalf("no code sent for %s", id)
	return ""
}

// overBudgetEvents are request id's audit events message_over_budget.
func (f *routed) overBudgetEvents(t *testing.T, id string) []store.Event {
	t.Helper()
	evs, err := f.st.ListEvents(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Event
	for _, e := range evs {
		if e.Type == notify.EventOverBudget {
			out = append(out, e)
		}
	}
	return out
}

// TestOverBudgetCodeGoesToOperator: a first code the budget refuses is not
// sent; Begin says so with an error the workflow handles as "no channel"
// (an operator verifies), and the audit trail records why.
func TestOverBudgetCodeGoesToOperator(t *testing.T) {
	t.Parallel()
	f := newRouted(t, notify.BudgetLimits{PerMailbox: 2})
	ctx := context.Background()
	// An attacker's two requests for the owner's address, plus-tagged.
	for i, addr := range []string{"han.mei+1@example.cn", "han.mei+2@example.cn"} {
		id := fmt.Sprintf("r-attack-%d", i)
		f.request(t, id, addr)
		if _, err := f.svc.Begin(ctx, id, "token-"+id); err != nil {
			t.Fatalf("attacker's request %d: %v", i+1, err)
		}
	}
	f.request(t, "r-own", "han.mei@example.cn")
	iss, err := f.svc.Begin(ctx, "r-own", "token-own")
	if !errors.Is(err, notify.ErrOverBudget) || !errors.Is(err, notify.ErrNoChannel) || iss.Sent {
		t.Fatalf("owner's Begin: %+v, %v; want not sent, over budget (no channel)", iss, err)
	}
	if strings.Contains(err.Error(), "han.mei") {
		t.Errorf("error %q names the address", err)
	}
	for _, m := range f.sent(t) {
		if m.request == "r-own" {
			t.Errorf("a %s went out for r-own", m.template)
		}
	}
	evs := f.overBudgetEvents(t, "r-own")
	if len(evs) != 1 || evs[0].Data["template"] != notify.TemplateVerificationCode || evs[0].Data["limit"] != notify.LimitMailbox || evs[0].Data["channel"] != "email" {
		t.Errorf("audit events %s = %+v; want one for the code, limit mailbox", notify.EventOverBudget, evs)
	}
}

// TestResendOverBudgetIsUndone: a resend the budget refuses changes
// nothing: the code the requester holds still works, the resend is not
// counted, and a lock stays; once the budget allows, a resend works.
func TestResendOverBudgetIsUndone(t *testing.T) {
	t.Parallel()
	for _, locked := range []bool{false, true} {
		t.Run(fmt.Sprintf("locked=%v", locked), func(t *testing.T) {
			t.Parallel()
			f := newRouted(t, notify.BudgetLimits{PerMailbox: 2})
			ctx := context.Background()
			f.request(t, "r-own", "wei.wu@example.cn")
			if _, err := f.svc.Begin(ctx, "r-own", "token-own"); err != nil {
				t.Fatal(err)
			}
			code := f.lastCode(t, "r-own")
			// The attacker spends the rest of the mailbox's budget.
			f.request(t, "r-attack", "Wei.Wu+x@example.cn")
			if _, err := f.svc.Begin(ctx, "r-attack", "token-attack"); err != nil {
				t.Fatal(err)
			}
			if locked {
				// The owner's lock notice is over budget: the lock holds,
				// the notice is dropped and recorded.
				for range verification.DefaultMaxAttempts {
					if _, err := f.svc.SubmitCode(ctx, "r-own", statusToken, flip(code)); err != nil {
						t.Fatalf("wrong code: %v", err)
					}
				}
			}
			before, _ := f.svc.Status(ctx, "r-own")
			_, err := f.svc.Resend(ctx, "r-own", statusToken)
			var de *notify.DeliveryError
			if !errors.As(err, &de) || !errors.Is(err, notify.ErrOverBudget) {
				t.Fatalf("Resend: %v; want a delivery error, over budget", err)
			}
			after, _ := f.svc.Status(ctx, "r-own")
			if after != before {
				t.Errorf("status after a refused resend = %+v, want unchanged %+v", after, before)
			}
			wantEvents := 1
			if locked {
				wantEvents = 2
			}
			if evs := f.overBudgetEvents(t, "r-own"); len(evs) != wantEvents {
				t.Errorf("%d %s events, want %d: %+v", len(evs), notify.EventOverBudget, wantEvents, evs)
			}
			if !locked {
				if res, err := f.svc.SubmitCode(ctx, "r-own", statusToken, code); err != nil || res.Outcome != verification.OutcomeVerified {
					t.Fatalf("the held code after a refused resend: %+v, %v; want verified", res, err)
				}
				return
			}
			// The next day the owner asks again and gets a new code.
			f.advance(24 * time.Hour)
			res, err := f.svc.Resend(ctx, "r-own", statusToken)
			if err != nil || res.Outcome != verification.OutcomeResent || res.ResendsLeft != verification.DefaultMaxResends-1 {
				t.Fatalf("resend the next day: %+v, %v; want resent, %d left", res, err, verification.DefaultMaxResends-1)
			}
			if res, err := f.svc.SubmitCode(ctx, "r-own", statusToken, f.lastCode(t, "r-own")); err != nil || res.Outcome != verification.OutcomeVerified {
				t.Errorf("new code: %+v, %v; want verified", res, err)
			}
		})
	}
}

// TestLockNoticeOnce: however often a request's verification locks, its
// contact is told once.
func TestLockNoticeOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "en")
	ctx := context.Background()
	for round := range 3 {
		code := f.out.lastCode(t)
		for range verification.DefaultMaxAttempts {
			if _, err := f.svc.SubmitCode(ctx, "r-1", statusToken, flip(code)); err != nil {
				t.Fatal(err)
			}
		}
		if st, _ := f.svc.Status(ctx, "r-1"); st.State != verification.StateLocked {
			t.Fatalf("round %d: state %s, want locked", round+1, st.State)
		}
		if res, err := f.svc.Resend(ctx, "r-1", statusToken); err != nil || res.Outcome != verification.OutcomeResent {
			t.Fatalf("round %d: resend %+v, %v", round+1, res, err)
		}
	}
	locks := 0
	for _, m := range f.out.msgs {
		if m.Template == notify.TemplateVerificationLocked {
			locks++
		}
	}
	if locks != 1 {
		t.Errorf("%d lock notices for three locks, want 1", locks)
	}
	evs, err := f.st.ListEvents(ctx, "r-1")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Type == "verification_locked" {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d verification_locked events, want 3: every lock is audited", n)
	}
}

// TestAnonymousRequestMessageCount measures how many messages one
// anonymous request can make to an address that never asked: the attacker
// holds the request's status link, so they can enter wrong codes (each
// lock notifies) and ask for every resend; after seven days the request
// expires and the workflow sends the expiry notice (sent here as the
// workflow does). Before the budget it was 8 in a few seconds (4 codes and
// 4 lock notices) and 9 with the expiry notice.
func TestAnonymousRequestMessageCount(t *testing.T) {
	t.Parallel()
	for _, spread := range []bool{false, true} {
		t.Run(fmt.Sprintf("spread over days=%v", spread), func(t *testing.T) {
			t.Parallel()
			f := newRouted(t, notify.BudgetLimits{})
			ctx := context.Background()
			const stranger = "stranger@example.cn"
			f.request(t, "r-anon", stranger)
			if _, err := f.svc.Begin(ctx, "r-anon", "token-anon"); err != nil {
				t.Fatal(err)
			}
			for round := 0; round < 20; round++ {
				for range verification.DefaultMaxAttempts {
					if _, err := f.svc.SubmitCode(ctx, "r-anon", statusToken, "000000"); err != nil {
						t.Fatalf("wrong code: %v", err)
					}
				}
				if spread {
					f.advance(24 * time.Hour)
				}
				res, err := f.svc.Resend(ctx, "r-anon", statusToken)
				if errors.Is(err, notify.ErrOverBudget) {
					continue
				}
				if err != nil {
					t.Fatalf("resend: %v", err)
				}
				if res.Outcome == verification.OutcomeResendLimit {
					break
				}
			}
			sameDay := len(f.sent(t))
			f.advance(7 * 24 * time.Hour)
			if _, err := f.router.Send(ctx, notify.Expired("r-anon", dsr.Contact{Email: stranger}, dsr.LocaleEn, 7, notify.Contact{})); err != nil && !errors.Is(err, notify.ErrOverBudget) {
				t.Fatal(err)
			}
			msgs := f.sent(t)
			perDay := map[string]int{}
			for _, m := range msgs {
				if m.to != stranger {
					t.Errorf("message to %s", m.to)
				}
				perDay[m.template]++
			}
			t.Logf("one anonymous request made %d messages to a stranger (%d before expiry): %v", len(msgs), sameDay, perDay)
			if len(msgs) > 6 || perDay[notify.TemplateVerificationLocked] > 1 || perDay[notify.TemplateVerificationCode] > 1+verification.DefaultMaxResends {
				t.Errorf("%d messages %v; want at most 6: 4 codes, 1 lock notice, 1 expiry notice", len(msgs), perDay)
			}
			if !spread && sameDay > notify.DefaultBudgetPerMailbox {
				t.Errorf("%d messages within one day, want at most %d", sameDay, notify.DefaultBudgetPerMailbox)
			}
		})
	}
}
