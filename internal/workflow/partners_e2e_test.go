package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"dsrflow/internal/dev/asl"
	"dsrflow/internal/dev/partnersim"
	"dsrflow/internal/dsr"
	"dsrflow/internal/legalhold"
	"dsrflow/internal/notify"
	"dsrflow/internal/partner"
	"dsrflow/internal/partner/certificate"
	"dsrflow/internal/store"
)

// standardFleet: the account system (sync), an async partner with a
// retention exception whose backups rotate later than configured (so the
// backup confirmation is retried daily), an async analytics partner, a
// slow partner that fails twice then recovers, and one that always fails.
func standardFleet() []simSpec {
	return []simSpec{
		{id: "account", mode: partner.ModeSync, actions: allActions, purposes: []string{dsr.PurposePartnerSharing}},
		{id: "voice", mode: partner.ModeAsync, b: partnersim.Behavior{CallbackDelay: 20 * time.Millisecond, BackupRetention: 40 * 24 * time.Hour},
			exceptions: []partner.RetentionException{{Code: "contracts", Text: dsr.Text{ZhCN: "授权合同依法保存五年。", En: "Licensing contracts are kept for five years by law."}, Period: partner.Duration(5 * 365 * 24 * time.Hour)}}},
		{id: "analytics", mode: partner.ModeAsync, actions: []partner.Action{partner.ActionErase, partner.ActionExport, partner.ActionWithdrawConsent}, purposes: []string{dsr.PurposeAnalytics}, b: partnersim.Behavior{CallbackDelay: 10 * time.Millisecond}},
		{id: "flaky", mode: partner.ModeSync, actions: []partner.Action{partner.ActionErase, partner.ActionExport}, b: partnersim.Behavior{Latency: 30 * time.Millisecond, FailFirst: 2}},
		{id: "broken", mode: partner.ModeSync, b: partnersim.Behavior{Permanent: 503}},
	}
}

// TestPartnersEveryKind runs every request kind end to end with simulated
// partners that are sync, async, slow, failing then recovering, and
// permanently failing: every request completes and replies; the broken
// partner is escalated and named in the reply.
func TestPartnersEveryKind(t *testing.T) {
	t.Parallel()
	e, f := newPartnerEnv(t, nil, nil, standardFleet()...)
	want := map[dsr.Kind]map[string]store.PartnerStatus{
		dsr.KindAccess:            {"account": "completed", "voice": "completed", "analytics": "completed", "flaky": "completed", "broken": "escalated"},
		dsr.KindPortability:       {"account": "completed", "voice": "completed", "analytics": "completed", "flaky": "completed", "broken": "escalated"},
		dsr.KindCorrection:        {"account": "completed", "voice": "completed", "broken": "escalated"},
		dsr.KindConsentWithdrawal: {"analytics": "completed"},
		dsr.KindErasure:           {"account": "completed", "voice": "completed", "analytics": "completed", "flaky": "completed", "broken": "escalated"},
		dsr.KindAccountClosure:    {"account": "completed", "voice": "completed", "analytics": "completed", "flaky": "completed", "broken": "escalated"},
	}
	for i, kind := range dsr.Kinds() {
		t.Run(string(kind), func(t *testing.T) {
			e.t = t
			l := dsr.LocaleZhCN
			if i%2 == 1 {
				l = dsr.LocaleEn
			}
			v := submission(kind, dsr.RoleSelf, l)
			v.Email = fmt.Sprintf("p%d.%s", i, piiEmail)
			v.Phone = fmt.Sprintf("+86139123456%02d", i)
			id, token := e.submit(v, "partners-"+string(kind))
			e.verify(id, token)
			d := e.done(id)
			if d.Status != sfntypes.ExecutionStatusSucceeded || e.finalState(id) != "Completed" {
				t.Fatalf("execution ended %s in %s, want SUCCEEDED in Completed\n%s", d.Status, e.finalState(id), e.describeHistory(id))
			}
			tasks := e.tasks(id)
			got := map[string]store.PartnerStatus{}
			for pid, tk := range tasks {
				got[pid] = tk.Status
			}
			if fmt.Sprint(got) != fmt.Sprint(want[kind]) {
				t.Errorf("partner statuses = %v, want %v", got, want[kind])
			}
			if b, ok := tasks["broken"]; ok && b.LastError != "http_503" {
				t.Errorf("broken partner's error = %q, want http_503", b.LastError)
			}
			for pid, n := range f.calls(id) {
				if pid != "broken" && pid != "flaky" && n != 1 {
					t.Errorf("partner %s received %d requests, want 1", pid, n)
				}
			}
			// The flaky partner fails its first two calls (the first request's).
			if fl, ok := tasks["flaky"]; ok {
				wantAttempts := 1
				if i == 0 {
					wantAttempts = 3
				}
				if fl.Attempts != wantAttempts {
					t.Errorf("flaky partner was called %d times, want %d", fl.Attempts, wantAttempts)
				}
			}
			replies := e.mailsOf(id, notify.TemplateReply)
			if len(replies) != 1 {
				t.Fatalf("got %d replies, want 1", len(replies))
			}
			text := replies[0].text
			for pid, st := range want[kind] {
				name := e.h.partnerName(pid, l)
				if !strings.Contains(text, name) {
					t.Errorf("reply does not name partner %s (%s):\n%s", pid, st, text)
				}
			}
			if want[kind]["broken"] == "escalated" && !strings.Contains(text, "http_503") {
				t.Errorf("reply does not say why the broken partner failed:\n%s", text)
			}
			if want[kind]["voice"] == "completed" && !strings.Contains(text, dsr.Text{ZhCN: "授权合同依法保存五年。", En: "Licensing contracts are kept for five years by law."}.In(l)) {
				t.Errorf("reply does not state the voice partner's retention exception:\n%s", text)
			}
			hist := historyText(e, id)
			switch kind {
			case dsr.KindAccess, dsr.KindPortability:
				if !strings.Contains(text, "X-Amz-Signature") || !strings.Contains(text, exportBucket) {
					t.Errorf("reply has no presigned export link:\n%s", text)
				}
				if strings.Contains(hist, "X-Amz-Signature") || strings.Contains(hist, "https://") && strings.Contains(hist, exportBucket+"/") {
					t.Errorf("the export link is in the execution history")
				}
			case dsr.KindCorrection, dsr.KindConsentWithdrawal:
				if !strings.Contains(text, "profile") {
					t.Errorf("reply does not list what changed:\n%s", text)
				}
			case dsr.KindErasure, dsr.KindAccountClosure:
				e.checkCertificate(id, []string{"account", "analytics", "flaky", "voice"})
				if n := len(e.mailsOf(id, TemplateFinalConfirmation)); n != 1 {
					t.Errorf("%d final confirmations, want 1", n)
				}
				if !strings.Contains(hist, `"BackupsNotYetRotated"`) {
					t.Errorf("the backup confirmation was never retried (voice keeps backups 40 days)")
				}
			}
			if kind == dsr.KindConsentWithdrawal {
				// Exactly the partners concerned: only analytics serves the withdrawn purpose.
				for pid, n := range f.calls(id) {
					if pid != "analytics" && n > 0 {
						t.Errorf("partner %s not concerned by analytics received %d requests", pid, n)
					}
				}
			}
			e.chainOK(id)
			e.scanPII(id)
		})
	}
}

// historyText is the whole execution history as JSON.
func historyText(e *env, id string) string {
	b, _ := json.Marshal(e.history(id))
	return string(b)
}

// checkCertificate checks the erasure's deletion certificate: every
// completed partner's receipt, a backup confirmation for each, the audit
// head, and that it verifies against the chain (and no longer does once
// the chain is altered... see TestCertificateTamper).
func (e *env) checkCertificate(id string, completed []string) certificate.Certificate {
	e.t.Helper()
	c, err := LoadCertificate(e.ctx, e.h.DB, e.table, id)
	if err != nil {
		e.t.Fatalf("LoadCertificate: %v", err)
	}
	if err := VerifyCertificate(e.ctx, e.st, e.h.DB.(Querier), e.table, c); err != nil {
		e.t.Errorf("certificate does not verify: %v", err)
	}
	var receipts, backups []string
	for _, p := range c.Partners {
		if p.Status == store.PartnerCompleted && p.Receipt != "" {
			receipts = append(receipts, p.ID)
		}
	}
	for _, b := range c.Backups {
		backups = append(backups, b.System)
	}
	slices.Sort(receipts)
	slices.Sort(backups)
	if !slices.Equal(receipts, completed) || !slices.Equal(backups, completed) {
		e.t.Errorf("certificate receipts %v, backups %v; want %v for both", receipts, backups, completed)
	}
	r := e.request(id)
	if r.Status != dsr.StatusCompleted {
		e.t.Errorf("status %s, want completed", r.Status)
	}
	return c
}

// TestAccountClosureRefusedForObligations: the account system reports
// outstanding obligations; the requester is refused with each explained in
// their language, and no partner is asked to delete anything.
func TestAccountClosureRefusedForObligations(t *testing.T) {
	t.Parallel()
	specs := standardFleet()[:2]
	specs[0].b.Obligations = []partner.Obligation{{Code: partner.ObligationUnpaidSubscription}, {Code: partner.ObligationUnusedBalance}}
	e, f := newPartnerEnv(t, nil, nil, specs...)
	for _, l := range []dsr.Locale{dsr.LocaleZhCN, dsr.LocaleEn} {
		v := submission(dsr.KindAccountClosure, dsr.RoleSelf, l)
		v.Email = string(l) + "." + piiEmail
		v.Phone = ""
		id, token := e.submit(v, "closure-"+string(l))
		e.verify(id, token)
		e.done(id)
		if got := e.finalState(id); got != "Refused" {
			t.Fatalf("%s: final state %s, want Refused", l, got)
		}
		r := e.request(id)
		if r.Status != dsr.StatusRefused || r.RefusalReason != dsr.RefusalOutstandingObligations {
			t.Errorf("%s: status %s reason %s, want refused outstanding_obligations", l, r.Status, r.RefusalReason)
		}
		ms := e.mailsOf(id, notify.TemplateRefused)
		if len(ms) != 1 {
			t.Fatalf("%s: %d refusals, want 1", l, len(ms))
		}
		for _, code := range []string{partner.ObligationUnpaidSubscription, partner.ObligationUnusedBalance} {
			if !strings.Contains(ms[0].text, partner.ObligationText(code, l)) {
				t.Errorf("%s: refusal does not explain %s:\n%s", l, code, ms[0].text)
			}
		}
		if n := len(f.calls(id)); n != 0 {
			t.Errorf("%s: %d partners received a request, want none", l, n)
		}
		if len(e.tasks(id)) != 0 {
			t.Errorf("%s: partner tasks were planned for a refused closure", l)
		}
	}
}

// TestFanOutResumesWithoutResending: a Lambda error stops the fan-out
// midway (the Escalate function fails once, so the Map and the execution
// fail); the reconciler's restart (<id>-r1) resumes the fan-out, and no
// partner that already answered receives the request again.
func TestFanOutResumesWithoutResending(t *testing.T) {
	t.Parallel()
	failed := false
	wrap := func(name string, hd lambda.Handler) lambda.Handler {
		if name != "partner-escalate" {
			return hd
		}
		return handlerFunc(func(ctx context.Context, payload []byte) ([]byte, error) {
			if !failed {
				failed = true
				return nil, &asl.TaskFailure{Name: "Lambda.Unknown", Cause: "the function crashed"}
			}
			return hd.Invoke(ctx, payload)
		})
	}
	e, f := newPartnerEnv(t, nil, wrap,
		simSpec{id: "a", mode: partner.ModeSync},
		simSpec{id: "b", mode: partner.ModeAsync, b: partnersim.Behavior{CallbackDelay: 5 * time.Millisecond}},
		simSpec{id: "c", mode: partner.ModeSync, b: partnersim.Behavior{Permanent: 400, Latency: 300 * time.Millisecond}},
		simSpec{id: "d", mode: partner.ModeSync},
	)
	id, token := e.submit(submission(dsr.KindAccess, dsr.RoleSelf, dsr.LocaleZhCN), "resume")
	e.verify(id, token)
	if d := e.done(id); d.Status != sfntypes.ExecutionStatusFailed {
		t.Fatalf("first execution %s, want FAILED (the fan-out stopped)", d.Status)
	}
	before := f.calls(id)
	confirmed := 0
	for p, tk := range e.tasks(id) {
		if tk.Status == store.PartnerCompleted {
			confirmed++
			if before[p] != 1 {
				t.Errorf("partner %s confirmed after %d requests, want 1", p, before[p])
			}
		}
	}
	if confirmed < 2 {
		t.Fatalf("only %d partners confirmed before the fan-out stopped; the test needs some", confirmed)
	}
	// The reconciler's restart.
	in := fmt.Sprintf(`{"requestId":%q}`, id)
	if _, err := e.sfn.StartExecution(e.ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(e.smArn), Name: aws.String(id + "-r1"), Input: aws.String(in)}); err != nil {
		t.Fatal(err)
	}
	if d := e.done(id + "-r1"); d.Status != sfntypes.ExecutionStatusSucceeded || e.finalState(id+"-r1") != "Completed" {
		t.Fatalf("restart ended %s in %s\n%s", d.Status, e.finalState(id+"-r1"), e.describeHistory(id+"-r1"))
	}
	after := f.calls(id)
	for p, n := range after {
		if n != 1 {
			t.Errorf("partner %s received %d requests in all, want 1", p, n)
		}
	}
	if n := len(e.mailsOf(id, notify.TemplateReply)); n != 1 {
		t.Errorf("%d replies, want 1", n)
	}
	if st := e.tasks(id)["c"].Status; st != store.PartnerFailed && st != store.PartnerEscalated {
		t.Errorf("partner c is %s, want failed or escalated", st)
	}
}

// handlerFunc adapts a function to lambda.Handler.
type handlerFunc func(ctx context.Context, payload []byte) ([]byte, error)

func (f handlerFunc) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return f(ctx, payload)
}

// TestRedeliveredCallbackChangesNothing: an async partner's callback
// delivered twice is recorded once; the second delivery changes neither
// the partner task nor the audit trail nor the execution.
func TestRedeliveredCallbackChangesNothing(t *testing.T) {
	t.Parallel()
	e, f := newPartnerEnv(t, nil, nil,
		simSpec{id: "account", mode: partner.ModeSync},
		simSpec{id: "voice", mode: partner.ModeAsync, b: partnersim.Behavior{ManualCallback: true}},
	)
	id, token := e.submit(submission(dsr.KindAccess, dsr.RoleSelf, dsr.LocaleEn), "redeliver")
	e.verify(id, token)
	e.eventually("voice to wait for its callback", func() bool {
		tk := e.tasks(id)["voice"]
		return tk.Status == store.PartnerAwaitingCallback && tk.TaskToken != ""
	})
	voice := f.sims["voice"]
	if err := voice.Complete(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	e.done(id)
	task1, events1 := e.tasks(id)["voice"], e.events(id)
	if err := voice.Complete(context.Background(), id); err != nil {
		t.Fatalf("redelivery: %v", err)
	}
	task2, events2 := e.tasks(id)["voice"], e.events(id)
	if task1.Version != task2.Version || task2.Status != store.PartnerCompleted || task1.Receipt != task2.Receipt {
		t.Errorf("redelivery changed the task: %+v → %+v", task1, task2)
	}
	if !slices.Equal(events1, events2) {
		t.Errorf("redelivery changed the audit trail: %v → %v", events1, events2)
	}
	cbs := voice.Callbacks()
	if len(cbs) != 2 || cbs[0].Status != 200 || cbs[1].Status != 200 {
		t.Errorf("callbacks %+v, want two answered 200", cbs)
	}
	if e.finalState(id) != "Completed" {
		t.Errorf("final state %s", e.finalState(id))
	}
}

// TestErasureWaitsForBackupsAndCertifies: the erasure waits on the virtual
// clock until purgeAfter (deletion + the longest backup retention, here
// 50 days), confirms the backups, and issues a certificate that verifies
// against the audit chain, and stops verifying once an event is altered.
func TestErasureWaitsForBackupsAndCertifies(t *testing.T) {
	t.Parallel()
	e, _ := newPartnerEnv(t, nil, nil,
		simSpec{id: "account", mode: partner.ModeSync},
		simSpec{id: "voice", mode: partner.ModeAsync, retention: 50 * 24 * time.Hour, b: partnersim.Behavior{CallbackDelay: 5 * time.Millisecond, BackupRetention: 50 * 24 * time.Hour}},
	)
	id, token := e.submit(submission(dsr.KindErasure, dsr.RoleSelf, dsr.LocaleZhCN), "erasure-wait")
	e.verify(id, token)
	e.done(id)
	var reply ReplyOutput
	var waitedUntil time.Time
	for _, ev := range e.history(id) {
		if d := ev.StateExitedEventDetails; d != nil && aws.ToString(d.Name) == "Reply" {
			var out struct {
				Reply ReplyOutput `json:"reply"`
			}
			_ = json.Unmarshal([]byte(aws.ToString(d.Output)), &out)
			reply = out.Reply
		}
		if d := ev.StateExitedEventDetails; d != nil && aws.ToString(d.Name) == "WaitForBackupRotation" {
			waitedUntil = aws.ToTime(ev.Timestamp)
		}
	}
	tasks := e.tasks(id)
	last := *tasks["account"].CompletedAt
	if tasks["voice"].CompletedAt.After(last) {
		last = *tasks["voice"].CompletedAt
	}
	wantPurge := last.Add(50 * 24 * time.Hour).Truncate(time.Second)
	if reply.PurgeAfter == nil || !reply.PurgeAfter.Equal(wantPurge) {
		t.Fatalf("purgeAfter = %v, want %s (last deletion + 50 days)", reply.PurgeAfter, wantPurge)
	}
	if waitedUntil.Before(wantPurge) {
		t.Errorf("the wait ended at %s, before purgeAfter %s", waitedUntil, wantPurge)
	}
	c := e.checkCertificate(id, []string{"account", "voice"})
	if c.AuditHeadSeq == 0 || c.AuditHeadHash == "" {
		t.Errorf("certificate quotes no audit head: %+v", c)
	}
	reply1 := e.mailsOf(id, notify.TemplateReply)[0].text
	if !strings.Contains(reply1, wantPurge.In(time.FixedZone("CST", 8*3600)).Format("2006-01-02")) {
		t.Errorf("reply does not give the backup rotation date %s:\n%s", wantPurge, reply1)
	}
	// Altering the certificate or the chain breaks verification.
	forged := c
	forged.Partners = append([]certificate.Partner(nil), c.Partners...)
	forged.Partners[0].Receipt = "forged"
	if err := VerifyCertificate(e.ctx, e.st, e.h.DB.(Querier), e.table, forged); !errors.Is(err, certificate.ErrDigest) {
		t.Errorf("forged certificate: err = %v, want ErrDigest", err)
	}
}

// TestLegalHoldDefersPartnerErasure: a legal hold that defers erasure
// keeps the fan-out from asking any partner to delete; the reply says so.
func TestLegalHoldDefersPartnerErasure(t *testing.T) {
	t.Parallel()
	e, f := newPartnerEnv(t, nil, nil, standardFleet()[:2]...)
	key := dsr.SubjectKey(subjectSecret, dsr.IdentifierEmail, piiEmail)
	if err := e.holds.Put(e.ctx, legalhold.Hold{SubjectKey: key, Action: legalhold.ActionDeferErasure, CreatedAt: t0, CreatedBy: "ops"}); err != nil {
		t.Fatal(err)
	}
	id, token := e.submit(submission(dsr.KindErasure, dsr.RoleSelf, dsr.LocaleEn), "defer-partners")
	e.verify(id, token)
	if d := e.done(id); d.Status != sfntypes.ExecutionStatusSucceeded || e.finalState(id) != "Completed" {
		t.Fatalf("execution ended %s in %s", d.Status, e.finalState(id))
	}
	if n := len(f.calls(id)); n != 0 {
		t.Errorf("%d partners were asked to delete under a legal hold, want 0", n)
	}
	if !slices.Contains(e.events(id), "fanout.deferred") {
		t.Errorf("no fanout.deferred event in %v", e.events(id))
	}
	if _, err := LoadCertificate(e.ctx, e.h.DB, e.table, id); !errors.Is(err, ErrNoCertificate) {
		t.Errorf("a deferred erasure has a deletion certificate (err %v)", err)
	}
}

// TestSlowPartnerMissesDeadline: an async partner that does not call back
// within its deadline is escalated (deadline_passed) and the request
// replies without it; its late callback is still recorded, as late.
func TestSlowPartnerMissesDeadline(t *testing.T) {
	t.Parallel()
	e, f := newPartnerEnv(t, nil, nil,
		simSpec{id: "account", mode: partner.ModeSync},
		simSpec{id: "slow", mode: partner.ModeAsync, b: partnersim.Behavior{ManualCallback: true}},
	)
	id, token := e.submit(submission(dsr.KindCorrection, dsr.RoleSelf, dsr.LocaleZhCN), "slow")
	e.verify(id, token)
	e.eventually("slow to wait for its callback", func() bool {
		tk := e.tasks(id)["slow"]
		return tk.Status == store.PartnerAwaitingCallback && tk.TaskToken != ""
	})
	e.waitTask(id, "AwaitCallback")
	e.clock.Advance(2 * time.Hour) // past the partner's 1-hour deadline
	e.done(id)
	if got := e.finalState(id); got != "Completed" {
		t.Fatalf("final state %s, want Completed", got)
	}
	tk := e.tasks(id)["slow"]
	if tk.Status != store.PartnerEscalated || tk.LastError != "deadline_passed" {
		t.Fatalf("slow partner %s (%s), want escalated (deadline_passed)", tk.Status, tk.LastError)
	}
	reply := e.mailsOf(id, notify.TemplateReply)[0].text
	if !strings.Contains(reply, "deadline_passed") || !strings.Contains(reply, e.h.partnerName("slow", dsr.LocaleZhCN)) {
		t.Errorf("reply does not say the slow partner missed its deadline:\n%s", reply)
	}
	if err := f.sims["slow"].Complete(context.Background(), id); err != nil {
		t.Fatalf("late callback: %v", err)
	}
	if tk := e.tasks(id)["slow"]; tk.Status != store.PartnerCompleted || !tk.Late {
		t.Errorf("after the late callback: %s late=%v, want completed, late", tk.Status, tk.Late)
	}
}
