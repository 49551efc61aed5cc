package partner_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"dsrflow/internal/dev/asl"
	"dsrflow/internal/dev/partnersim"
	"dsrflow/internal/dev/sfnapi"
	"dsrflow/internal/dev/sfnapi/sfnapitest"
	"dsrflow/internal/dsr"
	"dsrflow/internal/partner"
	"dsrflow/internal/store"
)

// engineRun runs testdata/fanout.asl.json on the local engine with the
// fixture's handlers; callbacks answer the engine through the Step
// Functions API (sfnapi) and the AWS SDK, as in AWS.
type engineRun struct {
	engine *asl.Engine
	clock  *asl.Virtual
	sm     *asl.StateMachine
}

func newEngine(t *testing.T, f *fixture) *engineRun {
	t.Helper()
	clk := asl.VirtualClock(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)).(*asl.Virtual)
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	arn := func(name string) string { return "arn:aws:lambda:us-east-1:123456789012:function:" + name }
	engine := asl.NewEngine(asl.Options{
		Clock:  clk,
		Logger: quiet,
		Resolver: asl.Handlers{
			arn("dsr-partner-plan"):     lambda.NewHandler(f.d.Plan),
			arn("dsr-partner-dispatch"): lambda.NewHandler(f.d.Dispatch),
			arn("dsr-partner-await"):    lambda.NewHandler(f.d.Await),
			arn("dsr-partner-escalate"): lambda.NewHandler(f.d.Escalate),
		},
	})
	f.d.SFN, _ = sfnapitest.Serve(t, sfnapi.New(sfnapi.ASL(engine), sfnapi.Options{Logger: quiet}), "us-east-1")

	def, err := os.ReadFile(filepath.Join("testdata", "fanout.asl.json"))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.NewReplacer(
		"${Partition}", "aws",
		"${PartnerPlanFunctionArn}", arn("dsr-partner-plan"),
		"${PartnerDispatchFunctionArn}", arn("dsr-partner-dispatch"),
		"${PartnerAwaitFunctionArn}", arn("dsr-partner-await"),
		"${PartnerEscalateFunctionArn}", arn("dsr-partner-escalate"),
	).Replace(string(def))
	if probs := asl.Validate([]byte(s)); len(probs) > 0 {
		t.Fatalf("fanout.asl.json: %+v", probs)
	}
	sm, err := asl.Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return &engineRun{engine: engine, clock: clk, sm: sm}
}

func (e *engineRun) start(t *testing.T, requestID string) *asl.Execution {
	t.Helper()
	in, _ := json.Marshal(map[string]string{"requestId": requestID})
	x, err := e.engine.Start(context.Background(), e.sm, asl.StartInput{Name: requestID, Input: in,
		StateMachineArn: "arn:aws:states:us-east-1:123456789012:stateMachine:fanout"})
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func wait(t *testing.T, x *asl.Execution) (asl.Result, map[string]partner.DispatchOutput) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := x.Wait(ctx)
	if err != nil {
		t.Fatalf("execution did not finish: %v", err)
	}
	var out struct {
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
// local engine with sync and async simulated partners.
func TestEveryKindEndToEnd(t *testing.T) {
	t.Parallel()
	acts := partner.Actions()
	f := newFixture(t,
		simSpec{id: "account", mode: partner.ModeSync, ids: allIDs, actions: acts, purposes: []string{dsr.PurposePartnerSharing}},
		simSpec{id: "voice", mode: partner.ModeAsync, ids: acctOnly, actions: []partner.Action{partner.ActionErase, partner.ActionExport, partner.ActionCorrect}, b: partnersim.Behavior{CallbackDelay: 20 * time.Millisecond}},
		simSpec{id: "analytics", mode: partner.ModeAsync, ids: allIDs, actions: []partner.Action{partner.ActionErase, partner.ActionExport, partner.ActionWithdrawConsent}, purposes: []string{dsr.PurposeAnalytics}, b: partnersim.Behavior{CallbackDelay: 10 * time.Millisecond}},
		simSpec{id: "sms", mode: partner.ModeSync, ids: phone, actions: []partner.Action{partner.ActionErase, partner.ActionExport}, b: partnersim.Behavior{Latency: 20 * time.Millisecond}},
	)
	f.cfg.AccountSystem = "account"
	e := newEngine(t, f)
	tests := []struct {
		kind     dsr.Kind
		purposes []string
		want     map[string]string // partner → action
	}{
		{dsr.KindErasure, nil, map[string]string{"account": "erase", "voice": "erase", "analytics": "erase", "sms": "erase"}},
		{dsr.KindAccountClosure, nil, map[string]string{"account": "close_account", "voice": "erase", "analytics": "erase", "sms": "erase"}},
		{dsr.KindAccess, nil, map[string]string{"account": "export", "voice": "export", "analytics": "export", "sms": "export"}},
		{dsr.KindPortability, nil, map[string]string{"account": "export", "voice": "export", "analytics": "export", "sms": "export"}},
		{dsr.KindCorrection, nil, map[string]string{"account": "correct", "voice": "correct"}},
		{dsr.KindConsentWithdrawal, []string{dsr.PurposeAnalytics}, map[string]string{"analytics": "withdraw_consent"}},
	}
	for _, tt := range tests {
		req := f.request(t, tt.kind, func(r *dsr.Request) {
			r.Purposes = tt.purposes
			if tt.kind == dsr.KindCorrection {
				r.Corrections = []string{"nickname: 小明"}
			}
		})
		res, outs := wait(t, e.start(t, req.ID))
		if res.Status != asl.StatusSucceeded {
			t.Errorf("%s: execution %s %s %s", tt.kind, res.Status, res.Error, res.Cause)
			continue
		}
		if len(outs) != len(tt.want) {
			t.Errorf("%s: %d partners in the output, want %d: %+v", tt.kind, len(outs), len(tt.want), outs)
		}
		for id, action := range tt.want {
			o := outs[id]
			if o.Status != store.PartnerCompleted || o.Action != action || o.Receipt != f.sims[id].Receipt(req.ID) {
				t.Errorf("%s: partner %s output %+v, want %s completed with its receipt", tt.kind, id, o, action)
			}
		}
		if strings.Contains(string(res.Output), "person@example.com") || strings.Contains(string(res.Output), "acct-42") {
			t.Errorf("%s: execution output carries personal data: %s", tt.kind, res.Output)
		}
	}
}

// TestFailureModesEndToEnd: a flaky partner recovers through Retry, a
// permanently failing one and a silent async one are escalated, and the
// request still completes, saying which partner failed and why.
func TestFailureModesEndToEnd(t *testing.T) {
	t.Parallel()
	f := newFixture(t,
		simSpec{id: "good", mode: partner.ModeSync, ids: allIDs},
		simSpec{id: "flaky", mode: partner.ModeSync, ids: allIDs, b: partnersim.Behavior{FailFirst: 3, FailStatus: 429, RetryAfter: "1"}},
		simSpec{id: "broken", mode: partner.ModeSync, ids: allIDs, b: partnersim.Behavior{Permanent: 502}},
		simSpec{id: "refuses", mode: partner.ModeSync, ids: allIDs, b: partnersim.Behavior{Permanent: 404}},
		simSpec{id: "garbage", mode: partner.ModeSync, ids: allIDs, b: partnersim.Behavior{Garbage: `{"ok":true}`}},
		simSpec{id: "silent", mode: partner.ModeAsync, ids: allIDs, b: partnersim.Behavior{ManualCallback: true}},
		simSpec{id: "slow", mode: partner.ModeAsync, ids: allIDs, b: partnersim.Behavior{Latency: 30 * time.Millisecond, CallbackDelay: 50 * time.Millisecond}},
	)
	e := newEngine(t, f)
	req := f.request(t, dsr.KindErasure, nil)
	x := e.start(t, req.ID)

	// Let everything but the silent partner settle, then pass its deadline.
	deadline := time.Now().Add(30 * time.Second)
	for {
		tk, err := f.st.GetPartnerTask(t.Context(), req.ID, "silent")
		if err == nil && tk.TaskToken != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the silent partner's wait never started")
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
		"silent":  {store.PartnerEscalated, "deadline_passed"},
	}
	for id, w := range want {
		o := outs[id]
		if o.Status != w.status || o.Error != w.err {
			t.Errorf("%s: %+v, want %s %q", id, o, w.status, w.err)
		}
	}
	if c := f.sims["flaky"].Calls(); c != 4 {
		t.Errorf("flaky partner called %d times, want 4 (3 failures, then success)", c)
	}
	if c := f.sims["broken"].Calls(); c != 7 {
		t.Errorf("broken partner called %d times, want 7 (1 + 6 retries)", c)
	}
	if c := f.sims["refuses"].Calls(); c != 1 {
		t.Errorf("refusing partner called %d times, want 1 (4xx is not retried)", c)
	}

	// Running the fan-out again (a resumed or repeated execution) sends
	// nothing to partners that settled.
	before := map[string]int{}
	for id, s := range f.sims {
		before[id] = s.Calls()
	}
	// A second execution over the same request (another name, same input).
	in, _ := json.Marshal(map[string]string{"requestId": req.ID})
	x2, err := e.engine.Start(context.Background(), e.sm, asl.StartInput{Name: req.ID + "-resume", Input: in, StateMachineArn: "arn:aws:states:us-east-1:123456789012:stateMachine:fanout"})
	if err != nil {
		t.Fatal(err)
	}
	res2, outs2 := wait(t, x2)
	if res2.Status != asl.StatusSucceeded {
		t.Fatalf("second run %s %s", res2.Status, res2.Error)
	}
	for id, s := range f.sims {
		if s.Calls() != before[id] {
			t.Errorf("%s called again by a repeated fan-out (%d → %d)", id, before[id], s.Calls())
		}
		if outs2[id].Status != outs[id].Status {
			t.Errorf("%s: repeated fan-out says %s, first said %s", id, outs2[id].Status, outs[id].Status)
		}
	}
}
