package reconcile

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
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

type fixture struct {
	t     testing.TB
	ctx   context.Context
	now   func() time.Time
	st    *store.Store
	sfn   *sfn.Client
	smArn string
	rec   *Reconciler
	emf   *bytes.Buffer
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	// The reconciler's time stands still at t0; the engine runs on the wall
	// clock, so the test machine's year-long Wait stays RUNNING.
	now := func() time.Time { return t0 }
	logger := slog.New(slog.DiscardHandler)
	table := emu.NewTable(t)
	st := store.New(emu.Client(), table)
	st.Now = now
	engine := asl.NewEngine(asl.Options{Clock: asl.RealClock(), Resolver: asl.Handlers{}, Logger: logger})
	api := sfnapi.New(sfnapi.ASL(engine), sfnapi.Options{Logger: logger})
	client, _ := sfnapitest.Serve(t, api, "us-east-1")
	smArn, err := api.CreateStateMachine(ctx, "reconcile-test", definition, "arn:aws:iam::123456789012:role/r")
	if err != nil {
		t.Fatal(err)
	}
	emf := &bytes.Buffer{}
	rec := &Reconciler{
		DB: emu.Client(), Table: table, SFN: client, StateMachineArn: smArn,
		Intake: &intake.Service{Store: st, SFN: client, StateMachineArn: smArn, SubjectSecret: []byte(strings.Repeat("s", 32)), Now: now, Logger: logger},
		Now:    now, Logger: logger, Metrics: emf,
	}
	return &fixture{t: t, ctx: ctx, now: now, st: st, sfn: client, smArn: smArn, rec: rec, emf: emf}
}

// put stores a request as of clock time created.
func (f *fixture) put(id string, status dsr.Status, started bool, created time.Time, due *time.Time) {
	f.t.Helper()
	r := &dsr.Request{ID: id, Kind: dsr.KindErasure, Status: status, Channel: dsr.ChannelWeb, Role: dsr.RoleSelf, Locale: "zh-CN",
		Contact: dsr.Contact{Email: "person@example.com"}, CreatedAt: created, ExecutionStarted: started, DueAt: due}
	if _, dup, err := f.st.CreateRequest(f.ctx, r); err != nil || dup {
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
	f := newFixture(t)
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
	f := newFixture(t)
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
	f.rec.MaxRestarts = 2

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
	f := newFixture(t)
	// Started a moment ago: its execution may not be visible yet.
	f.put("r-new", dsr.StatusReceived, true, t0.Add(-5*time.Second), nil)
	rep := f.run()
	if len(rep.Restarted) != 0 {
		t.Errorf("Restarted = %v, want none within the grace period", rep.Restarted)
	}
}

func TestDueSoonAndPastDue(t *testing.T) {
	f := newFixture(t)
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
	var line map[string]any
	if err := json.Unmarshal(f.emf.Bytes(), &line); err != nil {
		f.t.Fatalf("EMF line %q: %v", f.emf.String(), err)
	}
	meta, _ := line["_aws"].(map[string]any)
	if meta == nil {
		f.t.Fatalf("EMF line without _aws: %s", f.emf.String())
	}
	if ts, _ := meta["Timestamp"].(float64); int64(ts) != t0.UnixMilli() {
		f.t.Errorf("EMF Timestamp = %v, want %d", meta["Timestamp"], t0.UnixMilli())
	}
	cwm, _ := meta["CloudWatchMetrics"].([]any)
	if len(cwm) != 1 {
		f.t.Fatalf("CloudWatchMetrics = %v", meta["CloudWatchMetrics"])
	}
	decl := cwm[0].(map[string]any)
	if decl["Namespace"] != Namespace {
		f.t.Errorf("Namespace = %v, want %s", decl["Namespace"], Namespace)
	}
	out := map[string]float64{}
	for _, m := range decl["Metrics"].([]any) {
		name := m.(map[string]any)["Name"].(string)
		v, ok := line[name].(float64)
		if !ok {
			f.t.Errorf("metric %s declared but has no value", name)
		}
		out[name] = v
	}
	return out
}

func TestConfig(t *testing.T) {
	good := map[string]string{"TABLE_NAME": "t", "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:1:stateMachine:x", "SUBJECT_KEY_SECRET": strings.Repeat("k", 32)}
	c, err := ConfigFrom(good)
	if err != nil {
		t.Fatalf("ConfigFrom(good) = %v", err)
	}
	if c.Grace != DefaultGrace || c.DueSoonDays != DefaultDueSoonDays || c.MaxRestarts != DefaultMaxRestarts {
		t.Errorf("defaults = %+v, want grace %s, %d days, %d restarts", c, DefaultGrace, DefaultDueSoonDays, DefaultMaxRestarts)
	}
	tests := []struct {
		name, key, value, want string
	}{
		{"short secret", "SUBJECT_KEY_SECRET", "short", "SUBJECT_KEY_SECRET"},
		{"no table", "TABLE_NAME", "", "TABLE_NAME"},
		{"zero days", "DUE_SOON_WORKING_DAYS", "0", "DUE_SOON_WORKING_DAYS"},
		{"bad grace", "RECONCILE_GRACE", "soon", "RECONCILE_GRACE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range good {
				env[k] = v
			}
			env[tc.key] = tc.value
			_, err := ConfigFrom(env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ConfigFrom = %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

func TestScanReadsNoPersonalData(t *testing.T) {
	f := newFixture(t)
	f.put("r-pii", dsr.StatusReceived, false, t0, nil)
	reqs, err := f.rec.open(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 1 || reqs[0].ID != "r-pii" || reqs[0].Status != dsr.StatusReceived || reqs[0].Version != 1 {
		t.Fatalf("open = %+v, want r-pii, received, version 1", reqs)
	}
	if reqs[0].Contact != (dsr.Contact{}) {
		t.Errorf("the scan read the contact: %+v", reqs[0].Contact)
	}
}

// TestHandleScheduledEvent runs the handler on the sample scheduled event
// (events/reconcile.json, EventBridge's shape).
func TestHandleScheduledEvent(t *testing.T) {
	f := newFixture(t)
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
// run (a Scan and one DescribeExecution each).
func BenchmarkRun(b *testing.B) {
	f := newFixture(b)
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
		f := newFixture(t)
		logs := &logtest.Buffer{}
		f.rec.Logger = slog.New(slog.NewJSONHandler(logs, nil))
		f.rec.QuietRepeats = quiet
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
		if got := strings.Count(logs.String(), `"msg":"request past due"`); got != want {
			t.Errorf("quiet=%v: %d past-due warnings in 3 passes, want %d", quiet, got, want)
		}
		// The pass summary is at Info only when the pass logged something.
		if got := strings.Count(logs.String(), `"msg":"reconcile pass"`); got != want {
			t.Errorf("quiet=%v: %d pass summaries at Info in 3 passes, want %d", quiet, got, want)
		}
	}
}
