package console

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"dsrflow/internal/dsr"
)

// TestTriageConvert: a mail the classifier could not read a request from
// is in the queue; its page shows its text and attachment; converting it
// makes a request of the chosen kind that waits for the verification of
// the guardian's documents, and the mail leaves the queue.
func TestTriageConvert(t *testing.T) {
	s := newStack(t, stackOptions{})
	key := s.dropMail("convert.eml", unclearMail("Wang.Fang@example.cn", "about my son"))
	q := s.get("/?lang=en")
	if !strings.Contains(q.Body, `href="/mail/`+key+`?lang=en"`) {
		t.Fatalf("queue: %s", pageText(q.Body))
	}
	page := s.get("/mail/" + key + "?lang=en")
	for _, want := range []string{"wang.fang@example.cn", "about my son", "what can you do?", "birth.pdf", `id="convert"`, "No recognizable request"} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("mail page lacks %q: %s", want, pageText(page.Body))
		}
	}
	path := "/mail/" + key + "/convert"
	for _, bad := range []url.Values{{"kind": {"delete_everything"}, "role": {"self"}}, {"kind": {"erasure"}, "role": {"king"}}} {
		if a := s.post(path, bad); a.Status != http.StatusBadRequest {
			t.Errorf("%v: %d", bad, a.Status)
		}
	}
	stale := s.token(path)
	a := s.post(path, url.Values{"kind": {"erasure"}, "role": {"guardian"}})
	if a.Status != http.StatusSeeOther || !strings.Contains(a.Location, "done=converted") {
		t.Fatalf("convert: %d %s", a.Status, pageText(a.Body))
	}
	id := strings.TrimPrefix(strings.SplitN(a.Location, "?", 2)[0], "/requests/")
	r, err := s.st.GetRequest(s.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != dsr.KindErasure || r.Role != dsr.RoleGuardian || r.Channel != dsr.ChannelMail || r.Documents != 1 || r.Source != "s3://"+mailbox+"/inbox/convert.eml" {
		t.Errorf("request %+v", r)
	}
	p, _ := s.st.GetPersonal(s.ctx, id)
	if p.Contact.Email != "wang.fang@example.cn" {
		t.Errorf("contact %+v", p.Contact)
	}
	s.waitFor(id, "verification")
	rec, _, _ := s.st.GetMailRecord(s.ctx, key)
	if rec.Resolution != ResolutionConverted || rec.RequestID != id || rec.ResolvedBy != "operator:"+operatorARN || rec.NeedsPerson() {
		t.Errorf("mail record %+v", rec)
	}
	if ev := s.lastEvent(id, "mail_converted"); ev.Actor != "operator:"+operatorARN || ev.Data["kind"] != "erasure" || ev.Data["attachments"] != "1" {
		t.Errorf("convert event %+v", ev)
	}
	q = s.get("/?lang=en")
	if strings.Contains(q.Body, "/mail/"+key) || !strings.Contains(q.Body, id) {
		t.Errorf("queue after convert: %s", pageText(q.Body))
	}
	if a := s.post(path, url.Values{"csrf": {stale}, "kind": {"erasure"}, "role": {"guardian"}}); a.Status != http.StatusConflict || !strings.Contains(a.Body, "settled already") {
		t.Errorf("second convert: %d %s", a.Status, pageText(a.Body))
	}
	done := s.get("/mail/" + key + "?lang=en")
	if !strings.Contains(done.Body, "Converted to request") || strings.Contains(done.Body, `id="convert"`) {
		t.Errorf("settled mail page: %s", pageText(done.Body))
	}
	if strings.Contains(s.logs.String(), "wang.fang") || strings.Contains(s.logs.String(), "what can you do") {
		t.Error("mail content in the logs")
	}
}

func TestTriageLink(t *testing.T) {
	s := newStack(t, stackOptions{})
	target := s.guardianErasure("link-target")
	s.waitFor(target, "verification")
	key := s.dropMail("link.eml", unclearMail("wang.fang@example.cn", "the birth certificate"))
	path := "/mail/" + key + "/link"
	if a := s.post(path, url.Values{"requestId": {""}}); a.Status != http.StatusBadRequest {
		t.Errorf("empty ID: %d", a.Status)
	}
	if a := s.post(path, url.Values{"requestId": {"r-aaaaaaaaaaaaaaaaaaaaaaaaaa"}}); a.Status != http.StatusNotFound || !strings.Contains(a.Body, "There is no request") {
		t.Errorf("unknown request: %d %s", a.Status, pageText(a.Body))
	}
	redirected(t, s.post(path, url.Values{"requestId": {" " + strings.ToUpper(target) + " "}}), "/requests/"+target, "linked")
	docs, _ := s.st.ListDocuments(s.ctx, target)
	if len(docs) != 1 || docs[0].FileName != "birth.pdf" || docs[0].Key != "attachments/"+key+"/0.pdf" {
		t.Errorf("documents %+v", docs)
	}
	if ev := s.lastEvent(target, "mail_linked"); ev.Actor != "operator:"+operatorARN || ev.Data["dedupeKey"] != key || ev.Data["attachments"] != "1" {
		t.Errorf("link event %+v", ev)
	}
	rec, _, _ := s.st.GetMailRecord(s.ctx, key)
	if rec.Resolution != ResolutionLinked || rec.RequestID != target {
		t.Errorf("mail record %+v", rec)
	}
	// A second mail to the same request: its documents follow the first.
	key2 := s.dropMail("link2.eml", unclearMail("wang.fang@example.cn", "another page"))
	redirected(t, s.post("/mail/"+key2+"/link", url.Values{"requestId": {target}}), "/requests/"+target, "linked")
	if docs, _ := s.st.ListDocuments(s.ctx, target); len(docs) != 2 || docs[1].Key != "attachments/"+key2+"/0.pdf" {
		t.Errorf("documents after a second link %+v", docs)
	}
	// A closed request takes no mail.
	redirected(t, s.post("/requests/"+target+"/decision", url.Values{"stage": {"verification"}, "decision": {"refuse"}, "reason": {"authority_not_proven"}}), "/requests/"+target, "refused")
	s.status(target, dsr.StatusRefused)
	key3 := s.dropMail("link3.eml", unclearMail("wang.fang@example.cn", "too late"))
	if a := s.post("/mail/"+key3+"/link", url.Values{"requestId": {target}}); a.Status != http.StatusConflict || !strings.Contains(a.Body, "is closed") {
		t.Errorf("link to a closed request: %d %s", a.Status, pageText(a.Body))
	}
	if st := s.finished(target); st != sfntypes.ExecutionStatusSucceeded {
		t.Errorf("execution %s", st)
	}
}

func TestTriageIgnore(t *testing.T) {
	s := newStack(t, stackOptions{})
	key := s.dropMail("ignore.eml", unclearMail("someone@example.cn", "hello there"))
	path := "/mail/" + key + "/ignore"
	for _, r := range []string{"", "boring"} {
		if a := s.post(path, url.Values{"reason": {r}}); a.Status != http.StatusBadRequest || !strings.Contains(a.Body, "Choose why") {
			t.Errorf("reason %q: %d", r, a.Status)
		}
	}
	redirected(t, s.post(path, url.Values{"reason": {"not_a_request"}}), "/", "ignored")
	rec, _, _ := s.st.GetMailRecord(s.ctx, key)
	if rec.Resolution != ResolutionIgnored || rec.ResolutionReason != "not_a_request" || rec.ResolvedBy != "operator:"+operatorARN {
		t.Errorf("mail record %+v", rec)
	}
	if q := s.get("/?lang=en&done=ignored"); strings.Contains(q.Body, key) || !strings.Contains(q.Body, "The mail was ignored") {
		t.Errorf("queue after ignore: %s", pageText(q.Body))
	}
	for _, bad := range []string{"/mail/" + strings.Repeat("z", 64), "/mail/short"} {
		if a := s.get(bad); a.Status != http.StatusNotFound {
			t.Errorf("%s: %d", bad, a.Status)
		}
	}
	if a := s.get("/mail/" + strings.Repeat("a", 64)); a.Status != http.StatusNotFound {
		t.Errorf("unknown mail: %d", a.Status)
	}
}
