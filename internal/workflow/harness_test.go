package workflow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/jhillyerd/enmime"

	"dsrflow/internal/dev/asl"
	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dev/partnersim"
	"dsrflow/internal/dev/sfnapi"
	"dsrflow/internal/dev/sfnapi/sfnapitest"
	"dsrflow/internal/dsr"
	"dsrflow/internal/intake"
	"dsrflow/internal/logtest"
	"dsrflow/internal/notify"
	"dsrflow/internal/operator"
	"dsrflow/internal/partner"
	"dsrflow/internal/partner/export"
	"dsrflow/internal/partner/export/exportpage"
	"dsrflow/internal/phone"
	"dsrflow/internal/reconcile"
	"dsrflow/internal/secretstore"
	"dsrflow/internal/store"
	"dsrflow/internal/verification"
)

var emu *dynamotest.Emulator

func TestMain(m *testing.M) { os.Exit(dynamotest.Main(m, &emu)) }

// t0 is when every test's virtual clock starts: a Monday, so due dates are
// easy to check against the 2026 holiday calendar.
var t0 = time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)

var (
	subjectSecret = "subject-secret-for-tests-0123456789abcdef"
	statusSecret  = "status-secret-for-tests-0123456789abcdef"
	codeSecret    = "code-secret-for-tests-0123456789abcdef00"
)

// The synthetic people the simulated partners hold (the people,
// as config/local-people.json has them).
var people = []partnersim.Person{
	{Account: "10000001", Name: "张伟", Email: "zhang.wei@example.cn", Phone: "+8613800138001", Notes: "adult"},
	{Account: "10000002", Name: "Li Na", Email: "li.na@example.com", Phone: "+8613800138002", Notes: "adult"},
	{Account: "10000003", Name: "王小明", Phone: "+8613800138003", Notes: "minor", Guardian: &partnersim.Guardian{Name: "王芳", Email: "wang.fang@example.cn"}},
	{Account: "10000004", Name: "陈静", Phone: "+8613800138004", Notes: "phone only"},
}

// env is the whole workflow on one machine: dynalite, the local engine
// behind the Step Functions API (httptest), simulated partners holding the
// people's records (httptest), the real handlers and an outbox.
type env struct {
	t      testing.TB
	ctx    context.Context
	clock  *asl.Virtual
	st     *store.Store
	outbox string
	logs   *logtest.Buffer
	sfn    *sfn.Client
	smArn  string
	intake *intake.Service
	h      *Handlers
	fleet  *partnersim.Fleet
	pcfg   *partner.Config
	sims   map[string]*partnersim.Partner
}

// envOptions shape an env.
type envOptions struct {
	// partners is the configuration the simulated partners follow (default
	// examplePartners()); behaviours override a partner's behaviour.
	partners  *partner.Config
	behaviors map[string]partnersim.Behavior
	// noRecords leaves the simulated partners without records (they answer
	// as before the people fixture; the account system answers no account).
	noRecords bool
	policy    func(*Policy)
}

// examplePartners is config/partners.example.json's configuration.
func examplePartners(t testing.TB) *partner.Config {
	t.Helper()
	root, err := dynamotest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	pc, err := partner.LoadConfig(filepath.Join(root, "config", "partners.example.json"))
	if err != nil {
		t.Fatal(err)
	}
	return pc
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	clock := asl.VirtualClock(t0).(*asl.Virtual)
	logs := &logtest.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	st := store.New(store.Config{Table: emu.NewTable(t)}, store.Deps{DB: emu.Client(), Clock: clock.Now})
	outbox := filepath.Join(t.TempDir(), "outbox")
	box := &notify.Outbox{Dir: outbox, From: "privacy@example.cn", FromName: "隐私团队", Now: clock.Now}

	// The simulated partners, their callbacks to us, their secrets.
	pc := o.partners
	if pc == nil {
		pc = examplePartners(t)
	}
	secret := func(id string) []byte { return []byte("secret-of-" + id + "-0123456789abcdef") }
	var e *env
	cbMux := http.NewServeMux()
	cbMux.HandleFunc(partner.CallbackRoute, func(w http.ResponseWriter, r *http.Request) {
		partner.NewCallback(e.h.Partners()).ServeHTTP(w, r)
	})
	cbSrv := httptest.NewServer(cbMux)
	t.Cleanup(cbSrv.Close)
	fleetSrv := httptest.NewUnstartedServer(nil)
	overrides := map[string]partnersim.Behavior{}
	for _, p := range pc.Partners {
		b := o.behaviors[p.ID]
		if b.CallbackDelay == 0 && !b.ManualCallback {
			b.CallbackDelay = 5 * time.Millisecond
		}
		b.BackupRetention = time.Duration(p.BackupRetention)
		overrides[p.ID] = b
	}
	fleetURL := "http://" + fleetSrv.Listener.Addr().String()
	fleet, local := partnersim.Local(pc, fleetURL, secret, overrides)
	local.AccountSystem = pc.AccountSystem
	sims := map[string]*partnersim.Partner{}
	for _, p := range local.Partners {
		sim := fleet.Partner(p.ID)
		sim.Now = clock.Now
		sims[p.ID] = sim
		t.Cleanup(sim.Wait)
	}
	if !o.noRecords {
		if err := fleet.AttachRecords(t.TempDir(), local, people); err != nil {
			t.Fatal(err)
		}
	}
	fleetSrv.Config.Handler = fleet
	fleetSrv.Start()
	t.Cleanup(fleetSrv.Close)
	// The partners' secrets as the functions read them: keys of the
	// partner secret (secretsmanager:#KEY), or variables (env:NAME).
	secretEnv := map[string]string{}
	for _, p := range local.Partners {
		name, ok := strings.CutPrefix(p.SecretRef, partner.SecretStoreScheme+":#")
		if !ok {
			name, _ = strings.CutPrefix(p.SecretRef, "env:")
		}
		secretEnv[name] = string(secret(p.ID))
	}
	partnerSecrets, err := json.Marshal(secretEnv)
	if err != nil {
		t.Fatal(err)
	}
	secrets := partner.NewSecrets(map[string]partner.SecretResolver{
		partner.SecretStoreScheme: partner.SecretStore{Getter: secretstore.Static{"partners": partnerSecrets}, Default: "partners"},
	})
	secrets.Schemes["env"] = partner.Env{Lookup: func(k string) (string, bool) { v, ok := secretEnv[k]; return v, ok }}

	// The engine behind the Step Functions API; handlers are resolved when
	// a task runs, so they are filled in once the client exists.
	resolver := asl.Handlers{}
	vars := LocalSubstitutions("aws", "cn-north-1", "123456789012")
	engine := asl.NewEngine(asl.Options{Clock: clock, Resolver: resolver, Logger: logger, Region: "cn-north-1"})
	srv := sfnapi.New(sfnapi.ASL(engine), sfnapi.Options{Partition: "aws", Region: "cn-north-1", Logger: logger, Now: clock.Now})
	client, _ := sfnapitest.Serve(t, srv, "cn-north-1")
	def, err := Substitute(definition(t), vars)
	if err != nil {
		t.Fatal(err)
	}
	smArn, err := srv.CreateStateMachine(ctx, "dsr-workflow", string(def), "arn:aws:iam::123456789012:role/dsr-workflow")
	if err != nil {
		t.Fatalf("CreateStateMachine: %v", err)
	}
	guard := &mailGuard{t: t, next: box}
	h, err := New(Config{
		TableName: st.Table(), CodeSecret: codeSecret, SubjectKeySecret: subjectSecret, StatusTokenSecret: statusSecret,
		PublicBaseURL: cbSrv.URL, MailFrom: "privacy@example.cn", MailFromName: "隐私团队",
		RepeatLimit: 3, BackupRotation: 35 * 24 * time.Hour, ContactRetention: 30 * 24 * time.Hour,
		ExportBucket: "exports", ExportSSE: export.SSES3, ExportLinkTTL: 72 * time.Hour,
	}, Deps{
		Store: st, SFN: client, Email: guard, SMS: guard, Partners: local, Secrets: secrets,
		Exports: &exportGuard{t: t, objects: map[string][]byte{}}, ExportPage: exportpage.Render,
		PartnerClient: &partner.Client{TryTimeout: 5 * time.Second}, Clock: clock.Now, Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	if o.policy != nil {
		o.policy(&h.policy)
	}
	for _, f := range Functions() {
		resolver[vars[f.ArnKey]] = inFunction{f, lambda.NewHandler(f.Handler(h))}
	}
	starter, err := intake.NewStarter(intake.StarterConfig{StateMachineArn: smArn}, intake.StarterDeps{Store: st, SFN: client, Clock: clock.Now, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	in, err := intake.New(intake.Config{SubjectSecret: []byte(subjectSecret)}, intake.Deps{Store: st, Starter: starter, Clock: clock.Now, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	e = &env{t: t, ctx: ctx, clock: clock, st: st, outbox: outbox, logs: logs, sfn: client, smArn: smArn, intake: in, h: h, fleet: fleet, pcfg: local, sims: sims}
	return e
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

// mailGuard fails the test when a task function not marked SendsMail sends
// a message: its main builds the handlers without an email client.
type mailGuard struct {
	t    testing.TB
	next *notify.Outbox
}

func (g *mailGuard) check(ctx context.Context, m notify.Message) {
	if f, ok := ctx.Value(functionKey{}).(Function); ok && !f.SendsMail {
		g.t.Errorf("function %s sent %s, but workflow.Functions does not mark it SendsMail", f.Name, m.Template)
	}
}

func (g *mailGuard) SendRaw(ctx context.Context, m notify.Message, raw []byte) error {
	g.check(ctx, m)
	return g.next.SendRaw(ctx, m, raw)
}

func (g *mailGuard) SendSMS(ctx context.Context, m notify.Message) error {
	g.check(ctx, m)
	return g.next.SendSMS(ctx, m)
}

// exportGuard keeps export objects in memory and fails the test when a
// task function not marked UsesExports touches them: its main builds the
// handlers without the bucket.
type exportGuard struct {
	t       testing.TB
	mu      sync.Mutex
	objects map[string][]byte
}

func (g *exportGuard) check(ctx context.Context, op string) {
	if f, ok := ctx.Value(functionKey{}).(Function); ok && !f.UsesExports {
		g.t.Errorf("function %s used the export bucket (%s), but workflow.Functions does not mark it UsesExports", f.Name, op)
	}
}

func (g *exportGuard) Put(ctx context.Context, key, _ string, body []byte, _ export.Encryption) error {
	g.check(ctx, "put")
	g.mu.Lock()
	defer g.mu.Unlock()
	g.objects[key] = append([]byte(nil), body...)
	return nil
}

func (g *exportGuard) Get(ctx context.Context, key string) ([]byte, error) {
	g.check(ctx, "get")
	g.mu.Lock()
	defer g.mu.Unlock()
	b, ok := g.objects[key]
	if !ok {
		return nil, fmt.Errorf("no object %s", key)
	}
	return b, nil
}

func (g *exportGuard) PresignGet(ctx context.Context, key, filename string, ttl time.Duration) (string, time.Time, error) {
	g.check(ctx, "presign")
	return "https://exports.example.cn/" + key + "?sig=test", time.Now().Add(ttl), nil
}

// sub is a web submission.
func sub(kind dsr.Kind, role dsr.Role, email, phoneNumber, account string) dsr.Submission {
	s := dsr.Submission{Kind: string(kind), Role: string(role), Email: email, Phone: phoneNumber, AccountID: account, Locale: "zh-CN"}
	switch kind {
	case dsr.KindErasure:
		s.ErasureGround = string(dsr.GroundStoppedUsing)
	case dsr.KindCorrection:
		s.Corrections = []string{"昵称: 新名字"}
	case dsr.KindConsentWithdrawal:
		s.Purposes = []string{dsr.PurposeAnalytics}
	}
	return s
}

// submit sends a web request through intake (which starts the execution)
// and returns its ID and status token.
func (e *env) submit(s dsr.Submission, naturalKey string, login *intake.Login) (id, token string) {
	e.t.Helper()
	v, err := s.Validate(phone.Parse)
	if err != nil {
		e.t.Fatalf("Validate: %v", err)
	}
	id = intake.RequestID(dsr.ChannelWeb, naturalKey)
	token = verification.StatusToken([]byte(statusSecret), id)
	sum := sha256.Sum256([]byte(token))
	res, err := e.intake.Submit(e.ctx, intake.Submission{Validated: v, Channel: dsr.ChannelWeb, NaturalKey: naturalKey, StatusTokenHash: hex.EncodeToString(sum[:]), Source: "web", Login: login})
	if err != nil {
		e.t.Fatalf("intake.Submit: %v", err)
	}
	if res.Request.ID != id {
		e.t.Fatalf("request ID = %s, want %s", res.Request.ID, id)
	}
	return id, token
}

func (e *env) execArn(id string) string { return reconcile.ExecutionArn(e.smArn, id) }

// eventually polls cond for up to 2 minutes of real time (the 200-partner
// erasure takes about 30 s on a loaded machine).
func (e *env) eventually(what string, cond func() bool, explain ...func() string) {
	e.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
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
		if d := ev.ExecutionFailedEventDetails; d != nil {
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

// states lists the states the execution entered, in order.
func (e *env) states(id string) []string {
	var out []string
	for _, ev := range e.history(id) {
		if ev.StateEnteredEventDetails != nil {
			out = append(out, aws.ToString(ev.StateEnteredEventDetails.Name))
		}
	}
	return out
}

// waitTask waits until the execution waits on a task token in state name.
// The state of a TaskSubmitted event is found by following its
// previousEventId chain to the state entered on its own thread: the events
// of a Map's iterations interleave in the history.
func (e *env) waitTask(id, state string) {
	e.t.Helper()
	e.eventually("execution "+id+" to wait in "+state, func() bool {
		return e.submitted(id, state) > 0
	}, func() string { return e.describeHistory(id) })
}

// submitted counts the TaskSubmitted events of state in the execution.
func (e *env) submitted(id, state string) int {
	h := e.history(id)
	byID := make(map[int64]sfntypes.HistoryEvent, len(h))
	for _, ev := range h {
		byID[ev.Id] = ev
	}
	n := 0
	for _, ev := range h {
		if ev.Type != sfntypes.HistoryEventTypeTaskSubmitted {
			continue
		}
		for p, ok := byID[ev.PreviousEventId]; ok; p, ok = byID[p.PreviousEventId] {
			if p.StateEnteredEventDetails != nil {
				if aws.ToString(p.StateEnteredEventDetails.Name) == state {
					n++
				}
				break
			}
		}
	}
	return n
}

// status waits until the request reaches status s.
func (e *env) status(id string, s dsr.Status) *dsr.Request {
	e.t.Helper()
	var r *dsr.Request
	e.eventually("request "+id+" to be "+string(s), func() bool {
		r = e.request(id)
		return r.Status == s
	}, func() string { return "status " + string(r.Status) + "\n" + e.describeHistory(id) })
	return r
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
	attached []string
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
	var names []string
	for _, en := range entries {
		if strings.HasSuffix(en.Name(), ".eml") {
			names = append(names, en.Name())
		}
	}
	sort.Strings(names)
	var out []mail
	for _, n := range names {
		f, err := os.Open(filepath.Join(e.outbox, n))
		if err != nil {
			e.t.Fatal(err)
		}
		m, err := enmime.ReadEnvelope(f)
		f.Close()
		if err != nil {
			e.t.Fatalf("outbox %s: %v", n, err)
		}
		if m.GetHeader("X-Dsrflow-Request") != id {
			continue
		}
		ml := mail{file: n, template: m.GetHeader("X-Dsrflow-Template"), channel: m.GetHeader("X-Dsrflow-Channel"), to: m.GetHeader("To"), subject: m.GetHeader("Subject"), text: m.Text}
		for _, a := range m.Attachments {
			ml.attached = append(ml.attached, string(a.Content))
		}
		out = append(out, ml)
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
	}, func() string { return e.describeHistory(id) })
	m := codeRE.FindStringSubmatch(ms[n-1].text)
	if m == nil {
		e.t.Fatalf("no code in message %s:\n%s", ms[n-1].file, ms[n-1].text)
	}
	return m[1]
}

// verify enters the right code for a request.
func (e *env) verify(id, token string) {
	e.t.Helper()
	code := e.code(id, 1)
	e.waitTask(id, "Verify")
	res, err := e.h.Verification().SubmitCode(e.ctx, id, token, code)
	if err != nil || res.Outcome != verification.OutcomeVerified {
		e.t.Fatalf("SubmitCode: %+v, %v; want verified", res, err)
	}
}

// decide answers an operator wait once it is recorded in state.
func (e *env) decide(state string, d operator.Decision) {
	e.t.Helper()
	e.eventually("the "+string(d.Stage)+" wait of "+d.RequestID, func() bool {
		w, err := e.h.Operator().Get(e.ctx, d.RequestID, d.Stage)
		return err == nil && w != nil && w.TaskToken != ""
	}, func() string { return e.describeHistory(d.RequestID) })
	e.waitTask(d.RequestID, state)
	if err := e.h.Operator().Decide(e.ctx, d); err != nil {
		e.t.Fatalf("Decide: %v", err)
	}
}

// events returns the request's audit event types, in order.
func (e *env) events(id string) []string {
	e.t.Helper()
	evs, err := e.st.ListEvents(e.ctx, id)
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

// scanPII fails when any of needles appears in the requests' execution
// histories or in the captured logs.
func (e *env) scanPII(needles []string, ids ...string) {
	e.t.Helper()
	for _, id := range ids {
		b, err := json.Marshal(e.history(id))
		if err != nil {
			e.t.Fatal(err)
		}
		hist := string(b) + strings.ReplaceAll(string(b), `\"`, `"`)
		for _, n := range needles {
			if strings.Contains(hist, n) || strings.Contains(hist, jsonEscape(n)) {
				e.t.Errorf("execution history of %s contains personal data %q", id, n)
			}
		}
	}
	logs := e.logs.String()
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

// holds reports whether partner id still holds a record under any of the
// identifiers that is not retained under a retention exception.
func (e *env) holds(id string, identifiers ...string) bool {
	for _, r := range e.fleet.Records(id) {
		if r.Retained != "" {
			continue
		}
		for _, v := range identifiers {
			if v != "" && (r.Account == v || r.Email == v || r.Phone == v) {
				return true
			}
		}
	}
	return false
}

// received lists the identifier values partner id was sent, over all calls.
func (e *env) received(id string) []string {
	var out []string
	for _, r := range e.sims[id].Received() {
		for _, i := range r.SubjectIdentities {
			out = append(out, i.Value)
		}
	}
	return out
}
