package webintake

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"dsrflow/internal/dsr"
	"dsrflow/internal/intake"
	"dsrflow/internal/notify"
)

func TestNormalizeCode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"123456", "123456", true},
		{" 123 456 ", "123456", true},
		{"123-456", "123456", true},
		{"１２３４５６", "123456", true},
		{"１２３　４５６", "123456", true},
		{"12345", "", false},
		{"1234567", "", false},
		{"12345a", "", false},
		{"١٢٣٤٥٦", "", false}, // Arabic-Indic digits are not what we send
		{"", "", false},
	} {
		got, ok := normalizeCode(tc.in)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("normalizeCode(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestVerifyEndToEnd: a request sent through the web handler, the code read
// from the outbox and typed into the page in Chinese; SendTaskSuccess reaches
// the engine and the execution moves on; a second submission changes nothing;
// the task token appears in no answer and no log.
func TestVerifyEndToEnd(t *testing.T) {
	t.Parallel()
	f := newFlow(t, "")
	id, token := f.submitSelf(dsr.LocaleZhCN, "e2e-zh")
	code := f.awaitCode(id)
	taskToken := f.taskToken(id)
	var bodies []string
	do := func(name string, ev eventT, wantStatus int, wants ...string) string {
		t.Helper()
		resp := f.do(ev)
		bodies = append(bodies, resp.Body)
		if resp.StatusCode != wantStatus {
			t.Errorf("%s: HTTP %d, want %d\n%s", name, resp.StatusCode, wantStatus, resp.Body)
		}
		for _, w := range wants {
			if !strings.Contains(resp.Body, w) {
				t.Errorf("%s: answer lacks %q", name, w)
			}
		}
		return resp.Body
	}

	// The code message links to the page, with the status token.
	_, link := f.code(id, 1)
	if want := f.base + "/requests/" + id + "/verification?token=" + token; link != want {
		t.Errorf("link in the code message = %q, want %q", link, want)
	}
	do("page", verificationEvent(t, id, token, nil), http.StatusOK,
		`<html lang="zh-CN">`, "验证您的身份", "电子邮件地址发送了一个 6 位数字验证码",
		`inputmode="numeric"`, `autocomplete="one-time-code"`, `<label class="block" for="f-code">验证码</label>`,
		"2026年3月2日 09:30（北京时间）", "重新发送验证码", "您还可以重新获取 3 次")
	// The status page says what to do while a code is awaited.
	do("status page", statusGet(t, statusPath(id, token)), http.StatusOK, `id="verify-link"`, "输入验证码，完成身份验证")

	do("wrong code", postVerificationForm(t, id, codeForm(token, wrongCode(code), "zh-CN")), http.StatusBadRequest,
		`<p class="error" id="err-code">验证码不正确，您还可以尝试 4 次。</p>`, `aria-invalid="true"`, `aria-describedby="hint-code err-code"`)
	if !f.waitingIn(id, "Verify") {
		t.Errorf("a wrong code moved the execution on: %v", f.entered(id))
	}

	do("right code", postVerificationForm(t, id, codeForm(token, code, "zh-CN")), http.StatusOK,
		"感谢您，身份验证已完成", "验证后十五个工作日内答复", `id="status-link" href="/requests/`+id+`?token=`)
	f.reviewed(id)
	st := f.finish(id)
	if st != sfntypes.ExecutionStatusSucceeded {
		t.Errorf("execution %s, want SUCCEEDED; states %v", st, f.entered(id))
	}
	states := f.entered(id)
	if i := slices.Index(states, "Verify"); i < 0 || !slices.Contains(states[i:], "Review") || !slices.Contains(states[i:], "Close") || states[len(states)-1] != "Purge" {
		t.Errorf("states = %v, want Verify, then Review and Close, ending in Purge", states)
	}
	audit, hist := f.auditTypes(id), len(f.history(id))
	if !slices.Contains(audit, "identity_verified") {
		t.Errorf("audit = %v, want identity_verified", audit)
	}

	// A second submission (a double click, the back button) changes
	// nothing. It is told the identity is verified while the request keeps
	// its personal data; once the follow-up period has passed and the
	// workflow purged it (the virtual clock lets Wait states pass at once),
	// that the request waits for no code.
	req, err := f.store.GetRequest(f.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if req.PersonalPurgedAt == nil {
		do("second submission", postVerificationForm(t, id, codeForm(token, code, "zh-CN")), http.StatusOK, "您的身份已经验证，无需再次输入验证码。")
		do("second submission, JSON", postVerificationJSON(t, id, `{"token":"`+token+`","code":"`+code+`"}`, ""), http.StatusOK, `"outcome":"already_verified"`)
		do("resend after success", postVerificationForm(t, id, resendForm(token, "zh-CN")), http.StatusOK, "您的身份已经验证")
	} else {
		do("second submission, after the purge", postVerificationForm(t, id, codeForm(token, code, "zh-CN")), http.StatusConflict, "此请求当前不需要输入验证码")
		do("second submission, JSON, after the purge", postVerificationJSON(t, id, `{"token":"`+token+`","code":"`+code+`"}`, ""), http.StatusConflict, `"code":"not_waiting"`)
		resp := f.do(postVerificationForm(t, id, resendForm(token, "zh-CN")))
		bodies = append(bodies, resp.Body)
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusConflict {
			t.Errorf("resend after the purge: HTTP %d, want 200 (verified) or 409\n%s", resp.StatusCode, resp.Body)
		}
	}
	if got := f.auditTypes(id); !slices.Equal(got, audit) {
		t.Errorf("audit after a second submission = %v, want %v", got, audit)
	}
	if got := len(f.history(id)); got != hist {
		t.Errorf("history has %d events after a second submission, want %d", got, hist)
	}
	if n := len(f.mails(id, notify.TemplateVerificationCode)); n != 1 {
		t.Errorf("%d code messages, want 1", n)
	}
	do("page after success", verificationEvent(t, id, token, nil), http.StatusOK, "您的身份已经验证")

	for _, b := range append(bodies, f.logs.String()) {
		if strings.Contains(b, taskToken) {
			t.Fatal("the task token appears in an answer or a log")
		}
	}
}

type eventT = *http.Request

// TestVerifyLockAndResend: five wrong codes lock verification with a message
// saying what to do (in English, by JSON); the right code no longer works; a
// new code unlocks and works, the old one does not.
func TestVerifyLockAndResend(t *testing.T) {
	t.Parallel()
	f := newFlow(t, "")
	id, token := f.submitSelf(dsr.LocaleEn, "lock-en")
	code := f.awaitCode(id)
	post := func(body string) (int, verifyAnswerJSON) {
		t.Helper()
		resp := f.do(postVerificationJSON(t, id, body, "en-GB,en;q=0.9"))
		if ct := resp.Header.Get("Content-Type"); ct != contentJSON {
			t.Fatalf("Content-Type %q, want JSON", ct)
		}
		return resp.StatusCode, decodeVerify(t, resp.Body)
	}
	codeBody := func(c string) string { return `{"token":"` + token + `","code":"` + c + `"}` }
	resendBody := `{"token":"` + token + `","action":"resend"}`

	for left := 4; left >= 1; left-- {
		status, got := post(codeBody(wrongCode(code)))
		if status != http.StatusBadRequest || !got.Errors.has(FieldCode, string(CodeWrongCode)) || got.AttemptsLeft != left {
			t.Fatalf("wrong code: %d %+v, want 400 wrong_code with %d attempts left", status, got, left)
		}
		if want := "That code is not correct. You can try " + itoa(left) + " more times."; got.Errors[0].Message != want {
			t.Errorf("message = %q, want %q", got.Errors[0].Message, want)
		}
	}
	status, got := post(codeBody(wrongCode(code)))
	if status != http.StatusLocked || !got.Errors.has("", string(CodeVerificationLocked)) || got.State != "locked" || got.ResendsLeft != 3 {
		t.Fatalf("fifth wrong code: %d %+v, want 423 verification_locked", status, got)
	}
	if msg := got.Errors[0].Message; !strings.Contains(msg, "Send me a new code") || !strings.Contains(msg, "3 more can be sent") || !strings.Contains(msg, flowMailFrom) {
		t.Errorf("lock message = %q: it must say to ask for a new code and name the privacy team", msg)
	}
	if n := len(f.mails(id, notify.TemplateVerificationLocked)); n != 1 {
		t.Errorf("%d lock messages to the requester, want 1", n)
	}
	if status, got := post(codeBody(code)); status != http.StatusLocked {
		t.Errorf("right code while locked: %d %+v, want 423", status, got)
	}
	if !f.waitingIn(id, "Verify") {
		t.Fatalf("the execution moved on while locked: %v", f.entered(id))
	}

	// The page shows the lock and the resend button, not the code field.
	page := f.do(verificationEvent(t, id, token, url.Values{"lang": {"en"}}))
	if page.StatusCode != http.StatusOK || !strings.Contains(page.Body, `role="alert"`) || strings.Contains(page.Body, `id="f-code"`) || !strings.Contains(page.Body, `id="resend"`) {
		t.Errorf("locked page: %d, want the alert and the resend button only:\n%s", page.StatusCode, page.Body)
	}

	status, got = post(resendBody)
	if status != http.StatusAccepted || got.Outcome != "resent" || got.ResendsLeft != 2 || got.AttemptsLeft != 5 || got.ExpiresAt == nil {
		t.Fatalf("resend: %d %+v, want 202 resent with 2 resends and 5 attempts left", status, got)
	}
	if got.Message != "We have sent you a new code. The previous code no longer works." {
		t.Errorf("resend message = %q", got.Message)
	}
	second, _ := f.code(id, 2)
	if second != code {
		if status, got := post(codeBody(code)); status != http.StatusBadRequest || !got.Errors.has(FieldCode, string(CodeWrongCode)) {
			t.Errorf("the old code after a resend: %d %+v, want 400 wrong_code", status, got)
		}
	}
	status, got = post(codeBody(second))
	if status != http.StatusOK || got.Outcome != "verified" || !strings.HasPrefix(got.StatusURL, f.base+"/requests/"+id+"?token=") {
		t.Fatalf("new code: %d %+v, want 200 verified with the status link", status, got)
	}
	f.reviewed(id)
	if st := f.finish(id); st != sfntypes.ExecutionStatusSucceeded {
		t.Errorf("execution %s, want SUCCEEDED", st)
	}
}

// TestVerifyResendLimit: three new codes, then 429; locked with no resend
// left, the page sends the requester to the privacy team.
func TestVerifyResendLimit(t *testing.T) {
	t.Parallel()
	f := newFlow(t, "")
	id, token := f.submitSelf(dsr.LocaleZhCN, "resend-zh")
	f.awaitCode(id)
	for i := 1; i <= 3; i++ {
		resp := f.do(postVerificationForm(t, id, resendForm(token, "zh-CN")))
		if resp.StatusCode != http.StatusAccepted || !strings.Contains(resp.Body, "我们已向您发送新的验证码，之前的验证码已失效。") {
			t.Fatalf("resend %d: HTTP %d\n%s", i, resp.StatusCode, resp.Body)
		}
	}
	resp := f.do(postVerificationForm(t, id, resendForm(token, "zh-CN")))
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(resp.Body, "已达到重新发送次数的上限，无法再发送验证码。请联系我们的隐私团队（"+flowMailFrom+"）") {
		t.Errorf("fourth resend: HTTP %d, want 429 with the privacy team's contact\n%s", resp.StatusCode, resp.Body)
	}
	if strings.Contains(resp.Body, `id="resend"`) {
		t.Error("the resend button is still offered with no resend left")
	}
	if n := len(f.mails(id, notify.TemplateVerificationCode)); n != 4 {
		t.Errorf("%d code messages, want 4 (the first and three new ones)", n)
	}
	last, _ := f.code(id, 4)
	for i := 1; i <= 5; i++ {
		resp = f.do(postVerificationForm(t, id, codeForm(token, wrongCode(last), "zh-CN")))
	}
	if resp.StatusCode != http.StatusLocked || !strings.Contains(resp.Body, "且已无法再重新发送。请联系我们的隐私团队（"+flowMailFrom+"）") || strings.Contains(resp.Body, `id="resend"`) {
		t.Errorf("locked with no resend left: HTTP %d\n%s", resp.StatusCode, resp.Body)
	}
}

// TestVerifyExpiredCode: a code past its 30 minutes is refused with a hint
// to ask for a new one, which then works.
func TestVerifyExpiredCode(t *testing.T) {
	t.Parallel()
	f := newFlow(t, "")
	id, token := f.submitSelf(dsr.LocaleZhCN, "expired-zh")
	code := f.awaitCode(id)
	f.clock.Advance(31 * time.Minute)
	resp := f.do(postVerificationForm(t, id, codeForm(token, code, "zh-CN")))
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(resp.Body, `<p class="error" id="err-code">验证码已过期。请点击下方的“重新发送验证码”获取新的验证码。</p>`) {
		t.Fatalf("expired code: HTTP %d\n%s", resp.StatusCode, resp.Body)
	}
	page := f.do(verificationEvent(t, id, token, nil))
	if !strings.Contains(page.Body, `<div class="alert" role="alert" id="alert"><p>验证码已过期。`) {
		t.Errorf("the page does not say the code expired:\n%s", page.Body)
	}
	j := f.do(postVerificationJSON(t, id, `{"token":"`+token+`","code":"`+code+`"}`, "en"))
	if got := decodeVerify(t, j.Body); j.StatusCode != http.StatusBadRequest || !got.Errors.has(FieldCode, string(CodeCodeExpired)) || got.State != "expired" {
		t.Errorf("expired code, JSON: %d %+v", j.StatusCode, got)
	}
	if resp := f.do(postVerificationForm(t, id, resendForm(token, "zh-CN"))); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("resend: HTTP %d", resp.StatusCode)
	}
	fresh, _ := f.code(id, 2)
	if resp := f.do(postVerificationForm(t, id, codeForm(token, fresh, "zh-CN"))); resp.StatusCode != http.StatusOK {
		t.Errorf("new code: HTTP %d\n%s", resp.StatusCode, resp.Body)
	}
}

// TestVerifyNotWaiting: a request verified by hand (a guardian) has no code:
// the page says so and posts answer 409.
func TestVerifyNotWaiting(t *testing.T) {
	t.Parallel()
	f := newFlow(t, "")
	id, token := f.submitJSON(`{"kind":"access","role":"guardian","email":"guardian@example.cn","locale":"zh-CN"}`, "manual-zh")
	f.eventually("manual verification", func() bool {
		req, err := f.store.GetRequest(f.ctx, id)
		return err == nil && req.Status == dsr.StatusInReview
	})
	const msg = "此请求当前不需要输入验证码"
	page := f.do(verificationEvent(t, id, token, nil))
	if page.StatusCode != http.StatusOK || !strings.Contains(page.Body, msg) || strings.Contains(page.Body, `id="f-code"`) {
		t.Errorf("page: HTTP %d\n%s", page.StatusCode, page.Body)
	}
	for name, vals := range map[string]url.Values{"code": codeForm(token, "123456", "zh-CN"), "resend": resendForm(token, "zh-CN")} {
		resp := f.do(postVerificationForm(t, id, vals))
		if resp.StatusCode != http.StatusConflict || !strings.Contains(resp.Body, msg) {
			t.Errorf("%s: HTTP %d, want 409\n%s", name, resp.StatusCode, resp.Body)
		}
	}
	j := f.do(postVerificationJSON(t, id, `{"token":"`+token+`","code":"123456"}`, "en"))
	if got := decodeVerify(t, j.Body); j.StatusCode != http.StatusConflict || !got.Errors.has("", string(CodeNotWaiting)) ||
		!strings.Contains(got.Errors[0].Message, "This request is not waiting for a code") {
		t.Errorf("JSON: %d %+v", j.StatusCode, got)
	}
}

// TestVerifyNotFound: a wrong or missing token and an unknown ID get the
// status page's 404, for the page and for posts, and count no attempt.
func TestVerifyNotFound(t *testing.T) {
	t.Parallel()
	f := newFlow(t, "")
	id, token := f.submitSelf(dsr.LocaleZhCN, "notfound-zh")
	code := f.awaitCode(id)
	want := f.do(statusGet(t, "/requests/"+id+"?token=wrong")).Body
	other := StatusToken(testTokenSecret, "r-other")
	for name, ev := range map[string]eventT{
		"page, wrong token":          verificationEvent(t, id, "wrong", nil),
		"page, other's token":        verificationEvent(t, id, other, nil),
		"page, no token":             verificationEvent(t, id, "", nil),
		"page, unknown ID":           verificationEvent(t, "r-unknown", StatusToken(testTokenSecret, "r-unknown"), nil),
		"page, malformed ID":         verificationEvent(t, "r-bad.id", token, nil),
		"post, wrong token":          postVerificationForm(t, id, codeForm("wrong", code, "zh-CN")),
		"post, no token":             postVerificationForm(t, id, url.Values{"code": {code}}),
		"post, unknown ID":           postVerificationForm(t, "r-unknown", codeForm(StatusToken(testTokenSecret, "r-unknown"), code, "zh-CN")),
		"resend, wrong token":        postVerificationForm(t, id, resendForm("wrong", "zh-CN")),
		"post, bad code, no token":   postVerificationForm(t, id, url.Values{"code": {"x"}}),
		"post, wrong token, in JSON": postVerificationJSON(t, id, `{"token":"wrong","code":"`+code+`"}`, ""),
	} {
		resp := f.do(ev)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: HTTP %d, want 404", name, resp.StatusCode)
			continue
		}
		if strings.HasPrefix(name, "post, wrong token, in JSON") {
			if errs := decodeErrors(t, resp.Body); !errs.has("", string(CodeNotFound)) {
				t.Errorf("%s: %s", name, resp.Body)
			}
		} else if resp.Body != want {
			t.Errorf("%s: not the status page's 404:\n%s", name, resp.Body)
		}
	}
	// None of it counted as an attempt: the right code still works first time.
	if resp := f.do(postVerificationForm(t, id, codeForm(token, code, "zh-CN"))); resp.StatusCode != http.StatusOK {
		t.Errorf("right code: HTTP %d", resp.StatusCode)
	}
}

// TestVerifyInputErrors: what the page refuses before checking the code
// (counted as no attempt), and codes typed the way people type them.
func TestVerifyInputErrors(t *testing.T) {
	t.Parallel()
	f := newFlow(t, "")
	id, token := f.submitSelf(dsr.LocaleZhCN, "input-zh")
	code := f.awaitCode(id)
	for _, tc := range []struct {
		name   string
		ev     eventT
		status int
		field  string
		code   dsr.Code
		text   string
	}{
		{"no code", postVerificationForm(t, id, codeForm(token, " ", "zh-CN")), 400, FieldCode, dsr.CodeRequired, "请输入验证码。"},
		{"five digits", postVerificationForm(t, id, codeForm(token, "12345", "zh-CN")), 400, FieldCode, CodeInvalidCode, "验证码应为 6 位数字"},
		{"letters, English", postVerificationForm(t, id, codeForm(token, "abcdef", "en")), 400, FieldCode, CodeInvalidCode, "The code is 6 digits."},
		{"unknown action", postVerificationForm(t, id, url.Values{"token": {token}, "action": {"delete"}}), 400, FieldAction, CodeInvalidAction, "不支持此操作。"},
		{"JSON: unknown field", postVerificationJSON(t, id, `{"token":"`+token+`","pin":"1"}`, ""), 400, "pin", CodeUnknownField, ""},
		{"JSON: code as a number", postVerificationJSON(t, id, `{"token":"`+token+`","code":123456}`, ""), 400, FieldCode, CodeInvalidType, ""},
		{"JSON: no code", postVerificationJSON(t, id, `{"token":"`+token+`"}`, "en"), 400, FieldCode, dsr.CodeRequired, "Enter the code."},
	} {
		resp := f.do(tc.ev)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: HTTP %d, want %d\n%s", tc.name, resp.StatusCode, tc.status, resp.Body)
			continue
		}
		if resp.Header.Get("Content-Type") == contentJSON {
			var errs jsonErrorList
			if strings.Contains(resp.Body, `"requestId"`) {
				errs = decodeVerify(t, resp.Body).Errors
			} else {
				errs = decodeErrors(t, resp.Body)
			}
			if !errs.has(tc.field, string(tc.code)) || (tc.text != "" && errs[0].Message != tc.text) {
				t.Errorf("%s: errors %+v, want %s/%s %q", tc.name, errs, tc.field, tc.code, tc.text)
			}
		} else if !strings.Contains(resp.Body, tc.text) {
			t.Errorf("%s: page lacks %q\n%s", tc.name, tc.text, resp.Body)
		}
	}
	resp := f.do(postVerificationForm(t, id, codeForm(token, "12345", "zh-CN")))
	if !strings.Contains(resp.Body, `value="12345"`) {
		t.Error("what was typed is not kept after an error")
	}
	ev := postVerificationForm(t, id, codeForm(token, code, "zh-CN"))
	ev.Header.Set("Content-Type", "text/plain")
	if resp := f.do(ev); resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain: HTTP %d, want 415", resp.StatusCode)
	}
	// No input error counted as an attempt; the code typed in full-width
	// digits with a space (a Chinese input method) is the right code.
	j := f.do(postVerificationJSON(t, id, `{"token":"`+token+`"}`, ""))
	if got := decodeVerify(t, j.Body); got.AttemptsLeft != 5 {
		t.Errorf("attempts left after input errors = %d, want 5", got.AttemptsLeft)
	}
	wide := strings.Map(func(r rune) rune { return r - '0' + '０' }, code[:3]) + "　" + strings.Map(func(r rune) rune { return r - '0' + '０' }, code[3:])
	if resp := f.do(postVerificationForm(t, id, codeForm(token, wide, "zh-CN"))); resp.StatusCode != http.StatusOK {
		t.Errorf("full-width code %q: HTTP %d\n%s", wide, resp.StatusCode, resp.Body)
	}
}

// TestVerifyPageGolden compares the verification page with golden files:
// Chinese, English, and Chinese after a wrong code. The request's ID, token
// and code expiry are the same on every run.
func TestVerifyPageGolden(t *testing.T) {
	t.Parallel()
	f := newFlow(t, "")
	id, token := f.submitSelf(dsr.LocaleZhCN, "golden")
	code := f.awaitCode(id)
	pages := []struct{ file, body string }{
		{"verify.zh-CN.html", f.do(verificationEvent(t, id, token, nil)).Body},
		{"verify.en.html", f.do(verificationEvent(t, id, token, url.Values{"lang": {"en"}})).Body},
		{"verify.wrong.zh-CN.html", f.do(postVerificationForm(t, id, codeForm(token, wrongCode(code), "zh-CN"))).Body},
	}
	for _, p := range pages {
		goldenCompare(t, p.file, p.body)
	}
}

// TestVerifyAccessibility runs the accessibility checker over the
// verification page in every state.
func TestVerifyAccessibility(t *testing.T) {
	t.Parallel()
	f := newFlow(t, sampleOrigin)
	id, token := f.submitSelf(dsr.LocaleZhCN, "a11y")
	code := f.awaitCode(id)
	pages := map[string]string{}
	add := func(name string, ev eventT) { pages[name] = f.do(ev).Body }
	add("pending zh", verificationEvent(t, id, token, nil))
	add("pending en", verificationEvent(t, id, token, url.Values{"lang": {"en"}}))
	add("invalid code", postVerificationForm(t, id, codeForm(token, "12", "zh-CN")))
	add("wrong code", postVerificationForm(t, id, codeForm(token, wrongCode(code), "en")))
	add("resent", postVerificationForm(t, id, resendForm(token, "zh-CN")))
	for range 5 {
		add("locked", postVerificationForm(t, id, codeForm(token, wrongCode(code), "zh-CN")))
	}
	add("locked page", verificationEvent(t, id, token, nil))
	add("resent again", postVerificationForm(t, id, resendForm(token, "en")))
	fresh, _ := f.code(id, 3)
	add("verified", postVerificationForm(t, id, codeForm(token, fresh, "zh-CN")))
	add("already verified", verificationEvent(t, id, token, nil))
	add("not found", verificationEvent(t, id, "wrong", nil))
	for name, page := range pages {
		if problems := checkAccessibility(page, sampleOrigin); len(problems) > 0 {
			t.Errorf("%s: %d problems:\n%s", name, len(problems), strings.Join(problems, "\n"))
		}
	}
}

// TestVerifyMailRequester: a request that came by mail stores no status
// token; its requester gets the verification link (with the token derived
// from STATUS_TOKEN_SECRET) in the code message, and the page, the posts and
// the status page accept it.
func TestVerifyMailRequester(t *testing.T) {
	t.Parallel()
	f := newFlow(t, "")
	res, err := f.web.intake.Submit(f.ctx, intake.Submission{
		Validated: dsr.Validated{Kind: dsr.KindAccess, Role: dsr.RoleSelf, Email: "wang.wu@example.cn", Locale: dsr.LocaleZhCN},
		Channel:   dsr.ChannelMail, NaturalKey: "mail:<abc@example.cn>", Source: "s3://mailbox/inbox/abc",
	})
	if err != nil {
		t.Fatal(err)
	}
	id := res.Request.ID
	if res.Request.StatusTokenHash != "" {
		t.Fatal("a mail request should store no status token hash")
	}
	code := f.awaitCode(id)
	_, link := f.code(id, 1)
	u, err := url.Parse(link)
	if err != nil || u.Path != "/requests/"+id+"/verification" {
		t.Fatalf("link in the code message = %q (%v)", link, err)
	}
	token := u.Query().Get("token")
	if token != StatusToken(testTokenSecret, id) {
		t.Fatalf("the link's token is not the derived status token")
	}
	if resp := f.do(verificationEvent(t, id, token, nil)); resp.StatusCode != http.StatusOK {
		t.Errorf("page: HTTP %d", resp.StatusCode)
	}
	if resp := f.do(verificationEvent(t, id, StatusToken([]byte("another-secret-another-secret-0123"), id), nil)); resp.StatusCode != http.StatusNotFound {
		t.Errorf("page with a token from another secret: HTTP %d, want 404", resp.StatusCode)
	}
	ev := verificationEvent(t, id, token, nil)
	ev.Header.Set("Accept", "application/json")
	j := f.do(ev)
	got := decodeVerify(t, j.Body)
	if want := flowStart.Add(30 * time.Minute); j.StatusCode != http.StatusOK || got.State != "pending" || got.AttemptsLeft != 5 || got.ResendsLeft != 3 ||
		got.ExpiresAt == nil || !got.ExpiresAt.Equal(want) || got.RequestID != id {
		t.Errorf("page as JSON: %d %+v, want pending, 5 attempts, 3 resends, expiring at %s", j.StatusCode, got, want)
	}
	if resp := f.do(postVerificationForm(t, id, codeForm(token, code, "zh-CN"))); resp.StatusCode != http.StatusOK {
		t.Errorf("code: HTTP %d\n%s", resp.StatusCode, resp.Body)
	}
	f.reviewed(id)
	if st := f.finish(id); st != sfntypes.ExecutionStatusSucceeded {
		t.Errorf("execution %s, want SUCCEEDED", st)
	}
	if resp := f.do(statusGet(t, statusPath(id, token))); resp.StatusCode != http.StatusOK {
		t.Errorf("status page with the derived token: HTTP %d", resp.StatusCode)
	}
}

// BenchmarkVerificationPage measures GET /requests/{id}/verification on
// dynalite: the request and the verification item read, the page rendered.
func BenchmarkVerificationPage(b *testing.B) {
	f := newFlow(b, "")
	id, token := f.submitSelf(dsr.LocaleZhCN, "bench")
	f.awaitCode(id)
	ev := verificationEvent(b, id, token, nil)
	for b.Loop() {
		if resp := f.do(ev); resp.StatusCode != http.StatusOK {
			b.Fatalf("HTTP %d", resp.StatusCode)
		}
	}
}

// BenchmarkVerifyCodeRoundTrip measures a request from submission to the
// right code accepted: intake, Admit and Verify on the local engine,
// the code read from the outbox, the post, SendTaskSuccess.
func BenchmarkVerifyCodeRoundTrip(b *testing.B) {
	f := newFlow(b, "")
	n := 0
	for b.Loop() {
		n++
		id, token := f.submitJSON(`{"kind":"access","role":"self","email":"bench`+itoa(n)+`@example.cn","locale":"zh-CN"}`, "round-"+itoa(n))
		code := f.awaitCode(id)
		if resp := f.do(postVerificationForm(b, id, codeForm(token, code, "zh-CN"))); resp.StatusCode != http.StatusOK {
			b.Fatalf("HTTP %d", resp.StatusCode)
		}
	}
}
