package console

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"dsrflow/internal/dev/partnersim"
	"dsrflow/internal/dsr"
	"dsrflow/internal/store"
	"dsrflow/internal/verification"
	"dsrflow/internal/workday"
)

func TestAskForInformation(t *testing.T) {
	t.Run("CN: no pause", func(t *testing.T) {
		s := newStack(t, stackOptions{})
		id := s.guardianErasure("info-cn")
		s.waitFor(id, "verification")
		path := "/requests/" + id + "/information"
		if a := s.post(path, url.Values{}); a.Status != http.StatusBadRequest || !strings.Contains(a.Body, "Choose at least one") {
			t.Errorf("nothing asked: %d", a.Status)
		}
		if a := s.post(path, url.Values{"needed": {"passport"}}); a.Status != http.StatusBadRequest {
			t.Errorf("unknown need: %d", a.Status)
		}
		redirected(t, s.post(path, url.Values{"needed": {"authority_document", "subject_identifiers"}}), "/requests/"+id, "asked")
		ms := s.mails(id, "more_information")
		if len(ms) != 1 {
			t.Fatalf("%d more_information messages", len(ms))
		}
		// A guardian adds the proof on the request's documents page, with
		// its status token: the link works on the privacy center.
		docs := "https://privacy.example.cn/requests/" + id + "/documents?token=" + url.QueryEscape(verification.StatusToken([]byte(statusSecret), id)) + "&lang=zh-CN"
		for _, want := range []string{"有权代其提出请求的证明材料", "该数据主体的账户 ID", docs} {
			if !strings.Contains(ms[0], want) {
				t.Errorf("message lacks %q:\n%s", want, ms[0])
			}
		}
		if strings.Contains(ms[0], "暂停") {
			t.Errorf("a CN message speaks of a pause:\n%s", ms[0])
		}
		if r, _ := s.st.GetRequest(s.ctx, id); r.PausedAt != nil {
			t.Error("the clock was paused under CN")
		}
		if ev := s.lastEvent(id, "notice_sent"); ev.Actor != "operator:"+operatorARN || ev.Data["template"] != "more_information" {
			t.Errorf("notice event %+v", ev)
		}
		page := s.get("/requests/" + id + "?lang=en")
		if !strings.Contains(page.Body, "More information needed") {
			t.Errorf("the messages sent do not list it: %s", pageText(page.Body))
		}
	})
	t.Run("GDPR: pause, resume", func(t *testing.T) {
		s := newStack(t, stackOptions{jurisdiction: workday.GDPR})
		id := s.mismatch("info-gdpr", dsr.KindAccess)
		before, _ := s.st.GetRequest(s.ctx, id)
		redirected(t, s.post("/requests/"+id+"/information", url.Values{"needed": {"identity_document"}}), "/requests/"+id, "askedPaused")
		// A mismatch is the requester's own request: no documents page,
		// the reply joins the request.
		if ms := s.mails(id, "more_information"); len(ms) != 1 || !strings.Contains(ms[0], "paused until we receive it") ||
			!strings.Contains(ms[0], "Please reply to this message") || strings.Contains(ms[0], "/documents?token=") {
			t.Errorf("message: %v", ms)
		}
		page := s.get("/requests/" + id + "?lang=en")
		if !strings.Contains(page.Body, `id="paused"`) || !strings.Contains(page.Body, "Clock paused") {
			t.Errorf("page does not show the pause: %s", pageText(page.Body))
		}
		// Asking again while paused sends the message, and pauses nothing more.
		redirected(t, s.post("/requests/"+id+"/information", url.Values{"needed": {"clarification"}}), "/requests/"+id, "asked")
		s.clock.Advance(4 * 24 * time.Hour)
		if a := s.post("/requests/"+id+"/clock", url.Values{"action": {"stop"}}); a.Status != http.StatusBadRequest {
			t.Errorf("clock action stop: %d", a.Status)
		}
		redirected(t, s.post("/requests/"+id+"/clock", url.Values{"action": {"resume"}}), "/requests/"+id, "resumed")
		after, _ := s.st.GetRequest(s.ctx, id)
		if got, want := dueDate(after.DueAt), workday.DateOf(before.DueAt.In(workday.ChinaTime)).AddDays(4).String(); got != want || after.PausedAt != nil {
			t.Errorf("after resume: due %s (want %s), paused %v", got, want, after.PausedAt)
		}
		if ev := s.lastEvent(id, "clock_resumed"); ev.Data["days"] != "4" || ev.Actor != "operator:"+operatorARN {
			t.Errorf("resume event %+v", ev)
		}
		if a := s.post("/requests/"+id+"/clock", url.Values{"action": {"resume"}}); a.Status != http.StatusConflict || !strings.Contains(a.Body, "not paused") {
			t.Errorf("second resume: %d", a.Status)
		}
	})
	t.Run("no email", func(t *testing.T) {
		s := newStack(t, stackOptions{})
		id := s.submit(dsr.Submission{Kind: string(dsr.KindAccess), Role: string(dsr.RoleAgent), Phone: "13800138002", SubjectAccountID: "10000002", Locale: "en"}, "info-phone", nil)
		s.waitFor(id, "verification")
		a := s.post("/requests/"+id+"/information", url.Values{"needed": {"authority_document"}})
		if a.Status != http.StatusConflict || !strings.Contains(a.Body, "has no email address") {
			t.Errorf("phone-only requester: %d %s", a.Status, pageText(a.Body))
		}
	})
}

func TestExtension(t *testing.T) {
	t.Run("CN has none", func(t *testing.T) {
		s := newStack(t, stackOptions{})
		id := s.mismatch("ext-cn", dsr.KindAccess)
		page := s.get("/requests/" + id + "?lang=en")
		if !strings.Contains(page.Body, `id="no-extension"`) || strings.Contains(page.Body, `id="extend"`) {
			t.Errorf("CN page offers an extension: %s", pageText(page.Body))
		}
		zh := s.get("/requests/" + id)
		if !strings.Contains(zh.Body, "本规则下不能延长答复期限") {
			t.Errorf("zh page: %s", pageText(zh.Body))
		}
		before, _ := s.st.GetRequest(s.ctx, id)
		a := s.post("/requests/"+id+"/extension", url.Values{"units": {"1"}, "reason": {"complexity"}})
		if a.Status != http.StatusConflict || !strings.Contains(a.Body, "does not allow this") {
			t.Errorf("CN extension: %d %s", a.Status, pageText(a.Body))
		}
		if after, _ := s.st.GetRequest(s.ctx, id); !after.DueAt.Equal(*before.DueAt) {
			t.Error("the due date moved")
		}
	})
	tests := []struct {
		j       workday.Jurisdiction
		units   string
		addDays func(workday.Date) workday.Date
	}{
		{workday.GDPR, "2", func(d workday.Date) workday.Date { return d.AddMonthsClamped(2) }},
		{workday.CCPA, "45", func(d workday.Date) workday.Date { return d.AddDays(45) }},
	}
	for _, tt := range tests {
		t.Run(string(tt.j), func(t *testing.T) {
			s := newStack(t, stackOptions{jurisdiction: tt.j})
			id := s.mismatch("ext-"+string(tt.j), dsr.KindAccess)
			before, _ := s.st.GetRequest(s.ctx, id)
			path := "/requests/" + id + "/extension"
			for _, bad := range []url.Values{{"units": {"0"}, "reason": {"complexity"}}, {"units": {"99"}, "reason": {"complexity"}}, {"units": {"1"}, "reason": {"lunch"}}} {
				if a := s.post(path, bad); a.Status != http.StatusBadRequest {
					t.Errorf("%v: %d", bad, a.Status)
				}
			}
			redirected(t, s.post(path, url.Values{"units": {tt.units}, "reason": {"number_of_requests"}}), "/requests/"+id, "extended")
			after, _ := s.st.GetRequest(s.ctx, id)
			want := tt.addDays(workday.DateOf(before.DueAt.In(workday.ChinaTime))).String()
			if dueDate(after.DueAt) != want {
				t.Errorf("due %s, want %s", dueDate(after.DueAt), want)
			}
			ms := s.mails(id, "deadline_extended")
			if len(ms) != 1 || !strings.Contains(ms[0], "by "+want+" at the latest") || !strings.Contains(ms[0], "a large number of requests") {
				t.Errorf("extension notice: %v", ms)
			}
			if ev := s.lastEvent(id, "deadline_extended"); ev.Actor != "operator:"+operatorARN || ev.Data["by"] != tt.units {
				t.Errorf("extension event %+v", ev)
			}
			page := s.get("/requests/" + id + "?lang=en")
			if !strings.Contains(page.Body, `id="extension-used"`) {
				t.Errorf("the extension is offered again: %s", pageText(page.Body))
			}
			if a := s.post(path, url.Values{"units": {"1"}, "reason": {"complexity"}}); a.Status != http.StatusConflict {
				t.Errorf("second extension: %d", a.Status)
			}
		})
	}
}

// TestAmendIdentifiers: a typed account that is someone else's stops the
// request at the identity check; the operator amends it, approves, and
// the request goes on with the amended identifiers resolved again.
func TestAmendIdentifiers(t *testing.T) {
	s := newStack(t, stackOptions{})
	id := s.mismatch("amend", dsr.KindConsentWithdrawal)
	path := "/requests/" + id + "/identifiers"
	page := s.get("/requests/" + id + "?lang=en")
	if !strings.Contains(page.Body, ">10000002\n10000001</textarea>") {
		t.Errorf("the form does not show the typed account: %s", pageText(page.Body))
	}
	for _, bad := range []url.Values{
		{"accounts": {"not an id!"}},
		{"emails": {"zhang.wei@"}},
		{"phones": {"12"}},
		{"accounts": {""}, "emails": {" \n "}},
		{"accounts": {strings.Repeat("a\n", 11)}},
	} {
		a := s.post(path, bad)
		if a.Status != http.StatusBadRequest || !strings.Contains(a.Body, "Nothing was changed") {
			t.Errorf("%v: %d %s", bad, a.Status, pageText(a.Body))
		}
	}
	if p, _ := s.st.GetPersonal(s.ctx, id); !slices.Equal(p.Subject.Accounts, []string{"10000002", "10000001"}) {
		t.Fatalf("refused amendments changed the identifiers: %+v", p.Subject)
	}
	redirected(t, s.post(path, url.Values{"accounts": {"10000001\n"}, "emails": {"Zhang.Wei@Example.CN"}}), "/requests/"+id, "amended")
	p, _ := s.st.GetPersonal(s.ctx, id)
	if !slices.Equal(p.Subject.Accounts, []string{"10000001"}) || !slices.Equal(p.Subject.Emails, []string{"zhang.wei@example.cn"}) {
		t.Errorf("amended identifiers %+v", p.Subject)
	}
	if ev := s.lastEvent(id, "identifiers_amended"); ev.Actor != "operator:"+operatorARN || ev.Data["accounts"] != "1" || ev.Data["resolutionReset"] != "true" {
		t.Errorf("amend event %+v", ev)
	}
	redirected(t, s.post("/requests/"+id+"/decision", url.Values{"stage": {"identity"}, "decision": {"approve"}}), "/requests/"+id, "approved")
	if st := s.finished(id); st != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("execution %s; states %v", st, s.entered(id))
	}
	// Resolved again, with nothing left that is not the person's (the
	// identity item itself is purged after the follow-up period, which the
	// virtual clock passed).
	if ev := s.lastEvent(id, "identity.resolved"); ev.Data["resolution"] != "resolved" || ev.Data["mismatched"] != "0" {
		t.Errorf("resolution after the amendment %+v", ev)
	}
	if a := s.post(path, url.Values{"accounts": {"10000001"}}); a.Status != http.StatusConflict {
		t.Errorf("amending a closed request: %d", a.Status)
	}
}

// TestPartnerRetryAndSettle: a partner that refuses escalates the request;
// it is in the queue; a retry reaches it again and it still refuses; the
// operator records that it confirmed another way, and the reply goes on.
func TestPartnerRetryAndSettle(t *testing.T) {
	s := newStack(t, stackOptions{behaviors: map[string]partnersim.Behavior{"sms-provider": {Permanent: http.StatusBadRequest}}})
	id := s.guardianErasure("partner")
	s.waitFor(id, "verification")
	redirected(t, s.post("/requests/"+id+"/decision", url.Values{"stage": {"verification"}, "decision": {"approve"}}), "/requests/"+id, "approved")
	s.status(id, dsr.StatusEscalated)
	q := s.get("/?lang=en")
	if !strings.Contains(q.Body, "Partner sms-provider has not acted") {
		t.Errorf("queue: %s", pageText(q.Body))
	}
	task, _ := s.st.GetPartnerTask(s.ctx, id, "sms-provider")
	redirected(t, s.post("/requests/"+id+"/partners/sms-provider/retry", nil), "/requests/"+id, "retryFailed")
	after, _ := s.st.GetPartnerTask(s.ctx, id, "sms-provider")
	if after.Attempts <= task.Attempts || after.Status.Final() {
		t.Errorf("after retry: %+v (before %d attempts)", after, task.Attempts)
	}
	if ev := s.lastEvent(id, "operator_retry"); ev.Actor != "operator:"+operatorARN {
		t.Errorf("retry event %+v", ev)
	}
	if a := s.post("/requests/"+id+"/partners/music-account/settle", url.Values{"settlement": {"confirmed_offline"}}); a.Status != http.StatusConflict {
		t.Errorf("settling a partner that acted: %d", a.Status)
	}
	if a := s.post("/requests/"+id+"/partners/sms-provider/settle", url.Values{"settlement": {"bribed"}}); a.Status != http.StatusBadRequest {
		t.Errorf("unknown settlement: %d", a.Status)
	}
	if a := s.post("/requests/"+id+"/partners/nobody/retry", nil); a.Status != http.StatusNotFound {
		t.Errorf("unknown partner: %d", a.Status)
	}
	redirected(t, s.post("/requests/"+id+"/partners/sms-provider/settle", url.Values{"settlement": {"confirmed_offline"}}), "/requests/"+id, "settled")
	if st := s.finished(id); st != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("execution %s; states %v", st, s.entered(id))
	}
	if ev := s.lastEvent(id, "partner.settled_by_operator"); ev.Actor != "operator:"+operatorARN || ev.Data["settlement"] != "confirmed_offline" {
		t.Errorf("settle event %+v", ev)
	}
}

// TestBackupsRetry: a partner whose backups outlive the wait escalates
// the backup confirmation; asking again too early is refused, and once
// they rotated the request closes.
func TestBackupsRetry(t *testing.T) {
	s := newStack(t, stackOptions{behaviors: map[string]partnersim.Behavior{"cloud-storage": {BackupRetention: 200 * 24 * time.Hour}}})
	id := s.guardianErasure("backups")
	s.waitFor(id, "verification")
	redirected(t, s.post("/requests/"+id+"/decision", url.Values{"stage": {"verification"}, "decision": {"approve"}}), "/requests/"+id, "approved")
	s.status(id, dsr.StatusEscalated)
	s.eventually("the backup escalation's token", func() bool {
		tok, _ := s.st.TaskToken(s.ctx, id, backupsWait)
		return tok != ""
	})
	q := s.get("/?lang=en")
	if !strings.Contains(q.Body, "Escalated backups") {
		t.Errorf("queue: %s", pageText(q.Body))
	}
	if a := s.post("/requests/"+id+"/backups/retry", nil); a.Status != http.StatusConflict || !strings.Contains(a.Body, "still hold backups") {
		t.Errorf("early retry: %d %s", a.Status, pageText(a.Body))
	}
	s.clock.Advance(200 * 24 * time.Hour)
	redirected(t, s.post("/requests/"+id+"/backups/retry", nil), "/requests/"+id, "backupsConfirmed")
	if st := s.finished(id); st != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("execution %s; states %v", st, s.entered(id))
	}
	if ev := s.lastEvent(id, "backup.retry_confirmed"); ev.Actor != "operator:"+operatorARN {
		t.Errorf("backup event %+v", ev)
	}
}

func TestLegalHold(t *testing.T) {
	s := newStack(t, stackOptions{})
	unverified := s.guardianErasure("hold-unverified")
	s.waitFor(unverified, "verification")
	if a := s.post("/requests/"+unverified+"/hold", url.Values{"action": {"add"}, "holdAction": {"refuse"}, "reason": {"legal_hold"}}); a.Status != http.StatusConflict || !strings.Contains(a.Body, "not verified yet") {
		t.Errorf("hold on an unverified subject: %d", a.Status)
	}
	id := s.mismatch("hold", dsr.KindErasure)
	// Verified keys come with the resolution: approve, and hold on the way.
	redirected(t, s.post("/requests/"+id+"/decision", url.Values{"stage": {"identity"}, "decision": {"approve"}}), "/requests/"+id, "approved")
	s.eventually("subject keys", func() bool { r, _ := s.st.GetRequest(s.ctx, id); return len(r.SubjectKeys) > 0 })
	path := "/requests/" + id + "/hold"
	for _, bad := range []url.Values{
		{"action": {"add"}, "holdAction": {"freeze"}, "reason": {"legal_hold"}},
		{"action": {"add"}, "holdAction": {"refuse"}, "reason": {"duplicate"}},
		{"action": {"add"}, "holdAction": {"refuse"}, "reason": {"legal_hold"}, "reference": {"case\n2"}},
		{"action": {"hug"}},
	} {
		if a := s.post(path, bad); a.Status != http.StatusBadRequest {
			t.Errorf("%v: %d", bad, a.Status)
		}
	}
	redirected(t, s.post(path, url.Values{"action": {"add"}, "holdAction": {"defer_erasure"}, "reason": {"criminal_proceedings"}, "reference": {"case-2026-07"}}), "/requests/"+id, "held")
	r, _ := s.st.GetRequest(s.ctx, id)
	for _, k := range r.SubjectKeys {
		h, _ := s.st.GetHold(s.ctx, k)
		if h == nil || h.Action != "defer_erasure" || h.Reason != "criminal_proceedings" || h.CreatedBy != "operator:"+operatorARN || h.Reference != "case-2026-07" {
			t.Errorf("hold on a subject key: %+v", h)
		}
	}
	if ev := s.lastEvent(id, "legal_hold_added"); ev.Actor != "operator:"+operatorARN || ev.Data["action"] != "defer_erasure" {
		t.Errorf("hold event %+v", ev)
	}
	if page := s.get("/requests/" + id + "?lang=en"); !strings.Contains(page.Body, `id="hold-current"`) {
		t.Errorf("page does not show the hold: %s", pageText(page.Body))
	}
	redirected(t, s.post(path, url.Values{"action": {"lift"}}), "/requests/"+id, "unheld")
	for _, k := range r.SubjectKeys {
		if h, _ := s.st.GetHold(s.ctx, k); h != nil {
			t.Errorf("hold not lifted: %+v", h)
		}
	}
	if ev := s.lastEvent(id, "legal_hold_lifted"); ev.Actor != "operator:"+operatorARN {
		t.Errorf("lift event %+v", ev)
	}
	if a := s.post(path, url.Values{"action": {"lift"}}); a.Status != http.StatusConflict {
		t.Errorf("lifting nothing: %d", a.Status)
	}
}

var docLinkRE = regexp.MustCompile(`id="doc-link" class="button" href="([^"]+)"`)

// TestDocumentView: a document opens through a short-lived presigned link,
// and each view is audited.
func TestDocumentView(t *testing.T) {
	s := newStack(t, stackOptions{})
	key := s.dropMail("doc.eml", unclearMail("wang.fang@example.cn", "documents for my son"))
	a := s.post("/mail/"+key+"/convert", url.Values{"kind": {"erasure"}, "role": {"guardian"}})
	if a.Status != http.StatusSeeOther {
		t.Fatalf("convert: %d %s", a.Status, pageText(a.Body))
	}
	id := strings.TrimPrefix(strings.SplitN(a.Location, "?", 2)[0], "/requests/")
	page := s.get("/requests/" + id + "?lang=en")
	if !strings.Contains(page.Body, "birth.pdf") || !strings.Contains(page.Body, `id="doc-1"`) {
		t.Fatalf("documents: %s", pageText(page.Body))
	}
	for range 2 {
		a = s.post("/requests/"+id+"/documents/1", nil)
		if a.Status != 200 {
			t.Fatalf("view: %d %s", a.Status, pageText(a.Body))
		}
	}
	m := docLinkRE.FindStringSubmatch(a.Body)
	if m == nil {
		t.Fatalf("no link: %s", a.Body)
	}
	link := strings.ReplaceAll(m[1], "&amp;", "&")
	if !regexp.MustCompile(`^`+regexp.QuoteMeta(s.s3URL+"/"+mailbox+"/attachments/")+`[0-9a-f]{64}/0\.pdf\?`).MatchString(link) || !strings.Contains(link, "X-Amz-Expires=300") || !strings.Contains(link, "response-content-disposition=inline") {
		t.Errorf("link %s", link)
	}
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "%PDF-1.4") {
		t.Errorf("GET link: %d %q", resp.StatusCode, body)
	}
	views := 0
	for _, e := range s.events(id) {
		if e.Type == "document_viewed" && e.Actor == "operator:"+operatorARN && e.Data["document"] == "1" {
			views++
		}
	}
	if views != 2 {
		t.Errorf("%d audited views, want 2", views)
	}
	for _, seq := range []string{"2", "0", "x"} {
		if a := s.post("/requests/"+id+"/documents/"+seq, nil); a.Status != http.StatusNotFound {
			t.Errorf("document %s: %d", seq, a.Status)
		}
	}
	var docs []store.Document
	docs, _ = s.st.ListDocuments(s.ctx, id)
	if len(docs) != 1 || docs[0].FileName != "birth.pdf" || docs[0].ContentType != "application/pdf" {
		t.Errorf("documents %+v", docs)
	}
}
