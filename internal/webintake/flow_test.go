package webintake

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/jhillyerd/enmime"

	"dsrflow/internal/dev/asl"
	"dsrflow/internal/dev/sfnapi"
	"dsrflow/internal/dev/sfnapi/sfnapitest"
	"dsrflow/internal/dsr"
	"dsrflow/internal/logtest"
	"dsrflow/internal/notify"
	"dsrflow/internal/reconcile"
	"dsrflow/internal/store"
	"dsrflow/internal/workflow"
)

// flowStart is when every flow's virtual clock starts (a Monday, 09:00 in
// China), so that expiry times on the page are stable for golden files.
var flowStart = time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)

// flow is the whole system on one machine, wired as it is deployed: dynalite,
// the local Step Functions engine (internal/dev/asl) behind the Step Functions API
// (internal/dev/sfnapi) running statemachines/dsr.asl.json with the workflow's
// real task handlers (workflow.New), and the privacy center wired by
// New from a Config, as intake-web wires it. Messages go to an
// outbox folder; all share one virtual clock.
type flow struct {
	t      testing.TB
	ctx    context.Context
	clock  *asl.Virtual
	table  string
	sfn    *sfn.Client
	smArn  string
	outbox string
	logs   *logtest.Buffer
	web    *Handler
	store  *store.Store
	// base is the privacy center's public URL (links in messages).
	base string
}

// newFlow builds a flow whose links point at base ("" for
// https://privacy.example.cn).
func newFlow(t testing.TB, base string) *flow {
	t.Helper()
	if base == "" {
		base = "https://privacy.example.cn"
	}
	ctx := context.Background()
	clock := asl.VirtualClock(flowStart).(*asl.Virtual)
	logs := &logtest.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	table := emu.NewTable(t)
	db := emu.Client()
	outbox := filepath.Join(t.TempDir(), "outbox")

	resolver := asl.Handlers{}
	vars := workflow.LocalSubstitutions("aws", "cn-north-1", "123456789012")
	engine := asl.NewEngine(asl.Options{Clock: clock, Resolver: resolver, Logger: logger, Region: "cn-north-1"})
	api := sfnapi.New(sfnapi.ASL(engine), sfnapi.Options{Region: "cn-north-1", Account: "123456789012", Logger: logger, Now: clock.Now})
	client, _ := sfnapitest.Serve(t, api, "cn-north-1")
	raw, err := os.ReadFile(filepath.Join(emu.Root, "statemachines", "dsr.asl.json"))
	if err != nil {
		t.Fatal(err)
	}
	def, err := workflow.Substitute(raw, vars)
	if err != nil {
		t.Fatal(err)
	}
	smArn, err := api.CreateStateMachine(ctx, "dsr-workflow", string(def), "arn:aws-cn:iam::123456789012:role/dsr-workflow")
	if err != nil {
		t.Fatalf("CreateStateMachine: %v", err)
	}

	// The workflow's task functions, configured as template.yaml configures them.
	st := store.New(store.Config{Table: table}, store.Deps{DB: db, Clock: clock.Now})
	wf, err := workflow.New(workflow.Config{
		TableName: table, CodeSecret: string(testCodeSecret), SubjectKeySecret: string(testSubjectSecret),
		StatusTokenSecret: string(testTokenSecret), PublicBaseURL: base, OutboxDir: outbox,
		MailFrom: flowMailFrom, MailFromName: "隐私团队",
		RepeatLimit: 3, BackupRotation: 840 * time.Hour, ContactRetention: 720 * time.Hour,
	}, workflow.Deps{Store: st, SFN: client, Clock: clock.Now, Logger: logger})
	if err != nil {
		t.Fatalf("workflow.New: %v", err)
	}
	for _, f := range workflow.Functions() {
		resolver[vars[f.ArnKey]] = lambda.NewHandler(f.Handler(wf))
	}

	// intake-web, from its own configuration.
	cfg := testConfig(table, smArn, 3)
	cfg.PublicBaseURL, cfg.OutboxDir = base, outbox
	web, err := New(cfg, Deps{Store: st, SFN: client, Clock: clock.Now, Logger: logger})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &flow{t: t, ctx: ctx, clock: clock, table: table, sfn: client, smArn: smArn, outbox: outbox, logs: logs, web: web, store: st, base: base}
}

func (f *flow) do(req *http.Request) answer {
	f.t.Helper()
	return serve(f.t, f.web, req)
}

// submitJSON sends a request through the JSON API with a fixed
// Idempotency-Key (so its ID and token are the same on every run) and
// returns its ID and status token.
func (f *flow) submitJSON(body, key string) (id, token string) {
	f.t.Helper()
	resp := f.do(jsonPost(body, flowKey(key)))
	if resp.StatusCode != http.StatusAccepted {
		f.t.Fatalf("submit: %d %s", resp.StatusCode, resp.Body)
	}
	var out struct {
		RequestID string `json:"requestId"`
		StatusURL string `json:"statusUrl"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &out); err != nil {
		f.t.Fatal(err)
	}
	u, err := url.Parse(out.StatusURL)
	if err != nil {
		f.t.Fatal(err)
	}
	return out.RequestID, u.Query().Get("token")
}

// flowKey makes a test's short name a valid Idempotency-Key (22 characters
// or more), the same on every run.
func flowKey(name string) string { return "flow-key-" + name + "-0123456789abcdef" }

// submitSelf sends an access request by the requester themself, in l.
func (f *flow) submitSelf(l dsr.Locale, key string) (id, token string) {
	f.t.Helper()
	return f.submitJSON(`{"kind":"access","role":"self","email":"zhang.wei.pii@example.cn","locale":"`+string(l)+`"}`, key)
}

// verificationEvent is a GET of the verification page for request id with
// token (none when empty) and extra query parameters.
func verificationEvent(t testing.TB, id, token string, extra url.Values) *http.Request {
	t.Helper()
	q := url.Values{}
	if token != "" {
		q.Set("token", token)
	}
	for k, v := range extra {
		q[k] = v
	}
	target := "/requests/" + url.PathEscape(id) + "/verification"
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	req := newRequest(http.MethodGet, target, nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	return req
}

// postVerificationForm is the verification form's post, from the site.
func postVerificationForm(t testing.TB, id string, vals url.Values) *http.Request {
	t.Helper()
	req := newRequest(http.MethodPost, "/requests/"+url.PathEscape(id)+"/verification", strings.NewReader(vals.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", sampleOrigin)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	return req
}

// postVerificationJSON is a post as a JSON client sends it.
func postVerificationJSON(t testing.TB, id, body, acceptLanguage string) *http.Request {
	t.Helper()
	req := newRequest(http.MethodPost, "/requests/"+url.PathEscape(id)+"/verification", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Del("Accept-Language")
	if acceptLanguage != "" {
		req.Header.Set("Accept-Language", acceptLanguage)
	}
	return req
}

func codeForm(token, code, lang string) url.Values {
	return url.Values{"token": {token}, "code": {code}, "lang": {lang}}
}

func resendForm(token, lang string) url.Values {
	return url.Values{"token": {token}, "action": {ActionResend}, "lang": {lang}}
}

func (f *flow) execArn(id string) string {
	return reconcile.ExecutionArn(f.smArn, id)
}

// eventually polls cond for up to 20 s of real time.
func (f *flow) eventually(what string, cond func() bool) {
	f.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	f.t.Fatalf("timed out waiting for %s", what)
}

// history is the execution's history.
func (f *flow) history(id string) []sfntypes.HistoryEvent {
	f.t.Helper()
	return sfnapitest.History(f.ctx, f.t, f.sfn, f.execArn(id))
}

// entered lists the states the execution entered, in order.
func (f *flow) entered(id string) []string {
	var out []string
	for _, ev := range f.history(id) {
		if d := ev.StateEnteredEventDetails; d != nil {
			out = append(out, aws.ToString(d.Name))
		}
	}
	return out
}

// waitingIn reports whether the execution has entered state and waits there.
func (f *flow) waitingIn(id, state string) bool {
	states := f.entered(id)
	return len(states) > 0 && states[len(states)-1] == state
}

// done waits until the execution has closed and returns its status.
func (f *flow) done(id string) sfntypes.ExecutionStatus {
	f.t.Helper()
	var st sfntypes.ExecutionStatus
	f.eventually("execution "+id+" to end", func() bool {
		d, err := f.sfn.DescribeExecution(f.ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(f.execArn(id))})
		if err != nil {
			f.t.Fatalf("DescribeExecution: %v", err)
		}
		st = d.Status
		return st != sfntypes.ExecutionStatusRunning
	})
	return st
}

// reviewed waits until the execution has left Verify for Review: the code
// reached the engine (SendTaskSuccess) and the workflow moved on.
func (f *flow) reviewed(id string) {
	f.t.Helper()
	f.eventually("execution "+id+" to move from Verify to Review", func() bool {
		states := f.entered(id)
		i := slices.Index(states, "Verify")
		return i >= 0 && slices.Contains(states[i:], "Review")
	})
}

// finish waits until the execution has ended and returns its status. The
// virtual clock lets Wait states (the backup rotation, the follow-up
// period before Purge) pass at once.
func (f *flow) finish(id string) sfntypes.ExecutionStatus {
	f.t.Helper()
	st := f.done(id)
	if st != sfntypes.ExecutionStatusSucceeded {
		f.t.Logf("execution %s %s: %s", id, st, f.failure(id))
	}
	return st
}

// failure is the error and cause of a failed execution's failing events.
func (f *flow) failure(id string) string {
	var out []string
	for _, ev := range f.history(id) {
		switch {
		case ev.ExecutionFailedEventDetails != nil:
			out = append(out, "execution: "+aws.ToString(ev.ExecutionFailedEventDetails.Error)+": "+aws.ToString(ev.ExecutionFailedEventDetails.Cause))
		case ev.TaskFailedEventDetails != nil:
			out = append(out, "task: "+aws.ToString(ev.TaskFailedEventDetails.Error)+": "+aws.ToString(ev.TaskFailedEventDetails.Cause))
		case ev.LambdaFunctionFailedEventDetails != nil:
			out = append(out, "lambda: "+aws.ToString(ev.LambdaFunctionFailedEventDetails.Error)+": "+aws.ToString(ev.LambdaFunctionFailedEventDetails.Cause))
		}
	}
	return strings.Join(out, "; ")
}

// outboxMail is one message from the outbox.
type outboxMail struct {
	template, text string
}

// mails lists the request's outbox messages with template tmpl, oldest first.
func (f *flow) mails(id, tmpl string) []outboxMail {
	f.t.Helper()
	entries, err := os.ReadDir(f.outbox)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		f.t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".eml") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	var out []outboxMail
	for _, n := range names {
		fh, err := os.Open(filepath.Join(f.outbox, n))
		if err != nil {
			f.t.Fatal(err)
		}
		env, err := enmime.ReadEnvelope(fh)
		fh.Close()
		if err != nil {
			f.t.Fatalf("outbox %s: %v", n, err)
		}
		if env.GetHeader("X-Dsrflow-Request") == id && env.GetHeader("X-Dsrflow-Template") == tmpl {
			out = append(out, outboxMail{template: tmpl, text: env.Text})
		}
	}
	return out
}

var (
	mailCodeRE = regexp.MustCompile(`(?:验证码：|this code: )(\d{6})`)
	mailLinkRE = regexp.MustCompile(`https?://\S+/verification\?token=\S+`)
)

// code waits for the n-th code message of a request and returns its code and
// the verification link in it.
func (f *flow) code(id string, n int) (code, link string) {
	f.t.Helper()
	var ms []outboxMail
	f.eventually("code message", func() bool {
		ms = f.mails(id, notify.TemplateVerificationCode)
		return len(ms) >= n
	})
	m := mailCodeRE.FindStringSubmatch(ms[n-1].text)
	if m == nil {
		f.t.Fatalf("no code in the message:\n%s", ms[n-1].text)
	}
	return m[1], mailLinkRE.FindString(ms[n-1].text)
}

// awaitCode waits until the execution waits in Verify and returns
// the first code.
func (f *flow) awaitCode(id string) string {
	f.t.Helper()
	f.eventually("execution "+id+" to wait in Verify", func() bool { return f.waitingIn(id, "Verify") })
	c, _ := f.code(id, 1)
	return c
}

// auditTypes lists the request's audit event types.
func (f *flow) auditTypes(id string) []string {
	f.t.Helper()
	evs, err := f.store.ListEvents(f.ctx, id)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

// taskToken is the task token stored on the verification item.
func (f *flow) taskToken(id string) string {
	f.t.Helper()
	v, err := f.store.GetVerification(f.ctx, id)
	if err != nil {
		f.t.Fatal(err)
	}
	if v == nil || v.TaskToken == "" {
		f.t.Fatalf("no task token on the verification item of %s", id)
	}
	return v.TaskToken
}

// wrongCode returns a 6-digit code other than c.
func wrongCode(c string) string {
	if c == "000000" {
		return "111111"
	}
	return "000000"
}

// verifyAnswerJSON is a JSON answer of the verification routes.
type verifyAnswerJSON struct {
	Errors       jsonErrorList `json:"errors"`
	RequestID    string        `json:"requestId"`
	State        string        `json:"state"`
	Outcome      string        `json:"outcome"`
	Message      string        `json:"message"`
	AttemptsLeft int           `json:"attemptsLeft"`
	ResendsLeft  int           `json:"resendsLeft"`
	ExpiresAt    *time.Time    `json:"expiresAt"`
	StatusURL    string        `json:"statusUrl"`
}

func decodeVerify(t testing.TB, body string) verifyAnswerJSON {
	t.Helper()
	var v verifyAnswerJSON
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("not a verification answer: %v\n%s", err, body)
	}
	return v
}
