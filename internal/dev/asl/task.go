package asl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// taskKind describes how a Task resource is called and recorded.
type taskTarget struct {
	direct       bool   // a Lambda function ARN: LambdaFunction* events
	lambdaInvoke bool   // arn:aws:states:::lambda:invoke
	waitToken    bool   // .waitForTaskToken
	resourceType string // e.g. "lambda", "sqs"
	resource     string // e.g. "invoke.waitForTaskToken"
	resolveKey   string // what is passed to the resolver
}

// isLambdaInvoke reports whether res is arn:<partition>:states:::lambda:invoke
// (optionally .waitForTaskToken).
func isLambdaInvoke(res string) bool {
	parts := strings.SplitN(res, ":", 7)
	return len(parts) == 7 && parts[0] == "arn" && parts[2] == "states" && parts[3] == "" && parts[4] == "" &&
		parts[5] == "lambda" && strings.TrimSuffix(parts[6], ".waitForTaskToken") == "invoke"
}

func parseTarget(res string) taskTarget {
	t := taskTarget{resolveKey: res}
	if parts := strings.SplitN(res, ":", 7); len(parts) == 7 && parts[0] == "arn" && parts[2] == "lambda" && parts[5] == "function" {
		t.direct = true
		return t
	}
	t.waitToken = strings.HasSuffix(res, ".waitForTaskToken")
	base := strings.TrimSuffix(res, ".waitForTaskToken")
	// arn:aws:states:::service:action[.sync]
	parts := strings.SplitN(res, ":", 7)
	if len(parts) >= 7 && parts[2] == "states" {
		t.resourceType = parts[5]
		t.resource = parts[6]
	} else {
		t.resourceType = "unknown"
		t.resource = res
		if len(parts) > 2 {
			t.resourceType = parts[2]
		}
	}
	t.lambdaInvoke = isLambdaInvoke(res)
	t.resolveKey = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(base, ":2"), ".sync"), ".sync:2")
	return t
}

type taskOutcome struct {
	output any
	err    *stateError
}

type pendingTask struct {
	ch   chan taskOutcome
	beat chan struct{}
}

func (r *stateRun) seconds(fixed int64, p *Path, eff any, field string) (int64, error) {
	if p == nil {
		return fixed, nil
	}
	v, ok := r.pathValue(p, eff)
	n, isInt := toInt(v)
	if !ok || !isInt || n <= 0 {
		return 0, newStateError(ErrRuntime, "The %s of state '%s' must reference a positive integer: %s", field, r.st.name, p.raw)
	}
	return n, nil
}

// task invokes the Task's resource once and returns its result.
// pathInput (the input after InputPath) is what TimeoutSecondsPath and
// HeartbeatSecondsPath read.
func (r *stateRun) task(ctx context.Context, eff, pathInput any) (any, error) {
	x, st := r.x, r.st
	tgt := &st.target
	timeout, err := r.seconds(st.timeoutSeconds, st.timeoutPath, pathInput, "TimeoutSecondsPath")
	if err != nil {
		return nil, err
	}
	heartbeat, err := r.seconds(st.heartbeatSeconds, st.heartbeatPath, pathInput, "HeartbeatSecondsPath")
	if err != nil {
		return nil, err
	}
	if heartbeat > 0 && timeout > 0 && heartbeat >= timeout {
		return nil, newStateError(ErrRuntime, "HeartbeatSeconds (%d) must be smaller than TimeoutSeconds (%d) in state '%s'", heartbeat, timeout, st.name)
	}

	// Events.
	failType, timedOutType := "TaskFailed", "TaskTimedOut"
	base := event{resType: tgt.resourceType, resource: tgt.resource}
	if tgt.direct {
		failType, timedOutType = "LambdaFunctionFailed", "LambdaFunctionTimedOut"
	}
	if err := x.addRecordErr(r.sc, st.descs.scheduledDesc(st, x.e.opts.Region, timeout, heartbeat), eff, 0); err != nil {
		return nil, err
	}
	fail := func(typ string, se *stateError) (any, error) {
		ev := base
		ev.typ, ev.errName, ev.cause = typ, se.Name, se.Cause
		if err := x.addEvent(r.sc, ev); err != nil {
			return nil, err
		}
		return nil, se
	}

	// Resolve.
	key := tgt.resolveKey
	var payload any = eff
	if tgt.lambdaInvoke {
		m, _ := resolve(eff).(map[string]any)
		fn, _ := m["FunctionName"].(string)
		if fn == "" {
			return fail("TaskStartFailed", newStateError(ErrRuntime, "The lambda:invoke task of state '%s' needs Parameters.FunctionName", st.name))
		}
		key = fn
		if p, ok := m["Payload"]; ok {
			payload = p
		} else {
			payload = map[string]any{}
		}
	}
	h, rerr := x.e.opts.Resolver.Resolve(key)
	if rerr != nil || h == nil {
		name := ErrTaskFailed
		if tgt.direct || tgt.lambdaInvoke {
			name = "Lambda.ResourceNotFoundException"
		}
		startFailed := "TaskStartFailed"
		if tgt.direct {
			startFailed = "LambdaFunctionStartFailed"
		}
		return fail(startFailed, newStateError(name, "Function not found: %s", key))
	}
	if err := x.addRecordErr(r.sc, st.descs.taskStarted, nil, 0); err != nil {
		return nil, err
	}
	in, err := encodeJSONHint(payload, &st.shapes.payload, 0)
	if err != nil {
		return fail(failType, newStateError(ErrRuntime, "cannot encode the task input: %v", err))
	}

	// Timers. A clock that can run at real speed (Holder) does so from
	// here until the handler returns: its call takes real time, as in AWS,
	// also when the clock otherwise races towards a pending timeout.
	clock := x.clock
	release := func() {}
	if hc, ok := clock.(Holder); ok {
		var once sync.Once
		r := hc.Hold()
		release = func() { once.Do(r) }
		defer release()
	}
	var timeoutC <-chan time.Time
	if timeout > 0 {
		t := clock.NewTimer(time.Duration(timeout) * time.Second)
		defer t.Stop()
		timeoutC = t.C()
	}
	timedOut := func() (any, error) {
		return fail(timedOutType, newStateError(ErrTimeout, "The task of state '%s' timed out after %d seconds.", st.name, timeout))
	}

	var pend *pendingTask
	if tgt.waitToken {
		pend = &pendingTask{ch: make(chan taskOutcome, 1), beat: make(chan struct{}, 1)}
		x.e.register(r.token, pend)
		defer x.e.closeToken(r.token)
	}

	// Invoke, with the Lambda context a function would see. A handler that
	// may be left running (a timeout) or whose task outlives its call (a
	// task token) gets a context canceled when the task ends; otherwise the
	// call returns before the task does, and the execution's context serves.
	parent := ctx
	if timeout > 0 || heartbeat > 0 || pend != nil {
		var cancel context.CancelFunc
		parent, cancel = context.WithCancel(ctx)
		defer cancel()
	}
	reqID := x.e.opts.NewID()
	fnArn := st.resource
	if tgt.lambdaInvoke {
		fnArn = key
	}
	tc := &taskCtx{Context: parent, call: TaskCall{
		StateName: st.name, RetryCount: r.retries, EnteredTime: r.entered,
		ExecutionArn: x.in.ExecutionArn, StateMachineArn: x.in.StateMachineArn,
		Resource: st.resource, TaskToken: r.token,
	}, lc: lambdacontext.LambdaContext{AwsRequestID: reqID, InvokedFunctionArn: fnArn}}
	hctx := lambdacontext.NewContext(tc, &tc.lc)
	limit := x.e.opts.MaxPayloadBytes
	var out handlerOutput
	var herr error
	if timeoutC == nil {
		out, herr = x.e.callHandler(hctx, h, in, limit, tgt.lambdaInvoke)
		release()
	} else {
		// The goroutine writes its own variables, so out and herr stay
		// on the stack on the path without a timeout.
		var (
			gOut handlerOutput
			gErr error
		)
		done := make(chan struct{})
		go func() {
			gOut, gErr = x.e.callHandler(hctx, h, in, limit, tgt.lambdaInvoke)
			close(done)
		}()
		select {
		case <-done:
			out, herr = gOut, gErr
		case <-timeoutC:
			// A handler that finished as the timeout fired finished.
			select {
			case <-done:
				out, herr = gOut, gErr
			default:
				return timedOut()
			}
		case <-ctx.Done():
			return nil, errTerminated
		}
		release()
	}
	if ctx.Err() != nil {
		return nil, errTerminated
	}
	if herr != nil {
		return fail(failType, handlerError(herr))
	}
	if out.size > limit {
		return fail(failType, newStateError(ErrDataLimitExceeded, "The task of state '%s' returned %d bytes, more than the %d-byte quota.", st.name, out.size, limit))
	}
	result := out.result
	if out.invalid {
		return fail(failType, newStateError(ErrRuntime, "The task of state '%s' returned invalid JSON", st.name))
	}
	if tgt.lambdaInvoke {
		result = lambdaInvokeOutput(result, reqID)
	}

	if pend != nil {
		ev := base
		ev.typ, ev.payload, ev.hasPay = "TaskSubmitted", result, true
		if err := x.addEvent(r.sc, ev); err != nil {
			return nil, err
		}
		var hbTimer Timer
		var hbC <-chan time.Time
		if heartbeat > 0 {
			hbTimer = clock.NewTimer(time.Duration(heartbeat) * time.Second)
			hbC = hbTimer.C()
		}
		defer func() {
			if hbTimer != nil {
				hbTimer.Stop()
			}
		}()
	wait:
		for {
			select {
			case o := <-pend.ch:
				if o.err != nil {
					return fail(failType, o.err)
				}
				result = o.output
				break wait
			case <-pend.beat:
				if hbTimer != nil {
					hbTimer.Stop()
					hbTimer = clock.NewTimer(time.Duration(heartbeat) * time.Second)
					hbC = hbTimer.C()
				}
			case <-hbC:
				return fail(timedOutType, newStateError(ErrHeartbeatTimeout, "The task of state '%s' sent no heartbeat for %d seconds.", st.name, heartbeat))
			case <-timeoutC:
				// A token answered as the timeout fired was answered.
				select {
				case o := <-pend.ch:
					if o.err != nil {
						return fail(failType, o.err)
					}
					result = o.output
					break wait
				default:
					return timedOut()
				}
			case <-ctx.Done():
				return nil, errTerminated
			}
		}
	}

	if err := x.addRecordErr(r.sc, st.descs.taskSucceeded, result, 0); err != nil {
		return nil, err
	}
	return result, nil
}

func lambdaInvokeOutput(payload any, reqID string) any {
	return map[string]any{
		"ExecutedVersion": "$LATEST",
		"Payload":         payload,
		"SdkHttpMetadata": map[string]any{
			"AllHttpHeaders": map[string]any{
				"X-Amz-Executed-Version": []any{"$LATEST"},
				"x-amzn-RequestId":       []any{reqID},
				"Content-Type":           []any{"application/json"},
			},
			"HttpHeaders": map[string]any{
				"X-Amz-Executed-Version": "$LATEST",
				"x-amzn-RequestId":       reqID,
				"Content-Type":           "application/json",
			},
			"HttpStatusCode": json.Number("200"),
		},
		"SdkResponseMetadata": map[string]any{"RequestId": reqID},
		"StatusCode":          json.Number("200"),
	}
}

// callHandler invokes a handler and reads its output (see readOutput),
// turning a panic into the error the Lambda Go runtime would report.
//
// Handlers made by aws-lambda-go's lambda.NewHandler return bytes that alias
// a pooled buffer, reused by the handler's next invocation: like a Lambda
// function instance, each of them therefore runs one invocation at a time
// here, and the output is decoded before the next may start, so it needs
// no copy (NewHandler makes handlers that run concurrently). Other Handler
// implementations run concurrently; the engine only reads their outputs.
func (e *Engine) callHandler(ctx context.Context, h lambda.Handler, in []byte, limit int, textOK bool) (out handlerOutput, err error) {
	mu := e.handlerLock(h)
	if mu != nil {
		mu.Lock()
		defer mu.Unlock()
	}
	defer func() {
		if p := recover(); p != nil {
			out = handlerOutput{}
			err = messages.InvokeResponse_Error{Message: fmt.Sprint(p), Type: errorTypeName(p)}
		}
	}()
	b, err := h.Invoke(ctx, in)
	if err != nil {
		return handlerOutput{}, err
	}
	return readOutput(b, limit, textOK), nil
}

// handlerOutput is what the engine takes from a handler's output bytes.
type handlerOutput struct {
	size    int  // their length
	result  any  // decoded, unless size is over the quota
	invalid bool // not JSON (and not to be taken as text)
}

// readOutput decodes a handler's output of at most limit bytes; empty
// output is null. Output that is not JSON is a string when textOK (the
// Payload of lambda:invoke), else invalid.
func readOutput(b []byte, limit int, textOK bool) handlerOutput {
	o := handlerOutput{size: len(b)}
	if o.size > limit {
		return o
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return o // null
	}
	// An object or array written as the engine would write it is kept
	// raw (copied: a handler may reuse its buffer) and decoded on demand.
	if t := bytes.Trim(b, " \t\r\n"); canonicalJSON(t) {
		o.result = &rawJSON{b: bytes.Clone(t)}
		return o
	}
	v, err := decodeJSON(b)
	switch {
	case err == nil:
		o.result = v
	case textOK:
		o.result = string(b)
	default:
		o.invalid = true
	}
	return o
}

const lambdaPkg = "github.com/aws/aws-lambda-go/lambda"

func (e *Engine) handlerLock(h lambda.Handler) *sync.Mutex {
	// The last handler looked up is remembered: a Map calls the same one
	// over and over. Only comparable handlers are remembered, so comparing
	// h with it cannot panic (values of different types compare unequal).
	if last := e.lastLock.Load(); last != nil && last.h == h {
		return last.mu
	}
	mu := e.lookupHandlerLock(h)
	if mu != nil {
		e.lastLock.Store(&handlerMutex{h: h, mu: mu})
	}
	return mu
}

// handlerMutex is a handler and its lock.
type handlerMutex struct {
	h  lambda.Handler
	mu *sync.Mutex
}

func (e *Engine) lookupHandlerLock(h lambda.Handler) *sync.Mutex {
	t := reflect.TypeOf(h)
	base := t
	if base.Kind() == reflect.Pointer {
		base = base.Elem()
	}
	if base.PkgPath() != lambdaPkg || !t.Comparable() {
		return nil
	}
	if v, ok := e.handlerLocks.Load(h); ok {
		return v.(*sync.Mutex)
	}
	v, _ := e.handlerLocks.LoadOrStore(h, &sync.Mutex{})
	return v.(*sync.Mutex)
}

// errorTypeName names an error like aws-lambda-go's runtime: the Go type
// name, dereferencing a pointer.
func errorTypeName(v any) string {
	t := reflect.TypeOf(v)
	if t == nil {
		return "error"
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

// handlerError converts a handler's error to the Step Functions error: a
// *TaskFailure as it is, any other error with the Lambda errorType as the
// name and the Lambda error JSON as the cause.
func handlerError(err error) *stateError {
	var tf *TaskFailure
	if errors.As(err, &tf) && tf != nil {
		return &stateError{Name: tf.Name, Cause: tf.Cause}
	}
	var ive messages.InvokeResponse_Error
	var pive *messages.InvokeResponse_Error
	switch {
	case errors.As(err, &ive):
	case errors.As(err, &pive) && pive != nil:
		ive = *pive
	default:
		ive = messages.InvokeResponse_Error{Message: err.Error(), Type: errorTypeName(err)}
	}
	cause := map[string]any{"errorMessage": ive.Message, "errorType": ive.Type}
	if len(ive.StackTrace) > 0 {
		cause["stackTrace"] = ive.StackTrace
	}
	b, _ := json.Marshal(cause)
	name := ive.Type
	if name == "" {
		name = "Lambda.Unknown"
	}
	return &stateError{Name: name, Cause: string(b)}
}

// ---- task tokens

func (e *Engine) register(token string, p *pendingTask) {
	e.mu.Lock()
	e.pending[token] = p
	e.mu.Unlock()
}

func (e *Engine) closeToken(token string) {
	e.mu.Lock()
	delete(e.pending, token)
	e.markClosed(token)
	e.mu.Unlock()
}

// closedTokenMemory bounds how many finished tokens are remembered (to
// answer TaskTimedOut rather than TaskDoesNotExist).
const closedTokenMemory = 100000

// markClosed records a finished token; e.mu must be held.
func (e *Engine) markClosed(token string) {
	if _, ok := e.closed[token]; ok {
		return
	}
	e.closed[token] = struct{}{}
	e.closedOrder = append(e.closedOrder, token)
	if len(e.closedOrder) > closedTokenMemory {
		delete(e.closed, e.closedOrder[0])
		e.closedOrder = e.closedOrder[1:]
	}
}

func (e *Engine) lookupToken(token string) (*pendingTask, error) {
	if token == "" || len(token) > 2048 {
		return nil, apiError("InvalidToken", "the task token is empty or longer than 2048 characters")
	}
	e.mu.Lock()
	p, ok := e.pending[token]
	_, closed := e.closed[token]
	e.mu.Unlock()
	switch {
	case ok:
		return p, nil
	case closed:
		return nil, apiError("TaskTimedOut", "the task for this token has already finished or timed out")
	case !strings.HasPrefix(token, taskTokenPrefix):
		return nil, apiError("InvalidToken", "the task token is not a token issued by this engine")
	}
	return nil, apiError("TaskDoesNotExist", "no task with this token")
}

func (e *Engine) complete(token string, o taskOutcome) error {
	p, err := e.lookupToken(token)
	if err != nil {
		return err
	}
	e.mu.Lock()
	if _, still := e.pending[token]; !still {
		e.mu.Unlock()
		return apiError("TaskTimedOut", "the task for this token has already finished or timed out")
	}
	delete(e.pending, token)
	e.markClosed(token)
	e.mu.Unlock()
	p.ch <- o
	return nil
}

// SendTaskSuccess completes a .waitForTaskToken task with output.
func (e *Engine) SendTaskSuccess(taskToken string, output json.RawMessage) error {
	if _, err := e.lookupToken(taskToken); err != nil {
		return err
	}
	if len(output) > e.opts.MaxPayloadBytes {
		return apiError("InvalidOutput", "the output is %d bytes, more than the %d-byte quota", len(output), e.opts.MaxPayloadBytes)
	}
	v, err := decodeJSON(output)
	if err != nil {
		return apiError("InvalidOutput", "the output is not valid JSON: %v", err)
	}
	return e.complete(taskToken, taskOutcome{output: v})
}

// SendTaskFailure fails a .waitForTaskToken task with an error and cause.
func (e *Engine) SendTaskFailure(taskToken, errName, cause string) error {
	return e.complete(taskToken, taskOutcome{err: &stateError{Name: errName, Cause: cause}})
}

// SendTaskHeartbeat resets the heartbeat timer of a waiting task.
func (e *Engine) SendTaskHeartbeat(taskToken string) error {
	p, err := e.lookupToken(taskToken)
	if err != nil {
		return err
	}
	select {
	case p.beat <- struct{}{}:
	default:
	}
	return nil
}
