package asl

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// execClocks hands out a virtual clock per execution, as Options.ExecutionClock,
// and records the calls.
type execClocks struct {
	mu       sync.Mutex
	starts   map[string]time.Time // the start of each execution's clock, by name
	clocks   map[string]*Virtual
	asked    []string
	released map[string]int
	nilFor   string // this execution gets no clock of its own
}

func (c *execClocks) clock(arn string) (Clock, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked = append(c.asked, arn)
	name := arn[strings.LastIndexByte(arn, ':')+1:]
	release := func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.released[name]++
	}
	if name == c.nilFor {
		return nil, release
	}
	v := VirtualClock(c.starts[name]).(*Virtual)
	c.clocks[name] = v
	return v, release
}

func (c *execClocks) releasedCount(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.released[name]
}

// TestExecutionClock runs two executions on one engine, each on a clock of
// its own: each one's Wait, retry delay and history follow its own clock,
// and neither moves the other's nor the engine's.
func TestExecutionClock(t *testing.T) {
	shared := VirtualClock(testStart).(*Virtual)
	startA, startB := testStart.Add(24*time.Hour), testStart.Add(48*time.Hour)
	clocks := &execClocks{starts: map[string]time.Time{"a": startA, "b": startB}, clocks: map[string]*Virtual{}, released: map[string]int{}}
	var (
		mu    sync.Mutex
		seen  = map[string]string{} // execution ARN by the input's name
		tries = map[string]int{}
	)
	h := handler(func(ctx context.Context, in struct{ Name string }) (map[string]string, error) {
		arn, ok := ExecutionArnFrom(ctx)
		if !ok {
			return nil, errors.New("no execution ARN in the context")
		}
		mu.Lock()
		defer mu.Unlock()
		seen[in.Name] = arn
		tries[in.Name]++
		if tries[in.Name] == 1 {
			return nil, errors.New("first try fails")
		}
		return map[string]string{"arn": arn}, nil
	})
	// Wait an hour (a), a day (b); then a task failing once, retried after 10 s.
	sm, err := Parse([]byte(`{"StartAt":"W","States":{
	  "W":{"Type":"Wait","SecondsPath":"$.wait","Next":"T"},
	  "T":{"Type":"Task","Resource":"` + fnArn + `f","Parameters":{"Name.$":"$.name"},
	       "Retry":[{"ErrorEquals":["States.ALL"],"IntervalSeconds":10,"MaxAttempts":1}],"ResultPath":"$.t","Next":"D"},
	  "D":{"Type":"Pass","Parameters":{"at.$":"$$.State.EnteredTime","start.$":"$$.Execution.StartTime"},"End":true}}}`))
	if err != nil {
		t.Fatal(err)
	}
	e := NewEngine(Options{Clock: shared, ExecutionClock: clocks.clock, Resolver: Handlers{"f": h}})
	xs := map[string]*Execution{}
	for name, wait := range map[string]int{"a": 3600, "b": 86400} {
		x, err := e.Start(context.Background(), sm, StartInput{StateMachineName: "sm", Name: name,
			Input: json.RawMessage(`{"name":"` + name + `","wait":` + jsonInt(wait) + `}`)})
		if err != nil {
			t.Fatal(err)
		}
		xs[name] = x
	}
	for name, tc := range map[string]struct {
		start time.Time
		wait  time.Duration
	}{"a": {startA, time.Hour}, "b": {startB, 24 * time.Hour}} {
		x := xs[name]
		res := waitResult(t, x)
		end := tc.start.Add(tc.wait + 10*time.Second)
		wantSuccess(t, res, x, `{"at":"`+isoTime(end)+`","start":"`+isoTime(tc.start)+`"}`)
		if !res.StartDate.Equal(tc.start) || !res.StopDate.Equal(end) {
			t.Errorf("%s: start %s, stop %s; want %s, %s (its own clock)", name, res.StartDate, res.StopDate, tc.start, end)
		}
		hist := x.History()
		if first, last := hist[0].Timestamp, hist[len(hist)-1].Timestamp; !first.Equal(tc.start) || !last.Equal(end) {
			t.Errorf("%s: history from %s to %s, want %s to %s", name, first, last, tc.start, end)
		}
		if got := clocks.clocks[name].Now(); !got.Equal(end) {
			t.Errorf("%s: its clock reads %s, want %s", name, got, end)
		}
		if seen[name] != x.StartInput().ExecutionArn {
			t.Errorf("%s: the handler saw execution %q, want %q", name, seen[name], x.StartInput().ExecutionArn)
		}
		// release runs after the execution ended, once.
		if n := clocks.releasedCount(name); n != 1 {
			t.Errorf("%s: released %d times, want 1", name, n)
		}
	}
	if got := shared.Now(); !got.Equal(testStart) {
		t.Errorf("the engine's clock moved to %s, want it untouched at %s", got, testStart)
	}
	if len(clocks.asked) != 2 {
		t.Errorf("ExecutionClock called for %v, want once per execution", clocks.asked)
	}
}

func jsonInt(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestExecutionClockTimeouts: a task's timeout and the execution's
// TimeoutSeconds fire on the execution's clock, not on the engine's.
func TestExecutionClockTimeouts(t *testing.T) {
	shared := VirtualClock(testStart).(*Virtual)
	clocks := &execClocks{starts: map[string]time.Time{"t": testStart, "x": testStart}, clocks: map[string]*Virtual{}, released: map[string]int{}}
	hang := make(chan struct{})
	defer close(hang)
	e := NewEngine(Options{Clock: shared, ExecutionClock: clocks.clock, Resolver: Handlers{"hang": handler(func() error { <-hang; return nil })}})

	t.Run("task timeout", func(t *testing.T) {
		sm, _ := Parse([]byte(`{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnArn + `hang","TimeoutSeconds":5,"End":true}}}`))
		x, err := e.Start(context.Background(), sm, StartInput{Name: "t", Input: json.RawMessage(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		waitForEvent(t, x, "LambdaFunctionStarted")
		shared.Advance(time.Minute) // the engine's clock: no effect
		select {
		case <-x.Done():
			t.Fatalf("the task timed out on the engine's clock: %v", historyTypes(x))
		case <-time.After(20 * time.Millisecond):
		}
		clocks.mu.Lock()
		own := clocks.clocks["t"]
		clocks.mu.Unlock()
		own.Advance(6 * time.Second)
		if res := waitResult(t, x); res.Status != StatusFailed || res.Error != ErrTimeout {
			t.Errorf("result %+v, want States.Timeout", res)
		}
	})
	t.Run("execution timeout", func(t *testing.T) {
		sm, _ := Parse([]byte(`{"TimeoutSeconds":60,"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnArn + `hang","End":true}}}`))
		x, err := e.Start(context.Background(), sm, StartInput{Name: "x", Input: json.RawMessage(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		waitForEvent(t, x, "LambdaFunctionStarted")
		shared.Advance(time.Hour)
		select {
		case <-x.Done():
			t.Fatalf("the execution timed out on the engine's clock: %v", historyTypes(x))
		case <-time.After(20 * time.Millisecond):
		}
		clocks.mu.Lock()
		own := clocks.clocks["x"]
		clocks.mu.Unlock()
		own.Advance(61 * time.Second)
		if res := waitResult(t, x); res.Status != StatusTimedOut {
			t.Errorf("result %+v, want TIMED_OUT", res)
		}
		if n := clocks.releasedCount("x"); n != 1 {
			t.Errorf("released %d times, want 1", n)
		}
	})
}

// TestExecutionClockNil: an execution given no clock runs on the engine's;
// its release still runs.
func TestExecutionClockNil(t *testing.T) {
	shared := VirtualClock(testStart)
	clocks := &execClocks{clocks: map[string]*Virtual{}, released: map[string]int{}, nilFor: "n"}
	e := NewEngine(Options{Clock: shared, ExecutionClock: clocks.clock})
	sm, _ := Parse([]byte(`{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":30,"End":true}}}`))
	x, err := e.Start(context.Background(), sm, StartInput{Name: "n", Input: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	res := waitResult(t, x)
	if !res.StartDate.Equal(testStart) || !res.StopDate.Equal(testStart.Add(30*time.Second)) || !shared.Now().Equal(testStart.Add(30*time.Second)) {
		t.Errorf("start %s, stop %s, engine clock %s; want the engine's clock, 30 s on", res.StartDate, res.StopDate, shared.Now())
	}
	if n := clocks.releasedCount("n"); n != 1 {
		t.Errorf("released %d times, want 1", n)
	}
}

func TestExecutionArnFrom(t *testing.T) {
	if _, ok := ExecutionArnFrom(context.Background()); ok {
		t.Error("ExecutionArnFrom of a plain context: ok")
	}
	ctx := WithTaskInfo(context.Background(), TaskCall{ExecutionArn: "arn:aws:states:us-east-1:1:execution:sm:x"})
	if got, ok := ExecutionArnFrom(ctx); !ok || got != "arn:aws:states:us-east-1:1:execution:sm:x" {
		t.Errorf("ExecutionArnFrom = %q, %v", got, ok)
	}
}

// holdingClock is a virtual clock that records its holds and timers.
type holdingClock struct {
	*Virtual
	mu    sync.Mutex
	log   []string
	holds int
}

func (c *holdingClock) note(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = append(c.log, s)
}

func (c *holdingClock) NewTimer(d time.Duration) Timer {
	c.note("timer")
	return c.Virtual.NewTimer(d)
}

func (c *holdingClock) Hold() func() {
	c.mu.Lock()
	c.holds++
	c.log = append(c.log, "hold")
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.holds--
		c.log = append(c.log, "release")
	}
}

func (c *holdingClock) held() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.holds > 0
}

// TestTaskHoldsItsClock: a clock that can run at real speed (Holder) is
// held from the task's start, before its timeout timer, until its handler
// returns, once; a clock without Hold is used as before.
func TestTaskHoldsItsClock(t *testing.T) {
	for _, def := range []string{
		`{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnArn + `f","TimeoutSeconds":60,"End":true}}}`,
		`{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnArn + `f","End":true}}}`,
	} {
		c := &holdingClock{Virtual: VirtualClock(testStart).(*Virtual)}
		var heldInHandler bool
		h := handler(func() error {
			heldInHandler = c.held()
			c.note("handler")
			return nil
		})
		sm, err := Parse([]byte(def))
		if err != nil {
			t.Fatal(err)
		}
		e := NewEngine(Options{Clock: c, Resolver: Handlers{"f": h}})
		x, err := e.Start(context.Background(), sm, StartInput{Name: "x", Input: json.RawMessage(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		wantSuccess(t, waitResult(t, x), x, `null`)
		c.mu.Lock()
		got := strings.Join(c.log, ",")
		c.mu.Unlock()
		want := "hold,timer,handler,release"
		if !strings.Contains(def, "TimeoutSeconds") {
			want = "hold,handler,release"
		}
		if !strings.HasPrefix(got, want) || !heldInHandler || c.held() {
			t.Errorf("clock calls %s (held in the handler: %v, still held: %v), want %s", got, heldInHandler, c.held(), want)
		}
	}
}
