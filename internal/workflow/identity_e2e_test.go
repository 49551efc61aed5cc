package workflow

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"dsrflow/internal/dev/partnersim"
	"dsrflow/internal/dsr"
	"dsrflow/internal/intake"
	"dsrflow/internal/notify"
	"dsrflow/internal/operator"
	"dsrflow/internal/partner/certificate"
	"dsrflow/internal/phone"
	"dsrflow/internal/store"
	"dsrflow/internal/verification"
)

// TestErasureByEmailOnly: 张伟 asks for erasure with his email alone. The
// account system resolves it to his account and phone, so every partner
// that holds his data is reached with the identifiers it keeps; afterwards
// no record of his remains anywhere but those retained by law, and the
// certificate lists every partner that held data as acted.
func TestErasureByEmailOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	id, token := e.submit(sub(dsr.KindErasure, dsr.RoleSelf, "zhang.wei@example.cn", "", ""), "erase-zhang", nil)
	e.verify(id, token)
	if d := e.done(id); d.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("execution %s:\n%s", d.Status, e.describeHistory(id))
	}
	r := e.request(id)
	if r.Status != dsr.StatusCompleted || r.PersonalPurgedAt == nil {
		t.Fatalf("request %s, purged %v; want completed and purged", r.Status, r.PersonalPurgedAt)
	}
	for _, p := range e.pcfg.Partners {
		if e.holds(p.ID, "10000001", "+8613800138001", "zhang.wei@example.cn") {
			t.Errorf("%s still holds records of 张伟 that are not retained: %+v", p.ID, e.fleet.Records(p.ID))
		}
	}
	// Someone else's records are untouched.
	if !e.holds("music-account", "10000002") || !e.holds("voice-model-store", "10000002") {
		t.Errorf("Li Na's records were touched")
	}
	tasks, err := e.st.ListPartnerTasks(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	doc, c, err := LoadCertificate(e.ctx, e.st, id)
	if err != nil {
		t.Fatalf("LoadCertificate: %v", err)
	}
	acted := map[string]bool{}
	for _, p := range c.Partners {
		if p.Status == store.PartnerCompleted {
			acted[p.ID] = true
		}
	}
	for _, tk := range tasks {
		if tk.Status == store.PartnerCompleted && !acted[tk.PartnerID] {
			t.Errorf("certificate does not list %s as acted", tk.PartnerID)
		}
	}
	// 张伟 has an account, a phone and an email: every partner holds his data.
	if len(acted) != len(e.pcfg.Partners) {
		t.Errorf("certificate lists %d partners as acted, want all %d: %+v", len(acted), len(e.pcfg.Partners), c.Partners)
	}
	if err := VerifyCertificate(e.ctx, e.st, c); err != nil {
		t.Errorf("VerifyCertificate: %v", err)
	}
	final := e.mailsOf(id, notify.TemplateFinalConfirmation)
	if len(final) != 1 || len(final[0].attached) != 1 || final[0].attached[0] != string(doc) {
		t.Errorf("final confirmation: %d messages, want one with the certificate attached", len(final))
	}
	reply := e.mailsOf(id, notify.TemplateReply)
	if len(reply) != 1 || strings.Count(reply[0].text, "已删除") < len(e.pcfg.Partners)-1 {
		t.Errorf("reply does not say each partner deleted the data:\n%v", reply)
	}
	e.chainOK(id)
	e.scanPII([]string{"zhang.wei@example.cn", "+8613800138001", "10000001", "张伟"}, id)
	// Personal data is gone; keyed hashes stay.
	if _, err := e.st.GetPersonal(e.ctx, id); err == nil {
		t.Errorf("personal data still readable after the purge")
	}
	if len(r.SubjectKeys) < 3 {
		t.Errorf("verified subject keys = %d, want account, email and phone", len(r.SubjectKeys))
	}
}

// TestTypedAccountOfAnotherPerson: a stranger proves their own email and
// types Li Na's account ID. Nothing of Li Na's is sent to any partner,
// exported or erased: the request waits for an operator (identity
// mismatch); when the operator refuses, it is refused.
func TestTypedAccountOfAnotherPerson(t *testing.T) {
	t.Parallel()
	for _, kind := range []dsr.Kind{dsr.KindAccess, dsr.KindErasure} {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{})
			id, token := e.submit(sub(kind, dsr.RoleSelf, "stranger@example.org", "", "10000002"), "stranger-"+string(kind), nil)
			e.verify(id, token)
			e.waitTask(id, "OperatorWait")
			w, err := e.h.Operator().Get(e.ctx, id, operator.StageIdentity)
			if err != nil || w == nil || w.Cause != "identity_mismatch" {
				t.Fatalf("operator wait = %+v, %v; want identity_mismatch", w, err)
			}
			r := e.request(id)
			if r.Status != dsr.StatusInReview {
				t.Errorf("status %s, want in_review (waiting for an operator)", r.Status)
			}
			for pid, sim := range e.sims {
				if len(sim.Received()) != 0 {
					t.Errorf("%s was sent %d requests", pid, len(sim.Received()))
				}
				if slices.Contains(e.received(pid), "10000002") {
					t.Errorf("%s received 10000002", pid)
				}
			}
			if !e.holds("music-account", "10000002") || !e.holds("voice-model-store", "10000002") || !e.holds("analytics", "10000002") {
				t.Errorf("Li Na's records were touched")
			}
			idn, err := e.st.GetIdentity(e.ctx, id)
			if err != nil || idn.Resolution != dsr.ResolutionMismatch || slices.Contains(idn.Subject.Accounts, "10000002") {
				t.Errorf("identity = %+v, %v; want a mismatch without the typed account", idn, err)
			}
			for _, k := range r.SubjectKeys {
				if k == dsr.SubjectKey([]byte(subjectSecret), dsr.IdentifierAccount, "10000002") {
					t.Errorf("the typed account became a verified subject key")
				}
			}
			e.decide("OperatorWait", operator.Decision{RequestID: id, Stage: operator.StageIdentity, Reason: dsr.RefusalIdentityNotVerified, Actor: "operator:test"})
			if d := e.done(id); d.Status != sfntypes.ExecutionStatusSucceeded {
				t.Fatalf("execution %s:\n%s", d.Status, e.describeHistory(id))
			}
			if r := e.request(id); r.Status != dsr.StatusRefused || r.RefusalReason != dsr.RefusalIdentityNotVerified {
				t.Errorf("request %s %s, want refused identity_not_verified", r.Status, r.RefusalReason)
			}
			for pid, sim := range e.sims {
				if len(sim.Received()) != 0 {
					t.Errorf("%s was sent %d requests after the refusal", pid, len(sim.Received()))
				}
			}
		})
	}
}

// TestLoginVerifiedAccess: an in-app request carrying the login of Li Na's
// account completes without any verification message and exports her
// records.
func TestLoginVerifiedAccess(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	id, _ := e.submit(sub(dsr.KindAccess, dsr.RoleSelf, "li.na@example.com", "", ""), "login-access", &intake.Login{Account: "10000002"})
	if d := e.done(id); d.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("execution %s:\n%s", d.Status, e.describeHistory(id))
	}
	if n := len(e.mailsOf(id, notify.TemplateVerificationCode)); n != 0 {
		t.Errorf("%d verification messages, want none", n)
	}
	if r := e.request(id); r.Status != dsr.StatusCompleted || r.VerifiedBy != dsr.ProofLogin {
		t.Errorf("request %s verified by %q, want completed by login", r.Status, r.VerifiedBy)
	}
	tasks, err := e.st.ListPartnerTasks(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	exported := 0
	for _, tk := range tasks {
		if tk.Status == store.PartnerCompleted && tk.ExportKey != "" {
			exported++
		}
	}
	if exported == 0 {
		t.Fatalf("no partner export recorded: %+v", tasks)
	}
	// Every partner was sent Li Na's identifiers only.
	for pid := range e.sims {
		for _, v := range e.received(pid) {
			if v != "10000002" && v != "li.na@example.com" && v != "+8613800138002" {
				t.Errorf("%s received %q, not one of Li Na's identifiers", pid, v)
			}
		}
	}
	reply := e.mailsOf(id, notify.TemplateReply)
	if len(reply) != 1 || !strings.Contains(reply[0].text, "已提供") {
		t.Errorf("reply = %+v", reply)
	}
}

// TestConsentWithdrawalByEmailOnly: the account system resolves the email
// to the account, so the partners of the withdrawn purpose are reached; the
// reply names what each did.
func TestConsentWithdrawalByEmailOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	id, token := e.submit(sub(dsr.KindConsentWithdrawal, dsr.RoleSelf, "zhang.wei@example.cn", "", ""), "withdraw-zhang", nil)
	e.verify(id, token)
	if d := e.done(id); d.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("execution %s:\n%s", d.Status, e.describeHistory(id))
	}
	if len(e.sims["analytics"].Received()) != 1 {
		t.Fatalf("analytics was called %d times, want 1", len(e.sims["analytics"].Received()))
	}
	withdrawn := false
	for _, r := range e.fleet.Records("analytics") {
		if r.Account == "10000001" && strings.Contains(string(r.Data["consent_withdrawn"]), dsr.PurposeAnalytics) {
			withdrawn = true
		}
	}
	if !withdrawn {
		t.Errorf("analytics records of 10000001 do not record the withdrawal: %+v", e.fleet.Records("analytics"))
	}
}

// TestEmailWithoutAccount: a person the account system does not know, with
// only an email, is told that nobody holds their data: no partner says
// "deleted", none is sent an identifier it does not keep.
func TestEmailWithoutAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	id, token := e.submit(sub(dsr.KindErasure, dsr.RoleSelf, "nobody@example.org", "", ""), "erase-nobody", nil)
	e.verify(id, token)
	if d := e.done(id); d.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("execution %s:\n%s", d.Status, e.describeHistory(id))
	}
	reply := e.mailsOf(id, notify.TemplateReply)
	if len(reply) != 1 {
		t.Fatalf("%d replies", len(reply))
	}
	if strings.Contains(reply[0].text, "已删除您的个人信息") {
		t.Errorf("the reply says data was deleted:\n%s", reply[0].text)
	}
	if !strings.Contains(reply[0].text, "未持有") {
		t.Errorf("the reply does not say the partners hold none:\n%s", reply[0].text)
	}
	for pid, sim := range e.sims {
		p, _ := e.pcfg.Partner(pid)
		if !p.Holds(dsr.IdentifierEmail) && len(sim.Received()) > 0 {
			t.Errorf("%s (no email identifiers) was called", pid)
		}
	}
}

// TestGuardianForAMinor: 王芳 asks for her son's data. Her own email is not
// his; the identifiers she gives for him reach partners only after an
// operator approved her authority.
func TestGuardianForAMinor(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	s := sub(dsr.KindAccess, dsr.RoleGuardian, "wang.fang@example.cn", "", "10000003")
	id, _ := e.submit(s, "guardian-access", nil)
	e.waitTask(id, "Verify")
	for pid, sim := range e.sims {
		if len(sim.Received()) != 0 {
			t.Errorf("%s called before the operator approved", pid)
		}
	}
	e.decide("Verify", operator.Decision{RequestID: id, Stage: operator.StageVerification, Approve: true, Actor: "operator:test", Note: "birth certificate checked"})
	if d := e.done(id); d.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("execution %s:\n%s", d.Status, e.describeHistory(id))
	}
	if !slices.Contains(e.received("music-account"), "10000003") {
		t.Errorf("the account system was not asked for 10000003")
	}
	for pid := range e.sims {
		if slices.Contains(e.received(pid), "wang.fang@example.cn") {
			t.Errorf("%s received the guardian's own email", pid)
		}
	}
}

// TestStrangerCannotCloseTheOwnersRequest: requests link through verified
// subject keys only: a stranger who typed 张伟's account neither makes his
// request a duplicate nor counts against his repeat allowance.
func TestStrangerCannotCloseTheOwnersRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	stranger, stoken := e.submit(sub(dsr.KindAccess, dsr.RoleSelf, "stranger@example.org", "", "10000001"), "stranger-first", nil)
	e.verify(stranger, stoken)
	e.waitTask(stranger, "OperatorWait")
	owner, otoken := e.submit(sub(dsr.KindAccess, dsr.RoleSelf, "zhang.wei@example.cn", "", "10000001"), "owner-second", nil)
	e.verify(owner, otoken)
	if d := e.done(owner); d.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("owner's execution %s:\n%s", d.Status, e.describeHistory(owner))
	}
	if r := e.request(owner); r.Status != dsr.StatusCompleted || r.LinkedRequestID != "" {
		t.Errorf("owner's request %s linked to %q; want completed on its own", r.Status, r.LinkedRequestID)
	}
}

// TestPartnerFailureKeepsErasureOpen: a partner that fails does not let an
// erasure complete: the partial reply says what was done and what is not,
// the request waits escalated with no certificate; when the partner is
// retried and acts, the reply promised goes out, and the workflow goes on
// to the backups and the certificate.
func TestPartnerFailureKeepsErasureOpen(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{behaviors: map[string]partnersim.Behavior{"cloud-storage": {Permanent: 400}}})
	id, token := e.submit(sub(dsr.KindErasure, dsr.RoleSelf, "zhang.wei@example.cn", "", ""), "erase-failing", nil)
	e.verify(id, token)
	e.status(id, dsr.StatusEscalated)
	e.waitTask(id, "Reply")
	partial := e.mailsOf(id, notify.TemplateReplyPartial)
	if len(partial) != 1 {
		t.Fatalf("%d partial replies, want 1", len(partial))
	}
	if strings.Contains(partial[0].text, "http_") || strings.Contains(partial[0].text, "400") {
		t.Errorf("the partial reply shows a raw error code:\n%s", partial[0].text)
	}
	if !strings.Contains(partial[0].text, "尚未确认完成") {
		t.Errorf("the partial reply does not say what is open:\n%s", partial[0].text)
	}
	if n := len(e.mailsOf(id, notify.TemplateReply)); n != 0 {
		t.Errorf("%d final replies while a partner has not acted", n)
	}
	if _, _, err := LoadCertificate(e.ctx, e.st, id); err == nil {
		t.Errorf("a certificate was issued while a partner has not acted")
	}
	// The partner is fixed; an operator retries it.
	e.sims["cloud-storage"].B.Permanent = 0
	res, err := e.h.Operations().RetryPartners(e.ctx, id, "", "operator:test", noBackoff)
	// cloud-storage is asynchronous: it accepts, and its callback settles it.
	if err != nil || len(res) != 1 || (res[0].Status != store.PartnerCompleted && res[0].Status != store.PartnerAwaitingCallback) {
		t.Fatalf("RetryPartners = %+v, %v", res, err)
	}
	if d := e.done(id); d.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("execution %s:\n%s", d.Status, e.describeHistory(id))
	}
	if n := len(e.mailsOf(id, notify.TemplateReply)); n != 1 {
		t.Errorf("%d final replies, want 1", n)
	}
	if _, c, err := LoadCertificate(e.ctx, e.st, id); err != nil {
		t.Errorf("no certificate after every partner acted: %v", err)
	} else {
		b, _ := json.Marshal(c)
		if !strings.Contains(string(b), "cloud-storage") {
			t.Errorf("certificate lacks the retried partner")
		}
	}
	if r := e.request(id); r.Status != dsr.StatusCompleted {
		t.Errorf("request %s, want completed", r.Status)
	}
}

var _ = certificate.Version

// TestMailConsentPurposesReachPartners: a consent withdrawal whose purposes
// only the mail's text named (hints kept with the personal data) carries
// them to the partners once the requester is verified.
func TestMailConsentPurposesReachPartners(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	v, err := sub(dsr.KindConsentWithdrawal, dsr.RoleSelf, "zhang.wei@example.cn", "", "").Validate(phone.Parse)
	if err != nil {
		t.Fatal(err)
	}
	v.Purposes = nil // as a mail gives them: hints only
	const key = "mail-withdraw-zhang"
	id := intake.RequestID(dsr.ChannelWeb, key)
	token := verification.StatusToken([]byte(statusSecret), id)
	sum := sha256.Sum256([]byte(token))
	if _, err := e.intake.Submit(e.ctx, intake.Submission{Validated: v, Channel: dsr.ChannelWeb, NaturalKey: key,
		StatusTokenHash: hex.EncodeToString(sum[:]), Source: "test", HintPurposes: []string{dsr.PurposeAnalytics, "bogus"}}); err != nil {
		t.Fatal(err)
	}
	if got := e.request(id).Purposes; len(got) != 0 {
		t.Fatalf("request purposes before verification = %v, want none on the request item", got)
	}
	e.verify(id, token)
	if d := e.done(id); d.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("execution %s:\n%s", d.Status, e.describeHistory(id))
	}
	if got := e.request(id).Purposes; !slices.Equal(got, []string{dsr.PurposeAnalytics}) {
		t.Errorf("request purposes = %v, want [analytics]", got)
	}
	if n := len(e.sims["analytics"].Received()); n != 1 {
		t.Fatalf("analytics was called %d times, want 1", n)
	}
}

// TestApprovedIdentityWithNothingToIdentify: a guardian names no
// identifier of the child; an operator approves her authority, then the
// identity with nothing to vouch for. The request is refused (whose data
// to act on is unknown) instead of asking the operator again forever, and
// no partner is called.
func TestApprovedIdentityWithNothingToIdentify(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	id, _ := e.submit(sub(dsr.KindAccess, dsr.RoleGuardian, "wang.fang@example.cn", "", ""), "guardian-no-child-ids", nil)
	e.decide("Verify", operator.Decision{RequestID: id, Stage: operator.StageVerification, Approve: true, Actor: "operator:test", Note: "birth certificate checked"})
	e.decide("OperatorWait", operator.Decision{RequestID: id, Stage: operator.StageIdentity, Approve: true, Actor: "operator:test", Note: "approved without identifiers"})
	if d := e.done(id); d.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("execution %s:\n%s", d.Status, e.describeHistory(id))
	}
	r := e.request(id)
	if r.Status != dsr.StatusRefused || r.RefusalReason != dsr.RefusalIdentityNotVerified {
		t.Errorf("request %s (%s), want refused identity_not_verified", r.Status, r.RefusalReason)
	}
	if n := len(e.history(id)); n > 80 {
		t.Errorf("%d history events: the review looped", n)
	}
	if evs := e.events(id); !slices.Contains(evs, "refused") {
		t.Errorf("audit events %v, want the refusal recorded", evs)
	}
	for pid, sim := range e.sims {
		if len(sim.Received()) != 0 {
			t.Errorf("%s was called", pid)
		}
	}
}
