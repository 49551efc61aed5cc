package workflow

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"dsrflow/internal/dsr"
	"dsrflow/internal/legalhold"
	"dsrflow/internal/notify"
	"dsrflow/internal/operator"
	"dsrflow/internal/verification"
	"dsrflow/internal/workday"
)

// TestEveryKindCompletes runs a request of every kind through the whole
// workflow: code by email, review, reply, (erasure: backup wait), completed.
func TestEveryKindCompletes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for i, kind := range dsr.Kinds() {
		t.Run(string(kind), func(t *testing.T) {
			e.t = t
			l := dsr.LocaleZhCN
			if i%2 == 1 {
				l = dsr.LocaleEn
			}
			v := submission(kind, dsr.RoleSelf, l)
			// Different subjects: the same subject would be a repeat.
			if i > 0 {
				v.Email = fmt.Sprintf("kind%d.%s", i, piiEmail)
				v.Phone = fmt.Sprintf("+86139123457%02d", i)
			}
			id, token := e.submit(v, "kind-"+string(kind))
			e.verify(id, token)
			d := e.done(id)
			if d.Status != sfntypes.ExecutionStatusSucceeded || e.finalState(id) != "Completed" {
				t.Fatalf("execution %s ended %s in %s, want SUCCEEDED in Completed", id, d.Status, e.finalState(id))
			}
			r := e.request(id)
			if r.Status != dsr.StatusCompleted {
				t.Errorf("status = %s, want completed", r.Status)
			}
			if r.VerifiedAt == nil || r.DueAt == nil {
				t.Fatalf("verifiedAt %v, dueAt %v: want both set", r.VerifiedAt, r.DueAt)
			}
			wantDue, _ := workday.DueAt(mustRule(t), *r.VerifiedAt)
			if !r.DueAt.Equal(wantDue) {
				t.Errorf("dueAt = %s, want %s (15 Chinese working days after %s)", r.DueAt, wantDue, r.VerifiedAt)
			}
			replies := e.mailsOf(id, notify.TemplateReply)
			if len(replies) != 1 {
				t.Fatalf("got %d replies, want 1", len(replies))
			}
			reply := replies[0].text
			backupLine := map[dsr.Locale]string{dsr.LocaleZhCN: "完成轮换", dsr.LocaleEn: "rotated out by"}[l]
			if got := strings.Contains(reply, backupLine); got != kind.ErasesData() {
				t.Errorf("reply mentions backup rotation = %v, want %v:\n%s", got, kind.ErasesData(), reply)
			}
			if kind.ErasesData() {
				exc := map[dsr.Locale]string{dsr.LocaleZhCN: "网络日志", dsr.LocaleEn: "Network access logs"}[l]
				if !strings.Contains(reply, exc) {
					t.Errorf("erasure reply does not state the retention exception %q:\n%s", exc, reply)
				}
			}
			if !strings.Contains(replies[0].subject, id) {
				t.Errorf("reply subject %q does not name the request", replies[0].subject)
			}
			wantEvents := []string{"received", "admitted", "verification_code_sent", "identity_verified", "reviewed", "processing_started", "notice_sent", "replied", "completed"}
			if got := e.events(id); !subsequence(wantEvents, got) {
				t.Errorf("audit events %v do not contain %v in order", got, wantEvents)
			}
			e.chainOK(id)
			e.scanPII(id)
		})
	}
}

func mustRule(t *testing.T) workday.Rule {
	r, err := workday.RuleFor(workday.CN)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// subsequence reports whether want appears in got in order (not
// necessarily adjacent).
func subsequence(want, got []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

// TestExpired: no code within 7 days; the request expires with a notice,
// and a code entered afterwards changes nothing.
func TestExpired(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	id, token := e.submit(submission(dsr.KindAccess, dsr.RoleSelf, dsr.LocaleEn), "expire")
	code := e.code(id, 1)
	e.waitTask(id, "VerifyIdentity")
	e.clock.Advance(7*24*time.Hour + time.Second)
	d := e.done(id)
	if d.Status != sfntypes.ExecutionStatusSucceeded || e.finalState(id) != "Expired" {
		t.Fatalf("execution ended %s in %s, want SUCCEEDED in Expired", d.Status, e.finalState(id))
	}
	if r := e.request(id); r.Status != dsr.StatusExpired {
		t.Errorf("status = %s, want expired", r.Status)
	}
	notices := e.mailsOf(id, notify.TemplateExpired)
	if len(notices) != 1 || !strings.Contains(notices[0].text, "within 7 days") {
		t.Fatalf("expiry notices: %+v, want one saying 'within 7 days'", notices)
	}
	res, err := e.ver.SubmitCode(e.ctx, id, token, code)
	if err != nil || res.Outcome != verification.OutcomeNotWaiting {
		t.Errorf("code after expiry: %+v, %v; want not_waiting", res, err)
	}
	if r := e.request(id); r.Status != dsr.StatusExpired {
		t.Errorf("status after late code = %s, want expired", r.Status)
	}
	e.chainOK(id)
	e.scanPII(id)
}

// seedOpen writes a verified request of the subject that is being processed
// (no execution: it stands for one whose workflow is further along).
func (e *env) seedOpen(id string, kind dsr.Kind, email string, created time.Time, status dsr.Status) {
	e.t.Helper()
	key := dsr.SubjectKey(subjectSecret, dsr.IdentifierEmail, email)
	verified := created.Add(time.Hour)
	r := &dsr.Request{ID: id, Kind: kind, Status: status, Channel: dsr.ChannelWeb, Role: dsr.RoleSelf, Locale: "zh-CN",
		SubjectKeys: []string{key}, Contact: dsr.Contact{Email: email}, CreatedAt: created, VerifiedAt: &verified}
	if _, _, err := e.st.CreateRequest(e.ctx, r); err != nil {
		e.t.Fatal(err)
	}
}

// TestDuplicate: the same subject and kind already open → duplicate, linked,
// and the requester is told.
func TestDuplicate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.seedOpen("r-open-erasure", dsr.KindErasure, piiEmail, t0.Add(-48*time.Hour), dsr.StatusInProgress)
	id, token := e.submit(submission(dsr.KindErasure, dsr.RoleSelf, dsr.LocaleZhCN), "dup")
	e.verify(id, token)
	d := e.done(id)
	if d.Status != sfntypes.ExecutionStatusSucceeded || e.finalState(id) != "Duplicate" {
		t.Fatalf("execution ended %s in %s, want SUCCEEDED in Duplicate", d.Status, e.finalState(id))
	}
	r := e.request(id)
	if r.Status != dsr.StatusDuplicate || r.LinkedRequestID != "r-open-erasure" || r.RefusalReason != dsr.RefusalDuplicate {
		t.Errorf("request: status %s, linked %q, reason %q; want duplicate, r-open-erasure, duplicate", r.Status, r.LinkedRequestID, r.RefusalReason)
	}
	notices := e.mailsOf(id, notify.TemplateDuplicate)
	if len(notices) != 1 || !strings.Contains(notices[0].text, "r-open-erasure") {
		t.Fatalf("duplicate notices %+v: want one naming r-open-erasure", notices)
	}
	if len(e.mailsOf(id, notify.TemplateReply)) != 0 {
		t.Error("a duplicate got a reply")
	}
	e.chainOK(id)
	e.scanPII(id)
}

// TestLegalHoldRefuses: a refusing legal hold → refused with the reason,
// told in the requester's language.
func TestLegalHoldRefuses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	key := dsr.SubjectKey(subjectSecret, dsr.IdentifierEmail, piiEmail)
	if err := e.holds.Put(e.ctx, legalhold.Hold{SubjectKey: key, Action: legalhold.ActionRefuse, Reason: dsr.RefusalCriminalProceedings, Reference: "case-17", CreatedAt: t0, CreatedBy: "ops"}); err != nil {
		t.Fatal(err)
	}
	id, token := e.submit(submission(dsr.KindErasure, dsr.RoleSelf, dsr.LocaleZhCN), "hold")
	e.verify(id, token)
	d := e.done(id)
	if d.Status != sfntypes.ExecutionStatusSucceeded || e.finalState(id) != "Refused" {
		t.Fatalf("execution ended %s in %s, want SUCCEEDED in Refused", d.Status, e.finalState(id))
	}
	r := e.request(id)
	if r.Status != dsr.StatusRefused || r.RefusalReason != dsr.RefusalCriminalProceedings {
		t.Errorf("status %s reason %s, want refused criminal_proceedings", r.Status, r.RefusalReason)
	}
	notices := e.mailsOf(id, notify.TemplateRefused)
	if len(notices) != 1 {
		t.Fatalf("got %d refusal notices, want 1", len(notices))
	}
	if want := dsr.RefusalCriminalProceedings.Text(dsr.LocaleZhCN); !strings.Contains(notices[0].text, want) {
		t.Errorf("refusal notice lacks the reason %q:\n%s", want, notices[0].text)
	}
	e.chainOK(id)
	e.scanPII(id)
}

// TestLegalHoldDefersErasure: a deferring hold lets the request through but
// the reply says erasure is deferred, and there is no backup wait.
func TestLegalHoldDefersErasure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	key := dsr.SubjectKey(subjectSecret, dsr.IdentifierEmail, piiEmail)
	if err := e.holds.Put(e.ctx, legalhold.Hold{SubjectKey: key, Action: legalhold.ActionDeferErasure, CreatedAt: t0, CreatedBy: "ops"}); err != nil {
		t.Fatal(err)
	}
	id, token := e.submit(submission(dsr.KindErasure, dsr.RoleSelf, dsr.LocaleEn), "defer")
	e.verify(id, token)
	if d := e.done(id); d.Status != sfntypes.ExecutionStatusSucceeded || e.finalState(id) != "Completed" {
		t.Fatalf("execution ended %s in %s, want SUCCEEDED in Completed", d.Status, e.finalState(id))
	}
	replies := e.mailsOf(id, notify.TemplateReply)
	if len(replies) != 1 || !strings.Contains(replies[0].text, "Erasure is deferred: "+dsr.RefusalLegalHold.Text(dsr.LocaleEn)) {
		t.Fatalf("reply %+v: want one saying erasure is deferred with the legal-hold reason", replies)
	}
	for _, ev := range e.history(id) {
		if ev.StateEnteredEventDetails != nil && aws.ToString(ev.StateEnteredEventDetails.Name) == "WaitForBackupRotation" {
			t.Error("a deferred erasure waited for backup rotation")
		}
	}
}

// TestManualVerification: a guardian's request is verified by hand; approve
// goes on to completion, refuse ends refused with the reason.
func TestManualVerification(t *testing.T) {
	t.Parallel()
	for _, approve := range []bool{true, false} {
		t.Run(fmt.Sprint("approve=", approve), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			id, token := e.submit(submission(dsr.KindAccess, dsr.RoleGuardian, dsr.LocaleZhCN), "guardian")
			d := operator.Decision{RequestID: id, Stage: operator.StageVerification, Approve: approve, Actor: "li", Note: "birth certificate checked"}
			if !approve {
				d.Reason, d.Note = dsr.RefusalAuthorityNotProven, ""
			}
			e.decide(d)
			wantState, wantStatus := "Completed", dsr.StatusCompleted
			if !approve {
				wantState, wantStatus = "Refused", dsr.StatusRefused
			}
			if x := e.done(id); x.Status != sfntypes.ExecutionStatusSucceeded || e.finalState(id) != wantState {
				t.Fatalf("execution ended %s in %s, want SUCCEEDED in %s", x.Status, e.finalState(id), wantState)
			}
			r := e.request(id)
			if r.Status != wantStatus {
				t.Errorf("status %s, want %s", r.Status, wantStatus)
			}
			if len(e.mailsOf(id, notify.TemplateVerificationCode)) != 0 {
				t.Error("a code was sent for a manual verification")
			}
			if !approve {
				if r.RefusalReason != dsr.RefusalAuthorityNotProven {
					t.Errorf("reason %s, want authority_not_proven", r.RefusalReason)
				}
				if n := e.mailsOf(id, notify.TemplateRefused); len(n) != 1 || !strings.Contains(n[0].text, dsr.RefusalAuthorityNotProven.Text(dsr.LocaleZhCN)) {
					t.Errorf("refusal notices %+v: want one with the reason", n)
				}
			}
			// Deciding twice changes nothing.
			if err := e.ops.Decide(e.ctx, d); !errors.Is(err, operator.ErrAlreadyDecided) {
				t.Errorf("second decision: %v, want ErrAlreadyDecided", err)
			}
			// A code submitted on the page does nothing either.
			if res, err := e.ver.SubmitCode(e.ctx, id, token, "123456"); err != nil || res.Outcome != verification.OutcomeNotWaiting {
				t.Errorf("code on a manual request: %+v, %v; want not_waiting", res, err)
			}
			e.chainOK(id)
			e.scanPII(id)
		})
	}
}

// TestRepeatRequestsGoToManualReview: beyond the repeat limit in 12 months
// an operator decides; a refusal carries groundless_repetition.
func TestRepeatRequestsGoToManualReview(t *testing.T) {
	t.Parallel()
	for _, approve := range []bool{true, false} {
		t.Run(fmt.Sprint("approve=", approve), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, func(p *Policy) { p.RepeatLimit = 2 })
			// Two earlier requests this year (completed), one 13 months ago.
			e.seedOpen("r-old-1", dsr.KindAccess, piiEmail, t0.Add(-60*24*time.Hour), dsr.StatusCompleted)
			e.seedOpen("r-old-2", dsr.KindCorrection, piiEmail, t0.Add(-30*24*time.Hour), dsr.StatusCompleted)
			e.seedOpen("r-ancient", dsr.KindAccess, piiEmail, t0.Add(-400*24*time.Hour), dsr.StatusCompleted)
			id, token := e.submit(submission(dsr.KindAccess, dsr.RoleSelf, dsr.LocaleEn), "repeat")
			e.verify(id, token)
			d := operator.Decision{RequestID: id, Stage: operator.StageReview, Approve: approve, Actor: "wang", Note: "fee paid"}
			if !approve {
				d.Reason, d.Note = dsr.RefusalGroundlessRepetition, ""
			}
			e.decide(d)
			wantState, wantStatus := "Completed", dsr.StatusCompleted
			if !approve {
				wantState, wantStatus = "Refused", dsr.StatusRefused
			}
			if x := e.done(id); x.Status != sfntypes.ExecutionStatusSucceeded || e.finalState(id) != wantState {
				t.Fatalf("execution ended %s in %s, want SUCCEEDED in %s", x.Status, e.finalState(id), wantState)
			}
			if r := e.request(id); r.Status != wantStatus {
				t.Errorf("status %s, want %s", r.Status, wantStatus)
			}
			if !approve {
				n := e.mailsOf(id, notify.TemplateRefused)
				if len(n) != 1 || !strings.Contains(n[0].text, dsr.RefusalGroundlessRepetition.Text(dsr.LocaleEn)) {
					t.Errorf("refusal notices %+v: want one with the reason", n)
				}
			}
			e.chainOK(id)
		})
	}
}

// TestUnderRepeatLimitProceeds: at the limit (not above) no manual review.
func TestUnderRepeatLimitProceeds(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(p *Policy) { p.RepeatLimit = 2 })
	e.seedOpen("r-old-1", dsr.KindAccess, piiEmail, t0.Add(-60*24*time.Hour), dsr.StatusCompleted)
	e.seedOpen("r-ancient", dsr.KindAccess, piiEmail, t0.Add(-400*24*time.Hour), dsr.StatusCompleted)
	id, token := e.submit(submission(dsr.KindAccess, dsr.RoleSelf, dsr.LocaleEn), "repeat-ok")
	e.verify(id, token)
	if x := e.done(id); e.finalState(id) != "Completed" {
		t.Fatalf("execution ended %s in %s, want Completed without manual review", x.Status, e.finalState(id))
	}
}

// TestWrongCodesLock: 5 wrong codes lock verification and the requester is
// told what to do; a resend unlocks with a new code.
func TestWrongCodesLock(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	id, token := e.submit(submission(dsr.KindAccess, dsr.RoleSelf, dsr.LocaleEn), "lock")
	code := e.code(id, 1)
	e.waitTask(id, "VerifyIdentity")
	for i := 1; i <= 5; i++ {
		res, err := e.ver.SubmitCode(e.ctx, id, token, wrong(code))
		if err != nil {
			t.Fatal(err)
		}
		want := verification.OutcomeWrongCode
		if i == 5 {
			want = verification.OutcomeLocked
		}
		if res.Outcome != want || res.AttemptsLeft != 5-i {
			t.Fatalf("wrong code %d: %s, %d left; want %s, %d left", i, res.Outcome, res.AttemptsLeft, want, 5-i)
		}
		if i == 5 && !strings.Contains(res.Message, "ask for a new code") {
			t.Errorf("lock message %q does not say what to do", res.Message)
		}
	}
	// Locked: even the right code no longer works.
	res, err := e.ver.SubmitCode(e.ctx, id, token, code)
	if err != nil || res.Outcome != verification.OutcomeLocked {
		t.Fatalf("right code after lock: %+v, %v; want locked", res, err)
	}
	locked := e.mailsOf(id, notify.TemplateVerificationLocked)
	if len(locked) != 1 || !strings.Contains(locked[0].text, "ask for a new code") || !strings.Contains(locked[0].text, "privacy@example.cn") {
		t.Fatalf("lock notices %+v: want one telling the requester to ask for a new code or contact the privacy team", locked)
	}
	if r := e.request(id); r.Status != dsr.StatusAwaitingVerification {
		t.Errorf("status after lock = %s, want awaiting_verification", r.Status)
	}
	// A resend unlocks with a new code.
	res, err = e.ver.Resend(e.ctx, id, token)
	if err != nil || res.Outcome != verification.OutcomeResent || res.ResendsLeft != 2 {
		t.Fatalf("resend: %+v, %v; want resent, 2 left", res, err)
	}
	if res, _ := e.ver.SubmitCode(e.ctx, id, token, code); res.Outcome != verification.OutcomeWrongCode && code != e.code(id, 2) {
		t.Errorf("old code after resend: %s, want wrong_code", res.Outcome)
	}
	if res, err := e.ver.SubmitCode(e.ctx, id, token, e.code(id, 2)); err != nil || res.Outcome != verification.OutcomeVerified {
		t.Fatalf("new code: %+v, %v; want verified", res, err)
	}
	if x := e.done(id); e.finalState(id) != "Completed" {
		t.Fatalf("execution ended %s in %s, want Completed", x.Status, e.finalState(id))
	}
	e.chainOK(id)
	e.scanPII(id)
}

// TestResendLimit: at most 3 resends.
func TestResendLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	id, token := e.submit(submission(dsr.KindAccess, dsr.RoleSelf, dsr.LocaleZhCN), "resend")
	e.code(id, 1)
	e.waitTask(id, "VerifyIdentity")
	for i := 1; i <= 3; i++ {
		res, err := e.ver.Resend(e.ctx, id, token)
		if err != nil || res.Outcome != verification.OutcomeResent || res.ResendsLeft != 3-i {
			t.Fatalf("resend %d: %+v, %v; want resent, %d left", i, res, err, 3-i)
		}
	}
	res, err := e.ver.Resend(e.ctx, id, token)
	if err != nil || res.Outcome != verification.OutcomeResendLimit {
		t.Fatalf("4th resend: %+v, %v; want resend_limit", res, err)
	}
	if got := len(e.mailsOf(id, notify.TemplateVerificationCode)); got != 4 {
		t.Errorf("%d code messages, want 4 (1 + 3 resends)", got)
	}
	// Only the last code works.
	if res, _ := e.ver.SubmitCode(e.ctx, id, token, e.code(id, 4)); res.Outcome != verification.OutcomeVerified {
		t.Errorf("last code: %s, want verified", res.Outcome)
	}
	e.done(id)
}

// TestIdempotency: a duplicate StartExecution, a second code after success
// and a replayed SendTaskSuccess change nothing.
func TestIdempotency(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	v := submission(dsr.KindConsentWithdrawal, dsr.RoleSelf, dsr.LocaleZhCN)
	id, token := e.submit(v, "idem")
	// The same form submitted again, and a raw duplicate StartExecution.
	if id2, _ := e.submit(v, "idem"); id2 != id {
		t.Fatalf("resubmit gave request %s, want %s", id2, id)
	}
	out, err := e.sfn.StartExecution(e.ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(e.smArn), Name: aws.String(id), Input: aws.String(`{"requestId":"` + id + `"}`)})
	if err != nil {
		t.Fatalf("duplicate StartExecution: %v", err)
	}
	if aws.ToString(out.ExecutionArn) != e.execArn(id) {
		t.Errorf("duplicate StartExecution gave %s, want the running %s", aws.ToString(out.ExecutionArn), e.execArn(id))
	}
	code := e.code(id, 1)
	e.waitTask(id, "VerifyIdentity")
	res, err := e.ver.SubmitCode(e.ctx, id, token, code)
	if err != nil || res.Outcome != verification.OutcomeVerified {
		t.Fatalf("SubmitCode: %+v, %v", res, err)
	}
	e.done(id)
	before := e.events(id)
	r0 := e.request(id)

	// A second submission of the code.
	res, err = e.ver.SubmitCode(e.ctx, id, token, code)
	if err != nil || res.Outcome != verification.OutcomeAlreadyVerified {
		t.Errorf("second SubmitCode: %+v, %v; want already_verified", res, err)
	}
	// A replayed SendTaskSuccess with the task token.
	tok := e.storedToken(id)
	_, err = e.sfn.SendTaskSuccess(e.ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(tok), Output: aws.String(`{"result":"approved","method":"code","verifiedAt":"2026-03-02T01:00:00Z","reason":""}`)})
	var timedOut *sfntypes.TaskTimedOut
	if !errors.As(err, &timedOut) {
		t.Errorf("replayed SendTaskSuccess: %v, want TaskTimedOut", err)
	}
	// Starting the finished execution again.
	if _, err := e.sfn.StartExecution(e.ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(e.smArn), Name: aws.String(id), Input: aws.String(`{"requestId":"` + id + `"}`)}); err == nil {
		t.Error("StartExecution of a closed execution's name succeeded, want ExecutionAlreadyExists")
	}
	list, err := e.sfn.ListExecutions(e.ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(e.smArn)})
	if err != nil || len(list.Executions) != 1 {
		t.Errorf("executions: %d (%v), want 1", len(list.Executions), err)
	}
	after := e.events(id)
	r1 := e.request(id)
	if strings.Join(before, ",") != strings.Join(after, ",") || r0.Version != r1.Version || r1.Status != dsr.StatusCompleted {
		t.Errorf("replays changed the request: events %v → %v, version %d → %d, status %s", before, after, r0.Version, r1.Version, r1.Status)
	}
	if got := len(e.mailsOf(id, notify.TemplateReply)); got != 1 {
		t.Errorf("%d replies, want 1", got)
	}
	e.chainOK(id)
	e.scanPII(id)
}

// storedToken reads the task token kept on the VERIFY item (the test plays
// an attacker who got hold of it).
func (e *env) storedToken(id string) string {
	e.t.Helper()
	out, err := emu.Client().GetItem(e.ctx, getVerify(e.table, id))
	if err != nil || out.Item == nil {
		e.t.Fatalf("VERIFY item of %s: %v", id, err)
	}
	var rec struct {
		TaskToken string `dynamodbav:"taskToken"`
	}
	if err := unmarshal(out.Item, &rec); err != nil || rec.TaskToken == "" {
		e.t.Fatalf("VERIFY item of %s has no token (%v)", id, err)
	}
	return rec.TaskToken
}

// TestNoPIIInStateOutputs checks that every state's output has only the
// expected, non-personal keys.
func TestNoPIIInStateOutputs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	id, token := e.submit(submission(dsr.KindErasure, dsr.RoleSelf, dsr.LocaleZhCN), "keys")
	e.verify(id, token)
	e.done(id)
	allowed := map[string]bool{"requestId": true, "kind": true, "route": true, "routeCause": true, "verified": true, "decision": true, "reply": true, "closed": true, "error": true,
		// Partner steps: partner IDs, actions, statuses, deadlines, counts.
		"fanout": true, "precheck": true, "export": true, "backups": true}
	for _, ev := range e.history(id) {
		if ev.StateExitedEventDetails == nil {
			continue
		}
		var out map[string]json.RawMessage
		if err := json.Unmarshal([]byte(aws.ToString(ev.StateExitedEventDetails.Output)), &out); err != nil {
			t.Fatalf("state %s output: %v", aws.ToString(ev.StateExitedEventDetails.Name), err)
		}
		for k := range out {
			if !allowed[k] {
				t.Errorf("state %s output has unexpected key %q", aws.ToString(ev.StateExitedEventDetails.Name), k)
			}
		}
	}
}

// TestSMSOnly: a requester with only a phone gets the code by SMS (written
// to the outbox as <phone>@sms.invalid).
func TestSMSOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	v := submission(dsr.KindAccess, dsr.RoleSelf, dsr.LocaleZhCN)
	v.Email = ""
	id, token := e.submit(v, "sms")
	e.code(id, 1)
	ms := e.mailsOf(id, notify.TemplateVerificationCode)
	if ms[0].channel != "sms" || !strings.Contains(ms[0].to, "sms.invalid") {
		t.Errorf("code message channel %q to %q, want sms to <phone>@sms.invalid", ms[0].channel, ms[0].to)
	}
	e.verify(id, token)
	if e.done(id); e.finalState(id) != "Completed" {
		t.Errorf("final state %s, want Completed", e.finalState(id))
	}
}

// TestNoSMSProviderGoesManual: a phone-only requester and no SMS provider:
// VerifyIdentity fails with NoDeliveryChannel and an operator verifies.
func TestNoSMSProviderGoesManual(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.h.Sender.(*mailGuard).next.(*notify.Router).SMS = nil
	v := submission(dsr.KindAccess, dsr.RoleSelf, dsr.LocaleZhCN)
	v.Email = ""
	id, _ := e.submit(v, "nosms")
	e.decide(operator.Decision{RequestID: id, Stage: operator.StageVerification, Approve: false, Reason: dsr.RefusalIdentityNotVerified, Actor: "li"})
	if e.done(id); e.finalState(id) != "Refused" {
		t.Fatalf("final state %s, want Refused", e.finalState(id))
	}
	got := e.events(id)
	if !subsequence([]string{"operator_requested", "operator_decision", "refused", "notice_undeliverable"}, got) {
		t.Errorf("events %v: want operator_requested, operator_decision, refused, notice_undeliverable", got)
	}
}

// BenchmarkRequestEndToEnd measures one access request through the whole
// workflow on the local stack: intake, code by email (outbox), SubmitCode,
// review, reply, close, with every DynamoDB call going to dynalite.
func BenchmarkRequestEndToEnd(b *testing.B) {
	e := newEnv(b, nil)
	b.ResetTimer()
	for i := range b.N {
		v := submission(dsr.KindAccess, dsr.RoleSelf, dsr.LocaleEn)
		v.Email, v.Phone = fmt.Sprintf("bench%d.%s", i, piiEmail), ""
		id, token := e.submit(v, fmt.Sprintf("bench-%d", i))
		e.verify(id, token)
		if e.done(id); e.finalState(id) != "Completed" {
			b.Fatalf("final state %s", e.finalState(id))
		}
	}
}
