package asl

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

// TaskResolver maps a Task's resource (for arn:aws:states:::lambda:invoke,
// its FunctionName) to a handler.
type TaskResolver interface {
	Resolve(resource string) (lambda.Handler, error)
}

// ResolverFunc adapts a function to TaskResolver.
type ResolverFunc func(resource string) (lambda.Handler, error)

// Resolve calls f.
func (f ResolverFunc) Resolve(resource string) (lambda.Handler, error) { return f(resource) }

// Handlers is a TaskResolver backed by a map. Keys may be full ARNs,
// service resources such as "arn:aws:states:::sqs:sendMessage" or bare Lambda
// function names; a Lambda ARN or FunctionName also matches its function name
// without alias or version.
type Handlers map[string]lambda.Handler

// Resolve finds the handler for a resource.
func (h Handlers) Resolve(resource string) (lambda.Handler, error) {
	if hd, ok := h[resource]; ok {
		return hd, nil
	}
	if name := lambdaFunctionName(resource); name != "" {
		if hd, ok := h[name]; ok {
			return hd, nil
		}
	}
	return nil, fmt.Errorf("no handler for resource %q", resource)
}

// lambdaFunctionName extracts the function name from a function name, a
// partial or full ARN, with or without a version or alias.
func lambdaFunctionName(s string) string {
	if i := strings.Index(s, ":function:"); i >= 0 {
		s = s[i+len(":function:"):]
	} else if strings.HasPrefix(s, "arn:") {
		return ""
	}
	if i := strings.IndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	return s
}

// Options configure an Engine. Zero values take AWS's defaults.
type Options struct {
	// Clock is the engine's time (default RealClock): every execution's,
	// unless ExecutionClock gives it one of its own.
	Clock Clock
	// ExecutionClock, if set, gives each execution a clock of its own: the
	// engine calls it once as the execution starts, before its first event,
	// and uses the clock for that execution's Wait states, retry delays,
	// timeouts, heartbeats and history timestamps. A nil clock means Clock.
	// release, if not nil, is called once when the execution ends (after
	// its last event); task handlers it left running (a timed-out task)
	// may still be running then.
	ExecutionClock func(executionArn string) (clock Clock, release func())
	Resolver       TaskResolver
	Logger         *slog.Logger
	// MaxPayloadBytes is the payload quota (256 KiB).
	MaxPayloadBytes int
	// MaxHistoryEvents is the execution history quota (25,000 events).
	MaxHistoryEvents int
	// MaxMapConcurrency bounds a Map whose MaxConcurrency is 0 (unbounded);
	// default 40, inline Map's effective limit in AWS.
	MaxMapConcurrency int
	// Region appears in TaskScheduled events (default us-east-1).
	Region string
	// NewID returns unique IDs for default execution names and Lambda
	// request IDs (default: random v4 UUIDs). Task tokens are always random.
	NewID func() string
}

// Engine runs state machines in-process.
type Engine struct {
	opts Options
	log  *slog.Logger

	handlerLocks sync.Map                     // lambda.Handler -> *sync.Mutex
	lastLock     atomic.Pointer[handlerMutex] // the last of handlerLocks used

	mu          sync.Mutex
	pending     map[string]*pendingTask
	closed      map[string]struct{}
	closedOrder []string
}

// NewEngine returns an engine.
func NewEngine(opts Options) *Engine {
	if opts.Clock == nil {
		opts.Clock = RealClock()
	}
	if opts.MaxPayloadBytes <= 0 {
		opts.MaxPayloadBytes = 256 * 1024
	}
	if opts.MaxHistoryEvents <= 0 {
		opts.MaxHistoryEvents = 25000
	}
	if opts.MaxMapConcurrency <= 0 {
		opts.MaxMapConcurrency = 40
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.Resolver == nil {
		opts.Resolver = Handlers{}
	}
	if opts.NewID == nil {
		opts.NewID = newFastUUID
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Engine{opts: opts, log: log, pending: map[string]*pendingTask{}, closed: map[string]struct{}{}}
}

// StartInput describes an execution to start.
type StartInput struct {
	StateMachineArn  string
	StateMachineName string
	ExecutionArn     string
	Name             string
	Input            json.RawMessage
	RoleArn          string
}

// Execution statuses.
const (
	StatusRunning   = "RUNNING"
	StatusSucceeded = "SUCCEEDED"
	StatusFailed    = "FAILED"
	StatusTimedOut  = "TIMED_OUT"
	StatusAborted   = "ABORTED"
)

// Result is an execution's status and, once terminal, its outcome.
type Result struct {
	Status    string
	Output    json.RawMessage
	Error     string
	Cause     string
	StartDate time.Time
	StopDate  time.Time
}

// Execution is one run of a state machine.
type Execution struct {
	e  *Engine
	sm *StateMachine
	in StartInput

	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
	input   any
	start   time.Time
	clock   Clock  // Options.Clock or the execution's own
	release func() // from Options.ExecutionClock, called as the execution ends

	mu       sync.Mutex
	events   eventLog
	status   string
	output   json.RawMessage
	errName  string
	cause    string
	stop     time.Time
	terminal bool

	deadline time.Time // execution TimeoutSeconds, zero if none

	transitions atomic.Int64
	ctxExec     map[string]any
	ctxMachine  map[string]any
}

var errTerminated = errors.New("execution already ended")

// Start begins an execution; it runs in background goroutines.
func (e *Engine) Start(ctx context.Context, sm *StateMachine, in StartInput) (*Execution, error) {
	if sm == nil {
		return nil, fmt.Errorf("start execution: nil state machine")
	}
	raw := in.Input
	if len(strings.TrimSpace(string(raw))) == 0 {
		raw = json.RawMessage("{}")
	}
	if len(raw) > e.opts.MaxPayloadBytes {
		return nil, apiError("InvalidExecutionInput", "the execution input is %d bytes, more than the %d-byte quota", len(raw), e.opts.MaxPayloadBytes)
	}
	input, err := decodeJSON(raw)
	if err != nil {
		return nil, apiError("InvalidExecutionInput", "the execution input is not valid JSON: %v", err)
	}
	if in.Name == "" {
		in.Name = e.opts.NewID()
	}
	if in.ExecutionArn == "" {
		in.ExecutionArn = "arn:aws:states:" + e.opts.Region + ":123456789012:execution:" + in.StateMachineName + ":" + in.Name
	}
	clock, release := e.opts.Clock, func() {}
	if e.opts.ExecutionClock != nil {
		c, rel := e.opts.ExecutionClock(in.ExecutionArn)
		if c != nil {
			clock = c
		}
		if rel != nil {
			release = rel
		}
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	x := &Execution{
		e: e, sm: sm, in: in, ctx: runCtx, cancel: cancel, done: make(chan struct{}),
		input: input, start: clock.Now(), clock: clock, release: release, status: StatusRunning,
	}
	x.ctxExec = map[string]any{
		"Id": in.ExecutionArn, "Input": input, "Name": in.Name, "RoleArn": in.RoleArn,
		"StartTime": isoTime(x.start), "RedriveCount": json.Number("0"),
	}
	x.ctxMachine = map[string]any{"Id": in.StateMachineArn, "Name": in.StateMachineName}
	sc := &scope{}
	x.addEvent(sc, event{typ: EvExecutionStarted, payload: input, hasPay: true, text: string(raw), encoded: true, resource: in.RoleArn})
	e.log.Debug("execution started", "executionArn", in.ExecutionArn)
	if sm.timeoutSeconds > 0 {
		x.deadline = x.start.Add(time.Duration(sm.timeoutSeconds) * time.Second)
		go x.watchTimeout(time.Duration(sm.timeoutSeconds) * time.Second)
	}
	go x.run(sc)
	return x, nil
}

func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func (x *Execution) watchTimeout(d time.Duration) {
	t := x.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		x.timedOut()
	case <-x.done:
	}
}

func (x *Execution) timedOut() {
	x.end(StatusTimedOut, EvExecutionTimedOut, ErrTimeout, "The execution timed out after the state machine's TimeoutSeconds.", nil)
}

// pastDeadline ends the execution if its TimeoutSeconds has passed.
func (x *Execution) pastDeadline() bool {
	if x.deadline.IsZero() || x.clock.Now().Before(x.deadline) {
		return false
	}
	x.timedOut()
	return true
}

// sleep waits d on the execution's clock, ending at the execution deadline.
func (x *Execution) sleep(ctx context.Context, d time.Duration) error {
	if !x.deadline.IsZero() {
		if left := x.deadline.Sub(x.clock.Now()); d >= left {
			if err := sleep(ctx, x.clock, left); err != nil {
				return err
			}
			x.timedOut()
			return errTerminated
		}
	}
	return sleep(ctx, x.clock, d)
}

func (x *Execution) run(sc *scope) {
	var r stateRun
	out, err := x.runMachineWith(x.ctx, x.sm.root, x.input, sc, &r)
	if x.pastDeadline() {
		return
	}
	var se *stateError
	switch {
	case err == nil:
		// The last state's output size, when it measured it, is the
		// exact size of the encoding.
		b, encErr := encodeJSONHint(out, &shapeHint{}, r.outSize)
		if encErr != nil {
			x.end(StatusFailed, EvExecutionFailed, ErrRuntime, "cannot encode the execution output", nil)
		} else if len(b) > x.e.opts.MaxPayloadBytes {
			x.end(StatusFailed, EvExecutionFailed, ErrDataLimitExceeded, fmt.Sprintf("The execution output is %d bytes, more than the %d-byte quota.", len(b), x.e.opts.MaxPayloadBytes), nil)
		} else {
			x.end(StatusSucceeded, EvExecutionSucceeded, "", "", b)
		}
	case errors.As(err, &se):
		x.end(StatusFailed, EvExecutionFailed, se.Name, se.Cause, nil)
	default:
		// Aborted, timed out or over the history quota: already ended.
		x.end(StatusFailed, EvExecutionFailed, ErrRuntime, err.Error(), nil)
	}
}

// end makes the execution terminal once; later calls do nothing.
func (x *Execution) end(status, evType, errName, cause string, output json.RawMessage) bool {
	x.mu.Lock()
	if x.terminal {
		x.mu.Unlock()
		return false
	}
	now := x.clock.Now()
	x.terminal = true
	x.status, x.errName, x.cause, x.output, x.stop = status, errName, cause, output, now
	ev := event{typ: evType, ts: now, id: int64(x.events.n + 1), errName: errName, cause: cause}
	ev.prev = int64(x.events.n)
	if evType == EvExecutionSucceeded {
		ev.text, ev.encoded = string(output), true
	}
	x.events.add(&ev)
	x.mu.Unlock()
	x.cancel()
	close(x.done)
	x.release()
	x.e.log.Debug("execution ended", "executionArn", x.in.ExecutionArn, "status", status, "error", errName)
	return true
}

// scope tracks the previous event of one thread of execution (the main
// flow, a Parallel branch or a Map iteration).
type scope struct {
	prev int64
}

// addEvent records an event. It fails once the execution has ended, and
// ends the execution when the history quota would be exceeded.
func (x *Execution) addEvent(sc *scope, ev event) error {
	_, err := x.addEventAt(sc, ev)
	return err
}

// addEventAt is addEvent that also returns the event's timestamp.
func (x *Execution) addEventAt(sc *scope, ev event) (time.Time, error) {
	x.mu.Lock()
	if x.terminal {
		x.mu.Unlock()
		return time.Time{}, errTerminated
	}
	if x.events.n >= x.e.opts.MaxHistoryEvents {
		x.mu.Unlock()
		x.end(StatusFailed, EvExecutionFailed, ErrRuntime,
			fmt.Sprintf("The execution reached the maximum number of history events (%d).", x.e.opts.MaxHistoryEvents), nil)
		return time.Time{}, errTerminated
	}
	ev.id = int64(x.events.n + 1)
	ev.prev = sc.prev
	ev.ts = x.clock.Now()
	x.events.add(&ev)
	x.mu.Unlock()
	sc.prev = ev.id
	return ev.ts, nil
}

// addStateEvent is addEventAt for a state's entered or exited event (d),
// without building an event: addRecord without an index, for the path
// every state takes.
func (x *Execution) addStateEvent(sc *scope, d *evDesc, payload any) (time.Time, error) {
	x.mu.Lock()
	if x.terminal || x.events.n >= x.e.opts.MaxHistoryEvents {
		x.mu.Unlock()
		return x.addEventAt(sc, event{typ: d.typ, name: d.name, desc: d, payload: payload, hasPay: true})
	}
	ts := x.clock.Now()
	rec := x.events.slot(ts)
	rec.desc, rec.ts, rec.payload, rec.prev = d, ts.UnixNano(), payload, int32(sc.prev)
	id := int64(x.events.n)
	x.mu.Unlock()
	sc.prev = id
	return ts, nil
}

// addRecord is addEventAt for an event that d describes fully, but for its
// payload and index (a state's entered and exited events, a Map's events,
// a Task's), without building an event.
func (x *Execution) addRecord(sc *scope, d *evDesc, payload any, index int) (time.Time, error) {
	x.mu.Lock()
	if x.terminal || x.events.n >= x.e.opts.MaxHistoryEvents {
		x.mu.Unlock()
		return x.addEventAt(sc, event{typ: d.typ, name: d.name, desc: d, payload: payload, hasPay: payload != nil, index: index})
	}
	ts := x.clock.Now()
	rec := x.events.slot(ts)
	rec.desc, rec.ts, rec.payload, rec.prev, rec.index = d, ts.UnixNano(), payload, int32(sc.prev), int32(index)
	id := int64(x.events.n)
	x.mu.Unlock()
	sc.prev = id
	return ts, nil
}

// addRecordErr is addRecord without the timestamp.
func (x *Execution) addRecordErr(sc *scope, d *evDesc, payload any, index int) error {
	_, err := x.addRecord(sc, d, payload, index)
	return err
}

// Wait blocks until the execution ends or ctx is done.
func (x *Execution) Wait(ctx context.Context) (Result, error) {
	select {
	case <-x.done:
		return x.Describe(), nil
	case <-ctx.Done():
		return x.Describe(), ctx.Err()
	}
}

// Done is closed when the execution ends.
func (x *Execution) Done() <-chan struct{} { return x.done }

// Describe returns a snapshot of the execution's status.
func (x *Execution) Describe() Result {
	x.mu.Lock()
	defer x.mu.Unlock()
	return Result{Status: x.status, Output: x.output, Error: x.errName, Cause: x.cause, StartDate: x.start, StopDate: x.stop}
}

// Input returns the execution input.
func (x *Execution) Input() json.RawMessage { return json.RawMessage(mustJSON(x.input)) }

// StartInput returns what the execution was started with (names, ARNs).
func (x *Execution) StartInput() StartInput { return x.in }

// StateMachine returns the state machine being run.
func (x *Execution) StateMachine() *StateMachine { return x.sm }

// StateTransitions counts the states entered so far.
func (x *Execution) StateTransitions() int64 { return x.transitions.Load() }

// History returns the events so far, oldest first.
func (x *Execution) History() []HistoryEvent {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := make([]HistoryEvent, 0, x.events.n)
	for _, chunk := range x.events.chunks {
		for i := range chunk {
			out = append(out, chunk[i].public(int64(len(out)+1), x.events.loc))
		}
	}
	return out
}

// Stop aborts a running execution (status ABORTED).
func (x *Execution) Stop(errName, cause string) {
	x.end(StatusAborted, EvExecutionAborted, errName, cause, nil)
}

// ---- running states

func (x *Execution) runMachine(ctx context.Context, m *machine, input any, sc *scope) (any, error) {
	return x.runMachineWith(ctx, m, input, sc, &stateRun{})
}

// runMachineWith is runMachine running its states in r, which it resets
// (a Map worker reuses one for all its iterations).
func (x *Execution) runMachineWith(ctx context.Context, m *machine, input any, sc *scope, r *stateRun) (any, error) {
	st := m.start
	*r = stateRun{x: x, sc: sc}
	for {
		out, next, err := x.runState(ctx, r, st, input, sc)
		if err != nil {
			return nil, err
		}
		if next == nil {
			return out, nil
		}
		st, input = next, out
	}
}

type stateRun struct {
	x        *Execution
	st       *state
	input    any
	sc       *scope
	entered  time.Time
	retries  int
	token    string
	ctxCache any
	// resultSize is the JSON size of what the Map state's iterations
	// returned, -1 when unknown; outSize is that of the last state's
	// output, -1 when it was not measured.
	resultSize, outSize int
}

// context builds the context object ($$) for the current state.
func (r *stateRun) context() any {
	if r.ctxCache != nil {
		return r.ctxCache
	}
	c := map[string]any{
		"Execution":    r.x.ctxExec,
		"StateMachine": r.x.ctxMachine,
		"State": map[string]any{
			"EnteredTime": isoTime(r.entered),
			"Name":        r.st.name,
			"RetryCount":  intNumber(int64(r.retries)),
		},
	}
	if r.token != "" {
		c["Task"] = map[string]any{"Token": r.token}
	}
	r.ctxCache = c
	return c
}

func (r *stateRun) ctxObj() any {
	if !r.st.needsCtx {
		return nil
	}
	return r.context()
}

func (x *Execution) runState(ctx context.Context, r *stateRun, st *state, input any, sc *scope) (any, *state, error) {
	if ctx.Err() != nil || x.pastDeadline() {
		return nil, nil, errTerminated
	}
	x.transitions.Add(1)
	// Reset r for st field by field (r.x and r.sc stay): cheaper than
	// storing a whole stateRun.
	r.st, r.input, r.retries, r.resultSize = st, input, 0, -1
	if r.token != "" {
		r.token = ""
	}
	if r.ctxCache != nil {
		r.ctxCache = nil
	}
	entered, err := x.addStateEvent(sc, st.enteredDesc, input)
	if err != nil {
		return nil, nil, err
	}
	r.entered = entered
	var (
		out  any
		next *state
	)
	switch st.kind {
	case kindPass:
		out, err = r.pass()
		next = st.nextSt
	case kindChoice:
		out, next, err = r.choice()
	case kindWait:
		out, err = r.wait(ctx)
		next = st.nextSt
	case kindSucceed:
		out, err = r.inOut()
		next = nil
	case kindFail:
		return nil, nil, r.fail()
	case kindTask, kindParallel, kindMap:
		out, next, err = r.withRetry(ctx)
	}
	if err != nil {
		if errors.Is(err, errTerminated) || ctx.Err() != nil {
			switch st.kind {
			case kindTask, kindWait, kindMap, kindParallel:
				_ = x.addEvent(sc, event{typ: st.abortedType, name: st.name})
			}
			return nil, nil, errTerminated
		}
		return nil, nil, err
	}
	r.outSize = -1
	if st.growsData {
		n := -1
		if r.resultSize >= 0 && st.outputIsResult {
			n = r.resultSize
		} else {
			n = jsonSizeHint(out, x.e.opts.MaxPayloadBytes, &st.shapes.out)
		}
		if n > x.e.opts.MaxPayloadBytes {
			return nil, nil, newStateError(ErrDataLimitExceeded, "The state/task '%s' returned a result with a size exceeding the maximum number of bytes service limit.", st.name)
		}
		r.outSize = n
	}
	if _, err := x.addStateEvent(sc, st.exitedDesc, out); err != nil {
		return nil, nil, err
	}
	return out, next, nil
}

func (r *stateRun) applyPath(p *Path, null bool, v any, field string) (any, error) {
	if null {
		return map[string]any{}, nil
	}
	if p == nil {
		return v, nil
	}
	root := v
	if p.context {
		root = r.context()
	}
	out, ok := p.eval(root)
	if !ok {
		return nil, newStateError(ErrRuntime, "An error occurred while executing the state '%s'. Invalid %s '%s' : No results for path: %s", r.st.name, field, p.raw, p.raw)
	}
	return out, nil
}

func (r *stateRun) effectiveInput() (any, error) {
	return r.applyPath(r.st.inputPath, r.st.inputNull, r.input, "path")
}

func (r *stateRun) output(v any) (any, error) {
	return r.applyPath(r.st.outputPath, r.st.outputNull, v, "path")
}

func applyResultPath(rp *Path, discard bool, raw, result any, stateName string) (any, error) {
	if discard {
		return raw, nil
	}
	if rp == nil || len(rp.segs) == 0 {
		return result, nil
	}
	out, err := rp.set(raw, result)
	if err != nil {
		// The input itself is left out of the cause: it may hold personal data.
		return nil, newStateError(ErrResultPathMatchFailure, "Unable to apply ResultPath \"%s\" to the input of state '%s': %v", rp.raw, stateName, err)
	}
	return out, nil
}

func (r *stateRun) inOut() (any, error) {
	eff, err := r.effectiveInput()
	if err != nil {
		return nil, err
	}
	return r.output(eff)
}

func (r *stateRun) pass() (any, error) {
	st := r.st
	eff, err := r.effectiveInput()
	if err != nil {
		return nil, err
	}
	result := eff
	if st.parameters != nil {
		if result, err = st.parameters.eval(eff, r.ctxObj()); err != nil {
			return nil, err
		}
	}
	if st.hasResult {
		result = st.result
	}
	out, err := applyResultPath(st.resultPath, st.resultDiscard, r.input, result, st.name)
	if err != nil {
		return nil, err
	}
	return r.output(out)
}

func (r *stateRun) choice() (any, *state, error) {
	st := r.st
	eff, err := r.effectiveInput()
	if err != nil {
		return nil, nil, err
	}
	var next *state
	ctxObj := r.ctxObj()
	for _, rule := range st.choices {
		ok, err := rule.eval(eff, ctxObj)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			next = rule.nextState
			break
		}
	}
	if next == nil {
		if st.defaultSt == nil {
			return nil, nil, newStateError(ErrNoChoiceMatched, "No Choice Rules matched and no Default was specified in state '%s'", st.name)
		}
		next = st.defaultSt
	}
	out, err := r.output(eff)
	return out, next, err
}

func (r *stateRun) wait(ctx context.Context) (any, error) {
	st := r.st
	eff, err := r.effectiveInput()
	if err != nil {
		return nil, err
	}
	clock := r.x.clock
	var d time.Duration
	switch {
	case st.hasSeconds:
		// Relative to entering the state, so concurrent waits on a virtual
		// clock overlap instead of adding up.
		d = r.entered.Add(time.Duration(st.seconds) * time.Second).Sub(clock.Now())
	case st.hasTimestamp:
		d = st.timestamp.Sub(clock.Now())
	case st.secondsPath != nil:
		v, ok := r.pathValue(st.secondsPath, eff)
		n, isInt := toInt(v)
		if !ok || !isInt || n < 0 {
			return nil, newStateError(ErrRuntime, "The SecondsPath parameter does not reference a valid non-negative integer: %s", st.secondsPath.raw)
		}
		d = r.entered.Add(time.Duration(n) * time.Second).Sub(clock.Now())
	case st.timestampPath != nil:
		v, ok := r.pathValue(st.timestampPath, eff)
		s, isStr := v.(string)
		t, perr := parseTimestamp(s)
		if !ok || !isStr || perr != nil {
			return nil, newStateError(ErrRuntime, "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: %s", st.timestampPath.raw)
		}
		d = t.Sub(clock.Now())
	}
	if err := r.x.sleep(ctx, d); err != nil {
		return nil, errTerminated
	}
	return r.output(eff)
}

func (r *stateRun) pathValue(p *Path, eff any) (any, bool) {
	root := eff
	if p.context {
		root = r.context()
	}
	return p.eval(root)
}

func (r *stateRun) fail() error {
	st := r.st
	name, cause := st.errName, st.cause
	for _, f := range []struct {
		t   *tmpl
		dst *string
		fld string
	}{{st.errorPath, &name, "ErrorPath"}, {st.causePath, &cause, "CausePath"}} {
		if f.t == nil {
			continue
		}
		v, err := f.t.eval(r.input, r.ctxObj())
		if err != nil {
			var se *stateError
			if errors.As(err, &se) && se.Name == ErrParameterPathFailure {
				return newStateError(ErrRuntime, "The %s '%s' could not be found in the input", f.fld, f.t.src)
			}
			return err
		}
		s, ok := v.(string)
		if !ok {
			return newStateError(ErrRuntime, "The %s of state '%s' must resolve to a string, got %s", f.fld, st.name, typeName(v))
		}
		*f.dst = s
	}
	return &stateError{Name: name, Cause: cause}
}

// withRetry runs a Task, Parallel or Map state with its Retry and Catch.
func (r *stateRun) withRetry(ctx context.Context) (any, *state, error) {
	st := r.st
	counts := make([]int, len(st.retry))
	for {
		out, err := r.attempt(ctx)
		if err == nil {
			return out, st.nextSt, nil
		}
		var se *stateError
		if !errors.As(err, &se) {
			return nil, nil, err
		}
		retried := false
		for i, rt := range st.retry {
			if !se.matches(rt.errors) {
				continue
			}
			if counts[i] < rt.maxAttempts {
				delay := retryDelay(rt, counts[i], mrand.Float64)
				counts[i]++
				r.retries++
				r.token, r.ctxCache = "", nil
				if serr := r.x.sleep(ctx, delay); serr != nil {
					return nil, nil, errTerminated
				}
				retried = true
			}
			break
		}
		if retried {
			continue
		}
		for _, c := range st.catch {
			if !se.matches(c.errors) {
				continue
			}
			r.resultSize = -1
			errOut := map[string]any{"Error": se.Name, "Cause": se.Cause}
			out, perr := applyResultPath(c.resultPath, c.discard, r.input, errOut, st.name)
			if perr != nil {
				return nil, nil, perr
			}
			return out, c.nextState, nil
		}
		return nil, nil, se
	}
}

// retryDelay is IntervalSeconds × BackoffRate^attempt, capped by
// MaxDelaySeconds; FULL jitter picks uniformly in [0, delay].
func retryDelay(rt *retrier, attempt int, rnd func() float64) time.Duration {
	secs := rt.interval * math.Pow(rt.backoff, float64(attempt))
	if rt.maxDelay > 0 && secs > rt.maxDelay {
		secs = rt.maxDelay
	}
	if rt.fullJitter {
		secs *= rnd()
	}
	return time.Duration(secs * float64(time.Second))
}

// attempt runs one try of a Task, Parallel or Map state, including its
// Parameters, ResultSelector, ResultPath and OutputPath.
func (r *stateRun) attempt(ctx context.Context) (any, error) {
	st := r.st
	eff, err := r.effectiveInput()
	if err != nil {
		return nil, err
	}
	pathInput := eff
	if st.kind == kindTask && strings.HasSuffix(st.resource, ".waitForTaskToken") {
		r.token = newTaskToken()
		r.ctxCache = nil
	}
	if st.parameters != nil {
		if eff, err = st.parameters.eval(eff, r.ctxObj()); err != nil {
			return nil, err
		}
		if n := jsonSizeHint(eff, r.x.e.opts.MaxPayloadBytes, &st.shapes.param); n > r.x.e.opts.MaxPayloadBytes {
			return nil, newStateError(ErrDataLimitExceeded, "The state input of '%s' after Parameters is larger than the maximum number of bytes service limit.", st.name)
		}
	}
	var result any
	r.resultSize = -1
	switch st.kind {
	case kindTask:
		result, err = r.task(ctx, eff, pathInput)
	case kindParallel:
		result, err = r.parallel(ctx, eff)
	case kindMap:
		result, err = r.mapItems(ctx, eff)
	}
	if err != nil {
		return nil, err
	}
	if st.resultSelector != nil {
		if result, err = st.resultSelector.eval(result, r.ctxObj()); err != nil {
			return nil, err
		}
	}
	out, err := applyResultPath(st.resultPath, st.resultDiscard, r.input, result, st.name)
	if err != nil {
		return nil, err
	}
	return r.output(out)
}

func (r *stateRun) parallel(ctx context.Context, eff any) (any, error) {
	x, st := r.x, r.st
	if err := x.addEvent(r.sc, event{typ: "ParallelStateStarted", name: st.name}); err != nil {
		return nil, err
	}
	startID := r.sc.prev
	results := make([]any, len(st.branches))
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	for i, b := range st.branches {
		wg.Add(1)
		go func(i int, b *machine) {
			defer wg.Done()
			out, err := x.runMachine(bctx, b, eff, &scope{prev: startID})
			if err != nil {
				once.Do(func() { firstErr = err; cancel() })
				return
			}
			results[i] = out
		}(i, b)
	}
	wg.Wait()
	if firstErr != nil {
		if ctx.Err() != nil || errors.Is(firstErr, errTerminated) {
			return nil, errTerminated
		}
		if err := x.addEvent(r.sc, event{typ: "ParallelStateFailed", name: st.name}); err != nil {
			return nil, err
		}
		return nil, firstErr
	}
	if err := x.addEvent(r.sc, event{typ: "ParallelStateSucceeded", name: st.name}); err != nil {
		return nil, err
	}
	return results, nil
}

func (r *stateRun) mapItems(ctx context.Context, eff any) (any, error) {
	x, st := r.x, r.st
	itemsV := eff
	if st.itemsPath != nil {
		v, ok := r.pathValue(st.itemsPath, eff)
		if !ok {
			return nil, newStateError(ErrRuntime, "Invalid path '%s' : No results for path in state '%s'", st.itemsPath.raw, st.name)
		}
		itemsV = v
	}
	items, ok := resolve(itemsV).([]any)
	if !ok {
		return nil, newStateError(ErrRuntime, "Map state '%s': the ItemsPath must reference a JSON array, got %s", st.name, typeName(itemsV))
	}
	limit := st.maxConcurrency
	if st.maxConcurrencyPath != nil {
		v, ok := r.pathValue(st.maxConcurrencyPath, eff)
		n, isInt := toInt(v)
		if !ok || !isInt || n < 0 {
			return nil, newStateError(ErrRuntime, "Map state '%s': MaxConcurrencyPath must reference a non-negative integer", st.name)
		}
		limit = int(n)
	}
	if limit == 0 || limit > x.e.opts.MaxMapConcurrency {
		limit = x.e.opts.MaxMapConcurrency
	}
	if err := x.addRecordErr(r.sc, st.descs.mapStarted, nil, len(items)); err != nil {
		return nil, err
	}
	startID := r.sc.prev
	results := make([]any, len(items))
	// The context object is built once, before the workers share it.
	var baseCtx map[string]any
	itemOnly := false
	if st.itemSelector != nil && st.itemSelector.usesCtx {
		if itemOnly = readsMapItemOnly(st.itemSelector); !itemOnly {
			baseCtx = r.context().(map[string]any)
		}
	}
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next     atomic.Int64
		once     sync.Once
		firstErr error
		wg       sync.WaitGroup
		// The sum of the iterations' output sizes, when all are known.
		sizeSum     atomic.Int64
		sizeUnknown atomic.Bool
	)
	worker := func() {
		defer wg.Done()
		sum, known := 0, true
		defer func() {
			sizeSum.Add(int64(sum))
			if !known {
				sizeUnknown.Store(true)
			}
		}()
		// When the ItemSelector reads only $$.Map.Item.Value and .Index
		// (below them), each worker's iterations share one context object:
		// what the selector takes from it is the item, part of it or the
		// index, never the shared maps.
		// Each iteration runs to its end (a nested Map or Parallel waits
		// for its own) before the worker takes the next, so one scope and
		// one stateRun serve them all.
		var (
			wsc scope
			wr  stateRun
		)
		var ic *itemCtx
		if itemOnly {
			ic = &itemCtx{item: map[string]any{}}
			ic.root = map[string]any{"Map": map[string]any{"Item": ic.item}}
		}
		for {
			i := int(next.Add(1) - 1)
			if i >= len(items) || mctx.Err() != nil {
				return
			}
			wsc = scope{prev: startID}
			sc := &wsc
			if err := x.addRecordErr(sc, st.descs.iterStarted, nil, i); err != nil {
				once.Do(func() { firstErr = err; cancel() })
				return
			}
			out, err := r.iteration(mctx, eff, items[i], i, baseCtx, ic, sc, &wr)
			if err != nil {
				if mctx.Err() != nil && !isStateErr(err) || errors.Is(err, errTerminated) {
					_ = x.addEvent(sc, event{typ: "MapIterationAborted", name: st.name, index: i})
				} else {
					_ = x.addEvent(sc, event{typ: "MapIterationFailed", name: st.name, index: i})
				}
				once.Do(func() { firstErr = err; cancel() })
				return
			}
			results[i] = out
			if wr.outSize >= 0 {
				sum += wr.outSize
			} else {
				known = false
			}
			if err := x.addRecordErr(sc, st.descs.iterSucceeded, nil, i); err != nil {
				once.Do(func() { firstErr = err; cancel() })
				return
			}
		}
	}
	workers := min(limit, len(items))
	if workers == 1 {
		wg.Add(1)
		worker()
	} else {
		for range workers {
			wg.Add(1)
			go worker()
		}
	}
	wg.Wait()
	if firstErr != nil {
		if ctx.Err() != nil || errors.Is(firstErr, errTerminated) {
			return nil, errTerminated
		}
		if err := x.addEvent(r.sc, event{typ: "MapStateFailed", name: st.name}); err != nil {
			return nil, err
		}
		return nil, firstErr
	}
	if err := x.addRecordErr(r.sc, st.descs.mapSucceeded, nil, 0); err != nil {
		return nil, err
	}
	if !sizeUnknown.Load() {
		// [a,b,...]: the items, the commas between them and the brackets.
		r.resultSize = int(sizeSum.Load()) + max(len(results)-1, 0) + 2
	}
	return results, nil
}

func isStateErr(err error) bool {
	var se *stateError
	return errors.As(err, &se)
}

// itemCtx is a Map worker's reused context object {"Map":{"Item":item}}.
type itemCtx struct {
	root, item map[string]any
}

// readsMapItemOnly tells whether every context path of t is a reference
// path below $$.Map.Item.Value or $$.Map.Item.Index, and no intrinsic
// function reads the context object.
func readsMapItemOnly(t *tmpl) bool {
	switch t.kind {
	case tmplPath:
		p := t.path
		if !p.context {
			return true
		}
		if !p.refPath || len(p.segs) < 3 {
			return false
		}
		s := p.segs
		return s[0].kind == segName && s[0].name == "Map" && !s[0].desc &&
			s[1].kind == segName && s[1].name == "Item" && !s[1].desc &&
			s[2].kind == segName && (s[2].name == "Value" || s[2].name == "Index") && !s[2].desc
	case tmplCall:
		return !t.usesCtx
	case tmplObject:
		for _, f := range t.fields {
			if !readsMapItemOnly(f.t) {
				return false
			}
		}
	case tmplArray:
		for _, it := range t.items {
			if !readsMapItemOnly(it) {
				return false
			}
		}
	}
	return true
}

func (r *stateRun) iteration(ctx context.Context, eff, item any, i int, base map[string]any, ic *itemCtx, sc *scope, run *stateRun) (any, error) {
	st := r.st
	input := item
	if st.itemSelector != nil {
		var ctxObj any
		if ic != nil {
			ic.item["Index"], ic.item["Value"] = intValue(int64(i)), item
			ctxObj = ic.root
		} else if base != nil {
			c := make(map[string]any, len(base)+1)
			for k, v := range base {
				c[k] = v
			}
			c["Map"] = map[string]any{"Item": map[string]any{"Index": intNumber(int64(i)), "Value": item}}
			ctxObj = c
		}
		v, err := st.itemSelector.eval(eff, ctxObj)
		if err != nil {
			return nil, err
		}
		input = v
	}
	return r.x.runMachineWith(ctx, st.iterator, input, sc, run)
}

func newTaskToken() string {
	var b [48]byte
	_, _ = rand.Read(b[:])
	return taskTokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

const taskTokenPrefix = "AQB"

// eventLog stores events in chunks, so a long history never gets copied.
// An event's ID is its position plus one.
type eventLog struct {
	chunks [][]record
	n      int
	loc    *time.Location     // the location of the timestamps, from the first event
	descs  map[evDesc]*evDesc // shared type and name pairs of events without a state's own
}

func (l *eventLog) add(ev *event) {
	if ev.desc == nil {
		d, ok := l.descs[evDesc{typ: ev.typ, name: ev.name}]
		if !ok {
			if l.descs == nil {
				l.descs = map[evDesc]*evDesc{}
			}
			d = &evDesc{typ: ev.typ, name: ev.name}
			l.descs[*d] = d
		}
		ev.desc = d
	}
	l.slot(ev.ts).set(ev)
}

// maxChunk is the most records a chunk holds: 512 of 48 bytes make 24 KiB,
// below the runtime's 32 KiB large-object size, so chunks come from size
// classes rather than spans of their own that the scavenger returns to the
// OS and that must be faulted back in.
const maxChunk = 512

// slot appends a zero record, stamped at ts, and returns it.
func (l *eventLog) slot(ts time.Time) *record {
	if len(l.chunks) == 0 || len(l.chunks[len(l.chunks)-1]) == cap(l.chunks[len(l.chunks)-1]) {
		size := 16
		if len(l.chunks) > 0 {
			size = min(2*cap(l.chunks[len(l.chunks)-1]), maxChunk)
		}
		l.chunks = append(l.chunks, make([]record, 0, size))
	}
	if l.loc == nil {
		l.loc = ts.Location()
	}
	last := &l.chunks[len(l.chunks)-1]
	n := len(*last)
	*last = (*last)[:n+1]
	l.n++
	return &(*last)[n]
}
