package partner_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"dsrflow/internal/dev/asl"
	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dev/partnersim"
	"dsrflow/internal/dev/sfnapi"
	"dsrflow/internal/dev/sfnapi/sfnapitest"
	"dsrflow/internal/dsr"
	"dsrflow/internal/partner"
	"dsrflow/internal/store"
)

const fanoutArn = "arn:aws:states:us-east-1:123456789012:stateMachine:fanout"

// engineRun runs testdata/fanout.asl.json on the local engine with the
// fixture's handlers (Plan, and partner.Functions as the Lambda functions
// would serve them); Run and the callbacks answer the engine's task tokens
// through the Step Functions API (sfnapi) and the AWS SDK, as in AWS.
type engineRun struct {
	f      *fixture
	engine *asl.Engine
	clock  *asl.Virtual
	sm     *asl.StateMachine
}

func lambdaArn(name string) string { return "arn:aws:lambda:us-east-1:123456789012:function:" + name }

func newEngine(t *testing.T, o fixtureOpts, specs ...simSpec) *engineRun {
	t.Helper()
	clk := asl.VirtualClock(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)).(*asl.Virtual)
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	// The dispatcher needs the Step Functions client, which needs the
	// engine, which needs the handlers: they are added once the fixture
	// exists.
	handlers := asl.Handlers{}
	engine := asl.NewEngine(asl.Options{Clock: clk, Logger: quiet, Resolver: handlers})
	o.sfn, _ = sfnapitest.Serve(t, sfnapi.New(sfnapi.ASL(engine), sfnapi.Options{Logger: quiet}), "us-east-1")
	f := newFixtureOpts(t, o, specs...)
	subst := map[string]string{"${Partition}": "aws", "${PartnerPlanFunctionArn}": lambdaArn("dsr-partner-plan")}
	handlers[lambdaArn("dsr-partner-plan")] = lambda.NewHandler(f.d.Plan)
	for _, fn := range partner.Functions(f.d) {
		handlers[lambdaArn("dsr-"+fn.Name)] = lambda.NewHandler(fn.Handler)
		subst["${"+fn.ArnKey+"}"] = lambdaArn("dsr-" + fn.Name)
	}

	def, err := os.ReadFile(filepath.Join("testdata", "fanout.asl.json"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(def)
	for k, v := range subst {
		s = strings.ReplaceAll(s, k, v)
	}
	if strings.Contains(s, "${") {
		t.Fatalf("fanout.asl.json keeps a substitution no function provides: %s", s[strings.Index(s, "${"):][:40])
	}
	if probs := asl.Validate([]byte(s)); len(probs) > 0 {
		t.Fatalf("fanout.asl.json: %+v", probs)
	}
	sm, err := asl.Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return &engineRun{f: f, engine: engine, clock: clk, sm: sm}
}

func (e *engineRun) start(t *testing.T, name, requestID string) *asl.Execution {
	t.Helper()
	in, _ := json.Marshal(map[string]string{"requestId": requestID})
	x, err := e.engine.Start(context.Background(), e.sm, asl.StartInput{Name: name, Input: in, StateMachineArn: fanoutArn})
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// wait waits for the execution and returns its result and each partner's
// iteration output.
func wait(t *testing.T, x *asl.Execution) (asl.Result, map[string]partner.DispatchOutput) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := x.Wait(ctx)
	if err != nil {
		t.Fatalf("execution did not finish: %v", err)
	}
	var out struct {
		Fanout   partner.PlanOutput       `json:"fanout"`
		Partners []partner.DispatchOutput `json:"partners"`
	}
	if res.Status == asl.StatusSucceeded {
		if err := json.Unmarshal(res.Output, &out); err != nil {
			t.Fatalf("output %s: %v", res.Output, err)
		}
	}
	byID := map[string]partner.DispatchOutput{}
	for _, p := range out.Partners {
		byID[p.PartnerID] = p
	}
	return res, byID
}

// TestEveryKindEndToEnd runs the fan-out of every request kind through the
// local engine with sync and async simulated partners and one that holds
// only phones (no data for a person without one).
func TestEveryKindEndToEnd(t *testing.T) {
	t.Parallel()
	acts := partner.Actions()
	e := newEngine(t, fixtureOpts{accountSystem: "account"},
		simSpec{id: "account", mode: partner.ModeSync, ids: allIDs, actions: acts, purposes: []string{dsr.PurposePartnerSharing}},
		simSpec{id: "voice", mode: partner.ModeAsync, ids: acctOnly, actions: []partner.Action{partner.ActionErase, partner.ActionExport, partner.ActionCorrect}, b: partnersim.Behavior{CallbackDelay: 20 * time.Millisecond}},
		simSpec{id: "analytics", mode: partner.ModeAsync, ids: allIDs, actions: []partner.Action{partner.ActionErase, partner.ActionExport, partner.ActionWithdrawConsent}, purposes: []string{dsr.PurposeAnalytics}, b: partnersim.Behavior{CallbackDelay: 10 * time.Millisecond}},
		simSpec{id: "sms", mode: partner.ModeSync, ids: phone, actions: []partner.Action{partner.ActionErase, partner.ActionExport}, b: partnersim.Behavior{Latency: 20 * time.Millisecond}},
	)
	f := e.f
	tests := []struct {
		kind     dsr.Kind
		purposes []string
		noPhone  bool
		want     map[string]string // partner → action
		noData   []string
	}{
		{dsr.KindErasure, nil, false, map[string]string{"account": "erase", "voice": "erase", "analytics": "erase", "sms": "erase"}, nil},
		{dsr.KindAccountClosure, nil, false, map[string]string{"account": "close_account", "voice": "erase", "analytics": "erase", "sms": "erase"}, nil},
		{dsr.KindAccess, nil, false, map[string]string{"account": "export", "voice": "export", "analytics": "export", "sms": "export"}, nil},
		{dsr.KindPortability, nil, true, map[string]string{"account": "export", "voice": "export", "analytics": "export"}, []string{"sms"}},
		{dsr.KindCorrection, nil, false, map[string]string{"account": "correct", "voice": "correct"}, nil},
		{dsr.KindConsentWithdrawal, []string{dsr.PurposeAnalytics}, false, map[string]string{"analytics": "withdraw_consent"}, nil},
	}
	for _, tt := range tests {
		req := f.request(t, tt.kind, func(r *newRequest) {
			r.Purposes = tt.purposes
			if tt.noPhone {
				r.Identity.Subject.Phones = nil
			}
		})
		res, outs := wait(t, e.start(t, req.ID, req.ID))
		if res.Status != asl.StatusSucceeded {
			t.Errorf("%s: execution %s %s %s", tt.kind, res.Status, res.Error, res.Cause)
			continue
		}
		if len(outs) != len(tt.want) {
			t.Errorf("%s: %d partners in the output, want %d: %+v", tt.kind, len(outs), len(tt.want), outs)
		}
		// The execution goes on as soon as a callback answered its token;
		// the callback then marks the token answered.
		for _, sim := range f.sims {
			sim.Wait()
		}
		for id, action := range tt.want {
			o := outs[id]
			if o.Status != store.PartnerCompleted || o.Action != action || o.Receipt != f.sims[id].Receipt(req.ID) || o.RequestID != req.ID {
				t.Errorf("%s: partner %s output %+v, want %s completed with its receipt", tt.kind, id, o, action)
			}
			if tk := f.task(t, req.ID, id); tk.Status != store.PartnerCompleted || !tk.TokenAnswered || tk.Late {
				t.Errorf("%s: partner %s task %s answered=%v late=%v", tt.kind, id, tk.Status, tk.TokenAnswered, tk.Late)
			}
		}
		for _, id := range tt.noData {
			if tk := f.task(t, req.ID, id); tk.Status != store.PartnerNoData {
				t.Errorf("%s: partner %s task %s, want no_data", tt.kind, id, tk.Status)
			}
		}
		noPersonalData(t, string(tt.kind)+" execution output", string(res.Output), "小明")
		if tt.kind == dsr.KindCorrection {
			for _, id := range []string{"account", "voice"} {
				rs := f.sims[id].Received()
				if last := rs[len(rs)-1]; last.SubjectRequestID != req.ID || len(last.Corrections) != 1 {
					t.Errorf("%s received corrections %v, want the personal item's", id, last.Corrections)
				}
			}
		}
	}
	noPersonalData(t, "logs", f.logs.String())
}

// TestFailureModesEndToEnd: a flaky partner recovers through the
// definition's Retry; a partner down for good, a refusing one, one
// answering garbage, one reporting failure by callback and a silent one
// (its deadline passes) are escalated; the execution still succeeds,
// saying which partner failed and why. A repeated execution sends nothing
// to anyone, and the silent partner's late callback is still recorded.
func TestFailureModesEndToEnd(t *testing.T) {
	t.Parallel()
	e := newEngine(t, fixtureOpts{},
		simSpec{id: "good", mode: partner.ModeSync, ids: allIDs},
		simSpec{id: "flaky", mode: partner.ModeSync, ids: allIDs, b: partnersim.Behavior{FailFirst: 3, FailStatus: 429, RetryAfter: "1"}},
		simSpec{id: "broken", mode: partner.ModeSync, ids: allIDs, b: partnersim.Behavior{Permanent: 502}},
		simSpec{id: "refuses", mode: partner.ModeSync, ids: allIDs, b: partnersim.Behavior{Permanent: 404}},
		simSpec{id: "garbage", mode: partner.ModeSync, ids: allIDs, b: partnersim.Behavior{Garbage: `{"ok":true}`}},
		simSpec{id: "fails", mode: partner.ModeAsync, ids: allIDs, b: partnersim.Behavior{CallbackDelay: 10 * time.Millisecond, Outcome: partner.StatusFailed, FailCode: "account_locked"}},
		simSpec{id: "silent", mode: partner.ModeAsync, ids: allIDs, b: partnersim.Behavior{ManualCallback: true}},
		simSpec{id: "slow", mode: partner.ModeAsync, ids: allIDs, b: partnersim.Behavior{Latency: 30 * time.Millisecond, CallbackDelay: 50 * time.Millisecond}},
	)
	f := e.f
	req := f.request(t, dsr.KindErasure, nil)
	x := e.start(t, req.ID, req.ID)

	// Let every other partner settle and the silent one's wait start, then
	// pass its deadline.
	deadline := time.Now().Add(30 * time.Second)
	for !e.onlySilentWaits(t, req.ID) {
		if time.Now().After(deadline) {
			tasks, _ := f.st.ListPartnerTasks(t.Context(), req.ID)
			t.Fatalf("the fan-out never came down to the silent partner's wait: %+v", tasks)
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.clock.Advance(2 * time.Hour)

	res, outs := wait(t, x)
	if res.Status != asl.StatusSucceeded {
		t.Fatalf("execution %s %s %s; one failing partner must not fail the request", res.Status, res.Error, res.Cause)
	}
	want := map[string]struct {
		status store.PartnerStatus
		err    string
	}{
		"good":    {store.PartnerCompleted, ""},
		"flaky":   {store.PartnerCompleted, ""},
		"slow":    {store.PartnerCompleted, ""},
		"broken":  {store.PartnerEscalated, "http_502"},
		"refuses": {store.PartnerEscalated, "http_404"},
		"garbage": {store.PartnerEscalated, "garbage_missing_request_id"},
		"fails":   {store.PartnerEscalated, "failed_account_locked"},
		"silent":  {store.PartnerEscalated, "deadline_passed"},
	}
	for id, w := range want {
		o := outs[id]
		if o.Status != w.status || o.Error != w.err {
			t.Errorf("%s: %+v, want %s %q", id, o, w.status, w.err)
		}
		if tk := f.task(t, req.ID, id); tk.Status != w.status || (w.err != "" && tk.LastError != w.err) {
			t.Errorf("%s: task %s %q, want %s %q", id, tk.Status, tk.LastError, w.status, w.err)
		}
	}
	for id, n := range map[string]int{"flaky": 4, "broken": 7, "refuses": 1, "garbage": 1, "fails": 1, "silent": 1, "good": 1, "slow": 1} {
		if c := f.sims[id].Calls(); c != n {
			t.Errorf("%s called %d times, want %d", id, c, n)
		}
	}

	// A second execution over the same request (a restarted workflow)
	// sends nothing to any partner and reports the same outcomes.
	before := map[string]int{}
	for id, s := range f.sims {
		before[id] = s.Calls()
	}
	res2, outs2 := wait(t, e.start(t, req.ID+"-again", req.ID))
	if res2.Status != asl.StatusSucceeded {
		t.Fatalf("second run %s %s", res2.Status, res2.Error)
	}
	for id, s := range f.sims {
		if s.Calls() != before[id] {
			t.Errorf("%s called again by a repeated fan-out (%d → %d)", id, before[id], s.Calls())
		}
		if outs2[id].Status != outs[id].Status || outs2[id].Error != outs[id].Error {
			t.Errorf("%s: repeated fan-out says %+v, first said %+v", id, outs2[id], outs[id])
		}
	}

	// The silent partner answers after its deadline: recorded, late.
	if err := f.sims["silent"].Complete(t.Context(), req.ID); err != nil {
		t.Fatalf("late callback: %v", err)
	}
	if tk := f.task(t, req.ID, "silent"); tk.Status != store.PartnerCompleted || !tk.Late || tk.Receipt != f.sims["silent"].Receipt(req.ID) {
		t.Errorf("silent task %s late=%v receipt %q, want completed late with its receipt", tk.Status, tk.Late, tk.Receipt)
	}
	f.head(t, req.ID)
}

// onlySilentWaits reports whether partner "silent" awaits its callback and
// every other partner of the request has settled.
func (e *engineRun) onlySilentWaits(t *testing.T, requestID string) bool {
	tasks, err := e.f.st.ListPartnerTasks(t.Context(), requestID)
	if err != nil || len(tasks) != len(e.f.cfg.Partners) {
		return false
	}
	for _, tk := range tasks {
		if tk.PartnerID == "silent" && tk.Status != store.PartnerAwaitingCallback {
			return false
		}
		if tk.PartnerID != "silent" && !tk.Status.Settled() {
			return false
		}
	}
	return true
}

// TestFanOutMatchesTheWorkflow: the iteration run here is the workflow's
// (statemachines/dsr.asl.json, FanOut), comments aside.
func TestFanOutMatchesTheWorkflow(t *testing.T) {
	root, err := dynamotest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	processor := func(path string) any {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var def map[string]any
		if err := json.Unmarshal(b, &def); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		m := findState(def["States"].(map[string]any), "FanOut")
		if m == nil {
			t.Fatalf("%s has no FanOut state", path)
		}
		return dropComments(m["ItemProcessor"])
	}
	got := processor(filepath.Join("testdata", "fanout.asl.json"))
	want := processor(filepath.Join(root, "statemachines", "dsr.asl.json"))
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("testdata/fanout.asl.json's iteration differs from the workflow's:\n%s\nwant:\n%s", g, w)
	}
}

// findState finds a state by name, also inside Parallel branches and Map
// processors.
func findState(states map[string]any, name string) map[string]any {
	for k, v := range states {
		st, _ := v.(map[string]any)
		if k == name {
			return st
		}
		var subs []any
		if p, ok := st["ItemProcessor"].(map[string]any); ok {
			subs = append(subs, p)
		}
		if bs, ok := st["Branches"].([]any); ok {
			subs = append(subs, bs...)
		}
		for _, s := range subs {
			if sm, ok := s.(map[string]any)["States"].(map[string]any); ok {
				if found := findState(sm, name); found != nil {
					return found
				}
			}
		}
	}
	return nil
}

func dropComments(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			if k != "Comment" {
				out[k] = dropComments(e)
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = dropComments(e)
		}
		return out
	}
	return v
}
