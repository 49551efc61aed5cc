package reconcile

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"dsrflow/internal/dev/asl"
	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dev/sfnapi"
	"dsrflow/internal/dev/sfnapi/sfnapitest"
	"dsrflow/internal/dsr"
	"dsrflow/internal/intake"
	"dsrflow/internal/logtest"
	"dsrflow/internal/store"
)

var emu *dynamotest.Emulator

func TestMain(m *testing.M) { os.Exit(dynamotest.Main(m, &emu)) }

// t0 is a Monday in China time: 2026-03-02 10:00 CST.
var t0 = time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)

// definition: request IDs starting with "r-fail" fail at once, the others
// wait for a year (a workflow waiting for backups, say).
const definition = `{
  "StartAt": "Route",
  "States": {
    "Route": {"Type": "Choice", "Choices": [{"Variable": "$.requestId", "StringMatches": "r-fail*", "Next": "Boom"}], "Default": "Wait"},
    "Boom": {"Type": "Fail", "Error": "Boom", "Cause": "test"},
    "Wait": {"Type": "Wait", "Seconds": 31536000, "End": true}
  }
}`

// testClock is the time of the store and the reconciler: it stands still
// where the test sets it. The engine runs on the wall clock, so the test
// machine's year-long Wait stays RUNNING.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

type fixture struct {
	t     testing.TB
	ctx   context.Context
	clock *testClock
	table string
	st    *store.Store
	sfn   *sfn.Client
	smArn string
	rec   *Reconciler
	emf   *bytes.Buffer
	logs  *logtest.Buffer
}

// newFixture returns a reconciler on a fresh table and state machine,
// configured from env (over the required variables) and deps (over the
// fixture's clients, clock, metrics and logs).
func newFixture(t testing.TB, env map[string]string, deps func(*Deps)) *fixture {
	t.Helper()
	ctx := context.Background()
	clock := &testClock{t: t0}
	logs := &logtest.Buffer{}
	table := emu.NewTable(t)
	st := store.New(store.Config{Table: table}, store.Deps{DB: emu.Client(), Clock: clock.Now})
	engine := asl.NewEngine(asl.Options{Clock: asl.RealClock(), Resolver: asl.Handlers{}, Logger: slog.New(slog.DiscardHandler)})
	api := sfnapi.New(sfnapi.ASL(engine), sfnapi.Options{Logger: slog.New(slog.DiscardHandler)})
	client, _ := sfnapitest.Serve(t, api, dynamotest.Region)
	smArn, err := api.CreateStateMachine(ctx, "reconcile-test", definition, "arn:aws:iam::123456789012:role/r")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, ctx: ctx, clock: clock, table: table, st: st, sfn: client, smArn: smArn, emf: &bytes.Buffer{}, logs: logs}
	f.rec = f.reconciler(env, deps)
	return f
}

// reconciler builds a reconciler on the fixture's table and engine.
func (f *fixture) reconciler(env map[string]string, deps func(*Deps)) *Reconciler {
	f.t.Helper()
	vars := map[string]string{"TABLE_NAME": f.table, "STATE_MACHINE_ARN": f.smArn}
	maps.Copy(vars, env)
	cfg, err := ConfigFrom(vars)
	if err != nil {
		f.t.Fatalf("ConfigFrom: %v", err)
	}
	d := Deps{Store: f.st, SFN: f.sfn, Clock: f.clock.Now, Metrics: f.emf, Logger: slog.New(slog.NewJSONHandler(f.logs, nil))}
	if deps != nil {
		deps(&d)
	}
	rec, err := New(cfg, d)
	if err != nil {
		f.t.Fatalf("New: %v", err)
	}
	return rec
}

// personal is the personal data every test request carries.
var personal = dsr.Personal{Contact: dsr.Contact{Email: "person@example.com", Phone: "+8613800138000"}, Details: "please delete my songs"}

// put stores a request as of clock time created.
func (f *fixture) put(id string, status dsr.Status, started bool, created time.Time, due *time.Time) {
	f.t.Helper()
	r := &dsr.Request{ID: id, Kind: dsr.KindErasure, Status: status, Channel: dsr.ChannelWeb, Role: dsr.RoleSelf, Locale: "zh-CN",
		CreatedAt: created, ExecutionStarted: started, DueAt: due}
	p := personal
	if _, dup, err := f.st.CreateRequest(f.ctx, r, &p); err != nil || dup {
		f.t.Fatalf("CreateRequest(%s) = dup %v, %v", id, dup, err)
	}
}

// start starts an execution of the test machine under name.
func (f *fixture) start(id, name string) {
	f.t.Helper()
	if _, err := f.sfn.StartExecution(f.ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(f.smArn), Name: aws.String(name), Input: aws.String(intake.ExecutionInput(id))}); err != nil {
		f.t.Fatalf("StartExecution %s: %v", name, err)
	}
}

// status waits until execution name has left RUNNING, or returns RUNNING
// after a short while.
func (f *fixture) status(name string) sfntypes.ExecutionStatus {
	f.t.Helper()
	var st sfntypes.ExecutionStatus
	for range 200 {
		out, err := f.sfn.DescribeExecution(f.ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(ExecutionArn(f.smArn, name))})
		if err != nil {
			f.t.Fatalf("DescribeExecution %s: %v", name, err)
		}
		if st = out.Status; st != sfntypes.ExecutionStatusRunning {
			return st
		}
		time.Sleep(5 * time.Millisecond)
	}
	return st
}

func (f *fixture) run() Report {
	f.t.Helper()
	f.emf.Reset()
	rep, err := f.rec.Run(f.ctx)
	if err != nil {
		f.t.Fatalf("Run: %v", err)
	}
	return rep
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestUnstartedRequestsAreStartedAfterGrace(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.put("r-old", dsr.StatusReceived, false, t0.Add(-10*time.Minute), nil)
	f.put("r-young", dsr.StatusReceived, false, t0.Add(-30*time.Second), nil)
	f.put("r-done", dsr.StatusCompleted, false, t0.Add(-time.Hour), nil)

	rep := f.run()
	if got, want := rep.Started, []string{"r-old"}; !slices.Equal(got, want) {
		t.Errorf("Started = %v, want %v", got, want)
	}
	if rep.Open != 2 {
		t.Errorf("Open = %d, want 2 (the completed request is not read)", rep.Open)
	}
	r, err := f.st.GetRequest(f.ctx, "r-old")
	if err != nil || !r.ExecutionStarted {
		t.Fatalf("r-old after Run: %+v, %v; want ExecutionStarted", r, err)
	}
	if got := f.status("r-old"); got != sfntypes.ExecutionStatusRunning {
		t.Errorf("execution r-old = %s, want RUNNING", got)
	}
	// A second pass finds nothing more to do.
	rep = f.run()
	if len(rep.Started)+len(rep.Restarted)+len(rep.Stuck) != 0 {
		t.Errorf("second pass acted: %+v", rep)
	}
}

func TestDeadExecutionsAreRestartedThenStuck(t *testing.T) {
	f := newFixture(t, map[string]string{"MAX_EXECUTION_RESTARTS": "2"}, nil)
	old := t0.Add(-time.Hour)
	// Started, but the engine has no execution (a restarted local stack).
	f.put("r-lost", dsr.StatusAwaitingVerification, true, old, nil)
	// Started, running: nothing to do.
	f.put("r-running", dsr.StatusInProgress, true, old, nil)
	f.start("r-running", "r-running")
	// Started, failed.
	f.put("r-fail", dsr.StatusInProgress, true, old, nil)
	f.start("r-fail", "r-fail")
	if got := f.status("r-fail"); got != sfntypes.ExecutionStatusFailed {
		t.Fatalf("r-fail = %s, want FAILED", got)
	}

	rep := f.run()
	if got, want := sorted(rep.Restarted), []string{"r-fail", "r-lost"}; !slices.Equal(got, want) {
		t.Errorf("Restarted = %v, want %v", got, want)
	}
	if got := f.status("r-lost"); got != sfntypes.ExecutionStatusRunning {
		t.Errorf("r-lost restarted under its own name: %s, want RUNNING", got)
	}
	if got := f.status("r-fail-r1"); got != sfntypes.ExecutionStatusFailed {
		t.Errorf("r-fail-r1 = %s, want FAILED (a restart under a new name)", got)
	}

	rep = f.run()
	if got, want := rep.Restarted, []string{"r-fail"}; !slices.Equal(got, want) {
		t.Errorf("second pass Restarted = %v, want %v", got, want)
	}
	f.status("r-fail-r2")
	rep = f.run()
	if len(rep.Restarted) != 0 {
		t.Errorf("third pass Restarted = %v, want none (MaxRestarts 2)", rep.Restarted)
	}
	if got, want := rep.Stuck, []string{"r-fail"}; !slices.Equal(got, want) {
		t.Errorf("Stuck = %v, want %v", got, want)
	}
	if m := f.metrics(); m[MetricExecutionsStuck] != 1 || m[MetricExecutionsRestarted] != 0 {
		t.Errorf("metrics = %v, want ExecutionsStuck 1, ExecutionsRestarted 0", m)
	}
}

func TestRecentlyUpdatedRequestsAreLeftAlone(t *testing.T) {
	f := newFixture(t, nil, nil)
	// Started a moment ago: its execution may not be visible yet.
	f.put("r-new", dsr.StatusReceived, true, t0.Add(-5*time.Second), nil)
	rep := f.run()
	if len(rep.Restarted) != 0 {
		t.Errorf("Restarted = %v, want none within the grace period", rep.Restarted)
	}
}

func TestDueSoonAndPastDue(t *testing.T) {
	f := newFixture(t, nil, nil)
	at := func(s string) *time.Time {
		d, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return &d
	}
	old := t0.Add(-time.Hour)
	// Now is Monday 2026-03-02 10:00 CST; three working days later is Thursday 03-05.
	cases := []struct {
		id  string
		due *time.Time
	}{
		{"r-past", at("2026-03-02T01:00:00Z")},
		{"r-thursday", at("2026-03-05T15:59:00Z")},
		{"r-friday", at("2026-03-06T01:00:00Z")},
		{"r-nodue", nil},
	}
	for _, c := range cases {
		f.put(c.id, dsr.StatusInProgress, true, old, c.due)
		f.start(c.id, c.id)
	}
	rep := f.run()
	if got, want := rep.PastDue, []string{"r-past"}; !slices.Equal(got, want) {
		t.Errorf("PastDue = %v, want %v", got, want)
	}
	if got, want := rep.DueSoon, []string{"r-thursday"}; !slices.Equal(got, want) {
		t.Errorf("DueSoon = %v, want %v", got, want)
	}
	if len(rep.Restarted)+len(rep.Stuck) != 0 {
		t.Errorf("running late requests were acted on: %+v", rep)
	}
	m := f.metrics()
	if m[MetricRequestsPastDue] != 1 || m[MetricRequestsDueSoon] != 1 {
		t.Errorf("metrics = %v, want RequestsPastDue 1, RequestsDueSoon 1", m)
	}
}

// metrics decodes the pass's EMF line and checks its declaration.
func (f *fixture) metrics() map[string]float64 {
	f.t.Helper()
	return decodeEMF(f.t, f.emf.Bytes(), f.clock.Now())
}

func decodeEMF(t testing.TB, b []byte, now time.Time) map[string]float64 {
	t.Helper()
	var line map[string]any
	if err := json.Unmarshal(b, &line); err != nil {
		t.Fatalf("EMF line %q: %v", b, err)
	}
	meta, _ := line["_aws"].(map[string]any)
	if meta == nil {
		t.Fatalf("EMF line without _aws: %s", b)
	}
	if ts, _ := meta["Timestamp"].(float64); int64(ts) != now.UnixMilli() {
		t.Errorf("EMF Timestamp = %v, want %d", meta["Timestamp"], now.UnixMilli())
	}
	cwm, _ := meta["CloudWatchMetrics"].([]any)
	if len(cwm) != 1 {
		t.Fatalf("CloudWatchMetrics = %v", meta["CloudWatchMetrics"])
	}
	decl := cwm[0].(map[string]any)
	if decl["Namespace"] != Namespace {
		t.Errorf("Namespace = %v, want %s", decl["Namespace"], Namespace)
	}
	if line["Service"] != "reconcile" {
		t.Errorf("Service = %v, want reconcile", line["Service"])
	}
	out := map[string]float64{}
	for _, m := range decl["Metrics"].([]any) {
		name := m.(map[string]any)["Name"].(string)
		v, ok := line[name].(float64)
		if !ok {
			t.Errorf("metric %s declared but has no value", name)
		}
		out[name] = v
	}
	return out
}

func TestConfig(t *testing.T) {
	good := map[string]string{"TABLE_NAME": "t", "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:1:stateMachine:x"}
	c, err := ConfigFrom(good)
	if err != nil {
		t.Fatalf("ConfigFrom(good) = %v", err)
	}
	want := Config{
		TableName: "t", StateMachineArn: good["STATE_MACHINE_ARN"],
		Grace: DefaultGrace, DueSoonDays: DefaultDueSoonDays, MaxRestarts: DefaultMaxRestarts,
		CalendarHorizonDays: 64, ContactRetention: 720 * time.Hour, PurgeGrace: time.Hour, PurgeLimit: 50,
	}
	if c != want {
		t.Errorf("defaults = %+v\nwant       %+v", c, want)
	}
	tests := []struct {
		name, key, value string
	}{
		{"no table", "TABLE_NAME", ""},
		{"no state machine", "STATE_MACHINE_ARN", ""},
		{"zero days", "DUE_SOON_WORKING_DAYS", "0"},
		{"bad grace", "RECONCILE_GRACE", "soon"},
		{"negative grace", "RECONCILE_GRACE", "-1m"},
		{"zero restarts", "MAX_EXECUTION_RESTARTS", "0"},
		{"zero horizon", "CALENDAR_HORIZON_DAYS", "0"},
		{"horizon over a year", "CALENDAR_HORIZON_DAYS", "367"},
		{"horizon not a number", "CALENDAR_HORIZON_DAYS", "sixty"},
		{"zero retention", "CONTACT_RETENTION", "0s"},
		{"retention over a year", "CONTACT_RETENTION", "8761h"},
		{"purge grace past the TTL", "RECONCILE_PURGE_GRACE", "24h"},
		{"negative purge grace", "RECONCILE_PURGE_GRACE", "-1h"},
		{"zero purge limit", "RECONCILE_PURGE_LIMIT", "0"},
		{"purge limit too high", "RECONCILE_PURGE_LIMIT", "1001"},
		{"delete documents not a bool", "RECONCILE_DELETE_DOCUMENTS", "maybe"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := maps.Clone(good)
			env[tc.key] = tc.value
			_, err := ConfigFrom(env)
			if err == nil || !strings.Contains(err.Error(), tc.key) {
				t.Errorf("ConfigFrom(%s=%q) = %v, want an error naming %s", tc.key, tc.value, err, tc.key)
			}
		})
	}
	for _, ok := range []map[string]string{
		{"CALENDAR_HORIZON_DAYS": "366", "CONTACT_RETENTION": "8760h", "RECONCILE_PURGE_GRACE": "0s", "RECONCILE_PURGE_LIMIT": "1000", "RECONCILE_DELETE_DOCUMENTS": "true"},
		{"CALENDAR_HORIZON_DAYS": "1", "CONTACT_RETENTION": "1h", "RECONCILE_PURGE_GRACE": "23h", "RECONCILE_PURGE_LIMIT": "1"},
	} {
		env := maps.Clone(good)
		maps.Copy(env, ok)
		if _, err := ConfigFrom(env); err != nil {
			t.Errorf("ConfigFrom(%v) = %v, want no error", ok, err)
		}
	}
}

// TestReportCarriesNoPersonalData: the pass's report, metrics and logs name
// requests by ID only, whatever the requests hold.
func TestReportCarriesNoPersonalData(t *testing.T) {
	f := newFixture(t, nil, nil)
	due := t0.Add(-time.Hour)
	f.put("r-late", dsr.StatusInProgress, true, t0.Add(-2*time.Hour), &due)
	f.put("r-unstarted", dsr.StatusReceived, false, t0.Add(-time.Hour), nil)
	f.clock.Set(t0.Add(-60 * 24 * time.Hour))
	f.put("r-closed", dsr.StatusRefused, false, f.clock.Now(), nil)
	f.clock.Set(t0)
	rep := f.run()
	if len(rep.PastDue) != 1 || len(rep.Started) != 1 || len(rep.Purged) != 1 {
		t.Fatalf("report = %+v, want one past due, one started, one purged", rep)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{string(b), f.emf.String(), f.logs.String()} {
		for _, pii := range []string{personal.Contact.Email, personal.Contact.Phone, "13800138000", personal.Details} {
			if strings.Contains(out, pii) {
				t.Errorf("output holds personal data %q: %s", pii, out)
			}
		}
	}
}

// TestHandleScheduledEvent runs the handler on the sample scheduled event
// (events/reconcile.json, EventBridge's shape).
func TestHandleScheduledEvent(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.put("r-old", dsr.StatusReceived, false, t0.Add(-time.Hour), nil)
	b, err := os.ReadFile("../../events/reconcile.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev events.EventBridgeEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.DetailType != "Scheduled Event" || ev.Source != "aws.events" || len(ev.Resources) != 1 {
		t.Fatalf("sample event = %+v, want a scheduled event from aws.events naming its rule", ev)
	}
	rep, err := f.rec.Handle(f.ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rep.Started, []string{"r-old"}; !slices.Equal(got, want) {
		t.Errorf("Started = %v, want %v", got, want)
	}
}

// BenchmarkRun measures one pass over 100 open requests whose executions
// run (a GSI2 query, a batch read and one DescribeExecution each) and an
// empty purge index.
func BenchmarkRun(b *testing.B) {
	f := newFixture(b, nil, nil)
	old := t0.Add(-time.Hour)
	for i := range 100 {
		id := fmt.Sprintf("r-bench-%03d", i)
		f.put(id, dsr.StatusInProgress, true, old, nil)
		f.start(id, id)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := f.rec.Run(f.ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// TestQuietRepeats: with QuietRepeats a past-due request (and the pass
// summary) is logged on the first pass only, while every pass still reports
// and counts it; without, every pass logs it.
func TestQuietRepeats(t *testing.T) {
	for _, quiet := range []bool{false, true} {
		f := newFixture(t, map[string]string{"RECONCILE_QUIET_REPEATS": fmt.Sprint(quiet)}, nil)
		due := t0.Add(-2 * time.Hour)
		f.put("r-late", dsr.StatusInProgress, true, t0.Add(-time.Hour), &due)
		f.start("r-late", "r-late")
		for range 3 {
			if rep := f.run(); !slices.Equal(rep.PastDue, []string{"r-late"}) {
				t.Fatalf("quiet=%v: PastDue = %v, want [r-late] on every pass", quiet, rep.PastDue)
			}
			if m := f.metrics(); m[MetricRequestsPastDue] != 1 {
				t.Fatalf("quiet=%v: RequestsPastDue = %v, want 1 on every pass", quiet, m[MetricRequestsPastDue])
			}
		}
		want := 3
		if quiet {
			want = 1
		}
		if got := strings.Count(f.logs.String(), `"msg":"request past due"`); got != want {
			t.Errorf("quiet=%v: %d past-due warnings in 3 passes, want %d", quiet, got, want)
		}
		// The pass summary is at Info only when the pass logged something.
		if got := strings.Count(f.logs.String(), `"msg":"reconcile pass"`); got != want {
			t.Errorf("quiet=%v: %d pass summaries at Info in 3 passes, want %d", quiet, got, want)
		}
	}
}
