package console

import (
	"context"
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

	"dsrflow/internal/dsr"
)

// chromiumPath finds the browser: $CHROMIUM, else Debian's chromium on
// PATH. The test fails (it is never skipped) when there is none.
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
	t.Fatal("chromium is not installed: run `apt-get install -y chromium` (Debian), or set CHROMIUM; .ci/run installs it")
	return ""
}

// browser is a headless Chromium set to Chinese, with JavaScript off: the
// console must work without it.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("lang", "zh-CN"), chromedp.Flag("accept-lang", "zh-CN,zh"),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

// screenshot saves a full-page screenshot under $CONSOLE_SCREENSHOTS when
// set (to look at the layout by eye); otherwise it does nothing.
func screenshot(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		dir := os.Getenv("CONSOLE_SCREENSHOTS")
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

// TestBrowser walks the console's two paths in headless Chromium, in
// Chinese, with JavaScript switched off, against the real stack: queue →
// request → approve, and triage → convert.
func TestBrowser(t *testing.T) {
	s := newStack(t, stackOptions{})
	srv := httptest.NewServer(s.console)
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
	// submit clicks and waits for the answer page; its HTTP status (after
	// the 303) is returned.
	submit := func(step string, click chromedp.Action[chromedp.Void]) int64 {
		t.Helper()
		resp, err := chromedp.RunResponse(ctx, click)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		return resp.Status
	}
	do("switch JavaScript off", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}))

	// Path 1: queue → request → approve.
	id := s.guardianErasure("browser-guardian")
	s.waitFor(id, "verification")
	do("open the queue", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(css("#queue")), screenshot("queue-zh.png"))
	if got := text("h1"); got != "需要人工处理" {
		t.Errorf("queue heading %q", got)
	}
	if got := text("#queue tbody tr td:nth-child(3)"); !strings.Contains(got, "人工身份验证") {
		t.Errorf("queue item %q", got)
	}
	if status := submit("open the request", chromedp.Click(css(`#queue a[href^="/requests/`+id+`"]`))); status != 200 {
		t.Fatalf("request page: HTTP %d", status)
	}
	do("see the request", chromedp.WaitVisible(css("#wait-verification")), screenshot("request-zh.png"))
	if got := text("h1"); got != "请求 "+id {
		t.Errorf("request heading %q", got)
	}
	if got := text("#status"); got != "审核中" {
		t.Errorf("status %q", got)
	}
	do("note what was checked", chromedp.SendKeys(css("#note-verification"), "已核对出生证明"))
	if status := submit("approve", chromedp.Click(css("#approve-verification"))); status != 200 {
		t.Fatalf("approve: HTTP %d", status)
	}
	do("see the notice", chromedp.WaitVisible(css("#notice")), screenshot("approved-zh.png"))
	if got := text("#notice"); got != "已批准，工作流继续。" {
		t.Errorf("notice %q", got)
	}
	if st := s.finished(id); st != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("execution %s; states %v", st, s.entered(id))
	}
	if ev := s.lastEvent(id, "operator_decision"); ev.Actor != "operator:"+operatorARN || ev.Data["note"] != "已核对出生证明" {
		t.Errorf("decision event %+v", ev)
	}

	// Path 2: triage → convert.
	key := s.dropMail("browser.eml", unclearMail("wang.fang@example.cn", "my son"))
	do("back to the queue", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(css("#queue")))
	if status := submit("open the mail", chromedp.Click(css(`#queue a[href^="/mail/`+key+`"]`))); status != 200 {
		t.Fatalf("mail page: HTTP %d", status)
	}
	do("see the mail", chromedp.WaitVisible(css("#mail-text")), screenshot("mail-zh.png"))
	if got := text("#mail-from"); got != "wang.fang@example.cn" {
		t.Errorf("from %q", got)
	}
	do("choose what it is",
		chromedp.Click(css(`label[for="convert-kind-erasure"]`)),
		chromedp.Click(css(`label[for="convert-role-guardian"]`)),
	)
	if status := submit("convert", chromedp.Click(css("#convert"))); status != 200 {
		body, _ := chromedp.Run(ctx, chromedp.Text(css("main")))
		t.Fatalf("convert: HTTP %d\n%s", status, body)
	}
	do("see the new request", chromedp.WaitVisible(css("#notice")), screenshot("converted-zh.png"))
	if got := text("#notice"); got != "邮件已转为请求，工作流已启动。" {
		t.Errorf("notice %q", got)
	}
	newID := strings.TrimPrefix(text("h1"), "请求 ")
	r, err := s.st.GetRequest(s.ctx, newID)
	if err != nil || r.Kind != dsr.KindErasure || r.Role != dsr.RoleGuardian || r.Channel != dsr.ChannelMail {
		t.Fatalf("converted request %+v (%v)", r, err)
	}
	s.waitFor(newID, "verification")
	if got := text("#documents tbody td:nth-child(2)"); got != "birth.pdf" {
		t.Errorf("document %q", got)
	}
}
