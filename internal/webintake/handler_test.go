package webintake

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dsrflow/internal/dsr"
	"dsrflow/internal/intake"
)

func TestGetForm(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	for _, tc := range []struct {
		name, event, acceptLanguage string
		wantLang, wantText, golden  string
	}{
		{"default Chinese", "intake-web-get-form.json", "", "zh-CN", "行使您的个人信息权利", "form.zh-CN.html"},
		{"Chinese by Accept-Language", "intake-web-get-form.json", "zh-CN,zh-Hans;q=0.9", "zh-CN", "删除我的个人信息", ""},
		{"English by ?lang=en", "intake-web-get-form-en.json", "zh-CN", "en", "Exercise your personal information rights", "form.en.html"},
		{"English by Accept-Language", "intake-web-get-form.json", "en-GB,en;q=0.9", "en", "Delete my personal information", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := loadEvent(t, tc.event)
			if tc.acceptLanguage == "" {
				delete(ev.Headers, "accept-language")
			} else {
				ev.Headers["accept-language"] = tc.acceptLanguage
			}
			resp := e.do(t, ev)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200", resp.StatusCode)
			}
			if got := resp.Headers["Content-Type"]; got != "text/html; charset=utf-8" {
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
	a := nonceValueRE.FindString(e.do(t, loadEvent(t, "intake-web-get-form.json")).Body)
	b := nonceValueRE.FindString(e.do(t, loadEvent(t, "intake-web-get-form.json")).Body)
	if a == "" || a == b {
		t.Errorf("nonces %q and %q: want two different ones", a, b)
	}
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	resp := e.do(t, loadEvent(t, "intake-web-get-form.json"))
	want := map[string]string{
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
		"Cache-Control":          "no-store",
		"X-Frame-Options":        "DENY",
	}
	for k, v := range want {
		if got := resp.Headers[k]; got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	csp := resp.Headers["Content-Security-Policy"]
	for _, d := range []string{"default-src 'none'", "form-action 'self'", "base-uri 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("CSP %q lacks %q", csp, d)
		}
	}
	// The style-src hash must allow exactly the page's inline style sheet.
	start := strings.Index(resp.Body, "<style>")
	end := strings.Index(resp.Body, "</style>")
	if start < 0 || end < start {
		t.Fatal("no inline style sheet")
	}
	if h := styleHash(resp.Body[start+len("<style>") : end]); !strings.Contains(csp, "style-src "+h) {
		t.Errorf("CSP %q does not allow the inline style (hash %s)", csp, h)
	}
}

func TestPostFormAccepted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	ev := loadEvent(t, "intake-web-post-form.json")
	resp := e.do(t, ev)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status = %d, want 202; body:\n%s", resp.StatusCode, resp.Body)
	}
	if !strings.Contains(resp.Body, `<html lang="zh-CN">`) || !strings.Contains(resp.Body, "我们已收到您的请求") {
		t.Errorf("confirmation is not in Chinese:\n%s", resp.Body)
	}
	id := pageRequestID(t, resp.Body)
	link := statusLink(t, resp.Body)
	if want := sampleOrigin + "/requests/" + id + "?token="; !strings.HasPrefix(link, want) {
		t.Errorf("status link = %q, want %s…", link, want)
	}
	if resp.Headers["Cache-Control"] != "no-store" || resp.Headers["Referrer-Policy"] != "no-referrer" {
		t.Errorf("a page with a status token must be no-store and no-referrer: %v", resp.Headers)
	}

	// What was stored: the request, its token only as a hash.
	req, err := e.store.GetRequest(context.Background(), id)
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
		req.Channel != dsr.ChannelWeb || req.Locale != "zh-CN" || req.Contact.Phone != "+8613800138000" ||
		req.Contact.Email != "zhang.san@example.com" || !req.ExecutionStarted || req.Source != SourceForm {
		t.Errorf("stored request = %+v", req)
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
}

func TestResubmitReturnsTheSameRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	first := e.do(t, loadEvent(t, "intake-web-post-form.json"))
	second := e.do(t, loadEvent(t, "intake-web-post-form.json"))
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
	vals := formValues(t)
	vals.Set("email", "wang.wu@example.com")
	vals.Set("phone", "")
	other := e.do(t, formEvent(t, vals))
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
	ev := loadEvent(t, "intake-web-post-json.json")
	resp := e.do(t, ev)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status = %d, want 202; body:\n%s", resp.StatusCode, resp.Body)
	}
	if got := resp.Headers["Content-Type"]; got != contentJSON {
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
	again := e.do(t, loadEvent(t, "intake-web-post-json.json"))
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

	// With a base URL, links are absolute.
	e.h.BaseURL = "https://privacy.example.cn/"
	abs := e.do(t, jsonEvent(t, `{"kind":"access","role":"self","phone":"13800138000"}`, "another-key"))
	var got3 acceptedJSON
	if err := json.Unmarshal([]byte(abs.Body), &got3); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got3.StatusURL, "https://privacy.example.cn/requests/"+got3.RequestID+"?token=") {
		t.Errorf("statusUrl = %q, want an absolute URL on the base", got3.StatusURL)
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
	} {
		t.Run(tc.name, func(t *testing.T) {
			vals := formValues(t)
			tc.edit(vals)
			vals.Set("lang", tc.lang)
			resp := e.do(t, formEvent(t, vals))
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
// attribute snippets (which contain quotes on purpose) alone.
func htmlEscapeText(s string) string {
	if strings.Contains(s, `="`) {
		return s
	}
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func TestFormWithoutNonce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	vals := formValues(t)
	vals.Del("nonce")
	resp := e.do(t, formEvent(t, vals))
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status = %d, want 400", resp.StatusCode)
	}
	if !strings.Contains(resp.Body, "表单已过期或不完整") || !strings.Contains(resp.Body, `value="zhang.san@example.com"`) {
		t.Errorf("want the form again with the values and a message:\n%s", resp.Body)
	}
	if !validNonce(strings.TrimSuffix(strings.TrimPrefix(nonceValueRE.FindString(resp.Body), `name="nonce" value="`), `"`)) {
		t.Error("the form shown again has no fresh nonce")
	}
	if n := len(e.sfn.Calls()); n != 0 {
		t.Errorf("StartExecution calls = %d, want 0", n)
	}
}

func TestJSONErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	valid := `{"kind":"access","role":"self","email":"li.si@example.com"}`
	for _, tc := range []struct {
		name, body, key, acceptLanguage string
		wantField, wantCode, wantMsg    string
	}{
		{"validation in English", `{"kind":"erasure","role":"self","email":"li.si@example.com","locale":"en"}`, "k1", "", "erasureGround", "ground_required", "Choose the situation in which you ask for deletion."},
		{"validation in Chinese by default", `{"kind":"erasure","role":"self","email":"li.si@example.com"}`, "k1", "", "erasureGround", "ground_required", "删除请求须选择适用的删除情形。"},
		{"validation in English by Accept-Language", `{"kind":"access","role":"self"}`, "k1", "en-US,en;q=0.9", "contact", "identifier_required", "Enter an email address or a phone number."},
		{"unknown field", `{"kind":"access","role":"self","email":"li.si@example.com","name":"Li Si"}`, "k1", "", "name", "unknown_field", "不支持此字段。"},
		{"wrong type", `{"kind":"access","role":"self","email":"li.si@example.com","corrections":"x"}`, "k1", "", "corrections", "invalid_type", "此字段的类型不正确：应为文本，列表字段应为文本数组。"},
		{"malformed", `{"kind":"access",`, "k1", "", "", "malformed_json", "请求正文不是有效的 JSON 对象。"},
		{"trailing data", valid + ` {}`, "k1", "", "", "malformed_json", "请求正文不是有效的 JSON 对象。"},
		{"not an object", `["access"]`, "k1", "", "", "invalid_type", ""},
		{"no Idempotency-Key", valid, "", "", "Idempotency-Key", "idempotency_key_required", ""},
		{"bad Idempotency-Key", valid, "key with spaces", "", "Idempotency-Key", "invalid_idempotency_key", ""},
		{"phone too long", `{"kind":"access","role":"self","phone":"` + strings.Repeat("1", 40) + `","locale":"en"}`, "k1", "", "phone", "too_long", "At most 32 characters."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := jsonEvent(t, tc.body, tc.key)
			if tc.acceptLanguage != "" {
				ev.Headers["accept-language"] = tc.acceptLanguage
			}
			resp := e.do(t, ev)
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

	formBig := formEvent(t, url.Values{"details": {big}})
	if resp := e.do(t, formBig); resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(resp.Body, "提交的内容过大（上限为 64 KiB）") {
		t.Errorf("big form: %d\n%s", resp.StatusCode, resp.Body)
	}
	jsonBig := jsonEvent(t, `{"details":"`+big+`"}`, "k")
	resp := e.do(t, jsonBig)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !decodeErrors(t, resp.Body).has("", "body_too_large") {
		t.Errorf("big JSON: %d %s", resp.StatusCode, resp.Body)
	}
	// Just under the limit is read (and then fails validation, not the size check).
	under := jsonEvent(t, `{"details":"`+strings.Repeat("x", MaxBodyBytes-20)+`"}`, "k")
	if resp := e.do(t, under); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a body under the limit: status %d, want 400", resp.StatusCode)
	}

	plain := jsonEvent(t, "kind=access", "k")
	plain.Headers["content-type"] = "text/plain"
	resp = e.do(t, plain)
	if resp.StatusCode != http.StatusUnsupportedMediaType || !decodeErrors(t, resp.Body).has("", "unsupported_media_type") {
		t.Errorf("text/plain: %d %s", resp.StatusCode, resp.Body)
	}
	multipart := formEvent(t, formValues(t))
	multipart.Headers["content-type"] = "multipart/form-data; boundary=x"
	if resp := e.do(t, multipart); resp.StatusCode != http.StatusUnsupportedMediaType || !strings.Contains(resp.Body, "不支持的内容类型") {
		t.Errorf("multipart: %d\n%s", resp.StatusCode, resp.Body)
	}

	badB64 := formEvent(t, formValues(t))
	badB64.Body = "%%%not base64"
	if resp := e.do(t, badB64); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("broken base64 body: status %d, want 400", resp.StatusCode)
	}
}

func TestTooManyOpenRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1)
	if resp := e.do(t, loadEvent(t, "intake-web-post-form.json")); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("first request: %d", resp.StatusCode)
	}
	// Another request (new nonce) of the same subject is over the cap.
	vals := formValues(t)
	vals.Set("nonce", newNonce())
	resp := e.do(t, formEvent(t, vals))
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("status = %d, want 429", resp.StatusCode)
	}
	if !strings.Contains(resp.Body, "您已有 1 个尚未完成的请求（上限为 1 个）") || !strings.Contains(resp.Body, `value="zhang.san@example.com"`) {
		t.Errorf("want the form with the values and the message:\n%s", resp.Body)
	}
	jresp := e.do(t, jsonEvent(t, `{"kind":"access","role":"self","email":"zhang.san@example.com","locale":"en"}`, "k2"))
	if jresp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("JSON status = %d, want 429", jresp.StatusCode)
	}
	errs := decodeErrors(t, jresp.Body)
	if !errs.has("", "too_many_open") || !strings.Contains(errs[0].Message, "You already have 1 open requests (the limit is 1)") {
		t.Errorf("JSON errors = %+v", errs)
	}
	// A repeat of the first request is not counted against the cap.
	if resp := e.do(t, loadEvent(t, "intake-web-post-form.json")); resp.StatusCode != http.StatusAccepted {
		t.Errorf("repeat of the first request: %d, want 202", resp.StatusCode)
	}
}

func TestStartExecutionFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	e.sfn.Fail(http.StatusInternalServerError)
	resp := e.do(t, loadEvent(t, "intake-web-post-form.json"))
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
	again := e.do(t, loadEvent(t, "intake-web-post-form.json"))
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
	resp := e.do(t, loadEvent(t, "intake-web-post-form.json"))
	id := pageRequestID(t, resp.Body)
	link := statusLink(t, resp.Body)
	token := mustQuery(t, link).Get("token")
	pii := []string{"zhang.san", "example.com", "13800138000", "138 0013 8000", "不再使用该应用"}

	t.Run("HTML in Chinese", func(t *testing.T) {
		resp := e.do(t, statusEvent(t, link))
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
		if resp.Headers["Cache-Control"] != "no-store" {
			t.Error("status page may be cached")
		}
	})
	t.Run("HTML in English, switch keeps the token", func(t *testing.T) {
		resp := e.do(t, statusEvent(t, link+"&lang=en"))
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, "Delete my personal information") || !strings.Contains(resp.Body, "Received") {
			t.Fatalf("status = %d\n%s", resp.StatusCode, resp.Body)
		}
		if !strings.Contains(resp.Body, `href="/requests/`+id+`?token=`+token+`&amp;lang=zh-CN"`) {
			t.Errorf("language switch does not keep the token:\n%s", resp.Body)
		}
	})
	t.Run("JSON by Accept", func(t *testing.T) {
		ev := statusEvent(t, link)
		ev.Headers["accept"] = "application/json"
		resp := e.do(t, ev)
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
		zh := e.do(t, statusEvent(t, link))
		if !strings.Contains(zh.Body, "答复期限") || !strings.Contains(zh.Body, `<time datetime="2026-12-18">2026年12月18日</time>`) {
			t.Errorf("Chinese page lacks the due date:\n%s", zh.Body)
		}
		en := e.do(t, statusEvent(t, link+"&lang=en"))
		if !strings.Contains(en.Body, "Reply due by") || !strings.Contains(en.Body, "18 December 2026") {
			t.Errorf("English page lacks the due date:\n%s", en.Body)
		}
		ev := statusEvent(t, link)
		ev.Headers["accept"] = "application/json"
		if got := decodeJSON(t, e.do(t, ev).Body); got["dueAt"] != "2026-12-18T15:59:59Z" {
			t.Errorf("JSON dueAt = %v", got["dueAt"])
		}
	})

	wrong := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	notFound := e.do(t, statusEvent(t, "/requests/r-aaaaaaaaaaaaaaaaaaaaaaaaaa?token="+token))
	for _, tc := range []struct{ name, link string }{
		{"wrong token", "/requests/" + id + "?token=" + wrong},
		{"no token", "/requests/" + id},
		{"empty token", "/requests/" + id + "?token="},
		{"another request's ID", "/requests/r-aaaaaaaaaaaaaaaaaaaaaaaaaa?token=" + token},
		{"malformed ID", "/requests/" + url.PathEscape("../../etc") + "?token=" + token},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.do(t, statusEvent(t, tc.link))
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
		ev := statusEvent(t, "/requests/"+id+"?token="+wrong)
		ev.Headers["accept"] = "application/json"
		resp := e.do(t, ev)
		if resp.StatusCode != http.StatusNotFound || !decodeErrors(t, resp.Body).has("", "not_found") {
			t.Errorf("%d %s", resp.StatusCode, resp.Body)
		}
	})
}

func TestRouting(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	for _, tc := range []struct {
		name, routeKey, method, path string
		want                         int
	}{
		{"route key", "GET /", "GET", "/", http.StatusOK},
		{"$default route falls back to the path", "$default", "GET", "/", http.StatusOK},
		{"$default unknown path", "$default", "GET", "/admin", http.StatusNotFound},
		{"$default wrong method", "$default", "DELETE", "/requests", http.StatusMethodNotAllowed},
		{"$default status without token", "$default", "GET", "/requests/r-abc", http.StatusNotFound},
		{"named stage prefix", "$default", "GET", "/prod/", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := loadEvent(t, "intake-web-get-form.json")
			ev.RouteKey, ev.RequestContext.RouteKey = tc.routeKey, tc.routeKey
			ev.RawPath, ev.RequestContext.HTTP.Path = tc.path, tc.path
			ev.RequestContext.HTTP.Method = tc.method
			if strings.HasPrefix(tc.path, "/prod") {
				ev.RequestContext.Stage = "prod"
			}
			resp := e.do(t, ev)
			if resp.StatusCode != tc.want {
				t.Errorf("status = %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.path == "/prod/" && !strings.Contains(resp.Body, `action="/prod/requests"`) {
				t.Error("on a named stage the form must post under the stage")
			}
		})
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
		"TABLE_NAME":               "requests",
		"STATE_MACHINE_ARN":        "arn:aws-cn:states:cn-north-1:123456789012:stateMachine:dsrflow",
		"SUBJECT_KEY_SECRET":       strings.Repeat("s", 32),
		"STATUS_TOKEN_SECRET":      strings.Repeat("t", 32),
		"VERIFICATION_CODE_SECRET": strings.Repeat("v", 32),
		"MAIL_FROM":                "privacy@example.cn",
	}
	for _, tc := range []struct {
		name    string
		change  map[string]string
		wantErr string
	}{
		{"good", nil, ""},
		{"missing table", map[string]string{"TABLE_NAME": ""}, "TABLE_NAME"},
		{"short token secret", map[string]string{"STATUS_TOKEN_SECRET": "short"}, "STATUS_TOKEN_SECRET must be at least 32 bytes"},
		{"short subject secret", map[string]string{"SUBJECT_KEY_SECRET": "short"}, "SUBJECT_KEY_SECRET must be at least 32 bytes"},
		{"bad base URL", map[string]string{"PUBLIC_BASE_URL": "privacy.example.cn"}, "PUBLIC_BASE_URL"},
		{"bad cap", map[string]string{"MAX_OPEN_PER_SUBJECT": "many"}, "MAX_OPEN_PER_SUBJECT"},
		{"missing code secret", map[string]string{"VERIFICATION_CODE_SECRET": ""}, "VERIFICATION_CODE_SECRET"},
		{"short code secret", map[string]string{"VERIFICATION_CODE_SECRET": "short"}, "VERIFICATION_CODE_SECRET must be at least 32 bytes"},
		{"missing sender", map[string]string{"MAIL_FROM": ""}, "MAIL_FROM"},
		{"bad sender", map[string]string{"MAIL_FROM": "privacy team"}, "MAIL_FROM must be an email address"},
		{"bad contact", map[string]string{"PRIVACY_CONTACT": "write to us"}, "PRIVACY_CONTACT must be an email address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range good {
				t.Setenv(k, v)
			}
			for _, k := range []string{"PUBLIC_BASE_URL", "MAX_OPEN_PER_SUBJECT", "PRIVACY_CONTACT", "MAIL_FROM_NAME", "OUTBOX_DIR", "SES_CONFIGURATION_SET"} {
				t.Setenv(k, "")
				os.Unsetenv(k)
			}
			for k, v := range tc.change {
				t.Setenv(k, v)
			}
			c, err := ConfigFromEnv()
			if tc.wantErr == "" {
				if err != nil || c.MaxOpenPerSubject != 3 {
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
}

// sampleOrigin is where the sample events were sent (their host header).
const sampleOrigin = "https://a1b2c3d4e5.execute-api.cn-north-1.amazonaws.com.cn"

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
	vals := formValues(t)
	vals.Set("switchLang", "en")
	vals.Set("email", "not-checked-yet@")
	resp := e.do(t, formEvent(t, vals))
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

// failingIntake stands for an intake path whose store is down.
type failingIntake struct{}

func (failingIntake) Submit(context.Context, intake.Submission) (intake.Result, error) {
	return intake.Result{}, errors.New("submit r-x: dynamodb: connection refused to secret-host")
}

func TestIntakeFailureIs500(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	e.h.Intake = failingIntake{}
	resp := e.do(t, loadEvent(t, "intake-web-post-form.json"))
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(resp.Body, "您的请求未能提交") {
		t.Errorf("form: %d\n%s", resp.StatusCode, resp.Body)
	}
	jresp := e.do(t, loadEvent(t, "intake-web-post-json.json"))
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
	first := e.do(t, loadEvent(t, "intake-web-post-form.json"))
	oldLink := statusLink(t, first.Body)
	e.h.TokenSecret = []byte("a-rotated-status-token-secret-0123456789")
	// The request ID depends on the secret too (the idempotency scope), so
	// the same post is a new request under the new secret: the old link
	// stays valid and the new one works for the new request.
	second := e.do(t, loadEvent(t, "intake-web-post-form.json"))
	if second.StatusCode != http.StatusAccepted {
		t.Fatalf("status = %d", second.StatusCode)
	}
	for _, link := range []string{oldLink, statusLink(t, second.Body)} {
		if resp := e.do(t, statusEvent(t, link)); resp.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d, want 200", link, resp.StatusCode)
		}
	}
}

// TestSampleEvents feeds every events/intake-web*.json as it is.
func TestSampleEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	for _, tc := range []struct {
		event    string
		want     int
		wantType string
	}{
		{"intake-web-get-form.json", http.StatusOK, contentHTML},
		{"intake-web-get-form-en.json", http.StatusOK, contentHTML},
		{"intake-web-post-form.json", http.StatusAccepted, contentHTML},
		{"intake-web-post-json.json", http.StatusAccepted, contentJSON},
		// The sample names no stored request: the same 404 as a wrong token.
		{"intake-web-get-status.json", http.StatusNotFound, contentHTML},
		{"intake-web-get-verification.json", http.StatusNotFound, contentHTML},
		{"intake-web-post-verification.json", http.StatusNotFound, contentHTML},
	} {
		resp := e.do(t, loadEvent(t, tc.event))
		if resp.StatusCode != tc.want || resp.Headers["Content-Type"] != tc.wantType {
			t.Errorf("%s: %d %s, want %d %s", tc.event, resp.StatusCode, resp.Headers["Content-Type"], tc.want, tc.wantType)
		}
	}
	matches, err := filepath.Glob(filepath.Join(emu.Root, "events", "intake-web*.json"))
	if err != nil || len(matches) != 7 {
		t.Errorf("sample events = %v (%v); add new ones to this test", matches, err)
	}
}
