package devstack

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"dsrflow/internal/dev/asl"
	"dsrflow/internal/workflow"
)

// executions gives every workflow execution a virtual clock of its own
// (Clock) and the task handlers that read it.
//
// The stack itself runs on the wall clock: intake, partner callbacks, the
// reconciler, the dsr commands and the console. Only an execution's clock
// runs ahead, while that execution waits for time, so a request's backup
// wait and follow-up period move that request's dates and nobody else's.
// Production handlers take their clock once, in workflow.Deps, so each
// execution gets its own workflow.Handlers (with a store on the same
// clock), built on its first task and kept until the execution ends (or,
// idle for idleHandlers, rebuilt on its next task). Every task invocation
// is routed, by the execution ARN in its context (asl.ExecutionArnFrom),
// to the handlers of its execution.
type executions struct {
	scale float64
	// start says where the clock of request requestID's new execution
	// starts (never before the wall clock).
	start func(requestID string) time.Time
	// newHandlers builds task handlers on clock.
	newHandlers func(clock func() time.Time) (*workflow.Handlers, error)
	// shared serves tasks that belong to no known execution.
	shared *workflow.Handlers
	holds  *holds

	mu        sync.Mutex
	byArn     map[string]*execution
	byRequest map[string]*execution
	closed    bool
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

// idleHandlers is how long an execution's handlers are kept without a
// task (an execution waiting for a person); its clock is kept as long as
// it runs.
const idleHandlers = 10 * time.Minute

// execution is one running execution's clock and handlers.
type execution struct {
	arn, requestID string
	clock          *Clock
	stop           context.CancelFunc

	mu       sync.Mutex
	handlers *workflow.Handlers
	fns      map[string]lambda.Handler
	lastUsed time.Time
}

func newExecutions(scale float64, start func(string) time.Time, newHandlers func(func() time.Time) (*workflow.Handlers, error),
	shared *workflow.Handlers, hs *holds) *executions {
	ctx, cancel := context.WithCancel(context.Background())
	return &executions{scale: scale, start: start, newHandlers: newHandlers, shared: shared, holds: hs,
		byArn: map[string]*execution{}, byRequest: map[string]*execution{}, ctx: ctx, cancel: cancel}
}

// restartSuffix is the suffix of a restarted execution's name
// (reconcile.ExecutionName: <request ID>-r<n>).
var restartSuffix = regexp.MustCompile(`-r[1-9][0-9]*$`)

// requestOf is the request ID an execution ARN runs for: its name without
// a restart's suffix.
func requestOf(executionArn string) string {
	name := executionArn[strings.LastIndexByte(executionArn, ':')+1:]
	return restartSuffix.ReplaceAllString(name, "")
}

// clockFor is asl.Options.ExecutionClock: a new clock for execution arn,
// dropped with the execution's handlers when it ends.
func (ex *executions) clockFor(arn string) (asl.Clock, func()) {
	id := requestOf(arn)
	e := &execution{arn: arn, requestID: id, clock: NewClock(ex.scale, ex.start(id))}
	ex.mu.Lock()
	defer ex.mu.Unlock()
	if ex.closed {
		return e.clock, nil
	}
	ctx, stop := context.WithCancel(ex.ctx)
	e.stop = stop
	ex.wg.Add(1)
	go func() {
		defer ex.wg.Done()
		e.clock.Run(ctx)
	}()
	ex.dropIdleLocked(time.Now())
	ex.byArn[arn] = e
	ex.byRequest[id] = e
	return e.clock, func() { ex.end(e) }
}

// end forgets an execution that ended and stops its clock.
func (ex *executions) end(e *execution) {
	ex.mu.Lock()
	if ex.byArn[e.arn] == e {
		delete(ex.byArn, e.arn)
	}
	if ex.byRequest[e.requestID] == e {
		delete(ex.byRequest, e.requestID)
	}
	ex.mu.Unlock()
	e.stop()
}

// dropIdleLocked lets go of the handlers of executions without a task for
// idleHandlers; they are built again on their next task.
func (ex *executions) dropIdleLocked(now time.Time) {
	for _, e := range ex.byArn {
		e.mu.Lock()
		if e.handlers != nil && now.Sub(e.lastUsed) > idleHandlers {
			e.handlers, e.fns = nil, nil
		}
		e.mu.Unlock()
	}
}

// lookup returns the running execution arn, or nil.
func (ex *executions) lookup(arn string) *execution {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	return ex.byArn[arn]
}

// clockOf returns the clock of request id's running execution.
func (ex *executions) clockOf(id string) (*Clock, bool) {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	e, ok := ex.byRequest[id]
	if !ok {
		return nil, false
	}
	return e.clock, true
}

// now is request id's business time: its running execution's clock, or
// the wall clock (partnersim.Partner.NowFor).
func (ex *executions) now(id string) time.Time {
	if c, ok := ex.clockOf(id); ok {
		return c.Now()
	}
	return time.Now()
}

// handler returns the task handler of function f: each invocation runs on
// the handlers of its execution. The execution's clock runs at real speed
// while the handler runs (a Lambda's work takes real time, also when a
// timeout is pending), and, for a .waitForTaskToken task, until its token
// is answered (someone else acts: a person enters a code or decides, a
// partner calls back) or the task fails, for at most the stack's
// HumanHold.
func (ex *executions) handler(f workflow.Function) lambda.Handler {
	shared := asl.NewHandler(f.Handler(ex.shared))
	return handlerFunc(func(ctx context.Context, payload []byte) ([]byte, error) {
		info, _ := asl.TaskInfo(ctx)
		e := ex.lookup(info.ExecutionArn)
		if e == nil {
			// Not from a running execution the stack knows (a task
			// still running after its execution ended): the wall clock.
			return shared.Invoke(ctx, payload)
		}
		h, err := ex.taskHandler(e, f)
		if err != nil {
			return nil, err
		}
		running := e.clock.Hold()
		if info.TaskToken != "" {
			ex.holds.hold(e.clock, info.TaskToken)
		}
		out, err := h.Invoke(ctx, payload)
		running()
		if err != nil && info.TaskToken != "" {
			// The task failed: nobody answers its token.
			ex.holds.release(info.TaskToken)
		}
		return out, err
	})
}

// taskHandler returns execution e's handler of f, building e's handlers
// on first use.
func (ex *executions) taskHandler(e *execution, f workflow.Function) (lambda.Handler, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lastUsed = time.Now()
	if e.handlers == nil {
		h, err := ex.newHandlers(e.clock.Now)
		if err != nil {
			return nil, fmt.Errorf("task handlers for %s: %w", e.requestID, err)
		}
		e.handlers, e.fns = h, map[string]lambda.Handler{}
	}
	h, ok := e.fns[f.Name]
	if !ok {
		h = asl.NewHandler(f.Handler(e.handlers))
		e.fns[f.Name] = h
	}
	return h, nil
}

// close stops every execution's clock.
func (ex *executions) close() {
	ex.mu.Lock()
	ex.closed = true
	ex.mu.Unlock()
	ex.cancel()
	ex.wg.Wait()
}

// holds keeps an execution's clock at real speed while one of its task
// tokens is open.
type holds struct {
	max  time.Duration // <0: no holds
	mu   sync.Mutex
	open map[string]func()
}

type taskTokenField struct {
	TaskToken string `json:"taskToken"`
}

// hold holds clock from a task's invocation until its token is answered
// (observe), the task fails, or hs.max has passed.
func (hs *holds) hold(clock *Clock, token string) {
	if hs.max <= 0 {
		return
	}
	release := clock.Hold()
	hs.mu.Lock()
	if old, ok := hs.open[token]; ok {
		old()
	}
	hs.open[token] = release
	hs.mu.Unlock()
	time.AfterFunc(hs.max, func() { hs.release(token) })
}

func (hs *holds) release(token string) {
	hs.mu.Lock()
	release, ok := hs.open[token]
	delete(hs.open, token)
	hs.mu.Unlock()
	if ok {
		release()
	}
}
