package webintake

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"dsrflow/internal/dsr"
	"dsrflow/internal/intake"
	"dsrflow/internal/intake/intaketest"
)

func TestGetForm(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	for _, tc := range []struct {
		name, query, acceptLanguage string
		wantLang, wantText, golden  string
	}{
		{"default Chinese", "", "", "zh-CN", "行使您的个人信息权利", "form.zh-CN.html"},
		{"Chinese by Accept-Language", "", "zh-CN,zh-Hans;q=0.9", "zh-CN", "删除我的个人信息", ""},
		{"English by ?lang=en", "lang=en", "zh-CN", "en", "Exercise your personal information rights", "form.en.html"},
		{"English by Accept-Language", "", "en-GB,en;q=0.9", "en", "Delete my personal information", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := getForm(tc.query)
			if tc.acceptLanguage == "" {
				req.Header.Del("Accept-Language")
			} else {
				req.Header.Set("Accept-Language", tc.acceptLanguage)
			}
			resp := e.do(t, req)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200", resp.StatusCode)
			}
			if got := resp.Header.Get("Content-Type"); got != "text/html; charset=utf-8" {
				t.Errorf("Content-Type = %q", got)
			}
			if !strings.Contains(resp.Body, `<html lang="`+tc.wantLang+`">`) {
				t.Errorf("page is not lang=%s", tc.wantLang)
			}
			if !strings.Contains(resp.Body, tc.wantText) {
				t.Errorf("page lacks %q", tc.wantText)
			}
			if tc.golden != "" {
				goldenCompare(t, tc.golden, stableForm(resp.Body))
			}
		})
	}
}

func TestFormNonceIsFreshEachTime(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	a := pageNonce(e.do(t, getForm("")).Body)
	b := pageNonce(e.do(t, getForm("")).Body)
	if a == "" || a == b {
		t.Errorf("nonces %q and %q: want two different ones", a, b)
	}
	for _, n := range []string{a, b} {
		if !e.h.checkNonce(n) {
			t.Errorf("nonce %q from the form does not check", n)
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	want := map[string]string{
		"X-Content-Type-Options":    "nosniff",
		"Referrer-Policy":           "no-referrer",
		"Cache-Control":             "no-store",
		"X-Frame-Options":           "DENY",
		"Strict-Transport-Security": "max-age=63072000; includeSubDomains",
	}
	notFound := newRequest(http.MethodGet, "/admin", nil)
	method := newRequest(http.MethodDelete, "/requests", nil)
	for name, req := range map[string]*http.Request{
		"form": getForm(""), "404": notFound, "405": method, "JSON": jsonPost(`{}`, ""),
	} {
		resp := e.do(t, req)
		for k, v := range want {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", name, k, got, v)
			}
		}
		csp := resp.Header.Get("Content-Security-Policy")
		for _, d := range []string{"default-src 'none'", "form-action 'self'", "base-uri 'none'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("%s: CSP %q lacks %q", name, csp, d)
			}
		}
	}
	resp := e.do(t, getForm(""))
	// The style-src hash must allow exactly the page's inline style sheet.
	start := strings.Index(resp.Body, "<style>")
	end := strings.Index(resp.Body, "</style>")
	if start < 0 || end < start {
		t.Fatal("no inline style sheet")
	}
	if h := styleHash(resp.Body[start+len("<style>") : end]); !strings.Contains(resp.Header.Get("Content-Security-Policy"), "style-src "+h) {
		t.Errorf("CSP %q does not allow the inline style (hash %s)", resp.Header.Get("Content-Security-Policy"), h)
	}
}

func TestPostFormAccepted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	resp := e.do(t, formPost(e.sampleForm(t)))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status = %d, want 202; body:\n%s", resp.StatusCode, resp.Body)
	}
	if !strings.Contains(resp.Body, `<html lang="zh-CN">`) || !strings.Contains(resp.Body, "我们已收到您的请求") {
		t.Errorf("confirmation is not in Chinese:\n%s", resp.Body)
	}
	if !strings.Contains(resp.Body, text(dsr.LocaleZhCN, "accepted.next")) || !strings.Contains(resp.Body, `id="verify-link"`) {
		t.Error("the confirmation of a requester acting for themselves must promise a code and link the verification page")
	}
	id := pageRequestID(t, resp.Body)
	link := statusLink(t, resp.Body)
	if want := sampleOrigin + "/requests/" + id + "?token="; !strings.HasPrefix(link, want) {
		t.Errorf("status link = %q, want %s…", link, want)
	}
	if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("a page with a status token must be no-store and no-referrer: %v", resp.Header)
	}

	// What was stored: the request, its token only as a hash, a body
	// digest; the contact on the personal item.
	ctx := context.Background()
	req, err := e.store.GetRequest(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	token := mustQuery(t, link).Get("token")
	if raw, err := base64.RawURLEncoding.DecodeString(token); err != nil || len(raw) != 32 {
		t.Errorf("token %q: want 32 bytes base64url (err %v)", token, err)
	}
	if req.StatusTokenHash != TokenHash(token) || strings.Contains(req.StatusTokenHash, token) {
		t.Errorf("stored token hash = %q, want the SHA-256 of the token", req.StatusTokenHash)
	}
	if req.Kind != dsr.KindErasure || req.ErasureGround != dsr.GroundStoppedUsing || req.Role != dsr.RoleSelf ||
		req.Channel != dsr.ChannelWeb || req.Locale != "zh-CN" || !req.ExecutionStarted || req.Source != SourceForm || req.BodyDigest == "" {
		t.Errorf("stored request = %+v", req)
	}
	p, err := e.store.GetPersonal(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if p.Contact.Phone != "+8613800138000" || p.Contact.Email != "zhang.san@example.com" || p.Details != "我已不再使用该应用，请删除我的全部个人信息。" {
		t.Errorf("stored personal data = %+v", p)
	}

	// One execution, named by the request, with only the request ID as input.
	calls := e.sfn.Calls()
	if len(calls) != 1 {
		t.Fatalf("StartExecution calls = %d, want 1", len(calls))
	}
	if calls[0].Name != id {
		t.Errorf("execution name = %q, want %q", calls[0].Name, id)
	}
	var input map[string]any
	if err := json.Unmarshal([]byte(calls[0].Input), &input); err != nil {
		t.Fatal(err)
	}
	if len(input) != 1 || input["requestId"] != id {
		t.Errorf("execution input = %s, want exactly {\"requestId\":%q}", calls[0].Input, id)
	}
	// The client's address is never logged.
	if strings.Contains(e.logs.String(), "203.0.113.7") {
		t.Error("the client's IP address is in the logs")
	}
}

func TestResubmitReturnsTheSameRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	vals := e.sampleForm(t)
	first := e.do(t, formPost(vals))
	second := e.do(t, formPost(vals))
	if first.StatusCode != http.StatusAccepted || second.StatusCode != http.StatusAccepted {
		t.Fatalf("statuses %d, %d; want 202 twice", first.StatusCode, second.StatusCode)
	}
	if a, b := pageRequestID(t, first.Body), pageRequestID(t, second.Body); a != b {
		t.Errorf("request IDs %s and %s: a double-click must name one request", a, b)
	}
	if a, b := statusLink(t, first.Body), statusLink(t, second.Body); a != b {
		t.Errorf("status links differ: %s, %s", a, b)
	}
	if n := len(e.sfn.Calls()); n != 1 {
		t.Errorf("StartExecution calls = %d, want 1", n)
	}
	// The same nonce from another person is another request.
	vals.Set("email", "wang.wu@example.com")
	vals.Set("phone", "")
	other := e.do(t, formPost(vals))
	if other.StatusCode != http.StatusAccepted {
		t.Fatalf("status = %d, want 202", other.StatusCode)
	}
	if pageRequestID(t, other.Body) == pageRequestID(t, first.Body) {
		t.Error("the same nonce with another subject returned the first person's request")
	}
}

func TestPostJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	resp := e.do(t, jsonPost(sampleJSONBody, sampleKey))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status = %d, want 202; body:\n%s", resp.StatusCode, resp.Body)
	}
	if got := resp.Header.Get("Content-Type"); got != contentJSON {
		t.Errorf("Content-Type = %q", got)
	}
	var got acceptedJSON
	dec := json.NewDecoder(strings.NewReader(resp.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("answer %s: %v", resp.Body, err)
	}
	if got.RequestID == "" || got.Status != string(dsr.StatusReceived) || !strings.HasPrefix(got.StatusURL, sampleOrigin+"/requests/"+got.RequestID+"?token=") {
		t.Errorf("answer = %+v", got)
	}
	again := e.do(t, jsonPost(sampleJSONBody, sampleKey))
	var got2 acceptedJSON
	if err := json.Unmarshal([]byte(again.Body), &got2); err != nil || again.StatusCode != http.StatusAccepted {
		t.Fatalf("retry: %d %s", again.StatusCode, again.Body)
	}
	if got2 != got {
		t.Errorf("retry with the same Idempotency-Key = %+v, want %+v", got2, got)
	}
	if n := len(e.sfn.Calls()); n != 1 {
		t.Errorf("StartExecution calls = %d, want 1", n)
	}
	req, err := e.store.GetRequest(context.Background(), got.RequestID)
	if err != nil {
		t.Fatal(err)
	}
	if req.Kind != dsr.KindConsentWithdrawal || req.Locale != "en" || len(req.Purposes) != 1 || req.Purposes[0] != dsr.PurposeAnalytics || req.Source != SourceAPI {
		t.Errorf("stored request = %+v", req)
	}

	// With a base URL, links are absolute on it.
	b := newEnv(t, 3, func(c *Config) { c.PublicBaseURL = "https://privacy.example.cn/" })
	abs := b.do(t, jsonPost(`{"kind":"access","role":"self","phone":"13800138000"}`, "0123456789abcdef0123456789abcdef"))
	var got3 acceptedJSON
	if err := json.Unmarshal([]byte(abs.Body), &got3); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got3.StatusURL, "https://privacy.example.cn/requests/"+got3.RequestID+"?token=") {
		t.Errorf("statusUrl = %q, want an absolute URL on the base", got3.StatusURL)
	}
}

// TestIdempotencyKeyBoundToBody (issue 15): a key sent again with another
// body is 422 with no request ID and no link, for JSON and for the form; the
// same body written differently (spacing, case) is the same request.
func TestIdempotencyKeyBoundToBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	const key = "Zm9yLXRoZS1yZWFkbWUtZXhhbXBsZQ"
	first := e.do(t, jsonPost(`{"kind":"erasure","role":"self","email":"me@example.com","locale":"en","erasureGround":"stopped_using"}`, key))
	if first.StatusCode != http.StatusAccepted {
		t.Fatalf("first: %d %s", first.StatusCode, first.Body)
	}
	id := decodeJSON(t, first.Body)["requestId"]
	same := e.do(t, jsonPost(`{ "email": " ME@Example.com ", "role": "self", "kind": "erasure", "erasureGround": "stopped_using", "locale": "en" }`, key))
	if same.StatusCode != http.StatusAccepted || decodeJSON(t, same.Body)["requestId"] != id {
		t.Errorf("the same body written differently: %d %s, want 202 with %v", same.StatusCode, same.Body, id)
	}
	for name, body := range map[string]string{
		"other details": `{"kind":"erasure","role":"self","email":"me@example.com","locale":"en","erasureGround":"stopped_using","details":"and my songs"}`,
		"other role":    `{"kind":"erasure","role":"guardian","email":"me@example.com","locale":"en","erasureGround":"stopped_using"}`,
		"other ground":  `{"kind":"erasure","role":"self","email":"me@example.com","locale":"en","erasureGround":"no_consent"}`,
		"other locale":  `{"kind":"erasure","role":"self","email":"me@example.com","locale":"zh-CN","erasureGround":"stopped_using"}`,
	} {
		resp := e.do(t, jsonPost(body, key))
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d %s, want 422", name, resp.StatusCode, resp.Body)
			continue
		}
		errs := decodeErrors(t, resp.Body)
		if !errs.has(FieldHeaderIdempotencyKey, string(CodeIdempotencyKeyReused)) || errs[0].Message == "" {
			t.Errorf("%s: errors = %+v", name, errs)
		}
		if strings.Contains(resp.Body, "r-") || strings.Contains(resp.Body, "token") || strings.Contains(resp.Body, "requestId") {
			t.Errorf("%s: the 422 names the first request: %s", name, resp.Body)
		}
	}
	if n := len(e.sfn.Calls()); n != 1 {
		t.Errorf("StartExecution calls = %d, want 1", n)
	}

	// The form: the same nonce with other content (the back button after
	// sending) shows the form again, with a fresh nonce and no request.
	vals := e.sampleForm(t)
	if resp := e.do(t, formPost(vals)); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("form: %d", resp.StatusCode)
	}
	vals.Set("details", "改了主意")
	resp := e.do(t, formPost(vals))
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(resp.Body, text(dsr.LocaleZhCN, "errors.reused")) {
		t.Fatalf("form with another body: %d\n%s", resp.StatusCode, resp.Body)
	}
	if strings.Contains(resp.Body, `id="request-id"`) || strings.Contains(resp.Body, "token=") || !strings.Contains(resp.Body, "改了主意") {
		t.Errorf("the 422 page shows the first request or loses what was typed:\n%s", resp.Body)
	}
	fresh := pageNonce(resp.Body)
	if fresh == vals.Get("nonce") || !e.h.checkNonce(fresh) {
		t.Error("the form shown again has no fresh nonce")
	}
	vals.Set("nonce", fresh)
	if again := e.do(t, formPost(vals)); again.StatusCode != http.StatusAccepted {
		t.Errorf("the form sent again with the fresh nonce: %d, want 202", again.StatusCode)
	}
}

func TestIdempotencyKeyShape(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		key  string
		want bool
	}{
		{"7f9c2ba4-e88f-4c3b-9f6a-2d1e5b8c0a47", true}, // a UUID: 32 hex digits
		{"7F9C2BA4E88F4C3B9F6A2D1E5B8C0A47", true},     // 32 hex digits
		{"7f9c2ba4e88f4c3b9f6a2d1e5b8c0a4", false},     // 31
		{"Zm9yLXRoZS1yZWFkbWUtZXhhbXBsZQ", true},       // base64url, 30 characters
		{"Zm9yLXRoZS1yZWFkbWUtZX", true},               // 22 characters of base64url: 132 bits
		{"Zm9yLXRoZS1yZWFkbWUtZ", false},               // 21
		{"1234567890123456789012345", false},           // 25 digits: hex-only, under 32
		{"my-first-request", false},
		{"1", false},
		{"", false},
		{"with,comma-and-more-than-22-characters", false},
		{"with space and more than 22 characters", false},
		{"键键键键键键键键键键键键键键键键键键键键键键键", false},
		{strings.Repeat("a", 255), true},
		{strings.Repeat("g", 256), false},
		{"abc+/=abc+/=abc+/=abc+/=", true}, // standard base64 characters are fine
	} {
		if got := validIdempotencyKey(tc.key); got != tc.want {
			t.Errorf("validIdempotencyKey(%q) = %v, want %v", tc.key, got, tc.want)
		}
	}
	// Through HTTP: a short key is refused before anything is stored, and
	// two Idempotency-Key headers are one invalid key.
	e := newEnv(t, 3)
	body := `{"kind":"access","role":"self","email":"li.si@example.com"}`
	resp := e.do(t, jsonPost(body, "my-first-request"))
	if errs := decodeErrors(t, resp.Body); resp.StatusCode != http.StatusBadRequest || !errs.has(FieldHeaderIdempotencyKey, string(CodeInvalidIdempotencyKey)) ||
		!strings.Contains(errs[0].Message, "128") {
		t.Errorf("short key: %d %s", resp.StatusCode, resp.Body)
	}
	two := jsonPost(body, sampleKey)
	two.Header.Add("Idempotency-Key", "0123456789abcdef0123456789abcdef")
	if resp := e.do(t, two); resp.StatusCode != http.StatusBadRequest || !decodeErrors(t, resp.Body).has(FieldHeaderIdempotencyKey, string(CodeInvalidIdempotencyKey)) {
		t.Errorf("two keys: %d %s", resp.StatusCode, resp.Body)
	}
	if n := len(e.sfn.Calls()); n != 0 {
		t.Errorf("StartExecution calls = %d, want 0", n)
	}
}

func TestFormValidationErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	for _, tc := range []struct {
		name     string
		edit     func(url.Values)
		lang     string
		want     []string // messages on the page
		keep     []string // typed values kept on the page (HTML-escaped)
		describe []string // inputs that must point at their error
	}{
		{
			name:     "no kind, bad email, Chinese",
			edit:     func(v url.Values) { v.Del("kind"); v.Set("email", "zhang.san@") },
			lang:     "zh-CN",
			want:     []string{"此项为必填项。", "请输入有效的电子邮件地址", `<a href="#f-kind-access">您想做什么：此项为必填项。</a>`},
			keep:     []string{`value="zhang.san@"`, "我已不再使用该应用"},
			describe: []string{`id="f-email" name="email" value="zhang.san@" maxlength="254" autocomplete="email" inputmode="email" spellcheck="false" autocapitalize="off" aria-describedby="err-email" aria-invalid="true"`},
		},
		{
			name: "erasure without ground, English",
			edit: func(v url.Values) { v.Set("erasureGround", "") },
			lang: "en",
			want: []string{`<a href="#f-erasureGround-none">Why should we delete it: Choose the situation in which you ask for deletion.</a>`},
			keep: []string{`value="zhang.san@example.com"`},
		},
		{
			name:     "no email nor phone",
			edit:     func(v url.Values) { v.Set("email", ""); v.Set("phone", "") },
			lang:     "zh-CN",
			want:     []string{"请至少填写电子邮件地址或手机号码中的一项。"},
			describe: []string{`aria-describedby="hint-phone err-contact"`, `aria-describedby="err-contact"`},
		},
		{
			name: "email too long",
			edit: func(v url.Values) { v.Set("email", strings.Repeat("a", 250)+"@example.com") },
			lang: "en",
			want: []string{"At most 254 characters."},
		},
		{
			name: "bad correction line",
			edit: func(v url.Values) {
				v.Set("kind", "correction")
				v.Set("erasureGround", "")
				v.Set("corrections", "昵称：小张\n"+strings.Repeat("长", dsr.MaxCorrection+1))
			},
			lang: "zh-CN",
			want: []string{"第 2 行：最多 500 个字符。"},
		},
		{
			name:     "subject fields from a requester acting for themselves",
			edit:     func(v url.Values) { v.Set("subjectName", "李四"); v.Set("subjectEmail", "kid@") },
			lang:     "en",
			want:     []string{`<a href="#f-subjectName">Their name: This field does not apply to the chosen request type.</a>`},
			keep:     []string{`value="李四"`, `value="kid@"`},
			describe: []string{`id="f-subjectEmail" name="subjectEmail" value="kid@" maxlength="254" autocomplete="off" inputmode="email" spellcheck="false" autocapitalize="off" aria-describedby="err-subjectEmail" aria-invalid="true"`},
		},
		{
			name: "a guardian's bad subject phone",
			edit: func(v url.Values) { v.Set("role", "guardian"); v.Set("subjectPhone", "12") },
			lang: "zh-CN",
			want: []string{`<a href="#f-subjectPhone">其手机号码：请输入有效的手机号码`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vals := e.sampleForm(t)
			tc.edit(vals)
			vals.Set("lang", tc.lang)
			resp := e.do(t, formPost(vals))
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400", resp.StatusCode)
			}
			if !strings.Contains(resp.Body, `<html lang="`+tc.lang+`">`) {
				t.Errorf("page is not in %s", tc.lang)
			}
			for _, w := range append(append(tc.want, tc.keep...), tc.describe...) {
				if w != "" && !strings.Contains(resp.Body, htmlEscapeText(w)) {
					t.Errorf("page lacks %q:\n%s", w, resp.Body)
				}
			}
			if !strings.Contains(resp.Body, `class="summary"`) {
				t.Error("no error summary")
			}
			if problems := checkAccessibility(resp.Body); len(problems) > 0 {
				t.Errorf("accessibility: %v", problems)
			}
			// The nonce is kept, so fixing the form and sending it names one request.
			if !strings.Contains(resp.Body, `name="nonce" value="`+vals.Get("nonce")+`"`) {
				t.Error("the nonce was not kept")
			}
		})
	}
	if n := len(e.sfn.Calls()); n != 0 {
		t.Errorf("StartExecution calls = %d, want 0", n)
	}
}

// htmlEscapeText escapes &, < and > as the pages do in text, leaving
// attribute snippets (which contain quotes on purpose) and links alone.
func htmlEscapeText(s string) string {
	if strings.Contains(s, `="`) {
		return s
	}
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// TestFormNonce (issue 15): the nonce is signed and expires; a missing,
// forged, foreign or expired one shows the form again with the values and
// the form_expired message, and sends nothing.
func TestFormNonce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	other := newEnv(t, 3, func(c *Config) { c.StatusTokenSecret = "another-status-token-secret-0123456789" })
	valid := e.h.newNonce()
	raw, _ := base64.RawURLEncoding.DecodeString(valid)
	raw[len(raw)-1] ^= 1
	forgedTag := base64.RawURLEncoding.EncodeToString(raw)
	raw, _ = base64.RawURLEncoding.DecodeString(valid)
	raw[7] ^= 1 // another issue time under the same tag
	forgedTime := base64.RawURLEncoding.EncodeToString(raw)
	for _, tc := range []struct {
		name, nonce string
		advance     time.Duration
	}{
		{"none", "", 0},
		{"a random 43-character nonce (the old kind)", base64.RawURLEncoding.EncodeToString(make([]byte, 32)), 0},
		{"forged tag", forgedTag, 0},
		{"forged issue time", forgedTime, 0},
		{"signed under another secret", other.h.newNonce(), 0},
		{"expired", valid, NonceLifetime + time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := e
			if tc.advance > 0 {
				env = newEnv(t, 3)
				tc.nonce = env.h.newNonce()
				env.clock.Advance(tc.advance)
			}
			vals := env.sampleForm(t)
			vals.Set("nonce", tc.nonce)
			resp := env.do(t, formPost(vals))
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400", resp.StatusCode)
			}
			if !strings.Contains(resp.Body, "表单已过期或不完整") || !strings.Contains(resp.Body, `value="zhang.san@example.com"`) {
				t.Errorf("want the form again with the values and a message:\n%s", resp.Body)
			}
			if n := pageNonce(resp.Body); n == tc.nonce || !env.h.checkNonce(n) {
				t.Error("the form shown again has no fresh nonce")
			}
			if n := len(env.sfn.Calls()); n != 0 {
				t.Errorf("StartExecution calls = %d, want 0", n)
			}
		})
	}
	// A day less a second is still good; so is a nonce issued a minute
	// ahead of this clock (another instance's).
	e2 := newEnv(t, 3)
	n := e2.h.newNonce()
	e2.clock.Advance(NonceLifetime - time.Second)
	if !e2.h.checkNonce(n) {
		t.Error("a nonce within its lifetime does not check")
	}
	ahead := newEnv(t, 3)
	ahead.clock.Advance(time.Minute)
	if !e.h.checkNonce(ahead.h.newNonce()) {
		t.Error("a nonce issued a minute ahead does not check")
	}
	future := newEnv(t, 3)
	future.clock.Advance(time.Hour)
	if e.h.checkNonce(future.h.newNonce()) {
		t.Error("a nonce issued an hour ahead checks")
	}
}

// TestCrossSitePosts (issue 15): a post from another origin is refused with
// 403 and a message in the reader's language; a post without Origin (curl)
// and one from the configured base URL are accepted.
func TestCrossSitePosts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	for _, tc := range []struct {
		name    string
		headers map[string]string
		json    bool
		want    int
		wantMsg string
	}{
		{"foreign origin, form", map[string]string{"Origin": "https://evil.example"}, false, http.StatusForbidden, "我们不接受从其他网站提交的请求"},
		{"foreign origin, English", map[string]string{"Origin": "https://evil.example", "Accept-Language": "en"}, false, http.StatusForbidden, "we do not accept requests sent from another website"},
		{"foreign origin, JSON", map[string]string{"Origin": "https://evil.example"}, true, http.StatusForbidden, ""},
		{"opaque origin from another site", map[string]string{"Origin": "null", "Sec-Fetch-Site": "cross-site"}, false, http.StatusForbidden, ""},
		{"opaque origin from a sibling site", map[string]string{"Origin": "null", "Sec-Fetch-Site": "same-site"}, false, http.StatusForbidden, ""},
		{"two origins", map[string]string{"Origin": sampleOrigin + ", https://evil.example"}, false, http.StatusForbidden, ""},
		{"opaque origin from our no-referrer page", map[string]string{"Origin": "null", "Sec-Fetch-Site": "same-origin"}, false, http.StatusAccepted, ""},
		{"opaque origin, no Sec-Fetch-Site (an older browser)", map[string]string{"Origin": "null"}, false, http.StatusAccepted, ""},
		{"same host over http", map[string]string{"Origin": "http://" + sampleHost}, false, http.StatusForbidden, ""},
		{"sibling subdomain", map[string]string{"Origin": "https://x." + sampleHost}, false, http.StatusForbidden, ""},
		{"Sec-Fetch-Site cross-site without Origin", map[string]string{"Origin": "", "Sec-Fetch-Site": "cross-site"}, false, http.StatusForbidden, ""},
		{"own origin", map[string]string{"Origin": sampleOrigin, "Sec-Fetch-Site": "same-origin"}, false, http.StatusAccepted, ""},
		{"own origin, explicit port, upper case", map[string]string{"Origin": "HTTPS://" + strings.ToUpper(sampleHost) + ":443"}, false, http.StatusAccepted, ""},
		{"no Origin (curl)", map[string]string{"Origin": ""}, true, http.StatusAccepted, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var req *http.Request
			if tc.json {
				req = jsonPost(`{"kind":"access","role":"self","email":"li.si@example.com"}`, base64.RawURLEncoding.EncodeToString([]byte(tc.name+"-key-with-room")))
			} else {
				req = formPost(e.sampleForm(t))
			}
			for k, v := range tc.headers {
				if v == "" {
					req.Header.Del(k)
				} else {
					req.Header.Set(k, v)
				}
			}
			resp := e.do(t, req)
			if resp.StatusCode != tc.want {
				t.Fatalf("status = %d, want %d\n%s", resp.StatusCode, tc.want, resp.Body)
			}
			if tc.want != http.StatusForbidden {
				return
			}
			if tc.json {
				if errs := decodeErrors(t, resp.Body); !errs.has("", string(CodeCrossSite)) {
					t.Errorf("errors = %+v", errs)
				}
			} else if !strings.Contains(resp.Body, tc.wantMsg) {
				t.Errorf("page lacks %q:\n%s", tc.wantMsg, resp.Body)
			}
		})
	}
	// The verification page's posts are guarded too, before the token is
	// looked at.
	req := newRequest(http.MethodPost, "/requests/r-x/verification", strings.NewReader("token=t&code=123456"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	if resp := e.do(t, req); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site verification post: %d, want 403", resp.StatusCode)
	}

	// Behind a domain of its own, the base URL is the origin browsers name.
	b := newEnv(t, 3, func(c *Config) { c.PublicBaseURL = "https://privacy.example.cn" })
	req = formPost(b.sampleForm(t))
	req.Header.Set("Origin", "https://privacy.example.cn")
	if resp := b.do(t, req); resp.StatusCode != http.StatusAccepted {
		t.Errorf("post from the base URL's origin: %d, want 202", resp.StatusCode)
	}
}

// TestEmailNotASCII (issue 15): an email whose local part is not ASCII is
// refused with its own message, unless the transport supports SMTPUTF8; an
// internationalized domain is fine (it is sent as punycode).
func TestEmailNotASCII(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	for _, tc := range []struct {
		lang, want string
	}{
		{"zh-CN", "我们目前无法向 @ 之前含有中文等非 ASCII 字符的邮箱地址发送邮件"},
		{"en", "We cannot yet send mail to an address with characters such as Chinese before the @"},
	} {
		vals := e.sampleForm(t)
		vals.Set("email", "张三@example.com")
		vals.Set("lang", tc.lang)
		resp := e.do(t, formPost(vals))
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(resp.Body, tc.want) || !strings.Contains(resp.Body, `value="张三@example.com"`) {
			t.Errorf("%s form: %d\n%s", tc.lang, resp.StatusCode, resp.Body)
		}
	}
	resp := e.do(t, jsonPost(`{"kind":"access","role":"self","email":"用户@example.com","locale":"en"}`, sampleKey))
	if errs := decodeErrors(t, resp.Body); resp.StatusCode != http.StatusBadRequest || !errs.has(dsr.FieldEmail, string(CodeEmailNotASCII)) || len(errs) != 1 {
		t.Errorf("JSON: %d %s", resp.StatusCode, resp.Body)
	}
	if resp := e.do(t, jsonPost(`{"kind":"access","role":"self","email":"li@例子.中国","locale":"en"}`, sampleKey)); resp.StatusCode != http.StatusAccepted {
		t.Errorf("internationalized domain: %d %s", resp.StatusCode, resp.Body)
	}
	// A guardian's note of the subject's address is never mailed: no rule.
	if resp := e.do(t, jsonPost(`{"kind":"access","role":"guardian","email":"p@example.com","subjectEmail":"孩子@example.com"}`, "0123456789abcdef0123456789abcdef")); resp.StatusCode != http.StatusAccepted {
		t.Errorf("subject's non-ASCII address: %d %s", resp.StatusCode, resp.Body)
	}

	u := newEnv(t, 3, func(c *Config) { c.SMTPUTF8 = true })
	resp = u.do(t, jsonPost(`{"kind":"access","role":"self","email":"用户@example.com","locale":"en"}`, sampleKey))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("with SMTPUTF8: %d %s", resp.StatusCode, resp.Body)
	}
	p, err := u.store.GetPersonal(context.Background(), decodeJSON(t, resp.Body)["requestId"].(string))
	if err != nil || p.Contact.Email != "用户@example.com" {
		t.Errorf("stored contact = %+v (%v)", p, err)
	}
}

// TestSubjectFields (issue 17): a guardian gives the subject's name and
// identifiers in their own fields; they are stored as hints on the personal
// item, never as the contact; the confirmation says the privacy team checks
// documents and authority and promises no code.
func TestSubjectFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	form := e.do(t, getForm("")).Body
	for _, w := range []string{`<div class="card for-others"><fieldset aria-describedby="hint-subject"><legend>您代其提出请求的人（数据主体）`,
		`仅适用于：监护人（代未成年人）、受托代理人、死者的近亲属`, `id="f-subjectName" name="subjectName"`, `id="f-subjectAccountId"`,
		`id="f-subjectEmail"`, `id="f-subjectPhone"`, `<div class="card for-self">`, `不会向您或该人发送验证码`} {
		if !strings.Contains(form, w) {
			t.Errorf("form lacks %q", w)
		}
	}

	vals := e.sampleForm(t)
	vals.Set("role", "guardian")
	vals.Set("email", "parent@example.com")
	vals.Set("phone", "")
	vals.Set("subjectName", " 张小明 ")
	vals.Set("subjectAccountId", "kid_7")
	vals.Set("subjectEmail", "Kid@Example.com")
	vals.Set("subjectPhone", "139 0013 9000")
	resp := e.do(t, formPost(vals))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status = %d\n%s", resp.StatusCode, resp.Body)
	}
	if !strings.Contains(resp.Body, text(dsr.LocaleZhCN, "accepted.next.othersUpload")) || strings.Contains(resp.Body, `id="verify-link"`) ||
		strings.Contains(resp.Body, text(dsr.LocaleZhCN, "accepted.verify")) {
		t.Errorf("the confirmation must say the privacy team checks authority, and promise no code:\n%s", resp.Body)
	}
	// Without an upload bucket, the documents go by mail.
	if want := `<p id="upload-mail">` + text(dsr.LocaleZhCN, "upload.byMail", flowMailFrom, pageRequestID(t, resp.Body)) + `</p>`; !strings.Contains(resp.Body, want) ||
		strings.Contains(resp.Body, `type="file"`) {
		t.Errorf("the confirmation without uploads must say where to mail documents (%s):\n%s", want, resp.Body)
	}
	if problems := checkAccessibility(resp.Body, sampleOrigin); len(problems) > 0 {
		t.Errorf("accessibility: %v", problems)
	}
	id := pageRequestID(t, resp.Body)
	p, err := e.store.GetPersonal(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	want := dsr.Identifiers{Accounts: []string{"kid_7"}, Emails: []string{"kid@example.com"}, Phones: []string{"+8613900139000"}}
	if p.SubjectName != "张小明" || p.Contact != (dsr.Contact{Email: "parent@example.com"}) ||
		strings.Join(p.Subject.Accounts, ",") != "kid_7" || strings.Join(p.Subject.Emails, ",") != "kid@example.com" || strings.Join(p.Subject.Phones, ",") != "+8613900139000" {
		t.Errorf("personal = %+v, want the name, subject %+v and the guardian's contact", p, want)
	}
	req, err := e.store.GetRequest(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(req.HintKeys) != 4 || len(req.SubjectKeys) != 0 || req.Role != dsr.RoleGuardian {
		t.Errorf("request: hint keys %d (want 4), subject keys %d (want 0: nothing is verified), role %s", len(req.HintKeys), len(req.SubjectKeys), req.Role)
	}

	// JSON, in English; the answer names no subject data.
	body := `{"kind":"access","role":"agent","email":"agent@example.com","locale":"en","subjectName":"Li Xiaohong","subjectEmail":"xh@example.com"}`
	jresp := e.do(t, jsonPost(body, "0123456789abcdef0123456789abcdef"))
	if jresp.StatusCode != http.StatusAccepted || strings.Contains(jresp.Body, "Xiaohong") || strings.Contains(jresp.Body, "xh@") {
		t.Fatalf("JSON: %d %s", jresp.StatusCode, jresp.Body)
	}
	jp, err := e.store.GetPersonal(context.Background(), decodeJSON(t, jresp.Body)["requestId"].(string))
	if err != nil || jp.SubjectName != "Li Xiaohong" || strings.Join(jp.Subject.Emails, ",") != "xh@example.com" {
		t.Errorf("JSON personal = %+v (%v)", jp, err)
	}
	bad := e.do(t, jsonPost(`{"kind":"access","role":"self","email":"me@example.com","subjectName":"x","subjectPhone":"1"}`, "0123456789abcdef0123456789abcdee"))
	if errs := decodeErrors(t, bad.Body); bad.StatusCode != http.StatusBadRequest || !errs.has(dsr.FieldSubjectName, string(dsr.CodeNotApplicable)) || !errs.has(dsr.FieldSubjectPhone, string(dsr.CodeNotApplicable)) {
		t.Errorf("subject fields with role self: %d %s", bad.StatusCode, bad.Body)
	}
	long := e.do(t, jsonPost(`{"kind":"access","role":"guardian","email":"me@example.com","subjectPhone":"`+strings.Repeat("1", 33)+`"}`, "0123456789abcdef0123456789abcded"))
	if errs := decodeErrors(t, long.Body); long.StatusCode != http.StatusBadRequest || !errs.has(dsr.FieldSubjectPhone, string(dsr.CodeTooLong)) {
		t.Errorf("long subject phone: %d %s", long.StatusCode, long.Body)
	}
}

func TestJSONErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	valid := `{"kind":"access","role":"self","email":"li.si@example.com"}`
	const k1 = "0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		name, body, key, acceptLanguage string
		wantField, wantCode, wantMsg    string
	}{
		{"validation in English", `{"kind":"erasure","role":"self","email":"li.si@example.com","locale":"en"}`, k1, "", "erasureGround", "ground_required", "Choose the situation in which you ask for deletion."},
		{"validation in Chinese by default", `{"kind":"erasure","role":"self","email":"li.si@example.com"}`, k1, "", "erasureGround", "ground_required", "删除请求须选择适用的删除情形。"},
		{"validation in English by Accept-Language", `{"kind":"access","role":"self"}`, k1, "en-US,en;q=0.9", "contact", "identifier_required", "Enter an email address or a phone number."},
		{"unknown field", `{"kind":"access","role":"self","email":"li.si@example.com","name":"Li Si"}`, k1, "", "name", "unknown_field", "不支持此字段。"},
		{"wrong type", `{"kind":"access","role":"self","email":"li.si@example.com","corrections":"x"}`, k1, "", "corrections", "invalid_type", "此字段的类型不正确：应为文本，列表字段应为文本数组。"},
		{"malformed", `{"kind":"access",`, k1, "", "", "malformed_json", "请求正文不是有效的 JSON 对象。"},
		{"trailing data", valid + ` {}`, k1, "", "", "malformed_json", "请求正文不是有效的 JSON 对象。"},
		{"not an object", `["access"]`, k1, "", "", "invalid_type", ""},
		{"no Idempotency-Key", valid, "", "", "Idempotency-Key", "idempotency_key_required", ""},
		{"bad Idempotency-Key", valid, "key with spaces and more room", "", "Idempotency-Key", "invalid_idempotency_key", ""},
		{"phone too long", `{"kind":"access","role":"self","phone":"` + strings.Repeat("1", 40) + `","locale":"en"}`, k1, "", "phone", "too_long", "At most 32 characters."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := jsonPost(tc.body, tc.key)
			if tc.acceptLanguage != "" {
				req.Header.Set("Accept-Language", tc.acceptLanguage)
			}
			resp := e.do(t, req)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400; body %s", resp.StatusCode, resp.Body)
			}
			errs := decodeErrors(t, resp.Body)
			if !errs.has(tc.wantField, tc.wantCode) {
				t.Fatalf("errors = %+v, want %s/%s", errs, tc.wantField, tc.wantCode)
			}
			for _, er := range errs {
				if er.Message == "" {
					t.Errorf("error %+v has no message", er)
				}
				if er.Field == tc.wantField && er.Code == tc.wantCode && tc.wantMsg != "" && er.Message != tc.wantMsg {
					t.Errorf("message = %q, want %q", er.Message, tc.wantMsg)
				}
			}
			if strings.Contains(resp.Body, "Li Si") {
				t.Error("an error quotes the submitted value")
			}
		})
	}
	if n := len(e.sfn.Calls()); n != 0 {
		t.Errorf("StartExecution calls = %d, want 0", n)
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	big := strings.Repeat("x", MaxBodyBytes+1)

	if resp := e.do(t, formPost(url.Values{"details": {big}})); resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(resp.Body, "提交的内容过大（上限为 64 KiB）") {
		t.Errorf("big form: %d\n%s", resp.StatusCode, resp.Body)
	}
	resp := e.do(t, jsonPost(`{"details":"`+big+`"}`, sampleKey))
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !decodeErrors(t, resp.Body).has("", "body_too_large") {
		t.Errorf("big JSON: %d %s", resp.StatusCode, resp.Body)
	}
	// A body without a length (chunked) is cut at the limit too.
	chunked := jsonPost(`{"details":"`+big+`"}`, sampleKey)
	chunked.ContentLength = -1
	if resp := e.do(t, chunked); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("big chunked JSON: %d", resp.StatusCode)
	}
	// Just under the limit is read (and then fails validation, not the size check).
	if resp := e.do(t, jsonPost(`{"details":"`+strings.Repeat("x", MaxBodyBytes-20)+`"}`, sampleKey)); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a body under the limit: status %d, want 400", resp.StatusCode)
	}

	plain := jsonPost("kind=access", sampleKey)
	plain.Header.Set("Content-Type", "text/plain")
	resp = e.do(t, plain)
	if resp.StatusCode != http.StatusUnsupportedMediaType || !decodeErrors(t, resp.Body).has("", "unsupported_media_type") {
		t.Errorf("text/plain: %d %s", resp.StatusCode, resp.Body)
	}
	multipart := formPost(e.sampleForm(t))
	multipart.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	if resp := e.do(t, multipart); resp.StatusCode != http.StatusUnsupportedMediaType || !strings.Contains(resp.Body, "不支持的内容类型") {
		t.Errorf("multipart: %d\n%s", resp.StatusCode, resp.Body)
	}
	broken := formPost(url.Values{})
	broken.Body = io.NopCloser(strings.NewReader("kind=%zz"))
	broken.ContentLength = -1
	if resp := e.do(t, broken); resp.StatusCode != http.StatusBadRequest || !strings.Contains(resp.Body, "无法读取请求正文") {
		t.Errorf("a body that is not a form: %d\n%s", resp.StatusCode, resp.Body)
	}
}

// TestOpenRequestCap (issue 15): requests made with someone's typed
// contact never block that person (only subjects verified by a login are
// capped); the 429, when it comes, reveals no count.
func TestOpenRequestCap(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1)
	for i := range 3 {
		vals := e.sampleForm(t)
		vals.Set("details", "request "+itoa(i))
		if resp := e.do(t, formPost(vals)); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("request %d with the same typed contact: %d, want 202 (typed identifiers are never capped)", i, resp.StatusCode)
		}
	}

	e.h.intake = failingIntake{err: &intake.TooManyOpenError{Open: 7, Max: 5}}
	resp := e.do(t, formPost(e.sampleForm(t)))
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("status = %d, want 429", resp.StatusCode)
	}
	if !strings.Contains(resp.Body, text(dsr.LocaleZhCN, "errors.tooMany")) || !strings.Contains(resp.Body, `value="zhang.san@example.com"`) {
		t.Errorf("want the form with the values and the message:\n%s", resp.Body)
	}
	jresp := e.do(t, jsonPost(`{"kind":"access","role":"self","email":"zhang.san@example.com","locale":"en"}`, sampleKey))
	errs := decodeErrors(t, jresp.Body)
	if jresp.StatusCode != http.StatusTooManyRequests || !errs.has("", "too_many_open") || errs[0].Message != text(dsr.LocaleEn, "errors.tooMany") {
		t.Errorf("JSON: %d %+v", jresp.StatusCode, errs)
	}
	for _, l := range dsr.Locales() {
		if msg := text(l, "errors.tooMany"); strings.ContainsAny(msg, "0123456789%") {
			t.Errorf("the %s 429 text %q has a count", l, msg)
		}
	}
	if strings.ContainsAny(summaryText(resp.Body), "57") {
		t.Error("the 429 page shows a count")
	}
}

// summaryText is the error summary of a form page.
func summaryText(page string) string {
	start := strings.Index(page, `class="summary"`)
	if start < 0 {
		return ""
	}
	end := strings.Index(page[start:], "</div>")
	return page[start : start+end]
}

func TestStartExecutionFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	e.sfn.Fail(http.StatusInternalServerError)
	vals := e.sampleForm(t)
	resp := e.do(t, formPost(vals))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status = %d, want 202 (the request is stored)\n%s", resp.StatusCode, resp.Body)
	}
	id := pageRequestID(t, resp.Body)
	req, err := e.store.GetRequest(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if req.Status != dsr.StatusReceived || req.ExecutionStarted {
		t.Errorf("stored: status %s, started %v; want received and not started (for the reconciler)", req.Status, req.ExecutionStarted)
	}
	// A resubmit once Step Functions is back starts it.
	e.sfn.Fail(0)
	again := e.do(t, formPost(vals))
	if again.StatusCode != http.StatusAccepted || pageRequestID(t, again.Body) != id {
		t.Fatalf("resubmit: %d", again.StatusCode)
	}
	req, err = e.store.GetRequest(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if !req.ExecutionStarted {
		t.Error("the resubmit did not start the execution")
	}
}

func TestStatusPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	resp := e.do(t, formPost(e.sampleForm(t)))
	id := pageRequestID(t, resp.Body)
	link := statusLink(t, resp.Body)
	token := mustQuery(t, link).Get("token")
	pii := []string{"zhang.san", "example.com", "13800138000", "138 0013 8000", "不再使用该应用"}
	jsonGet := func(link string) *http.Request {
		req := statusGet(t, link)
		req.Header.Set("Accept", "application/json")
		return req
	}

	t.Run("HTML in Chinese", func(t *testing.T) {
		resp := e.do(t, statusGet(t, link))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status = %d\n%s", resp.StatusCode, resp.Body)
		}
		for _, w := range []string{id, "删除我的个人信息", "已收到", `<html lang="zh-CN">`} {
			if !strings.Contains(resp.Body, w) {
				t.Errorf("page lacks %q", w)
			}
		}
		for _, p := range pii {
			if strings.Contains(resp.Body, p) {
				t.Errorf("status page shows personal data %q", p)
			}
		}
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Error("status page may be cached")
		}
	})
	t.Run("HTML in English, switch keeps the token", func(t *testing.T) {
		resp := e.do(t, statusGet(t, link+"&lang=en"))
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, "Delete my personal information") || !strings.Contains(resp.Body, "Received") {
			t.Fatalf("status = %d\n%s", resp.StatusCode, resp.Body)
		}
		if !strings.Contains(resp.Body, `href="/requests/`+id+`?token=`+token+`&amp;lang=zh-CN"`) {
			t.Errorf("language switch does not keep the token:\n%s", resp.Body)
		}
	})
	t.Run("JSON by Accept", func(t *testing.T) {
		resp := e.do(t, jsonGet(link))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status = %d", resp.StatusCode)
		}
		got := decodeJSON(t, resp.Body)
		want := map[string]bool{"requestId": true, "kind": true, "status": true, "createdAt": true, "updatedAt": true}
		for k := range got {
			if !want[k] {
				t.Errorf("unexpected key %q in %s", k, resp.Body)
			}
		}
		if got["requestId"] != id || got["kind"] != "erasure" || got["status"] != "received" {
			t.Errorf("status JSON = %s", resp.Body)
		}
		for _, p := range pii {
			if strings.Contains(resp.Body, p) {
				t.Errorf("status JSON shows personal data %q", p)
			}
		}
	})

	t.Run("due date once verified", func(t *testing.T) {
		req, err := e.store.GetRequest(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		// 23:59:59 on 18 December in China is 15:59:59 UTC.
		due := time.Date(2026, 12, 18, 15, 59, 59, 0, time.UTC)
		if _, err := e.store.UpdateRequest(context.Background(), id, req.Version, func(r *dsr.Request) { r.DueAt = &due }); err != nil {
			t.Fatal(err)
		}
		zh := e.do(t, statusGet(t, link))
		if !strings.Contains(zh.Body, "答复期限") || !strings.Contains(zh.Body, `<time datetime="2026-12-18">2026年12月18日</time>`) {
			t.Errorf("Chinese page lacks the due date:\n%s", zh.Body)
		}
		en := e.do(t, statusGet(t, link+"&lang=en"))
		if !strings.Contains(en.Body, "Reply due by") || !strings.Contains(en.Body, "18 December 2026") {
			t.Errorf("English page lacks the due date:\n%s", en.Body)
		}
		if got := decodeJSON(t, e.do(t, jsonGet(link)).Body); got["dueAt"] != "2026-12-18T15:59:59Z" {
			t.Errorf("JSON dueAt = %v", got["dueAt"])
		}
	})

	wrong := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	notFound := e.do(t, statusGet(t, "/requests/r-aaaaaaaaaaaaaaaaaaaaaaaaaa?token="+token))
	for _, tc := range []struct{ name, link string }{
		{"wrong token", "/requests/" + id + "?token=" + wrong},
		{"no token", "/requests/" + id},
		{"empty token", "/requests/" + id + "?token="},
		{"another request's ID", "/requests/r-aaaaaaaaaaaaaaaaaaaaaaaaaa?token=" + token},
		{"malformed ID", "/requests/" + url.PathEscape("../../etc") + "?token=" + token},
		{"ID with a dot", "/requests/r-bad.id?token=" + token},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.do(t, statusGet(t, tc.link))
			if resp.StatusCode != http.StatusNotFound {
				t.Fatalf("status = %d, want 404", resp.StatusCode)
			}
			if resp.Body != notFound.Body {
				t.Error("the 404 differs from an unknown request's: it tells the request exists")
			}
			if strings.Contains(resp.Body, "删除我的个人信息") {
				t.Error("404 page shows the request")
			}
		})
	}
	t.Run("JSON 404", func(t *testing.T) {
		resp := e.do(t, jsonGet("/requests/"+id+"?token="+wrong))
		if resp.StatusCode != http.StatusNotFound || !decodeErrors(t, resp.Body).has("", "not_found") {
			t.Errorf("%d %s", resp.StatusCode, resp.Body)
		}
	})
}

func TestRouting(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	for _, tc := range []struct {
		method, path string
		want         int
		allow        string
	}{
		{"GET", "/", http.StatusOK, ""},
		{"HEAD", "/", http.StatusOK, ""},
		{"GET", "/?lang=en", http.StatusOK, ""},
		{"GET", "/index.html", http.StatusNotFound, ""},
		{"GET", "/admin", http.StatusNotFound, ""},
		{"POST", "/", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"DELETE", "/requests", http.StatusMethodNotAllowed, "POST"},
		{"GET", "/requests", http.StatusMethodNotAllowed, "POST"},
		{"PUT", "/requests/r-abc", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"DELETE", "/requests/r-abc/verification", http.StatusMethodNotAllowed, "GET, HEAD, POST"},
		{"GET", "/requests/r-abc", http.StatusNotFound, ""},
		{"GET", "/requests/r-abc/verification", http.StatusNotFound, ""},
		{"GET", "/requests/r-abc/other", http.StatusNotFound, ""},
		{"GET", "/prod/", http.StatusNotFound, ""}, // no stage prefix: the $default stage has none
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			resp := e.do(t, newRequest(tc.method, tc.path, nil))
			if resp.StatusCode != tc.want {
				t.Errorf("status = %d, want %d", resp.StatusCode, tc.want)
			}
			if got := resp.Header.Get("Allow"); got != tc.allow {
				t.Errorf("Allow = %q, want %q", got, tc.allow)
			}
			if tc.method != "HEAD" && resp.Header.Get("Content-Type") != contentHTML {
				t.Errorf("Content-Type = %q: want our own page", resp.Header.Get("Content-Type"))
			}
		})
	}
	req := newRequest(http.MethodDelete, "/requests", nil)
	req.Header.Set("Accept", "application/json")
	if resp := e.do(t, req); !decodeErrors(t, resp.Body).has("", string(CodeMethodNotAllowed)) {
		t.Errorf("405 as JSON: %s", resp.Body)
	}
	if resp := e.do(t, getForm("")); !strings.Contains(resp.Body, `action="/requests"`) {
		t.Error("the form does not post to /requests")
	}
}

func TestStatusToken(t *testing.T) {
	t.Parallel()
	a := StatusToken(testTokenSecret, "r-one")
	if a != StatusToken(testTokenSecret, "r-one") {
		t.Error("the token is not deterministic")
	}
	if a == StatusToken(testTokenSecret, "r-two") || a == StatusToken([]byte("another-secret-another-secret-xx"), "r-one") {
		t.Error("the token does not depend on the request and the secret")
	}
	if !tokenMatches(a, TokenHash(a)) || tokenMatches(a+"x", TokenHash(a)) || tokenMatches("", TokenHash("")) || tokenMatches(a, "") {
		t.Error("tokenMatches")
	}
}

func TestConfig(t *testing.T) {
	good := map[string]string{
		"TABLE_NAME":                  "requests",
		"STATE_MACHINE_ARN":           "arn:aws-cn:states:cn-north-1:123456789012:stateMachine:dsrflow",
		"SUBJECT_KEY_SECRET_ID":       "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:subject-AbCdEf",
		"STATUS_TOKEN_SECRET_ID":      "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:status-AbCdEf",
		"VERIFICATION_CODE_SECRET_ID": "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:code-AbCdEf",
		"MAIL_FROM":                   "privacy@example.cn",
	}
	for _, tc := range []struct {
		name    string
		change  map[string]string
		wantErr string
		check   func(Config) bool
	}{
		{"good", nil, "", func(c Config) bool { return c.MaxOpenPerSubject == 3 && !c.SMTPUTF8 }},
		{"SMTPUTF8", map[string]string{"SMTPUTF8": "true"}, "", func(c Config) bool { return c.SMTPUTF8 }},
		{"bad SMTPUTF8", map[string]string{"SMTPUTF8": "maybe"}, "SMTPUTF8", nil},
		{"missing table", map[string]string{"TABLE_NAME": ""}, "TABLE_NAME", nil},
		{"missing token secret", map[string]string{"STATUS_TOKEN_SECRET_ID": ""}, "STATUS_TOKEN_SECRET_ID", nil},
		{"missing subject secret", map[string]string{"SUBJECT_KEY_SECRET_ID": ""}, "SUBJECT_KEY_SECRET_ID", nil},
		{"bad base URL", map[string]string{"PUBLIC_BASE_URL": "privacy.example.cn"}, "PUBLIC_BASE_URL", nil},
		{"bad cap", map[string]string{"MAX_OPEN_PER_SUBJECT": "many"}, "MAX_OPEN_PER_SUBJECT", nil},
		{"missing code secret", map[string]string{"VERIFICATION_CODE_SECRET_ID": ""}, "VERIFICATION_CODE_SECRET_ID", nil},
		{"missing sender", map[string]string{"MAIL_FROM": ""}, "MAIL_FROM", nil},
		{"bad sender", map[string]string{"MAIL_FROM": "privacy team"}, "MAIL_FROM must be an email address", nil},
		{"bad contact", map[string]string{"PRIVACY_CONTACT": "write to us"}, "PRIVACY_CONTACT must be an email address", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range good {
				t.Setenv(k, v)
			}
			for _, k := range []string{"PUBLIC_BASE_URL", "MAX_OPEN_PER_SUBJECT", "PRIVACY_CONTACT", "MAIL_FROM_NAME", "OUTBOX_DIR", "SES_CONFIGURATION_SET", "SMTPUTF8"} {
				t.Setenv(k, "")
				os.Unsetenv(k)
			}
			for k, v := range tc.change {
				t.Setenv(k, v)
			}
			c, err := ConfigFromEnv()
			if tc.wantErr == "" {
				if err != nil || !tc.check(c) {
					t.Fatalf("ConfigFromEnv = %+v, %v", c, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one naming %s", err, tc.wantErr)
			}
			for _, s := range []string{strings.Repeat("s", 32), strings.Repeat("t", 32), strings.Repeat("v", 32)} {
				if strings.Contains(err.Error(), s) {
					t.Error("the error quotes a secret")
				}
			}
		})
	}
	// New checks the configuration too, and the secrets' values, and needs
	// its clients.
	if _, err := New(Config{}, Deps{}); err == nil {
		t.Error("New with an empty configuration: no error")
	}
	short := testConfig("t", "arn:aws:states:us-east-1:123456789012:stateMachine:x", 3)
	short.StatusTokenSecret = "short"
	if _, err := New(short, Deps{}); err == nil || !strings.Contains(err.Error(), "status token secret must be at least 32 bytes") || strings.Contains(err.Error(), "short") {
		t.Errorf("New with a short status token secret: %v", err)
	}
	if _, err := New(testConfig("t", "arn:aws:states:us-east-1:123456789012:stateMachine:x", 3), Deps{}); err == nil || !strings.Contains(err.Error(), "Store and SFN") {
		t.Errorf("New without clients: %v", err)
	}
}

func mustQuery(t *testing.T, link string) url.Values {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

func TestFormLanguageSwitchKeepsValues(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	vals := e.sampleForm(t)
	vals.Set("switchLang", "en")
	vals.Set("email", "not-checked-yet@")
	resp := e.do(t, formPost(vals))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", resp.StatusCode)
	}
	for _, w := range []string{`<html lang="en">`, `value="not-checked-yet@"`, `name="nonce" value="` + vals.Get("nonce") + `"`,
		`id="f-kind-erasure" name="kind" value="erasure" checked`, "我已不再使用该应用", `name="switchLang" value="zh-CN"`} {
		if !strings.Contains(resp.Body, w) {
			t.Errorf("page lacks %q", w)
		}
	}
	if strings.Contains(resp.Body, `class="summary"`) {
		t.Error("switching the language must not validate")
	}
	if n := len(e.sfn.Calls()); n != 0 {
		t.Errorf("StartExecution calls = %d, want 0", n)
	}
}

// failingIntake stands for an intake path that fails with err.
type failingIntake struct{ err error }

func (f failingIntake) Submit(context.Context, intake.Submission) (intake.Result, error) {
	return intake.Result{}, f.err
}

func TestIntakeFailureIs500(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	e.h.intake = failingIntake{err: errors.New("submit r-x: dynamodb: connection refused to secret-host")}
	resp := e.do(t, formPost(e.sampleForm(t)))
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(resp.Body, "您的请求未能提交") {
		t.Errorf("form: %d\n%s", resp.StatusCode, resp.Body)
	}
	jresp := e.do(t, jsonPost(sampleJSONBody, sampleKey))
	if jresp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("JSON: %d", jresp.StatusCode)
	}
	errs := decodeErrors(t, jresp.Body)
	if !errs.has("", "internal") || errs[0].Message != "Something went wrong on our side and your request was not sent. Please try again later." {
		t.Errorf("JSON errors = %+v", errs)
	}
	for _, body := range []string{resp.Body, jresp.Body} {
		if strings.Contains(body, "secret-host") || strings.Contains(body, "dynamodb") {
			t.Error("the answer quotes the internal error")
		}
	}
}

func TestResubmitAfterSecretRotationHasNoBrokenLink(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	first := e.do(t, jsonPost(sampleJSONBody, sampleKey))
	oldLink := decodeJSON(t, first.Body)["statusUrl"].(string)
	// The same table under a rotated secret.
	cfg := testConfig(e.store.Table(), intaketest.StateMachineArn, 3)
	cfg.StatusTokenSecret = "a-rotated-status-token-secret-0123456789"
	rotated, err := New(cfg, Deps{Store: e.store, SFN: e.sfn.Client(), Clock: e.clock.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	// The request ID depends on the secret too (the idempotency scope), so
	// the same post is a new request under the new secret: the old link
	// stays valid and the new one works for the new request.
	second := serve(t, rotated, jsonPost(sampleJSONBody, sampleKey))
	if second.StatusCode != http.StatusAccepted {
		t.Fatalf("status = %d %s", second.StatusCode, second.Body)
	}
	for _, link := range []string{oldLink, decodeJSON(t, second.Body)["statusUrl"].(string)} {
		if resp := serve(t, rotated, statusGet(t, link)); resp.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d, want 200", link, resp.StatusCode)
		}
	}
}
