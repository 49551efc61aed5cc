package webintake

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"dsrflow/internal/documents"
	"dsrflow/internal/dsr"
)

// chromiumPath finds the browser: $CHROMIUM, else Debian's chromium on PATH.
// The test fails (it is never skipped) when there is none: .ci/run installs
// Debian's chromium package.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is not installed: run `apt-get install -y chromium` (Debian), or set CHROMIUM to a Chromium binary; .ci/run installs it")
	return ""
}

// browser starts a headless Chromium with a phone-sized window and a fresh
// profile, and returns its context.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(390, 844),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// A browser set to Chinese, as most of the service's users have.
		chromedp.Flag("lang", "zh-CN"),
		chromedp.Flag("accept-lang", "zh-CN,zh"),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

// screenshot saves a full-page screenshot under $WEBINTAKE_SCREENSHOTS, when
// set (to look at the layout by eye); otherwise it does nothing.
func screenshot(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		dir := os.Getenv("WEBINTAKE_SCREENSHOTS")
		if dir == "" {
			return nil
		}
		buf, err := chromedp.FullScreenshot(100)(ctx, t)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, name), buf, 0o644)
	})
}

// TestBrowserSubmitInChinese submits an erasure request through the form in
// headless Chromium with JavaScript switched off: a plain form post, typed in
// Chinese, answered by the Chinese confirmation page whose status link works.
func TestBrowserSubmitInChinese(t *testing.T) {
	e := newEnv(t, 3)
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	ctx := browser(t)
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(css(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return v
	}
	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	// submit clicks the form's button and waits for the answer page; the
	// answer's HTTP status is returned.
	submit := func(step string, click chromedp.Action[chromedp.Void]) int64 {
		t.Helper()
		resp, err := chromedp.RunResponse(ctx, click)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		return resp.Status
	}

	do("open the form",
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
			return err
		}),
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulatePortrait, chromedp.EmulateScale(1)),
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(css("#f-kind-erasure")),
		screenshot("form-zh.png"),
	)
	lang, err := chromedp.Run(ctx, chromedp.AttributeValue(css("html"), "lang"))
	if err != nil || lang.Value != "zh-CN" {
		t.Errorf("form lang = %q (%v), want zh-CN", lang.Value, err)
	}
	if got := text("header a"); got != "English" {
		t.Errorf("language switch = %q, want English", got)
	}

	// First a mistake: erasure without a ground, and a bad email.
	do("fill in wrongly",
		chromedp.Click(css(`label[for="f-kind-erasure"]`)),
		chromedp.Click(css(`label[for="f-role-self"]`)),
		chromedp.SendKeys(css("#f-email"), "zhang.san@"),
	)
	if status := submit("send the wrong form", chromedp.Click(css(`button[type="submit"]`))); status != 400 {
		t.Errorf("wrong form: HTTP %d, want 400", status)
	}
	do("see the errors", chromedp.WaitVisible(css("#summary")), screenshot("form-zh-errors.png"))
	if got := text("#err-erasureGround"); !strings.Contains(got, "删除请求须选择适用的删除情形") {
		t.Errorf("ground error = %q", got)
	}
	if kept, err := chromedp.Run(ctx, chromedp.Value(css("#f-email"))); err != nil || kept != "zhang.san@" {
		t.Errorf("email kept = %q (%v), want what was typed", kept, err)
	}

	// Then put it right and send it.
	const details = "我已注销账户，请删除我的全部个人信息。"
	do("fill in",
		chromedp.Click(css(`label[for="f-erasureGround-stopped_using"]`)),
		chromedp.SendKeys(css("#f-email"), kb.End+"example.com"), // completes the kept "zhang.san@"
		chromedp.SendKeys(css("#f-phone"), "138 0013 8000"),
		chromedp.SendKeys(css("#f-details"), details),
	)
	if status := submit("send the form", chromedp.Click(css(`button[type="submit"]`))); status != 202 {
		body, _ := chromedp.Run(ctx, chromedp.Text(css("main")))
		t.Fatalf("form post: HTTP %d, want 202; page:\n%s", status, body)
	}
	do("see the confirmation", chromedp.WaitVisible(css("#request-id")), screenshot("accepted-zh.png"))
	if got := text("h1"); got != "我们已收到您的请求" {
		t.Errorf("confirmation heading = %q", got)
	}
	requestID := text("#request-id")
	href, err := chromedp.Run(ctx, chromedp.AttributeValue(css("#status-link"), "href"))
	if err != nil || !strings.HasPrefix(href.Value, srv.URL+"/requests/"+requestID+"?token=") {
		t.Errorf("status link %q (%v) for request %q", href.Value, err, requestID)
	}

	// The status link works.
	if status := submit("follow the status link", chromedp.Click(css("#status-link"))); status != 200 {
		t.Errorf("status page: HTTP %d, want 200", status)
	}
	do("see the status", chromedp.WaitVisible(css("#status")), screenshot("status-zh.png"))
	if got := text("#status"); got != "已收到" {
		t.Errorf("status = %q, want 已收到", got)
	}
	if got := text("dl dd:nth-of-type(2)"); got != "删除我的个人信息" {
		t.Errorf("kind = %q", got)
	}

	req, err := e.store.GetRequest(context.Background(), requestID)
	if err != nil {
		t.Fatalf("stored request: %v", err)
	}
	if req.Kind != dsr.KindErasure || req.ErasureGround != dsr.GroundStoppedUsing || req.Locale != "zh-CN" || !req.ExecutionStarted {
		t.Errorf("stored request = %+v", req)
	}
	p, err := e.store.GetPersonal(context.Background(), requestID)
	if err != nil || p.Details != details || p.Contact.Phone != "+8613800138000" {
		t.Errorf("stored personal data = %+v (%v)", p, err)
	}
	if n := len(e.sfn.Calls()); n != 1 {
		t.Errorf("StartExecution calls = %d, want 1", n)
	}
}

// TestBrowserVerifyInChinese goes through identity verification in headless
// Chromium, in Chinese, with JavaScript switched off, against the real
// workflow: a request sent through the form, the code and the link read from
// the message in the outbox, a mistyped code answered next to the field, the
// right code accepted, and the execution moving on.
func TestBrowserVerifyInChinese(t *testing.T) {
	var web http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { web.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	f := newFlow(t, srv.URL)
	web = f.web
	ctx := browser(t)
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(css(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return v
	}
	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	submit := func(step string, click chromedp.Action[chromedp.Void]) int64 {
		t.Helper()
		resp, err := chromedp.RunResponse(ctx, click)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		return resp.Status
	}

	do("send a request",
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
			return err
		}),
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulatePortrait, chromedp.EmulateScale(1)),
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(css("#f-kind-access")),
		chromedp.Click(css(`label[for="f-kind-access"]`)),
		chromedp.Click(css(`label[for="f-role-self"]`)),
		chromedp.SendKeys(css("#f-email"), "li.si@example.cn"),
	)
	if status := submit("send the form", chromedp.Click(css(`button[type="submit"]`))); status != http.StatusAccepted {
		t.Fatalf("form post: HTTP %d, want 202", status)
	}
	id := text("#request-id")
	if got := text("#verify-link"); got != "输入验证码" {
		t.Errorf("verification link text = %q", got)
	}

	// The requester reads the message and follows its link.
	code := f.awaitCode(id)
	_, link := f.code(id, 1)
	if !strings.HasPrefix(link, srv.URL+"/requests/"+id+"/verification?token=") {
		t.Fatalf("link in the message = %q", link)
	}
	do("open the link", chromedp.Navigate(link), chromedp.WaitVisible(css("#f-code")), screenshot("verify-zh.png"))
	if got := text("h1"); got != "验证您的身份" {
		t.Errorf("heading = %q", got)
	}
	for attr, want := range map[string]string{"inputmode": "numeric", "autocomplete": "one-time-code"} {
		v, err := chromedp.Run(ctx, chromedp.AttributeValue(css("#f-code"), attr))
		if err != nil || v.Value != want {
			t.Errorf("code field %s = %q (%v), want %q", attr, v.Value, err, want)
		}
	}

	// A mistyped code, then the right one, typed with a space.
	do("type a wrong code", chromedp.SendKeys(css("#f-code"), wrongCode(code)))
	if status := submit("send the wrong code", chromedp.Click(css("#verify"))); status != http.StatusBadRequest {
		t.Errorf("wrong code: HTTP %d, want 400", status)
	}
	do("see the error", chromedp.WaitVisible(css("#err-code")), screenshot("verify-zh-wrong.png"))
	if got := text("#err-code"); got != "验证码不正确，您还可以尝试 4 次。" {
		t.Errorf("error = %q", got)
	}
	do("type the code", chromedp.SendKeys(css("#f-code"), code[:3]+" "+code[3:]))
	if status := submit("send the code", chromedp.Click(css("#verify"))); status != http.StatusOK {
		body, _ := chromedp.Run(ctx, chromedp.Text(css("main")))
		t.Fatalf("right code: HTTP %d, want 200; page:\n%s", status, body)
	}
	do("see the confirmation", chromedp.WaitVisible(css("#notice")), screenshot("verify-zh-done.png"))
	if got := text("#notice"); !strings.HasPrefix(got, "感谢您，身份验证已完成") {
		t.Errorf("notice = %q", got)
	}
	f.reviewed(id)
	if st := f.finish(id); st != sfntypes.ExecutionStatusSucceeded {
		t.Errorf("execution %s, want SUCCEEDED; states %v", st, f.entered(id))
	}
	if status := submit("follow the status link", chromedp.Click(css("#status-link"))); status != http.StatusOK {
		t.Errorf("status page: HTTP %d", status)
	}
}

// TestBrowserUploadPDF: a guardian sends a request through the form in
// headless Chromium with JavaScript switched off, then uploads a PDF from
// the confirmation page: a plain multipart post straight to the local S3
// emulator (the presigned policy checked as S3 checks it), whose redirect
// brings the browser back to the documents page, which has checked,
// recorded and kept the file.
func TestBrowserUploadPDF(t *testing.T) {
	e := newUploadEnv(t)
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	pdfPath := filepath.Join(t.TempDir(), "出生医学证明.pdf")
	if err := os.WriteFile(pdfPath, testPDF, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := browser(t)
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(css(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return v
	}
	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	submit := func(step string, click chromedp.Action[chromedp.Void]) int64 {
		t.Helper()
		resp, err := chromedp.RunResponse(ctx, click)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		return resp.Status
	}

	do("send a request as a guardian",
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
			return err
		}),
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulatePortrait, chromedp.EmulateScale(1)),
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(css("#f-kind-access")),
		chromedp.Click(css(`label[for="f-kind-access"]`)),
		chromedp.Click(css(`label[for="f-role-guardian"]`)),
		chromedp.SendKeys(css("#f-email"), "parent@example.cn"),
		chromedp.SendKeys(css("#f-subjectName"), "张小明"),
	)
	if status := submit("send the form", chromedp.Click(css(`form[action="/requests"] button[type="submit"]:not([name])`))); status != http.StatusAccepted {
		body, _ := chromedp.Run(ctx, chromedp.Text(css("main")))
		t.Fatalf("form post: HTTP %d, want 202; page:\n%s", status, body)
	}
	do("see the upload forms", chromedp.WaitVisible(css("#f-file-pdf")), screenshot("upload-zh.png"))
	id := text("#request-id")
	if got := text("#next"); !strings.Contains(got, "不会向您或该人发送验证码") || !strings.Contains(got, "请在下方提交证明材料") {
		t.Errorf("next steps = %q", got)
	}

	do("choose the PDF", chromedp.SetUploadFiles(css("#f-file-pdf"), []string{pdfPath}))
	if status := submit("upload it", chromedp.Click(css("#upload-pdf"))); status != http.StatusOK {
		body, _ := chromedp.Run(ctx, chromedp.Text(css("body")))
		t.Fatalf("upload: HTTP %d, want 200 from the documents page; page:\n%s", status, body)
	}
	do("see the notice", chromedp.WaitVisible(css("#notice")), screenshot("upload-zh-done.png"))
	if got := text("#notice"); got != "我们已收到您的 PDF 文件（第 1 份，最多 5 份）。" {
		t.Errorf("notice = %q", got)
	}
	if got := text("#received li"); !strings.HasPrefix(got, "第 1 份：PDF") {
		t.Errorf("received list = %q", got)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || !strings.HasPrefix(loc, srv.URL+"/requests/"+id+"/documents/received?") {
		t.Errorf("the browser is at %q (%v), want the received page of %s", loc, err, id)
	}

	docs, err := e.store.ListDocuments(context.Background(), id)
	if err != nil || len(docs) != 1 {
		t.Fatalf("documents = %+v, %v", docs, err)
	}
	if d := docs[0]; d.ContentType != documents.TypePDF || d.Size != int64(len(testPDF)) || d.Source != SourceUpload || !e.objectExists(t, d.Key) {
		t.Errorf("document = %+v, object exists %v", d, e.objectExists(t, d.Key))
	}
}
