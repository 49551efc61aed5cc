package console

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"dsrflow/internal/dsr"
	"dsrflow/internal/intake"
	"dsrflow/internal/principal"
	"dsrflow/internal/store"
)

// mismatch is a request whose typed account (10000002, Li Na's) is not
// the logged-in person's (10000001, Zhang Wei): verified at intake, it
// waits for an operator at the identity stage, with a due date.
func (s *stack) mismatch(key string, kind dsr.Kind) string {
	s.t.Helper()
	sub := dsr.Submission{Kind: string(kind), Role: string(dsr.RoleSelf), Email: "zhang.wei@example.cn", AccountID: "10000002", Locale: "en"}
	switch kind {
	case dsr.KindErasure:
		sub.ErasureGround = string(dsr.GroundStoppedUsing)
	case dsr.KindConsentWithdrawal:
		sub.Purposes = []string{dsr.PurposeAnalytics}
	}
	id := s.submit(sub, key, &intake.Login{Account: "10000001", At: s.clock.Now()})
	s.waitFor(id, "identity")
	return id
}

func TestSecurityHeadersAndHosts(t *testing.T) {
	s := newStack(t, stackOptions{})
	for _, path := range []string{"/", "/?lang=en", "/report", "/search?q=x", "/nope", "/requests/r-unknown"} {
		a := s.get(path)
		csp := a.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "style-src 'sha256-", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
			"Cache-Control": "no-store", "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Resource-Policy": "same-origin"} {
			if got := a.Header.Get(h); got != want {
				t.Errorf("%s: %s = %q, want %q", path, h, got, want)
			}
		}
	}
	tests := []struct {
		host string
		want int
	}{
		{"127.0.0.1:8090", 200}, {"localhost:8090", 200}, {"[::1]:8090", 200}, {"127.0.0.2:8090", 200},
		{"console.example.cn", http.StatusMisdirectedRequest},
		{"rebind.attacker.example:8090", http.StatusMisdirectedRequest},
		{"10.0.0.5:8090", http.StatusMisdirectedRequest},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Host = tt.host
		if a := do(t, s.console, req); a.Status != tt.want {
			t.Errorf("Host %s: %d, want %d", tt.host, a.Status, tt.want)
		}
	}
	// Another site may link to the console, not embed or fetch it.
	for _, mode := range []string{"no-cors", "cors", "navigate"} {
		req := httptest.NewRequest(http.MethodGet, "/report?from=2026-01-01&to=2026-03-01", nil)
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.Header.Set("Sec-Fetch-Mode", mode)
		want := http.StatusForbidden
		if mode == "navigate" {
			want = http.StatusOK
		}
		if a := do(t, s.console, req); a.Status != want {
			t.Errorf("cross-site %s: %d, want %d", mode, a.Status, want)
		}
	}
	if a := s.get("/nope?lang=en"); a.Status != 404 || !strings.Contains(a.Body, "There is no such page") {
		t.Errorf("unknown path: %d", a.Status)
	}
}

func TestLoopbackAddr(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:8090", true}, {"localhost:8090", true}, {"[::1]:8090", true}, {"127.0.0.1:0", true},
		{":8090", false}, {"0.0.0.0:8090", false}, {"[::]:8090", false}, {"192.168.1.2:8090", false},
		{"console.example.cn:8090", false}, {"127.0.0.1", false}, {"", false},
	}
	for _, tt := range tests {
		if err := LoopbackAddr(tt.addr); (err == nil) != tt.ok {
			t.Errorf("LoopbackAddr(%q) = %v, want ok %v", tt.addr, err, tt.ok)
		}
	}
}

// TestCSRFRefused: a decision posted without the console's token, with a
// forged, foreign or expired one, or from another site is refused with
// 403, and nothing changes: the wait stays undecided, nothing is audited.
func TestCSRFRefused(t *testing.T) {
	s := newStack(t, stackOptions{})
	id := s.guardianErasure("csrf")
	s.waitFor(id, "verification")
	valid := s.token("/requests/" + id)
	other := s.newConsole(s.cfg, s.deps) // another process: another key
	foreign := other.newToken()
	before := len(s.events(id))
	form := func(tok string) url.Values {
		v := url.Values{"stage": {"verification"}, "decision": {"approve"}, "lang": {"en"}}
		if tok != "" {
			v.Set("csrf", tok)
		}
		return v
	}
	path := "/requests/" + id + "/decision"
	tests := []struct {
		name string
		req  func() *http.Request
		want string
	}{
		{"no token", func() *http.Request { return postForm(path, form("")) }, "did not come from this console"},
		{"forged token", func() *http.Request { return postForm(path, form(valid[:20]+"AAAA"+valid[24:])) }, "did not come from this console"},
		{"another console's token", func() *http.Request { return postForm(path, form(foreign)) }, "did not come from this console"},
		{"garbage", func() *http.Request { return postForm(path, form("%%%")) }, "did not come from this console"},
		{"cross-site origin", func() *http.Request {
			r := postForm(path, form(valid))
			r.Header.Set("Origin", "https://attacker.example")
			r.Header.Del("Sec-Fetch-Site")
			return r
		}, "another site"},
		{"marked cross-site", func() *http.Request {
			r := postForm(path, form(valid))
			r.Header.Del("Origin")
			r.Header.Set("Sec-Fetch-Site", "cross-site")
			r.Header.Set("Sec-Fetch-Mode", "navigate") // a form post from another site
			return r
		}, "another site"},
		{"the privacy center on another port", func() *http.Request {
			r := postForm(path, form(valid))
			r.Header.Set("Origin", "http://127.0.0.1:8080")
			r.Header.Set("Sec-Fetch-Site", "same-site")
			return r
		}, "another site"},
	}
	for _, tt := range tests {
		a := do(t, s.console, tt.req())
		if a.Status != http.StatusForbidden || !strings.Contains(a.Body, tt.want) || !strings.Contains(a.Body, "nothing was changed") {
			t.Errorf("%s: %d %s", tt.name, a.Status, pageText(a.Body))
		}
	}
	// An expired token: twelve hours and more.
	s.wall.Advance(TokenLifetime + time.Minute)
	if a := do(t, s.console, postForm(path, form(valid))); a.Status != http.StatusForbidden {
		t.Errorf("expired token: %d", a.Status)
	}
	w, _ := s.st.GetOperatorWait(s.ctx, id, "verification")
	if w.Decided != nil {
		t.Errorf("a refused post decided the wait: %+v", w)
	}
	if n := len(s.events(id)); n != before {
		t.Errorf("audit events %d → %d after refused posts", before, n)
	}
	// The page's own, fresh token works.
	redirected(t, s.post(path, url.Values{"stage": {"verification"}, "decision": {"approve"}}), "/requests/"+id, "approved")
}

func TestRefuseAndConflicts(t *testing.T) {
	s := newStack(t, stackOptions{})
	id := s.guardianErasure("refuse")
	s.waitFor(id, "verification")
	path := "/requests/" + id + "/decision"
	// A refusal needs a reason from the list.
	for _, reason := range []string{"", "bored"} {
		a := s.post(path, url.Values{"stage": {"verification"}, "decision": {"refuse"}, "reason": {reason}})
		if a.Status != http.StatusBadRequest || !strings.Contains(a.Body, "A refusal needs a reason") {
			t.Errorf("reason %q: %d %s", reason, a.Status, pageText(a.Body))
		}
	}
	if a := s.post(path, url.Values{"stage": {"verification"}, "decision": {"maybe"}}); a.Status != http.StatusBadRequest {
		t.Errorf("decision maybe: %d", a.Status)
	}
	// A stage the workflow does not wait on.
	if a := s.post(path, url.Values{"stage": {"review"}, "decision": {"approve"}}); a.Status != http.StatusConflict || !strings.Contains(a.Body, "does not wait for this decision") {
		t.Errorf("wrong stage: %d %s", a.Status, pageText(a.Body))
	}
	stale := s.token("/requests/" + id)
	redirected(t, s.post(path, url.Values{"stage": {"verification"}, "decision": {"refuse"}, "reason": {string(dsr.RefusalAuthorityNotProven)}}), "/requests/"+id, "refused")
	s.status(id, dsr.StatusRefused)
	r, _ := s.st.GetRequest(s.ctx, id)
	if r.RefusalReason != dsr.RefusalAuthorityNotProven {
		t.Errorf("refusal reason %s", r.RefusalReason)
	}
	s.eventually("the refusal notice", func() bool { return len(s.mails(id, "refused")) == 1 })
	if m := s.mails(id, "refused")[0]; !strings.Contains(m, "您未能证明有权代表该个人提出请求") {
		t.Errorf("refusal notice:\n%s", m)
	}
	// The form of the page before the decision, posted again.
	a := do(t, s.console, postForm(path, url.Values{"csrf": {stale}, "lang": {"en"}, "stage": {"verification"}, "decision": {"approve"}}))
	if a.Status != http.StatusConflict || !strings.Contains(a.Body, "An operator decided already") {
		t.Errorf("second decision: %d %s", a.Status, pageText(a.Body))
	}
	if ev := s.lastEvent(id, "operator_decision"); ev.Data["result"] != "refused" || ev.Actor != "operator:"+operatorARN {
		t.Errorf("decision event %+v", ev)
	}
}

// TestQueue: every kind of wait is in the queue, oldest due first, with
// the working days left; beside it the counts and what is due soon. The
// queue and the search read through the indexes only: no Scan.
func TestQueue(t *testing.T) {
	s := newStack(t, stackOptions{})
	guardian := s.guardianErasure("queue-guardian")
	s.waitFor(guardian, "verification")
	mm := s.mismatch("queue-mismatch", dsr.KindAccess)
	s.clock.Advance(time.Hour)
	mailKey := s.dropMail("q.eml", unclearMail("wang.fang@example.cn", "about my son"))
	// On Friday 2026-03-20 the mismatch, verified on 2026-03-02 and due
	// 2026-03-23, has 1 working day left.
	s.clock.Advance(18 * 24 * time.Hour)

	calls := dynamoProxy(t, emu.Endpoint, operatorARN, nil)
	deps := s.deps
	deps.Store = store.New(store.Config{Table: s.st.Table()}, store.Deps{DB: ddb(calls.URL), Clock: s.clock.Now})
	h := s.newConsole(s.cfg, deps)
	a := do(t, h, httptest.NewRequest(http.MethodGet, "/?lang=en", nil))
	if a.Status != 200 {
		t.Fatalf("queue %d", a.Status)
	}
	body := a.Body
	rows := strings.Split(body[strings.Index(body, `<table id="queue">`):strings.Index(body, `</table>`)], "<tr")
	var order []string
	for _, r := range rows {
		switch {
		case strings.Contains(r, mm):
			order = append(order, "mismatch")
			if !strings.Contains(r, "2026-03-23") || !strings.Contains(r, "1 working days") || !strings.Contains(r, "Identity check") || !strings.Contains(r, `class="soon"`) {
				t.Errorf("mismatch row: %s", pageText(r))
			}
		case strings.Contains(r, guardian):
			order = append(order, "guardian")
			if !strings.Contains(r, "Clock not started") {
				t.Errorf("guardian row: %s", pageText(r))
			}
		case strings.Contains(r, mailKey[:12]):
			order = append(order, "mail")
			if !strings.Contains(r, "Triaged mail") || !strings.Contains(r, "No recognizable request") {
				t.Errorf("mail row: %s", pageText(r))
			}
		}
	}
	// The mismatch is due 2026-03-23; the others would be due 15 working
	// days after they came (2026-03-23 too): a real due date first, then
	// the one that waited longer.
	if !slices.Equal(order, []string{"mismatch", "guardian", "mail"}) {
		t.Errorf("queue order %v", order)
	}
	if !strings.Contains(body, `<h2 id="counts-h">Open requests (2)</h2>`) || !strings.Contains(body, "In review") {
		t.Errorf("counts: %s", pageText(body[strings.Index(body, `id="counts-h"`):]))
	}
	due := body[strings.Index(body, `id="due-h"`):]
	if !strings.Contains(due, mm) || strings.Contains(due, guardian) {
		t.Errorf("due soon: %s", pageText(due))
	}
	// Late: past the due date, in red.
	s.clock.Advance(5 * 24 * time.Hour)
	a = do(t, h, httptest.NewRequest(http.MethodGet, "/?lang=en", nil))
	if !strings.Contains(a.Body, "2 working days late") || !strings.Contains(a.Body, `class="late"`) {
		t.Errorf("late request not shown late: %s", pageText(a.Body))
	}
	for _, q := range []string{"zhang.wei@example.cn", "+86 138 0013 8001", mm} {
		do(t, h, httptest.NewRequest(http.MethodGet, "/search?q="+url.QueryEscape(q), nil))
	}
	for _, c := range calls.Calls() {
		if c == "dynamodb:Scan" {
			t.Errorf("the queue or the search scanned the table: %v", calls.Calls())
			break
		}
	}
}

func TestSearch(t *testing.T) {
	s := newStack(t, stackOptions{})
	guardian := s.guardianErasure("search-guardian")
	s.waitFor(guardian, "verification")
	mm := s.mismatch("search-mismatch", dsr.KindAccess)
	// A requester with a phone only, waiting for an SMS code.
	byPhone := s.submit(dsr.Submission{Kind: string(dsr.KindAccess), Role: string(dsr.RoleSelf), Phone: "13800138002", Locale: "zh-CN"}, "search-phone", nil)
	tests := []struct {
		q        string
		status   int
		location string
		want     []string
		notWant  []string
	}{
		{mm, http.StatusSeeOther, "/requests/" + mm + "?lang=en", nil, nil},
		{strings.ToUpper(mm), http.StatusSeeOther, "/requests/" + mm + "?lang=en", nil, nil},
		// The guardian's address is her contact (a hint key).
		{"Wang.Fang@Example.CN", 200, "", []string{guardian}, []string{mm}},
		// Zhang Wei's address, his contact.
		{"zhang.wei@example.cn", 200, "", []string{mm}, []string{guardian}},
		// A phone, however typed.
		{"138 0013 8002", 200, "", []string{byPhone}, []string{mm}},
		{"+86 13800138002", 200, "", []string{byPhone}, nil},
		// The typed account, a hint.
		{"10000002", 200, "", []string{mm}, nil},
		{"nobody@example.cn", 200, "", []string{"No request found"}, nil},
		{"r-aaaaaaaaaaaaaaaaaaaaaaaaaa", 200, "", []string{"No request found"}, nil},
		{"not an identifier!", http.StatusBadRequest, "", []string{"Enter a whole request ID"}, nil},
		{"", http.StatusBadRequest, "", nil, nil},
	}
	for _, tt := range tests {
		a := s.get("/search?lang=en&q=" + url.QueryEscape(tt.q))
		if a.Status != tt.status || a.Location != tt.location {
			t.Errorf("search %q: %d %q, want %d %q", tt.q, a.Status, a.Location, tt.status, tt.location)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(a.Body, w) {
				t.Errorf("search %q lacks %q: %s", tt.q, w, pageText(a.Body))
			}
		}
		for _, w := range tt.notWant {
			if strings.Contains(a.Body, w) {
				t.Errorf("search %q finds %q", tt.q, w)
			}
		}
	}
	if strings.Contains(s.logs.String(), "wang.fang") || strings.Contains(s.logs.String(), "13800138002") {
		t.Error("a searched identifier is in the logs")
	}
}

func TestNew(t *testing.T) {
	s := newStack(t, stackOptions{})
	bad := []func(*Config, *Deps){
		func(c *Config, d *Deps) { c.SubjectKeySecret = "short" },
		func(c *Config, d *Deps) { c.Jurisdiction = "EU" },
		func(c *Config, d *Deps) { c.StateMachineArn = "" },
		func(c *Config, d *Deps) { d.Principal = principal.Principal{} },
		func(c *Config, d *Deps) { d.Store = nil },
	}
	for i, edit := range bad {
		cfg, deps := s.cfg, s.deps
		edit(&cfg, &deps)
		if _, err := New(cfg, deps); err == nil {
			t.Errorf("case %d: New accepted a bad configuration", i)
		}
	}
}
