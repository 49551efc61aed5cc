package console

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/jhillyerd/enmime"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"dsrflow/internal/dev/asl"
	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dev/partnersim"
	"dsrflow/internal/dev/sfnapi"
	"dsrflow/internal/dev/sfnapi/sfnapitest"
	"dsrflow/internal/documents"
	"dsrflow/internal/dsr"
	"dsrflow/internal/intake"
	"dsrflow/internal/logtest"
	"dsrflow/internal/mailintake"
	"dsrflow/internal/notify"
	"dsrflow/internal/partner"
	"dsrflow/internal/phone"
	"dsrflow/internal/principal"
	"dsrflow/internal/secretstore"
	"dsrflow/internal/store"
	"dsrflow/internal/workday"
	"dsrflow/internal/workflow"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

var emu *dynamotest.Emulator

func TestMain(m *testing.M) { os.Exit(dynamotest.Main(m, &emu)) }

// t0 is when every stack's virtual clock starts: Monday 2026-03-02, 09:00
// in China.
var t0 = time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)

const (
	subjectSecret = "subject-secret-for-tests-0123456789abcdef"
	statusSecret  = "status-secret-for-tests-0123456789abcdef"
	codeSecret    = "code-secret-for-tests-0123456789abcdef00"
	mailbox       = "dsrflow-mailbox"
	operatorARN   = "arn:aws-cn:sts::123456789012:assumed-role/PrivacyOperators/li.na"
	auditorARN    = "arn:aws-cn:sts::123456789012:assumed-role/PrivacyAuditors/zhao.lei"
)

// The people the simulated partners hold (config/local-people.json's).
var people = []partnersim.Person{
	{Account: "10000001", Name: "张伟", Email: "zhang.wei@example.cn", Phone: "+8613800138001", Notes: "adult"},
	{Account: "10000002", Name: "Li Na", Email: "li.na@example.com", Phone: "+8613800138002", Notes: "adult"},
	{Account: "10000003", Name: "王小明", Phone: "+8613800138003", Notes: "minor", Guardian: &partnersim.Guardian{Name: "王芳", Email: "wang.fang@example.cn"}},
}

// stack is the whole system on one machine, wired as deployed: dynalite,
// the local Step Functions engine behind its API running
// statemachines/dsr.asl.json with the workflow's real task handlers,
// simulated partners, an S3 emulator holding the mailbox, intake-mail,
// and the console, all on one virtual clock.
type stack struct {
	t     testing.TB
	ctx   context.Context
	clock *asl.Virtual
	// wall is the console's wall clock (form tokens, link expiry): apart
	// from the engine's clock, which jumps over the workflow's waits.
	wall    *asl.Virtual
	st      *store.Store
	sfn     *sfn.Client
	sfnURL  string
	smArn   string
	s3      *s3.Client
	s3URL   string
	outbox  string
	logs    *logtest.Buffer
	wf      *workflow.Handlers
	intake  *intake.Service
	mailbox *mailintake.Handler
	cfg     Config
	deps    Deps
	console *Handler
	sims    map[string]*partnersim.Partner
}

// stackOptions shape a stack.
type stackOptions struct {
	// jurisdiction is the console's rule (default CN).
	jurisdiction workday.Jurisdiction
	// behaviors override simulated partners' behaviours.
	behaviors map[string]partnersim.Behavior
}

func newStack(t testing.TB, o stackOptions) *stack {
	t.Helper()
	ctx := context.Background()
	clock := asl.VirtualClock(t0).(*asl.Virtual)
	logs := &logtest.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	st := store.New(store.Config{Table: emu.NewTable(t)}, store.Deps{DB: emu.Client(), Clock: clock.Now})
	// The outbox is the test's own folder, removed at the end at best: a
	// task still running when the test stops its executions may write one
	// more message (t.TempDir would fail the test for it).
	work, err := os.MkdirTemp("", "console-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(work) })
	outbox := filepath.Join(work, "outbox")

	// The mailbox bucket.
	s3srv := httptest.NewServer(gofakes3.New(s3mem.New(), gofakes3.WithTimeSkewLimit(0)).Server())
	t.Cleanup(s3srv.Close)
	s3c := s3.New(s3.Options{
		Region: dynamotest.Region, BaseEndpoint: aws.String(s3srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(mailbox)}); err != nil {
		t.Fatal(err)
	}

	// Simulated partners holding the people's records.
	root, err := dynamotest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	pc, err := partner.LoadConfig(filepath.Join(root, "config", "partners.example.json"))
	if err != nil {
		t.Fatal(err)
	}
	secretOf := func(id string) []byte { return []byte("secret-of-" + id + "-0123456789abcdef") }
	var wf *workflow.Handlers
	cbMux := http.NewServeMux()
	cbMux.HandleFunc(partner.CallbackRoute, func(w http.ResponseWriter, r *http.Request) {
		partner.NewCallback(wf.Partners()).ServeHTTP(w, r)
	})
	cbSrv := httptest.NewServer(cbMux)
	t.Cleanup(cbSrv.Close)
	fleetSrv := httptest.NewUnstartedServer(nil)
	overrides := map[string]partnersim.Behavior{}
	for _, p := range pc.Partners {
		b, ok := o.behaviors[p.ID]
		if !ok {
			b.BackupRetention = time.Duration(p.BackupRetention)
		}
		if b.CallbackDelay == 0 && !b.ManualCallback {
			b.CallbackDelay = 5 * time.Millisecond
		}
		overrides[p.ID] = b
	}
	fleet, local := partnersim.Local(pc, "http://"+fleetSrv.Listener.Addr().String(), secretOf, overrides)
	local.AccountSystem = pc.AccountSystem
	sims := map[string]*partnersim.Partner{}
	for _, p := range local.Partners {
		sim := fleet.Partner(p.ID)
		sim.Now = clock.Now
		sims[p.ID] = sim
		t.Cleanup(sim.Wait)
	}
	if err := fleet.AttachRecords(t.TempDir(), local, people); err != nil {
		t.Fatal(err)
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
		secretEnv[name] = string(secretOf(p.ID))
	}
	partnerSecrets, err := json.Marshal(secretEnv)
	if err != nil {
		t.Fatal(err)
	}
	secrets := partner.NewSecrets(map[string]partner.SecretResolver{
		partner.SecretStoreScheme: partner.SecretStore{Getter: secretstore.Static{"partners": partnerSecrets}, Default: "partners"},
	})
	secrets.Schemes["env"] = partner.Env{Lookup: func(k string) (string, bool) { v, ok := secretEnv[k]; return v, ok }}

	// The engine behind the Step Functions API, with the workflow's handlers.
	resolver := asl.Handlers{}
	vars := workflow.LocalSubstitutions("aws-cn", "cn-north-1", "123456789012")
	engine := asl.NewEngine(asl.Options{Clock: clock, Resolver: resolver, Logger: logger, Region: "cn-north-1"})
	api := sfnapi.New(sfnapi.ASL(engine), sfnapi.Options{Partition: "aws-cn", Region: "cn-north-1", Account: "123456789012", Logger: logger, Now: clock.Now})
	client, sfnURL := sfnapitest.Serve(t, api, "cn-north-1")
	raw, err := os.ReadFile(filepath.Join(root, "statemachines", "dsr.asl.json"))
	if err != nil {
		t.Fatal(err)
	}
	def, err := workflow.Substitute(raw, vars)
	if err != nil {
		t.Fatal(err)
	}
	smArn, err := api.CreateStateMachine(ctx, "dsrflow-requests", string(def), "arn:aws-cn:iam::123456789012:role/dsr-workflow")
	if err != nil {
		t.Fatalf("CreateStateMachine: %v", err)
	}
	wf, err = workflow.New(workflow.Config{
		TableName: st.Table(), CodeSecret: codeSecret, SubjectKeySecret: subjectSecret, StatusTokenSecret: statusSecret,
		PublicBaseURL: cbSrv.URL, OutboxDir: outbox, MailFrom: "privacy@example.cn", MailFromName: "隐私团队",
		RepeatLimit: 3, BackupRotation: 35 * 24 * time.Hour, ContactRetention: 30 * 24 * time.Hour,
	}, workflow.Deps{Store: st, SFN: client, Partners: local, Secrets: secrets,
		PartnerClient: &partner.Client{TryTimeout: 5 * time.Second}, Documents: documents.New(s3c), Clock: clock.Now, Logger: logger})
	if err != nil {
		t.Fatalf("workflow.New: %v", err)
	}
	for _, f := range workflow.Functions() {
		resolver[vars[f.ArnKey]] = lambda.NewHandler(f.Handler(wf))
	}
	starter, err := intake.NewStarter(intake.StarterConfig{StateMachineArn: smArn}, intake.StarterDeps{Store: st, SFN: client, Clock: clock.Now, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	in, err := intake.New(intake.Config{SubjectSecret: []byte(subjectSecret)}, intake.Deps{Store: st, Starter: starter, Clock: clock.Now, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	mb, err := mailintake.New(mailintake.Config{TableName: st.Table(), StateMachineArn: smArn, SubjectKeySecret: subjectSecret, MaxOpenPerSubject: 3},
		mailintake.Deps{Store: st, S3: s3c, SFN: client, Clock: clock.Now, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}

	s := &stack{t: t, ctx: ctx, clock: clock, wall: asl.VirtualClock(t0).(*asl.Virtual), st: st, sfn: client, sfnURL: sfnURL, smArn: smArn, s3: s3c, s3URL: s3srv.URL, outbox: outbox, logs: logs,
		wf: wf, intake: in, mailbox: mb, sims: sims}
	s.cfg = Config{
		Jurisdiction: o.jurisdiction, SubjectKeySecret: subjectSecret, StateMachineArn: smArn, MaxOpenPerSubject: 3,
		PublicBaseURL: "https://privacy.example.cn", StatusTokenSecret: statusSecret, PrivacyContact: "privacy@example.cn",
		DocumentLinkTTL: 5 * time.Minute, PartnerAttempts: 1,
	}
	s.deps = Deps{
		Store: st, SFN: client, Objects: s3c, Documents: documents.New(s3c), Operations: wf.Operations(),
		Mail:      notify.NewRouter(notify.RouterConfig{From: "privacy@example.cn", FromName: "隐私团队", OutboxDir: outbox}, notify.RouterDeps{Clock: clock.Now}),
		Principal: principal.Principal{ARN: operatorARN, Account: "123456789012"}, Clock: clock.Now, WallClock: s.wall.Now, Logger: logger,
	}
	s.console = s.newConsole(s.cfg, s.deps)
	// Executions still running at the end are stopped, before the partners
	// and the folders go away.
	t.Cleanup(func() {
		out, err := client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(smArn), StatusFilter: sfntypes.ExecutionStatusRunning})
		if err != nil {
			return
		}
		for _, x := range out.Executions {
			_, _ = client.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: x.ExecutionArn})
		}
	})
	return s
}

func (s *stack) newConsole(cfg Config, deps Deps) *Handler {
	s.t.Helper()
	h, err := New(cfg, deps)
	if err != nil {
		s.t.Fatalf("console.New: %v", err)
	}
	return h
}

// --- requests, as the channels make them ------------------------------

// submit sends a web request through intake (which starts its execution).
func (s *stack) submit(sub dsr.Submission, naturalKey string, login *intake.Login) string {
	s.t.Helper()
	v, err := sub.Validate(phone.Parse)
	if err != nil {
		s.t.Fatalf("Validate: %v", err)
	}
	sum := sha256.Sum256([]byte(naturalKey))
	res, err := s.intake.Submit(s.ctx, intake.Submission{Validated: v, Channel: dsr.ChannelWeb, NaturalKey: naturalKey,
		StatusTokenHash: hex.EncodeToString(sum[:]), Source: "web", Login: login})
	if err != nil {
		s.t.Fatalf("intake.Submit: %v", err)
	}
	return res.Request.ID
}

// guardianErasure is a mother's erasure request for her child (account
// 10000003): it waits for manual verification.
func (s *stack) guardianErasure(key string) string {
	return s.submit(dsr.Submission{Kind: string(dsr.KindErasure), Role: string(dsr.RoleGuardian), Email: "wang.fang@example.cn",
		SubjectAccountID: "10000003", SubjectName: "王小明", ErasureGround: string(dsr.GroundStoppedUsing), Locale: "zh-CN"}, key, nil)
}

// dropMail puts a raw message in the mailbox's inbox and hands intake-mail
// the S3 event, as the mail drop does; it returns the mail's dedupe key.
func (s *stack) dropMail(name, raw string) string {
	s.t.Helper()
	key := "inbox/" + name
	if _, err := s.s3.PutObject(s.ctx, &s3.PutObjectInput{Bucket: aws.String(mailbox), Key: aws.String(key), Body: strings.NewReader(raw)}); err != nil {
		s.t.Fatal(err)
	}
	ev := events.S3Event{Records: []events.S3EventRecord{{EventSource: "aws:s3", EventName: "ObjectCreated:Put",
		S3: events.S3Entity{Bucket: events.S3Bucket{Name: mailbox}, Object: events.S3Object{Key: key, Size: int64(len(raw))}}}}}
	if err := s.mailbox.Handle(s.ctx, ev); err != nil {
		s.t.Fatalf("intake-mail: %v", err)
	}
	recs, err := s.st.ListTriage(s.ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, r := range recs {
		if r.Object == "s3://"+mailbox+"/"+key {
			return r.DedupeKey
		}
	}
	s.t.Fatalf("mail %s was not triaged", name)
	return ""
}

// unclearMail is a message the classifier cannot read a request from,
// with a PDF attached.
func unclearMail(from, subject string) string {
	return "From: " + from + "\r\nTo: privacy@example.cn\r\nSubject: " + subject + "\r\n" +
		"Message-ID: <" + strings.ReplaceAll(subject, " ", ".") + "@example.cn>\r\nDate: Mon, 02 Mar 2026 09:00:00 +0800\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello, about my son's account and his songs, what can you do?\r\n" +
		"--b1\r\nContent-Type: application/pdf; name=\"birth.pdf\"\r\nContent-Disposition: attachment; filename=\"birth.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		"JVBERi0xLjQKJcfsj6IKMSAwIG9iago8PD4+CmVuZG9iagp0cmFpbGVyCjw8Pj4KJSVFT0YK\r\n--b1--\r\n"
}

// --- the workflow ------------------------------------------------------

func (s *stack) execArn(id string) string {
	return strings.Replace(s.smArn, ":stateMachine:", ":execution:", 1) + ":" + id
}

// eventually polls cond for up to 30 s of real time.
func (s *stack) eventually(what string, cond func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.t.Fatalf("timed out waiting for %s", what)
}

// entered lists the states the execution entered.
func (s *stack) entered(id string) []string {
	var out []string
	for _, ev := range sfnapitest.History(s.ctx, s.t, s.sfn, s.execArn(id)) {
		if d := ev.StateEnteredEventDetails; d != nil {
			out = append(out, aws.ToString(d.Name))
		}
	}
	return out
}

// waitFor waits until request id waits for an operator at stage.
func (s *stack) waitFor(id, stage string) {
	s.t.Helper()
	s.eventually(id+" to wait for "+stage, func() bool {
		ws, err := s.st.ListOperatorWaits(s.ctx, id)
		if err != nil {
			s.t.Fatal(err)
		}
		return slices.ContainsFunc(ws, func(w store.OperatorWait) bool { return w.Stage == stage && w.Decided == nil && w.TaskToken != "" })
	})
}

// status waits until request id has status want.
func (s *stack) status(id string, want dsr.Status) {
	s.t.Helper()
	s.eventually(fmt.Sprintf("%s to be %s", id, want), func() bool {
		r, err := s.st.GetRequest(s.ctx, id)
		return err == nil && r.Status == want
	})
}

// finished waits until the execution ended and returns its status.
func (s *stack) finished(id string) sfntypes.ExecutionStatus {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		d, err := s.sfn.DescribeExecution(s.ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(s.execArn(id))})
		if err != nil {
			s.t.Fatal(err)
		}
		if d.Status != sfntypes.ExecutionStatusRunning {
			if d.Status != sfntypes.ExecutionStatusSucceeded {
				for _, ev := range sfnapitest.History(s.ctx, s.t, s.sfn, s.execArn(id)) {
					if f := ev.LambdaFunctionFailedEventDetails; f != nil {
						s.t.Logf("%s: %s %s", id, aws.ToString(f.Error), aws.ToString(f.Cause))
					}
					if f := ev.ExecutionFailedEventDetails; f != nil {
						s.t.Logf("%s: %s %s", id, aws.ToString(f.Error), aws.ToString(f.Cause))
					}
				}
			}
			return d.Status
		}
		time.Sleep(5 * time.Millisecond)
	}
	r, _ := s.st.GetRequest(s.ctx, id)
	var types []string
	for _, e := range s.events(id) {
		types = append(types, e.Type)
	}
	s.t.Fatalf("execution %s still runs: status %s, states %v, events %v", id, r.Status, s.entered(id), types)
	return ""
}

// events lists request id's audit events as "type actor".
func (s *stack) events(id string) []store.Event {
	s.t.Helper()
	evs, err := s.st.ListEvents(s.ctx, id)
	if err != nil {
		s.t.Fatal(err)
	}
	return evs
}

// lastEvent is request id's last audit event of type typ (fails when none).
func (s *stack) lastEvent(id, typ string) store.Event {
	s.t.Helper()
	evs := s.events(id)
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Type == typ {
			return evs[i]
		}
	}
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
	}
	s.t.Fatalf("request %s has no %s event; events: %v", id, typ, types)
	return store.Event{}
}

// mails are the outbox messages of request id with template tmpl.
func (s *stack) mails(id, tmpl string) []string {
	s.t.Helper()
	entries, err := os.ReadDir(s.outbox)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		s.t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".eml") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	var out []string
	for _, n := range names {
		f, err := os.Open(filepath.Join(s.outbox, n))
		if err != nil {
			s.t.Fatal(err)
		}
		env, err := enmime.ReadEnvelope(f)
		f.Close()
		if err != nil {
			s.t.Fatal(err)
		}
		if env.GetHeader("X-Dsrflow-Request") == id && env.GetHeader("X-Dsrflow-Template") == tmpl {
			out = append(out, env.Text)
		}
	}
	return out
}

// --- the console over HTTP ---------------------------------------------

// answer is a response as the tests read it.
type answer struct {
	Status   int
	Header   http.Header
	Body     string
	Location string
}

// consoleHost is the console's address as `dsr console` serves it.
const consoleHost = "127.0.0.1:8090"

// do runs req through h with the console's loopback host.
func do(t testing.TB, h http.Handler, req *http.Request) answer {
	t.Helper()
	if req.Host == "" || req.Host == "example.com" {
		req.Host = consoleHost
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req.WithContext(ctx))
	b, _ := io.ReadAll(rec.Body)
	return answer{Status: rec.Code, Header: rec.Header(), Body: string(b), Location: rec.Header().Get("Location")}
}

func (s *stack) get(path string) answer {
	s.t.Helper()
	return do(s.t, s.console, httptest.NewRequest(http.MethodGet, path, nil))
}

var tokenRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// token is the CSRF token of the page a form at action is on: the
// request's or the mail's page.
func (s *stack) token(action string) string {
	s.t.Helper()
	parts := strings.Split(strings.TrimPrefix(action, "/"), "/")
	if len(parts) < 2 {
		s.t.Fatalf("no page for %s", action)
	}
	a := s.get("/" + parts[0] + "/" + parts[1] + "?lang=en")
	m := tokenRE.FindStringSubmatch(a.Body)
	if m == nil {
		s.t.Fatalf("no form token on the page of %s (%d):\n%s", action, a.Status, pageText(a.Body))
	}
	return html.UnescapeString(m[1])
}

// postForm is a form post as the console's own page sends it: its token,
// same-origin.
func postForm(path string, vals url.Values) *http.Request {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(vals.Encode()))
	req.Host = consoleHost
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://"+consoleHost)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return req
}

// post posts vals (with a fresh token and lang=en) to the console.
func (s *stack) post(path string, vals url.Values) answer {
	s.t.Helper()
	if vals == nil {
		vals = url.Values{}
	}
	if vals.Get("csrf") == "" {
		vals.Set("csrf", s.token(path))
	}
	if vals.Get("lang") == "" {
		vals.Set("lang", "en")
	}
	return do(s.t, s.console, postForm(path, vals))
}

// redirected checks that a is a 303 to path with notice code done.
func redirected(t testing.TB, a answer, path, done string) {
	t.Helper()
	if a.Status != http.StatusSeeOther {
		t.Fatalf("answer %d, want 303 to %s; page:\n%s", a.Status, path, pageText(a.Body))
	}
	u, err := url.Parse(a.Location)
	if err != nil || u.Path != path || u.Query().Get("done") != done {
		t.Fatalf("redirect to %q, want %s with done=%s", a.Location, path, done)
	}
}

var tagRE = regexp.MustCompile(`<[^>]*>`)

// pageText is a page's text, for failure messages.
func pageText(body string) string {
	if i := strings.Index(body, "<main"); i >= 0 {
		body = body[i:]
	}
	return strings.Join(strings.Fields(html.UnescapeString(tagRE.ReplaceAllString(body, " "))), " ")
}

// ddb is a DynamoDB client for the emulator reached through proxy.
func ddb(endpoint string) store.DB { return dynamotest.NewClient(endpoint) }
