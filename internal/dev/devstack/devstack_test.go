package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/jhillyerd/enmime"

	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dsr"
	"dsrflow/internal/logtest"
	"dsrflow/internal/partner/certificate"
	"dsrflow/internal/reconcile"
	"dsrflow/internal/verification"
)

func start(t *testing.T, dir string, scale float64, hold time.Duration, logs *logtest.Buffer) *Stack {
	t.Helper()
	root, err := dynamotest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := Start(ctx, Options{
		Dir: dir, Root: root, HTTPAddr: "127.0.0.1:0", DynamoDBAddr: "127.0.0.1:0", S3Addr: "127.0.0.1:0",
		SFNAddr: "127.0.0.1:0", PartnersAddr: "127.0.0.1:0", ConsoleAddr: "127.0.0.1:0", ClockScale: scale, HumanHold: hold, ReconcileEvery: 200 * time.Millisecond,
		MailPoll: 50 * time.Millisecond, Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return st
}

// stop closes the stack and checks dynalite is gone.
func stop(t *testing.T, st *Stack) {
	t.Helper()
	pid := st.dynalite.Pid()
	if err := st.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	select {
	case <-st.dynalite.Done():
	default:
		t.Errorf("dynalite still running after Close")
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("dynalite process %d still exists after Close", pid)
	}
	for _, u := range []string{st.HTTPURL, st.SFNURL, st.S3URL, st.PartnersURL} {
		if resp, err := http.Get(u); err == nil {
			resp.Body.Close()
			t.Errorf("%s still answers after Close", u)
		}
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

type outMail struct {
	file, request, template, text string
}

func outbox(t *testing.T, dir string) []outMail {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []outMail
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".eml") {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		env, err := enmime.ReadEnvelope(f)
		f.Close()
		if err != nil {
			t.Fatalf("outbox %s: %v", e.Name(), err)
		}
		out = append(out, outMail{file: e.Name(), request: env.GetHeader("X-Dsrflow-Request"), template: env.GetHeader("X-Dsrflow-Template"), text: env.Text})
	}
	return out
}

func mailsOf(t *testing.T, dir, id, template string) []outMail {
	var out []outMail
	for _, m := range outbox(t, dir) {
		if m.request == id && m.template == template {
			out = append(out, m)
		}
	}
	return out
}

var codeRE = regexp.MustCompile(`this code: (\d{6})`)

// submit posts a JSON request to the HTTP API and returns its ID and status URL.
func submit(t *testing.T, st *Stack, key string) (id, statusURL string) {
	t.Helper()
	return submitAs(t, st, key, "local.test@example.com")
}

// submitAs is submit for the erasure of another requester.
func submitAs(t *testing.T, st *Stack, key, email string) (id, statusURL string) {
	t.Helper()
	body := `{"kind":"erasure","role":"self","email":"` + email + `","locale":"en","erasureGround":"stopped_using"}`
	req, err := http.NewRequest(http.MethodPost, st.HTTPURL+"/requests", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /requests: %v", err)
	}
	defer resp.Body.Close()
	var out struct {
		RequestID string `json:"requestId"`
		StatusURL string `json:"statusUrl"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusAccepted || out.RequestID == "" {
		t.Fatalf("POST /requests = %d %+v, %v; want 202 with a request ID", resp.StatusCode, out, err)
	}
	return out.RequestID, out.StatusURL
}

func (st *Stack) executionStatus(t *testing.T, name string) sfntypes.ExecutionStatus {
	t.Helper()
	out, err := st.SFN.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(reconcile.ExecutionArn(st.StateMachineArn, name))})
	if err != nil {
		return ""
	}
	return out.Status
}

// TestStackEndToEnd runs the whole stack on free ports: a form submission
// through the HTTP API, a mail through the mail drop, the verification code
// from the outbox, the erasure to completion (backup wait included), and a
// clean shutdown.
func TestStackEndToEnd(t *testing.T) {
	dir := t.TempDir()
	logs := &logtest.Buffer{}
	// Ten days per second: the 35-day backup wait takes 3.5 s.
	// The mail request's code is never entered: its hold ends after 2 s.
	st := start(t, dir, 864000, 2*time.Second, logs)
	defer func() {
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	}()

	// The HTTP API serves exactly the template's routes.
	for _, c := range []struct {
		method, path, ctype, body string
		want                      int
	}{
		{http.MethodGet, "/", "", "", http.StatusOK},
		{http.MethodGet, "/nowhere", "", "", http.StatusNotFound},
		{http.MethodDelete, "/requests", "", "", http.StatusMethodNotAllowed},
		{http.MethodPost, "/partners/nobody/callbacks", "application/json", "{}", http.StatusBadRequest},
	} {
		if got := do(t, c.method, st.HTTPURL+c.path, c.ctype, c.body); got.status != c.want {
			t.Errorf("%s %s = %d %s, want %d", c.method, c.path, got.status, got.body, c.want)
		}
	}

	id, statusURL := submit(t, st, "devstack-e2e-request-0001")
	if !strings.HasPrefix(statusURL, st.HTTPURL+"/requests/"+id) {
		t.Errorf("status URL = %q, want it under %s", statusURL, st.HTTPURL)
	}
	// A double submit names the same request.
	if again, _ := submit(t, st, "devstack-e2e-request-0001"); again != id {
		t.Errorf("resubmit = %s, want %s", again, id)
	}

	// The mail drop.
	raw, err := os.ReadFile(filepath.Join(st.opts.Root, "internal/mail/testdata/zh_utf8_erasure.eml"))
	if err != nil {
		t.Fatal(err)
	}
	// As SES delivers it: the sender's domain passes DMARC (a request mail
	// without that goes to triage).
	raw = append([]byte("Authentication-Results: amazonses.com; spf=pass smtp.mailfrom=example.cn; dkim=pass header.i=@example.cn; dmarc=pass header.from=example.cn\r\n"), raw...)
	if err := os.WriteFile(filepath.Join(st.MailDrop, "request.eml"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the dropped mail to be processed", func() bool {
		_, err := os.Stat(filepath.Join(st.MailDrop, "processed", "request.eml"))
		return err == nil
	})
	mailID := ""
	eventually(t, "two executions (web and mail)", func() bool {
		out, err := st.SFN.ListExecutions(context.Background(), &sfn.ListExecutionsInput{StateMachineArn: aws.String(st.StateMachineArn)})
		if err != nil || len(out.Executions) != 2 {
			return false
		}
		for _, x := range out.Executions {
			if n := aws.ToString(x.Name); n != id {
				mailID = n
			}
		}
		return true
	})
	r, err := st.Store.GetRequest(context.Background(), mailID)
	if err != nil || r.Channel != dsr.ChannelMail || r.Kind != dsr.KindErasure {
		t.Fatalf("mail request %s = %+v, %v; want an erasure by mail", mailID, r, err)
	}
	// The mail is in the bucket, as S3 would hold it.
	objs, err := st.S3.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(MailboxBucket), Prefix: aws.String(InboxPrefix)})
	if err != nil || len(objs.Contents) != 1 {
		t.Fatalf("inbox objects = %v, %v; want the dropped mail", objs, err)
	}
	eventually(t, "the mail requester's code in the outbox", func() bool {
		return len(mailsOf(t, st.Outbox, mailID, "verification_code")) == 1
	})

	// The code, from the outbox.
	var code string
	eventually(t, "the verification code in the outbox", func() bool {
		ms := mailsOf(t, st.Outbox, id, "verification_code")
		if len(ms) == 0 {
			return false
		}
		m := codeRE.FindStringSubmatch(ms[0].text)
		if m == nil {
			t.Fatalf("no code in %s:\n%s", ms[0].file, ms[0].text)
		}
		code = m[1]
		return true
	})
	token := verification.StatusToken([]byte(mustSecret(t, dir, "STATUS_TOKEN_SECRET")), id)
	if !strings.Contains(statusURL, "token="+token) {
		t.Errorf("status URL %q does not carry the status token", statusURL)
	}
	eventually(t, "the workflow to wait for the code", func() bool {
		r, err := st.Store.GetRequest(context.Background(), id)
		return err == nil && r.Status == dsr.StatusAwaitingVerification
	})
	// The code goes in through the verification page's route.
	resp := do(t, http.MethodPost, st.HTTPURL+"/requests/"+id+"/verification", "application/json",
		fmt.Sprintf(`{"token":%q,"code":%q}`, token, code))
	if resp.status != http.StatusOK {
		t.Fatalf("POST verification = %d %s; want 200", resp.status, resp.body)
	}
	begin := time.Now()
	eventually(t, "the erasure to complete", func() bool {
		return st.executionStatus(t, id) == sfntypes.ExecutionStatusSucceeded
	})
	t.Logf("erasure from verification to completion: %s", time.Since(begin))
	r, err = st.Store.GetRequest(context.Background(), id)
	if err != nil || r.Status != dsr.StatusCompleted {
		t.Fatalf("request after the execution = %+v, %v; want completed", r, err)
	}
	stop(t, st)
	for _, f := range []string{"env", "secrets.env", "partners.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil && f != "env" {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestStackRestart stops the stack while a request waits for its code and
// starts it again on the same folder: the request is still there, its
// execution is started again, and the code sent before the restart verifies.
func TestStackRestart(t *testing.T) {
	dir := t.TempDir()
	logs := &logtest.Buffer{}
	defer func() {
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	}()
	st := start(t, dir, 86400, 0, logs)
	id, _ := submit(t, st, "devstack-restart-request-0001")
	eventually(t, "the first code", func() bool { return len(mailsOf(t, st.Outbox, id, "verification_code")) == 1 })
	stop(t, st)

	st = start(t, dir, 86400, 0, logs)
	defer stop(t, st)
	r, err := st.Store.GetRequest(context.Background(), id)
	if err != nil {
		t.Fatalf("request after restart: %v", err)
	}
	if r.Status != dsr.StatusAwaitingVerification {
		t.Errorf("status after restart = %s, want %s", r.Status, dsr.StatusAwaitingVerification)
	}
	eventually(t, "the reconciler to restart the execution", func() bool {
		return st.executionStatus(t, id) == sfntypes.ExecutionStatusRunning
	})
	// The new execution's clock starts no earlier than the request's
	// last update: the request's own dates do not run backwards.
	if c, ok := st.executions.clockOf(id); !ok {
		t.Errorf("no clock for the restarted execution of %s", id)
	} else if now := c.Now(); now.Before(r.UpdatedAt) {
		t.Errorf("restarted execution's clock reads %s, before the request's last update %s", now, r.UpdatedAt)
	}
	// The code sent before the restart still verifies: the new execution
	// waits on it.
	ms := mailsOf(t, st.Outbox, id, "verification_code")
	m := codeRE.FindStringSubmatch(ms[0].text)
	if m == nil {
		t.Fatalf("no code in %s", ms[0].file)
	}
	token := verification.StatusToken([]byte(mustSecret(t, dir, "STATUS_TOKEN_SECRET")), id)
	eventually(t, "the code to be accepted", func() bool {
		return do(t, http.MethodPost, st.HTTPURL+"/requests/"+id+"/verification", "application/json",
			fmt.Sprintf(`{"token":%q,"code":%q}`, token, m[1])).status == http.StatusOK
	})
	eventually(t, "the request to move on from verification", func() bool {
		r, err := st.Store.GetRequest(context.Background(), id)
		return err == nil && r.VerifiedAt != nil
	})
}

type answer struct {
	status int
	body   string
}

func do(t *testing.T, method, url, ctype, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(b)}
}

func mustSecret(t *testing.T, dir, name string) string {
	t.Helper()
	s, err := loadSecrets(filepath.Join(dir, "secrets.env"), nil)
	if err != nil || s[name] == "" {
		t.Fatalf("secret %s: %v", name, err)
	}
	return s[name]
}

func TestSecretsAreKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets.env")
	a, err := loadSecrets(path, []string{"A", "B"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := loadSecrets(path, []string{"A", "B", "C"})
	if err != nil {
		t.Fatal(err)
	}
	if a["A"] == "" || a["A"] != b["A"] || a["B"] != b["B"] || b["C"] == "" || b["C"] == b["A"] {
		t.Errorf("secrets not kept or not fresh: first %v, second %v", a, b)
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("secrets file mode = %v, %v; want 0600", info.Mode().Perm(), err)
	}
	if err := os.WriteFile(path, []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadSecrets(path, nil); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("bad secrets file: %v, want an error naming line 1", err)
	}
}

func TestEventKey(t *testing.T) {
	for in, want := range map[string]string{
		"inbox/abc":          "inbox/abc",
		"inbox/a b+c.eml":    "inbox/a+b%2Bc.eml",
		"inbox/中文":           "inbox/%E4%B8%AD%E6%96%87",
		"inbox/x=1&y":        "inbox/x%3D1%26y",
		"inbox/deep/er/name": "inbox/deep/er/name",
	} {
		if got := eventKey(in); got != want {
			t.Errorf("eventKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClockHoldsAtRealSpeed(t *testing.T) {
	c := NewClock(86400, time.Time{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	// With nothing waiting for it, the clock runs at real speed.
	idle := c.Now()
	time.Sleep(50 * time.Millisecond)
	if d := c.Now().Sub(idle); d > 5*time.Second {
		t.Errorf("idle clock advanced %s in 50 ms, want real speed", d)
	}
	// A timer one clock-hour away fires in about 42 ms at full speed.
	tm := c.NewTimer(time.Hour)
	select {
	case <-tm.C():
	case <-time.After(5 * time.Second):
		t.Fatal("timer did not fire at 86400x")
	}
	release := c.Hold()
	t0 := c.Now()
	held := c.NewTimer(time.Hour)
	time.Sleep(100 * time.Millisecond)
	if d := c.Now().Sub(t0); d > 10*time.Second {
		t.Errorf("held clock advanced %s in 100 ms, want real speed", d)
	}
	select {
	case <-held.C():
		t.Fatal("timer fired while the clock was held")
	default:
	}
	release()
	release() // a second call is harmless
	select {
	case <-held.C():
	case <-time.After(5 * time.Second):
		t.Fatal("timer did not fire after release")
	}
	if c.Now().Sub(t0) < time.Hour {
		t.Errorf("clock after the timer fired is %s past the hold, want at least an hour", c.Now().Sub(t0))
	}
}

// TestLoad is the load and fault run in small: every kind by the HTTP API,
// mail through the mail drop, duplicate submits and deliveries, a crashed
// handler, failing partners; nothing may be lost or duplicated.
func TestLoad(t *testing.T) {
	dir := t.TempDir()
	logs := &logtest.Buffer{}
	defer func() {
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	}()
	root, err := dynamotest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	crasher := &Crasher{Function: "admit", After: 3}
	ctx := context.Background()
	st, err := Start(ctx, Options{
		Dir: dir, Root: root, HTTPAddr: "127.0.0.1:0", DynamoDBAddr: "127.0.0.1:0", S3Addr: "127.0.0.1:0",
		SFNAddr: "127.0.0.1:0", PartnersAddr: "127.0.0.1:0", ConsoleAddr: "127.0.0.1:0", ClockScale: 864000, ReconcileEvery: 200 * time.Millisecond,
		MailPoll: 50 * time.Millisecond, Partners: PartnerOptions{FailureRate: 0.3},
		Logger:      slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
		WrapHandler: crasher.Wrap,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop(t, st)
	rep, err := Load(ctx, st, LoadOptions{Requests: 15, Timeout: 45 * time.Second}, crasher)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	var b strings.Builder
	rep.WriteText(&b)
	t.Logf("report:\n%s", b.String())
	if rep.Lost != 0 || rep.Duplicated != 0 {
		t.Errorf("lost %d %v, duplicated %d; want 0 and 0", rep.Lost, rep.LostIDs, rep.Duplicated)
	}
	if rep.Web != 10 || rep.Mail != 5 {
		t.Errorf("web %d, mail %d; want 10 and 5", rep.Web, rep.Mail)
	}
	if rep.DuplicateSubmits != 2 || rep.DuplicateMails != 1 {
		t.Errorf("duplicate submits %d, mails %d; want 2 and 1", rep.DuplicateSubmits, rep.DuplicateMails)
	}
	if rep.HandlerCrashes != 1 || rep.Restarts < 1 {
		t.Errorf("crashes %d, restarts %d; want 1 crash recovered by at least one restart", rep.HandlerCrashes, rep.Restarts)
	}
	// 10 web requests: the 8th is a guardian's, approved by the operator.
	if rep.Manual != 1 {
		t.Errorf("manual %d, want 1", rep.Manual)
	}
	done := rep.Completed + rep.Refused + rep.Escalated
	for _, n := range rep.Other {
		done += n
	}
	if done != rep.Requests {
		t.Errorf("finished %d of %d requests", done, rep.Requests)
	}
	if rep.TransitionsPerReq < 5 {
		t.Errorf("%.1f states entered per request: the workflow cannot have run", rep.TransitionsPerReq)
	}
}

func TestMuxPath(t *testing.T) {
	for in, want := range map[string]string{
		"/":                             "/{$}",
		"/requests":                     "/requests",
		"/requests/{id}":                "/requests/{id}",
		"/files/{proxy+}":               "/files/{proxy...}",
		"/partners/{partner}/callbacks": "/partners/{partner}/callbacks",
	} {
		if got := muxPath(in); got != want {
			t.Errorf("muxPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// shape lists the JSON paths of a document (objects' keys, arrays as []).
func shape(prefix string, v any, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			shape(prefix+"."+k, e, out)
		}
	case []any:
		for _, e := range x {
			shape(prefix+"[]", e, out)
		}
	default:
		out[prefix] = true
	}
}

// TestObjectCreatedShape checks the mail drop's S3 event against the
// sample event of events/intake-mail.json: the same fields, as S3 sends them.
func TestObjectCreatedShape(t *testing.T) {
	st := &Stack{}
	raw := []byte("From: a@example.com\r\n\r\nhi")
	var got, want any
	if err := json.Unmarshal(st.ObjectCreatedJSON("inbox/abc def", raw), &got); err != nil {
		t.Fatal(err)
	}
	sample, err := os.ReadFile("../../../events/intake-mail.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(sample, &want); err != nil {
		t.Fatal(err)
	}
	gotShape, wantShape := map[string]bool{}, map[string]bool{}
	shape("", got, gotShape)
	shape("", want, wantShape)
	for p := range wantShape {
		if !gotShape[p] {
			t.Errorf("event lacks %s", p)
		}
	}
	for p := range gotShape {
		if !wantShape[p] {
			t.Errorf("event has %s, which S3 does not send", p)
		}
	}
	// What the handler gets, decoded as the Lambda runtime decodes it.
	ev := st.ObjectCreated("inbox/abc def", raw)
	rec := ev.Records[0]
	if rec.S3.Object.Key != "inbox/abc+def" || rec.S3.Object.URLDecodedKey != "inbox/abc def" || rec.EventName != "ObjectCreated:Put" ||
		rec.S3.Bucket.Name != MailboxBucket || rec.S3.Object.Size != int64(len(raw)) || rec.EventTime.IsZero() {
		t.Errorf("record = %+v", rec)
	}
}

// TestCloseCutsOffStalledConnections: a client that opened a request and
// stalled does not keep Close from finishing: after the grace period the
// connection is cut off and Close succeeds.
func TestCloseCutsOffStalledConnections(t *testing.T) {
	logs := &logtest.Buffer{}
	st := start(t, t.TempDir(), 1, 0, logs)
	conn, err := net.Dial("tcp", strings.TrimPrefix(st.HTTPURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Half a request: the connection is active until the header ends.
	if _, err := conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	begin := time.Now()
	stop(t, st)
	if d := time.Since(begin); d > 8*time.Second {
		t.Errorf("Close took %s with a stalled connection", d)
	}
	if !strings.Contains(logs.String(), "closing connections still open at shutdown") {
		t.Errorf("no warning about the connection cut off")
	}
}

// enterCode enters request id's verification code, from the outbox,
// through the verification page's route.
func enterCode(t *testing.T, st *Stack, id string) {
	t.Helper()
	var code string
	eventually(t, "the verification code of "+id, func() bool {
		ms := mailsOf(t, st.Outbox, id, "verification_code")
		if len(ms) == 0 {
			return false
		}
		m := codeRE.FindStringSubmatch(ms[0].text)
		if m == nil {
			t.Fatalf("no code in %s", ms[0].file)
		}
		code = m[1]
		return true
	})
	token := verification.StatusToken([]byte(mustSecret(t, st.DataDir, "STATUS_TOKEN_SECRET")), id)
	eventually(t, "the code of "+id+" to be accepted", func() bool {
		return do(t, http.MethodPost, st.HTTPURL+"/requests/"+id+"/verification", "application/json",
			fmt.Sprintf(`{"token":%q,"code":%q}`, token, code)).status == http.StatusOK
	})
}

// TestEachRequestOnItsOwnClock: two erasures run to completion, backup
// wait and follow-up period included, each on its own execution's clock.
// Their own dates (closing, certificate, execution end) lie weeks after
// their creation, their audit chains and certificates still verify though
// their events are stamped by two clocks (the execution's and the wall
// clock's), and the stack's calendar has not moved: a fresh request is
// created, and falls due, by the wall clock.
func TestEachRequestOnItsOwnClock(t *testing.T) {
	const weeks = 4 * 7 * 24 * time.Hour
	logs := &logtest.Buffer{}
	defer func() {
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	}()
	// Ten days per second: each erasure's 35-day backup wait and 30-day
	// follow-up take about 7 s, at once.
	st := start(t, t.TempDir(), 864000, time.Minute, logs)
	defer stop(t, st)
	ctx := context.Background()

	begin := time.Now()
	var ids []string
	for i, email := range []string{"clock.one@example.com", "clock.two@example.com"} {
		id, _ := submitAs(t, st, fmt.Sprintf("devstack-clock-request-%04d", i), email)
		ids = append(ids, id)
	}
	for _, id := range ids {
		enterCode(t, st, id)
	}
	for _, id := range ids {
		eventually(t, "the erasure "+id+" to complete", func() bool {
			return st.executionStatus(t, id) == sfntypes.ExecutionStatusSucceeded
		})
	}
	submitted := time.Now()
	for _, id := range ids {
		r, err := st.Store.GetRequest(ctx, id)
		if err != nil || r.Status != dsr.StatusCompleted || r.ClosedAt == nil {
			t.Fatalf("request %s = %+v, %v; want completed", id, r, err)
		}
		// Created by intake on the wall clock; closed on its own clock,
		// after the backup wait.
		if r.CreatedAt.Before(begin.Add(-time.Second)) || r.CreatedAt.After(submitted) {
			t.Errorf("%s created at %s, want between %s and %s (the wall clock)", id, r.CreatedAt, begin, submitted)
		}
		if d := r.ClosedAt.Sub(r.CreatedAt); d < weeks {
			t.Errorf("%s closed %s after its creation, want weeks (its own clock ran through the backup wait)", id, d)
		}
		doc, err := st.Store.GetCertificate(ctx, id)
		if err != nil {
			t.Fatalf("certificate of %s: %v", id, err)
		}
		c, err := certificate.Parse(doc)
		if err != nil {
			t.Fatalf("certificate of %s: %v", id, err)
		}
		if d := c.IssuedAt.Sub(r.CreatedAt); d < weeks {
			t.Errorf("%s's certificate issued %s after the request's creation, want weeks", id, d)
		}
		// The chain and the certificate verify, the events' two clocks
		// notwithstanding (the purge appended events after the certificate).
		rep, err := st.Store.VerifyChain(ctx, id)
		if err != nil || !rep.OK() {
			t.Errorf("audit chain of %s: %+v, %v; want intact", id, rep.Problems, err)
		}
		events, err := st.Store.ListEvents(ctx, id)
		if err != nil || c.AuditHeadSeq < 1 || c.AuditHeadSeq > len(events) {
			t.Fatalf("events of %s: %d, %v; certificate quotes event %d", id, len(events), err, c.AuditHeadSeq)
		}
		if err := certificate.VerifyEvent(c, events[c.AuditHeadSeq-1]); err != nil {
			t.Errorf("certificate of %s against its chain: %v", id, err)
		}
		backwards := 0
		for i := 1; i < len(events); i++ {
			if events[i].At.Before(events[i-1].At) {
				backwards++
			}
		}
		t.Logf("%s: %d events, %d stamped before their predecessor; closed %s after creation", id, len(events), backwards, r.ClosedAt.Sub(r.CreatedAt).Round(time.Hour))
		x, err := st.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(reconcile.ExecutionArn(st.StateMachineArn, id))})
		if err != nil || x.StartDate == nil || x.StopDate == nil {
			t.Fatalf("execution of %s: %+v, %v", id, x, err)
		}
		if d := x.StopDate.Sub(*x.StartDate); d < 2*weeks {
			t.Errorf("execution of %s ran %s on its clock, want the backup wait and the follow-up period", id, d)
		}
		// The ended execution's clock is let go (just after its status
		// reads SUCCEEDED).
		eventually(t, "the clock of "+id+" to be let go", func() bool {
			_, ok := st.executions.clockOf(id)
			return !ok
		})
	}

	// The stack's calendar: a fresh request is created and falls due by
	// the wall clock (15 Chinese working days after its verification).
	before := time.Now()
	id, _ := submitAs(t, st, "devstack-clock-request-fresh", "clock.three@example.com")
	enterCode(t, st, id)
	var r *dsr.Request
	eventually(t, "the fresh request's due date", func() bool {
		var err error
		r, err = st.Store.GetRequest(ctx, id)
		return err == nil && r.DueAt != nil
	})
	after := time.Now()
	if r.CreatedAt.Before(before.Add(-time.Second)) || r.CreatedAt.After(after) {
		t.Errorf("fresh request created at %s, want between %s and %s", r.CreatedAt, before, after)
	}
	if due := r.DueAt.Sub(after); due < 14*24*time.Hour || due > 45*24*time.Hour {
		t.Errorf("fresh request due %s (in %s), want 15 working days from now (%s)", r.DueAt, due.Round(time.Hour), after)
	}
}
