package workflow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
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
	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dev/sfnapi"
	"dsrflow/internal/dev/sfnapi/sfnapitest"
	"dsrflow/internal/dsr"
	"dsrflow/internal/intake"
	"dsrflow/internal/legalhold"
	"dsrflow/internal/logtest"
	"dsrflow/internal/notify"
	"dsrflow/internal/operator"
	"dsrflow/internal/partner/export"
	"dsrflow/internal/reconcile"
	"dsrflow/internal/store"
	"dsrflow/internal/verification"
)

var emu *dynamotest.Emulator

func TestMain(m *testing.M) { os.Exit(dynamotest.Main(m, &emu)) }

// t0 is when every test's virtual clock starts: a Monday, so due dates are
// easy to check against the 2026 holiday calendar.
var t0 = time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)

var (
	subjectSecret = []byte("subject-secret-for-tests-0123456789abcdef")
	statusSecret  = []byte("status-secret-for-tests-0123456789abcdef")
	codeSecret    = []byte("code-secret-for-tests-0123456789abcdef00")
)

// Recognizable personal data: the PII scan looks for these strings.
const (
	piiEmail   = "zhang.wei.pii@example.cn"
	piiPhone   = "+8613912345678"
	piiName    = "张伟测试"
	piiDetails = "我是张伟测试，住在北京市测试路一号"
)

// env is the whole workflow on one machine: dynalite, the local engine
// behind the Step Functions API (httptest), the real handlers and an outbox.
type env struct {
	t      testing.TB
	ctx    context.Context
	clock  *asl.Virtual
	table  string
	st     *store.Store
	outbox string
	logs   *logtest.Buffer
	sfn    *sfn.Client
	smArn  string
	intake *intake.Service
	ver    *verification.Service
	ops    *operator.Service
	holds  *legalhold.List
	h      *Handlers
}

func newEnv(t testing.TB, policy func(*Policy)) *env {
	t.Helper()
	return newEnvIn(t, "aws", policy)
}

// newEnvIn is newEnv with function and service ARNs in partition.
func newEnvIn(t testing.TB, partition string, policy func(*Policy)) *env {
	t.Helper()
	return newEnvWith(t, partition, policy, nil, nil)
}

// newEnvWith is newEnvIn; setup, if given, completes the handlers (their
// partners) before they are wired into the engine. The partner
// dispatcher answers waiting states through the same Step Functions API.
// wrap, if given, wraps each function's handler (fault injection).
func newEnvWith(t testing.TB, partition string, policy func(*Policy), setup func(*Handlers), wrap func(name string, hd lambda.Handler) lambda.Handler) *env {
	t.Helper()
	ctx := context.Background()
	clock := asl.VirtualClock(t0).(*asl.Virtual)
	logs := &logtest.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	table := emu.NewTable(t)
	db := emu.Client()
	st := store.New(db, table)
	st.Now = clock.Now
	outbox := filepath.Join(t.TempDir(), "outbox")
	box := &notify.Outbox{Dir: outbox, From: "privacy@example.cn", FromName: "隐私团队", Now: clock.Now}
	router := &notify.Router{From: "privacy@example.cn", FromName: "隐私团队", Email: box, SMS: box, Now: clock.Now}
	sender := &mailGuard{t: t, next: router}
	team := notify.Contact{Email: "privacy@example.cn"}

	h := &Handlers{Store: st, DB: db, Table: table, Sender: sender, Team: team, Policy: DefaultPolicy(), Now: clock.Now, Logger: logger}
	if policy != nil {
		policy(&h.Policy)
	}
	if setup != nil {
		setup(h)
	}
	resolver := asl.Handlers{}
	vars := LocalSubstitutions(partition, "cn-north-1", "123456789012")
	for _, f := range Functions() {
		var hd lambda.Handler = inFunction{f, lambda.NewHandler(f.Handler(h))}
		if wrap != nil {
			hd = wrap(f.Name, hd)
		}
		resolver[vars[f.ArnKey]] = hd
	}
	engine := asl.NewEngine(asl.Options{Clock: clock, Resolver: resolver, Logger: logger, Region: "cn-north-1"})
	srv := sfnapi.New(sfnapi.ASL(engine), sfnapi.Options{Partition: partition, Region: "cn-north-1", Logger: logger, Now: clock.Now})
	client, _ := sfnapitest.Serve(t, srv, "cn-north-1")
	def, err := Substitute(definition(t), vars)
	if err != nil {
		t.Fatal(err)
	}
	smArn, err := srv.CreateStateMachine(ctx, "dsr-workflow", string(def), "arn:"+partition+":iam::123456789012:role/dsr-workflow")
	if err != nil {
		t.Fatalf("CreateStateMachine: %v", err)
	}
	ver := &verification.Service{
		Requests: st, DB: db, Table: table, SFN: client, Sender: sender, Secret: codeSecret,
		Link: verification.PageLink("https://privacy.example.cn", statusSecret), StatusSecret: statusSecret,
		Team: team, Now: clock.Now, Logger: logger,
	}
	if err := ver.Validate(); err != nil {
		t.Fatal(err)
	}
	ops := &operator.Service{DB: db, Table: table, SFN: client, Events: st, Now: clock.Now}
	holds := &legalhold.List{DB: db, Table: table}
	h.Verification, h.Operator, h.Holds = ver, ops, holds
	h.Partners.SFN = client
	in := &intake.Service{Store: st, SFN: client, StateMachineArn: smArn, SubjectSecret: subjectSecret, Now: clock.Now, Logger: logger}
	return &env{t: t, ctx: ctx, clock: clock, table: table, st: st, outbox: outbox, logs: logs, sfn: client, smArn: smArn, intake: in, ver: ver, ops: ops, holds: holds, h: h}
}

// functionKey is the context key of the task function being invoked.
type functionKey struct{}

// inFunction invokes a task function's handler with the function in ctx.
type inFunction struct {
	f  Function
	hd lambda.Handler
}

func (i inFunction) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return i.hd.Invoke(context.WithValue(ctx, functionKey{}, i.f), payload)
}

// exportGuard fails the test when a task function not marked UsesExports
// touches the export bucket: its main builds the handlers without one.
// Calls from outside a task function (the partner callback endpoint,
// whose main opens the bucket) pass.
type exportGuard struct {
	t    testing.TB
	next export.Objects
}

func (g *exportGuard) check(ctx context.Context, op string) {
	if f, ok := ctx.Value(functionKey{}).(Function); ok && !f.UsesExports {
		g.t.Errorf("function %s used the export bucket (%s), but workflow.Functions does not mark it UsesExports", f.Name, op)
	}
}

func (g *exportGuard) Put(ctx context.Context, key, contentType string, body []byte, enc export.Encryption) error {
	g.check(ctx, "put")
	return g.next.Put(ctx, key, contentType, body, enc)
}

func (g *exportGuard) Get(ctx context.Context, key string) ([]byte, error) {
	g.check(ctx, "get")
	return g.next.Get(ctx, key)
}

func (g *exportGuard) PresignGet(ctx context.Context, key, filename string, ttl time.Duration) (string, time.Time, error) {
	g.check(ctx, "presign")
	return g.next.PresignGet(ctx, key, filename, ttl)
}

// mailGuard fails the test when a task function not marked SendsMail sends
// a message: its main builds the handlers without an email client.
type mailGuard struct {
	t    testing.TB
	next notify.Sender
}

func (g *mailGuard) Send(ctx context.Context, m notify.Message) (notify.Channel, error) {
	if f, ok := ctx.Value(functionKey{}).(Function); ok && !f.SendsMail {
		g.t.Errorf("function %s sent %s, but workflow.Functions does not mark it SendsMail", f.Name, m.Template)
	}
	return g.next.Send(ctx, m)
}

// submission is a web request with the recognizable personal data.
func submission(kind dsr.Kind, role dsr.Role, l dsr.Locale) dsr.Validated {
	v := dsr.Validated{Kind: kind, Role: role, Email: piiEmail, Phone: piiPhone, Locale: l, Details: piiDetails}
	switch kind {
	case dsr.KindErasure:
		v.ErasureGround = dsr.GroundStoppedUsing
	case dsr.KindCorrection:
		v.Corrections = []string{"姓名改为 " + piiName}
	case dsr.KindConsentWithdrawal:
		v.Purposes = []string{dsr.PurposeAnalytics}
	}
	return v
}

// submit sends a web request through intake (which starts the execution)
// and returns its ID and status token.
func (e *env) submit(v dsr.Validated, naturalKey string) (id, token string) {
	e.t.Helper()
	id = intake.RequestID(dsr.ChannelWeb, naturalKey)
	token = verification.StatusToken(statusSecret, id)
	sum := sha256.Sum256([]byte(token))
	res, err := e.intake.Submit(e.ctx, intake.Submission{Validated: v, Channel: dsr.ChannelWeb, NaturalKey: naturalKey, StatusTokenHash: hex.EncodeToString(sum[:]), Source: "web"})
	if err != nil {
		e.t.Fatalf("intake.Submit: %v", err)
	}
	if res.Request.ID != id {
		e.t.Fatalf("request ID = %s, want %s", res.Request.ID, id)
	}
	return id, token
}

func (e *env) execArn(id string) string {
	return reconcile.ExecutionArn(e.smArn, id)
}

// eventually polls cond for up to 20 s of real time.
func (e *env) eventually(what string, cond func() bool, explain ...func() string) {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	msg := ""
	for _, x := range explain {
		msg += "\n" + x()
	}
	e.t.Fatalf("timed out waiting for %s%s", what, msg)
}

// describeHistory summarizes an execution's history for failure messages.
func (e *env) describeHistory(id string) string {
	var b strings.Builder
	for _, ev := range e.history(id) {
		fmt.Fprintf(&b, "  %d %s", ev.Id, ev.Type)
		if d := ev.StateEnteredEventDetails; d != nil {
			fmt.Fprintf(&b, " %s", aws.ToString(d.Name))
		}
		if d := ev.TaskFailedEventDetails; d != nil {
			fmt.Fprintf(&b, " %s %s", aws.ToString(d.Error), aws.ToString(d.Cause))
		}
		if d := ev.LambdaFunctionFailedEventDetails; d != nil {
			fmt.Fprintf(&b, " %s %s", aws.ToString(d.Error), aws.ToString(d.Cause))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// history returns every event of the request's execution.
func (e *env) history(id string) []sfntypes.HistoryEvent {
	e.t.Helper()
	return sfnapitest.History(e.ctx, e.t, e.sfn, e.execArn(id))
}

// waitTask waits until the execution waits on a task token in state name.
// The state of a TaskSubmitted event is found by following its
// previousEventId chain to the state entered on its own thread: the events
// of a Map's or a Parallel's iterations interleave in the history.
func (e *env) waitTask(id, state string) {
	e.t.Helper()
	e.eventually("execution "+id+" to wait in "+state, func() bool {
		h := e.history(id)
		byID := make(map[int64]sfntypes.HistoryEvent, len(h))
		for _, ev := range h {
			byID[ev.Id] = ev
		}
		for _, ev := range h {
			if ev.Type != sfntypes.HistoryEventTypeTaskSubmitted {
				continue
			}
			for p, ok := byID[ev.PreviousEventId]; ok; p, ok = byID[p.PreviousEventId] {
				if p.StateEnteredEventDetails != nil {
					if aws.ToString(p.StateEnteredEventDetails.Name) == state {
						return true
					}
					break
				}
			}
		}
		return false
	})
}

// done waits until the execution has closed and returns its description.
func (e *env) done(id string) *sfn.DescribeExecutionOutput {
	e.t.Helper()
	var d *sfn.DescribeExecutionOutput
	e.eventually("execution "+id+" to end", func() bool {
		var err error
		d, err = e.sfn.DescribeExecution(e.ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(e.execArn(id))})
		if err != nil {
			e.t.Fatalf("DescribeExecution: %v", err)
		}
		return d.Status != sfntypes.ExecutionStatusRunning
	}, func() string { return e.describeHistory(id) })
	return d
}

// finalState is the name of the state the execution ended in.
func (e *env) finalState(id string) string {
	name := ""
	for _, ev := range e.history(id) {
		if ev.StateEnteredEventDetails != nil {
			name = aws.ToString(ev.StateEnteredEventDetails.Name)
		}
	}
	return name
}

func (e *env) request(id string) *dsr.Request {
	e.t.Helper()
	r, err := e.st.GetRequest(e.ctx, id)
	if err != nil {
		e.t.Fatalf("GetRequest %s: %v", id, err)
	}
	return r
}

// mail is one message from the outbox.
type mail struct {
	file     string
	template string
	channel  string
	to       string
	subject  string
	text     string
}

// mails lists the outbox messages of a request, oldest first.
func (e *env) mails(id string) []mail {
	e.t.Helper()
	entries, err := os.ReadDir(e.outbox)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		e.t.Fatal(err)
	}
	var out []mail
	names := []string{}
	for _, en := range entries {
		if strings.HasSuffix(en.Name(), ".eml") {
			names = append(names, en.Name())
		}
	}
	sort.Strings(names)
	for _, n := range names {
		f, err := os.Open(filepath.Join(e.outbox, n))
		if err != nil {
			e.t.Fatal(err)
		}
		env, err := enmime.ReadEnvelope(f)
		f.Close()
		if err != nil {
			e.t.Fatalf("outbox %s: %v", n, err)
		}
		if env.GetHeader("X-Dsrflow-Request") != id {
			continue
		}
		out = append(out, mail{file: n, template: env.GetHeader("X-Dsrflow-Template"), channel: env.GetHeader("X-Dsrflow-Channel"), to: env.GetHeader("To"), subject: env.GetHeader("Subject"), text: env.Text})
	}
	return out
}

// mailsOf returns the request's messages with template tmpl.
func (e *env) mailsOf(id, tmpl string) []mail {
	var out []mail
	for _, m := range e.mails(id) {
		if m.template == tmpl {
			out = append(out, m)
		}
	}
	return out
}

var codeRE = regexp.MustCompile(`(?:验证码：|this code: )(\d{6})`)

// code waits for the n-th code message of a request and returns the code.
func (e *env) code(id string, n int) string {
	e.t.Helper()
	var ms []mail
	e.eventually(fmt.Sprintf("code message %d for %s", n, id), func() bool {
		ms = e.mailsOf(id, notify.TemplateVerificationCode)
		return len(ms) >= n
	})
	m := codeRE.FindStringSubmatch(ms[n-1].text)
	if m == nil {
		e.t.Fatalf("no code in message %s:\n%s", ms[n-1].file, ms[n-1].text)
	}
	return m[1]
}

// wrong returns a 6-digit code other than c.
func wrong(c string) string {
	if c == "000000" {
		return "111111"
	}
	return "000000"
}

// events returns the request's audit event types, in order.
func (e *env) events(id string) []string {
	e.t.Helper()
	evs, err := ListEvents(e.ctx, emu.Client(), e.table, id)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Type)
	}
	return out
}

// chainOK checks the request's audit chain.
func (e *env) chainOK(id string) {
	e.t.Helper()
	rep, err := e.st.VerifyChain(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	if !rep.OK() {
		e.t.Errorf("audit chain of %s: %+v", id, rep.Problems)
	}
}

// scanPII fails when any recognizable personal data appears in the
// request's execution history or in the captured logs.
func (e *env) scanPII(ids ...string) {
	e.t.Helper()
	needles := []string{piiEmail, piiPhone, piiName, "13912345678", "zhang.wei.pii", piiDetails}
	for _, id := range ids {
		b, err := json.Marshal(e.history(id))
		if err != nil {
			e.t.Fatal(err)
		}
		// Event details are JSON strings inside JSON: unescape once more.
		hist := string(b) + strings.ReplaceAll(string(b), `\"`, `"`)
		for _, n := range needles {
			if strings.Contains(hist, n) || strings.Contains(hist, jsonEscape(n)) {
				e.t.Errorf("execution history of %s contains personal data %q", id, n)
			}
		}
	}
	logs := e.logs.String()
	// Task tokens are in the history (as in AWS), never in logs.
	for _, id := range ids {
		for _, ev := range e.history(id) {
			d := ev.TaskScheduledEventDetails
			if d == nil {
				continue
			}
			var p struct{ Payload struct{ TaskToken string } }
			if err := json.Unmarshal([]byte(aws.ToString(d.Parameters)), &p); err != nil {
				e.t.Fatal(err)
			}
			if p.Payload.TaskToken == "" {
				e.t.Errorf("no task token in the parameters of a token task of %s", id)
			} else if strings.Contains(logs, p.Payload.TaskToken) {
				e.t.Errorf("logs contain the task token of %s", id)
			}
		}
	}
	if logs == "" {
		e.t.Error("no log lines were captured: the scan would prove nothing")
	}
	for _, n := range needles {
		if strings.Contains(logs, n) || strings.Contains(logs, jsonEscape(n)) {
			e.t.Errorf("logs contain personal data %q", n)
		}
	}
}

func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return strings.Trim(string(b), `"`)
}

// decide answers an operator wait once it is recorded.
func (e *env) decide(d operator.Decision) {
	e.t.Helper()
	state := "ManualVerification"
	if d.Stage == operator.StageReview {
		state = "ManualReview"
	}
	e.waitTask(d.RequestID, state)
	if err := e.ops.Decide(e.ctx, d); err != nil {
		e.t.Fatalf("Decide: %v", err)
	}
}

// verify enters the right code for a request.
func (e *env) verify(id, token string) {
	e.t.Helper()
	code := e.code(id, 1)
	e.waitTask(id, "VerifyIdentity")
	res, err := e.ver.SubmitCode(e.ctx, id, token, code)
	if err != nil || res.Outcome != verification.OutcomeVerified {
		e.t.Fatalf("SubmitCode: %+v, %v; want verified", res, err)
	}
}
