package console

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"dsrflow/internal/documents"
	"dsrflow/internal/dsr"
	"dsrflow/internal/principal"
	"dsrflow/internal/store"
)

// auditor is the console as an auditor runs it: the same table, bucket
// and workflow, reached through proxies that refuse what the auditors'
// policy does not allow, as IAM would.
func (s *stack) auditor() (*Handler, *iamProxy, *iamProxy) {
	s.t.Helper()
	db := dynamoProxy(s.t, emu.Endpoint, auditorARN, readOnly)
	states := jsonProxy(s.t, s.sfnURL, "states", auditorARN, readOnly)
	_, objects := s3Proxy(s.t, s.s3URL, func(string) bool { return false })
	st := store.New(store.Config{Table: s.st.Table()}, store.Deps{DB: ddb(db.URL), Clock: s.clock.Now})
	sc := sfn.New(sfn.Options{Region: "cn-north-1", BaseEndpoint: aws.String(states.URL), Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCAL", "secret", "")})
	deps := s.deps
	deps.Store, deps.SFN, deps.Objects, deps.Documents = st, sc, objects, documents.New(objects)
	deps.Operations = nil
	deps.Principal = principal.Principal{ARN: auditorARN, Account: "123456789012"}
	return s.newConsole(s.cfg, deps), db, states
}

// TestAccessDenied: a principal without the operators' permissions can
// look, and every action it tries shows the refusal (who, which call) and
// changes nothing.
func TestAccessDenied(t *testing.T) {
	s := newStack(t, stackOptions{})
	guardian := s.guardianErasure("denied-guardian")
	s.waitFor(guardian, "verification")
	mm := s.mismatch("denied-mismatch", dsr.KindConsentWithdrawal)
	// A verified subject for the hold: approve the mismatch as an operator
	// once the auditor has tried to.
	mailKey := s.dropMail("denied.eml", unclearMail("wang.fang@example.cn", "denied mail"))
	h, db, states := s.auditor()

	get := func(path string) answer { return do(t, h, httptest.NewRequest(http.MethodGet, path, nil)) }
	for _, path := range []string{"/?lang=en", "/requests/" + guardian + "?lang=en", "/report?lang=en", "/search?q=wang.fang@example.cn"} {
		if a := get(path); a.Status != 200 {
			t.Errorf("auditor GET %s: %d %s", path, a.Status, pageText(a.Body))
		}
	}
	if a := get("/mail/" + mailKey + "?lang=en"); a.Status != 200 || !strings.Contains(a.Body, "may not read the raw message") {
		t.Errorf("auditor mail page: %d %s", a.Status, pageText(a.Body))
	}
	page := get("/requests/" + guardian + "?lang=en")
	tok := tokenRE.FindStringSubmatch(page.Body)[1]

	type snapshot struct {
		events   int
		personal dsr.Identifiers
		waits    []store.OperatorWait
		mail     store.MailRecord
		notices  int
	}
	snap := func(id string) snapshot {
		sn := snapshot{events: len(s.events(id))}
		p, _ := s.st.GetPersonal(s.ctx, id)
		sn.personal = p.Subject
		sn.waits, _ = s.st.ListOperatorWaits(s.ctx, id)
		sn.mail, _, _ = s.st.GetMailRecord(s.ctx, mailKey)
		ns, _ := s.st.ListNotices(s.ctx, id)
		sn.notices = len(ns)
		return sn
	}
	tests := []struct {
		name, id, path string
		form           url.Values
		call           string
	}{
		{"approve", guardian, "/requests/" + guardian + "/decision", url.Values{"stage": {"verification"}, "decision": {"approve"}}, "DynamoDB:PutItem"},
		{"refuse", guardian, "/requests/" + guardian + "/decision", url.Values{"stage": {"verification"}, "decision": {"refuse"}, "reason": {"identity_not_verified"}}, "DynamoDB:PutItem"},
		{"amend", mm, "/requests/" + mm + "/identifiers", url.Values{"accounts": {"10000001"}}, "DynamoDB:PutItem"},
		{"ask for information", guardian, "/requests/" + guardian + "/information", url.Values{"needed": {"authority_document"}}, "DynamoDB:PutItem"},
		{"convert mail", guardian, "/mail/" + mailKey + "/convert", url.Values{"kind": {"erasure"}, "role": {"guardian"}}, "S3:GetObject"},
		{"ignore mail", guardian, "/mail/" + mailKey + "/ignore", url.Values{"reason": {"spam"}}, "DynamoDB:PutItem"},
	}
	for _, tt := range tests {
		before := snap(tt.id)
		form := tt.form
		form.Set("csrf", tok)
		form.Set("lang", "en")
		a := do(t, h, postForm(tt.path, form))
		if a.Status != http.StatusForbidden {
			t.Errorf("%s: %d, want 403: %s", tt.name, a.Status, pageText(a.Body))
			continue
		}
		for _, want := range []string{"Not allowed", auditorARN, tt.call, "nothing was changed", "OperatorsPolicy"} {
			if !strings.Contains(a.Body, want) {
				t.Errorf("%s: the page lacks %q: %s", tt.name, want, pageText(a.Body))
			}
		}
		after := snap(tt.id)
		if after.events != before.events || !slices.Equal(after.personal.Accounts, before.personal.Accounts) ||
			len(after.waits) != len(before.waits) || after.mail.Resolution != before.mail.Resolution || after.notices != before.notices {
			t.Errorf("%s changed something: %+v → %+v", tt.name, before, after)
		}
		for _, w := range after.waits {
			if w.Decided != nil {
				t.Errorf("%s: a wait was decided: %+v", tt.name, w)
			}
		}
	}
	if ms := s.mails(guardian, "more_information"); len(ms) != 0 {
		t.Errorf("a refused action sent %d messages", len(ms))
	}
	if slices.Contains(states.Calls(), "states:SendTaskSuccess") {
		t.Errorf("the auditor's console reached SendTaskSuccess: %v", states.Calls())
	}
	// The workflow still waits where it waited.
	s.waitFor(guardian, "verification")
	// The document view is audited first: no audit, no link.
	redirected(t, s.post("/requests/"+mm+"/decision", url.Values{"stage": {"identity"}, "decision": {"approve"}}), "/requests/"+mm, "approved")
	s.eventually("subject keys", func() bool { r, _ := s.st.GetRequest(s.ctx, mm); return len(r.SubjectKeys) > 0 })
	key2 := s.dropMail("denied-doc.eml", unclearMail("wang.fang@example.cn", "a document"))
	redirected(t, s.post("/mail/"+key2+"/link", url.Values{"requestId": {guardian}}), "/requests/"+guardian, "linked")
	n := len(s.events(guardian))
	a := do(t, h, postForm("/requests/"+guardian+"/documents/1", url.Values{"csrf": {tok}, "lang": {"en"}}))
	if a.Status != http.StatusForbidden || strings.Contains(a.Body, "X-Amz-Signature") || len(s.events(guardian)) != n {
		t.Errorf("auditor document view: %d", a.Status)
	}
	a = do(t, h, postForm("/requests/"+mm+"/hold", url.Values{"csrf": {tok}, "lang": {"en"}, "action": {"add"}, "holdAction": {"refuse"}, "reason": {"legal_hold"}}))
	if a.Status != http.StatusForbidden || !strings.Contains(a.Body, "DynamoDB:PutItem") {
		t.Errorf("auditor hold: %d %s", a.Status, pageText(a.Body))
	}
	if holds, _ := s.st.ListHolds(s.ctx); len(holds) != 0 {
		t.Errorf("auditor placed holds: %+v", holds)
	}
	if !slices.Contains(db.Calls(), "dynamodb:PutItem") {
		t.Errorf("the refusals did not come from DynamoDB: %v", db.Calls())
	}
}
