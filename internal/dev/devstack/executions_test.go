package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"dsrflow/internal/dev/asl"
	"dsrflow/internal/workflow"
)

func TestRequestOf(t *testing.T) {
	const arn = "arn:aws:states:us-east-1:000000000000:execution:dsrflow-requests:"
	for name, want := range map[string]string{
		"r-abc2":       "r-abc2",
		"r-abc2-r1":    "r-abc2",
		"r-abc2-r12":   "r-abc2",
		"r-abc2-r0":    "r-abc2-r0",
		"r-abc2-rx":    "r-abc2-rx",
		"r-abc2-r1-r2": "r-abc2-r1",
	} {
		if got := requestOf(arn + name); got != want {
			t.Errorf("requestOf(%s) = %q, want %q", name, got, want)
		}
	}
}

// taskRecord is what the test task saw: which handlers served it, and the
// time on the clock they were built with.
type taskRecord struct {
	handlers *workflow.Handlers
	at       time.Time
	arn      string
}

// testExecutions is an executions whose handlers are empty
// workflow.Handlers, each remembered with its clock, and a task function
// reporting which handlers served it.
type testExecutions struct {
	*executions
	mu     sync.Mutex
	clocks map[*workflow.Handlers]func() time.Time
	builds int
	seen   []taskRecord
}

func newTestExecutions(scale float64, hold time.Duration) *testExecutions {
	te := &testExecutions{clocks: map[*workflow.Handlers]func() time.Time{}}
	newHandlers := func(clock func() time.Time) (*workflow.Handlers, error) {
		h := &workflow.Handlers{}
		te.mu.Lock()
		defer te.mu.Unlock()
		te.clocks[h] = clock
		te.builds++
		return h, nil
	}
	start := func(string) time.Time { return time.Now() }
	te.executions = newExecutions(scale, start, newHandlers, &workflow.Handlers{}, &holds{max: hold, open: map[string]func(){}})
	return te
}

// function is a task function whose handler records its invocation and
// fails when the input says so.
func (te *testExecutions) function(name string) workflow.Function {
	return workflow.Function{Name: name, Handler: func(h *workflow.Handlers) any {
		return func(ctx context.Context, in struct{ Fail bool }) (string, error) {
			te.mu.Lock()
			defer te.mu.Unlock()
			rec := taskRecord{handlers: h, at: time.Now()}
			if c, ok := te.clocks[h]; ok {
				rec.at = c()
			}
			rec.arn, _ = asl.ExecutionArnFrom(ctx)
			te.seen = append(te.seen, rec)
			if in.Fail {
				return "", errors.New("asked to fail")
			}
			return "ok", nil
		}
	}}
}

func (te *testExecutions) records() []taskRecord {
	te.mu.Lock()
	defer te.mu.Unlock()
	return append([]taskRecord(nil), te.seen...)
}

func startExecution(t *testing.T, e *asl.Engine, def, name, input string) *asl.Execution {
	t.Helper()
	sm, err := asl.Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	x, err := e.Start(context.Background(), sm, asl.StartInput{StateMachineName: "sm", Name: name, Input: json.RawMessage(input)})
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func waitDone(t *testing.T, x *asl.Execution, within time.Duration) asl.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	res, err := x.Wait(ctx)
	if err != nil {
		t.Fatalf("execution %s not done after %s: %v", x.StartInput().Name, within, err)
	}
	return res
}

// TestExecutionsRouteToTheirClock: each execution's tasks run on handlers
// built with its own clock, which a Wait moves and nothing else; a task
// outside any execution runs on the shared handlers; an ended execution's
// clock and handlers are let go.
func TestExecutionsRouteToTheirClock(t *testing.T) {
	te := newTestExecutions(8640000, time.Minute) // a hundred days a second
	defer te.close()
	e := asl.NewEngine(asl.Options{ExecutionClock: te.clockFor, Resolver: asl.Handlers{"task": te.handler(te.function("task"))}})
	const def = `{"StartAt":"A","States":{
	  "A":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:000000000000:function:task","ResultPath":null,"Next":"W"},
	  "W":{"Type":"Wait","SecondsPath":"$.wait","Next":"B"},
	  "B":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:000000000000:function:task","ResultPath":null,"End":true}}}`
	begin := time.Now()
	long := startExecution(t, e, def, "r-long", `{"wait":1728000}`) // 20 days
	short := startExecution(t, e, def, "r-short", `{"wait":1}`)
	for _, x := range []*asl.Execution{long, short} {
		if res := waitDone(t, x, 20*time.Second); res.Status != asl.StatusSucceeded {
			t.Fatalf("%s: %+v", x.StartInput().Name, res)
		}
	}
	end := time.Now()
	byArn := map[string][]taskRecord{}
	for _, r := range te.records() {
		byArn[r.arn] = append(byArn[r.arn], r)
	}
	for _, tc := range []struct {
		x    *asl.Execution
		wait time.Duration
	}{{long, 20 * 24 * time.Hour}, {short, time.Second}} {
		arn := tc.x.StartInput().ExecutionArn
		recs := byArn[arn]
		if len(recs) != 2 {
			t.Fatalf("%s: %d tasks recorded, want 2", arn, len(recs))
		}
		if recs[0].handlers != recs[1].handlers || recs[0].handlers == te.shared {
			t.Errorf("%s: tasks served by %p and %p, want one set of the execution's own", arn, recs[0].handlers, recs[1].handlers)
		}
		// The first task runs at the wall clock's time; the second after
		// the Wait, on the execution's clock.
		if recs[0].at.Before(begin) || recs[0].at.After(end.Add(time.Minute)) {
			t.Errorf("%s: first task at %s, want the wall clock's time (%s to %s)", arn, recs[0].at, begin, end)
		}
		// Between the Wait's timer and the next task the clock may still
		// run fast for a moment (300 ms of real time here is 30 days).
		if d := recs[1].at.Sub(recs[0].at); d < tc.wait || d > tc.wait+30*24*time.Hour {
			t.Errorf("%s: second task %s after the first, want the Wait's %s", arn, d, tc.wait)
		}
		if _, ok := te.clockOf(requestOf(arn)); ok {
			t.Errorf("%s: clock kept after the execution ended", arn)
		}
		if te.lookup(arn) != nil {
			t.Errorf("%s: handlers kept after the execution ended", arn)
		}
	}
	if byArn[long.StartInput().ExecutionArn][0].handlers == byArn[short.StartInput().ExecutionArn][0].handlers {
		t.Error("two executions share handlers")
	}
	if te.builds != 2 {
		t.Errorf("handlers built %d times, want once per execution", te.builds)
	}
	// The wall clock did not move with the long wait.
	if time.Since(begin) > 15*time.Second {
		t.Errorf("the test took %s of wall time", time.Since(begin))
	}
	// Outside any execution: the shared handlers, at the wall clock.
	if out, err := te.handler(te.function("task")).Invoke(context.Background(), []byte(`{}`)); err != nil || string(out) != `"ok"` {
		t.Fatalf("outside an execution: %s, %v", out, err)
	}
	if recs := te.records(); recs[len(recs)-1].handlers != te.shared {
		t.Errorf("a task outside any execution ran on %p, want the shared handlers", recs[len(recs)-1].handlers)
	}
	// partnersim's clock for a request without a running execution: the wall clock.
	if d := time.Since(te.now("r-long")); d < 0 || d > time.Minute {
		t.Errorf("business clock of an ended request is %s off the wall clock", d)
	}
}

// TestExecutionsHoldWhileSomeoneIsAwaited: a .waitForTaskToken task whose
// token nobody answers keeps its execution's clock at real speed for the
// hold, then its timeout passes on the fast clock; a failed task lets its
// retry delay pass fast at once.
func TestExecutionsHoldWhileSomeoneIsAwaited(t *testing.T) {
	hold := time.Second
	te := newTestExecutions(864000, hold)
	defer te.close()
	const fn = "arn:aws:lambda:us-east-1:000000000000:function:task"
	e := asl.NewEngine(asl.Options{ExecutionClock: te.clockFor, Resolver: asl.Handlers{"task": te.handler(te.function("task"))}})

	t.Run("token awaited", func(t *testing.T) {
		// A day's timeout: about 0.1 s of real time at full speed.
		x := startExecution(t, e, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
		  "Parameters":{"FunctionName":"`+fn+`","Payload":{"taskToken.$":"$$.Task.Token"}},"TimeoutSeconds":86400,"End":true}}}`, "r-token", `{}`)
		begin := time.Now()
		res := waitDone(t, x, 10*time.Second)
		if res.Status != asl.StatusFailed || res.Error != asl.ErrTimeout {
			t.Fatalf("result %+v, want States.Timeout", res)
		}
		if took := time.Since(begin); took < hold {
			t.Errorf("timed out after %s, want the hold (%s) first", took, hold)
		}
	})
	t.Run("failed task", func(t *testing.T) {
		// The token task fails; its retry waits an hour of its clock,
		// which must run fast at once (no hold left behind).
		x := startExecution(t, e, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
		  "Parameters":{"FunctionName":"`+fn+`","Payload":{"taskToken.$":"$$.Task.Token","Fail.$":"$.fail"}},
		  "Retry":[{"ErrorEquals":["States.ALL"],"IntervalSeconds":3600,"MaxAttempts":1}],"TimeoutSeconds":864000,"End":true}}}`, "r-fail", `{"fail":true}`)
		begin := time.Now()
		res := waitDone(t, x, 10*time.Second)
		if res.Status != asl.StatusFailed || res.Error == asl.ErrTimeout {
			t.Fatalf("result %+v, want the task's own error", res)
		}
		if took := time.Since(begin); took >= hold {
			t.Errorf("took %s: the failed task's hold (%s) was kept", took, hold)
		}
	})
}

// TestExecutionsDropIdleHandlers: handlers idle for idleHandlers are let
// go as another execution starts, and built again on their next task.
func TestExecutionsDropIdleHandlers(t *testing.T) {
	te := newTestExecutions(1, time.Minute)
	defer te.close()
	const arn = "arn:aws:states:us-east-1:000000000000:execution:sm:"
	_, releaseA := te.clockFor(arn + "r-a")
	defer releaseA()
	a := te.lookup(arn + "r-a")
	f := te.function("task")
	if _, err := te.taskHandler(a, f); err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	a.lastUsed = time.Now().Add(-idleHandlers - time.Second)
	a.mu.Unlock()
	_, releaseB := te.clockFor(arn + "r-b")
	defer releaseB()
	a.mu.Lock()
	dropped := a.handlers == nil
	a.mu.Unlock()
	if !dropped {
		t.Error("idle handlers kept")
	}
	if _, err := te.taskHandler(a, f); err != nil {
		t.Fatal(err)
	}
	if te.builds != 2 {
		t.Errorf("built %d times, want 2 (again after the drop)", te.builds)
	}
	if _, ok := te.clockOf("r-a"); !ok {
		t.Error("the idle execution's clock was dropped with its handlers")
	}
}
