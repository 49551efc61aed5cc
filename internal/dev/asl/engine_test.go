package asl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

const fnArn = "arn:aws:lambda:us-east-1:123456789012:function:"

func TestInputOutputProcessing(t *testing.T) {
	tests := []struct {
		name, def, input, want string
	}{
		{
			// "ResultPath" example from the Step Functions developer guide.
			name:  "ResultPath keeps input",
			def:   `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnArn + `hello","ResultPath":"$.taskresult","End":true}}}`,
			input: `{"comment":"This is a test of the input and output of a Task state.","details":"Default example","who":"AWS Step Functions"}`,
			want:  `{"comment":"This is a test of the input and output of a Task state.","details":"Default example","who":"AWS Step Functions","taskresult":"Hello, AWS Step Functions!"}`,
		},
		{
			name:  "ResultPath null discards the result",
			def:   `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnArn + `hello","ResultPath":null,"End":true}}}`,
			input: `{"who":"AWS Step Functions"}`,
			want:  `{"who":"AWS Step Functions"}`,
		},
		{
			name:  "ResultPath $ replaces input",
			def:   `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnArn + `hello","End":true}}}`,
			input: `{"who":"AWS Step Functions"}`,
			want:  `"Hello, AWS Step Functions!"`,
		},
		{
			name:  "InputPath selects, Parameters shapes, OutputPath filters",
			def:   `{"StartAt":"P","States":{"P":{"Type":"Pass","InputPath":"$.dataset2","Parameters":{"first.$":"$.val1","static":"s","nested":{"all.$":"$"}},"ResultPath":"$.res","OutputPath":"$.res","End":true}}}`,
			input: `{"comment":"Example for InputPath","dataset1":{"val1":1,"val2":2,"val3":3},"dataset2":{"val1":"a","val2":"b","val3":"c"}}`,
			want:  `{"first":"a","static":"s","nested":{"all":{"val1":"a","val2":"b","val3":"c"}}}`,
		},
		{
			name:  "ResultSelector picks from the task result",
			def:   `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnArn + `obj","ResultSelector":{"kept.$":"$.a","const":1},"ResultPath":"$.r","End":true}}}`,
			input: `{"x":1}`,
			want:  `{"x":1,"r":{"kept":"A","const":1}}`,
		},
		{
			name:  "InputPath and OutputPath null",
			def:   `{"StartAt":"P","States":{"P":{"Type":"Pass","InputPath":null,"ResultPath":"$.seen","OutputPath":"$","Next":"Q"},"Q":{"Type":"Pass","OutputPath":null,"End":true}}}`,
			input: `{"x":1}`,
			want:  `{}`,
		},
		{
			name:  "Pass Result with nested ResultPath",
			def:   `{"StartAt":"P","States":{"P":{"Type":"Pass","Result":{"k":[1,2]},"ResultPath":"$.a.b.c","End":true}}}`,
			input: `{"a":{"keep":true}}`,
			want:  `{"a":{"keep":true,"b":{"c":{"k":[1,2]}}}}`,
		},
		{
			name:  "Parameters with intrinsic and array",
			def:   `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"greeting.$":"States.Format('Hi {}', $.name)","list":[{"v.$":"$.name"},2]},"End":true}}}`,
			input: `{"name":"Ann"}`,
			want:  `{"greeting":"Hi Ann","list":[{"v":"Ann"},2]}`,
		},
		{
			name:  "Indefinite path in Parameters yields an array",
			def:   `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"ids.$":"$.items[*].id"},"End":true}}}`,
			input: `{"items":[{"id":1},{"id":2}]}`,
			want:  `{"ids":[1,2]}`,
		},
		{
			name:  "large integers keep their digits",
			def:   `{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`,
			input: `{"id":12345678901234567890,"f":1.50}`,
			want:  `{"id":12345678901234567890,"f":1.5}`,
		},
	}
	h := Handlers{
		"hello": handler(func(in map[string]any) (string, error) { return fmt.Sprintf("Hello, %v!", in["who"]), nil }),
		"obj":   handler(func() (map[string]string, error) { return map[string]string{"a": "A", "b": "B"}, nil }),
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, x := run(t, tt.def, tt.input, h)
			wantSuccess(t, res, x, tt.want)
		})
	}
}

func TestPathFailures(t *testing.T) {
	tests := []struct {
		name, def, input, wantErr string
	}{
		{"InputPath missing", `{"StartAt":"P","States":{"P":{"Type":"Pass","InputPath":"$.nope","End":true}}}`, `{}`, ErrRuntime},
		{"OutputPath missing", `{"StartAt":"P","States":{"P":{"Type":"Pass","OutputPath":"$.nope","End":true}}}`, `{}`, ErrRuntime},
		{"Parameters path missing", `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"a.$":"$.nope"},"End":true}}}`, `{}`, ErrParameterPathFailure},
		{"ResultPath on a string", `{"StartAt":"P","States":{"P":{"Type":"Pass","Result":1,"ResultPath":"$.a","End":true}}}`, `"text"`, ErrResultPathMatchFailure},
		{"intrinsic failure", `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"a.$":"States.ArrayLength($.s)"},"End":true}}}`, `{"s":"x"}`, ErrIntrinsicFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, x := run(t, tt.def, tt.input, nil)
			wantFailure(t, res, x, tt.wantErr)
		})
	}
}

func TestContextObject(t *testing.T) {
	def := `{"StartAt":"First","States":{
	  "First":{"Type":"Pass","Parameters":{
	    "id.$":"$$.Execution.Id","name.$":"$$.Execution.Name","input.$":"$$.Execution.Input","role.$":"$$.Execution.RoleArn",
	    "start.$":"$$.Execution.StartTime","sm.$":"$$.StateMachine.Id","smName.$":"$$.StateMachine.Name",
	    "state.$":"$$.State.Name","entered.$":"$$.State.EnteredTime","retry.$":"$$.State.RetryCount"},"Next":"M"},
	  "M":{"Type":"Map","ItemsPath":"$.input.items","ItemSelector":{"idx.$":"$$.Map.Item.Index","val.$":"$$.Map.Item.Value","state.$":"$$.State.Name"},
	    "ItemProcessor":{"StartAt":"I","States":{"I":{"Type":"Pass","End":true}}},"ResultPath":"$.mapped","End":true}}}`
	res, x := run(t, def, `{"items":["a","b"]}`, nil)
	wantSuccess(t, res, x, `{"id":"arn:aws:states:us-east-1:123456789012:execution:test:exec1","name":"exec1",
	  "input":{"items":["a","b"]},"role":"arn:aws:iam::123456789012:role/test","start":"2024-05-01T12:00:00.000Z",
	  "sm":"arn:aws:states:us-east-1:123456789012:stateMachine:test","smName":"test","state":"First",
	  "entered":"2024-05-01T12:00:00.000Z","retry":0,
	  "mapped":[{"idx":0,"val":"a","state":"M"},{"idx":1,"val":"b","state":"M"}]}`)
}

type PartnerUnavailable struct{ Partner string }

func (e *PartnerUnavailable) Error() string { return "partner unavailable: " + e.Partner }

type plainError struct{}

func (plainError) Error() string { return "plain" }

func TestTaskErrorNames(t *testing.T) {
	tests := []struct {
		name      string
		fn        any
		wantErr   string
		wantCause string
	}{
		{"pointer error type", func() error { return &PartnerUnavailable{Partner: "p1"} }, "PartnerUnavailable", `{"errorMessage":"partner unavailable: p1","errorType":"PartnerUnavailable"}`},
		{"value error type", func() error { return plainError{} }, "plainError", `{"errorMessage":"plain","errorType":"plainError"}`},
		{"errors.New", func() error { return errors.New("boom") }, "errorString", `{"errorMessage":"boom","errorType":"errorString"}`},
		{"InvokeResponse_Error keeps its type", func() error {
			return messages.InvokeResponse_Error{Type: "Custom.Error", Message: "m"}
		}, "Custom.Error", `{"errorMessage":"m","errorType":"Custom.Error"}`},
		{"panic", func() error { panic("oops") }, "string", `{"errorMessage":"oops","errorType":"string"}`},
	}
	for _, tt := range tests {
		for _, resource := range []string{"direct", "invoke"} {
			t.Run(tt.name+"/"+resource, func(t *testing.T) {
				def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnArn + `f","End":true}}}`
				if resource == "invoke" {
					def = `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"f","Payload.$":"$"},"End":true}}}`
				}
				res, x := run(t, def, `{}`, Handlers{"f": handler(tt.fn)})
				wantFailure(t, res, x, tt.wantErr)
				if !jsonEq(t, []byte(res.Cause), tt.wantCause) {
					t.Errorf("cause = %s, want %s", res.Cause, tt.wantCause)
				}
			})
		}
	}
}

func TestTaskTargets(t *testing.T) {
	tests := []struct {
		res                         string
		direct, invoke, wait        bool
		resourceType, resource, key string
	}{
		{"arn:aws:lambda:us-east-1:123456789012:function:f", true, false, false, "", "", "arn:aws:lambda:us-east-1:123456789012:function:f"},
		{"arn:aws-cn:lambda:cn-north-1:123456789012:function:f:prod", true, false, false, "", "", "arn:aws-cn:lambda:cn-north-1:123456789012:function:f:prod"},
		{"arn:aws:states:::lambda:invoke", false, true, false, "lambda", "invoke", "arn:aws:states:::lambda:invoke"},
		{"arn:aws-us-gov:states:::lambda:invoke.waitForTaskToken", false, true, true, "lambda", "invoke.waitForTaskToken", "arn:aws-us-gov:states:::lambda:invoke"},
		{"arn:aws:states:::sqs:sendMessage.waitForTaskToken", false, false, true, "sqs", "sendMessage.waitForTaskToken", "arn:aws:states:::sqs:sendMessage"},
		{"arn:aws:states:::states:startExecution.sync:2", false, false, false, "states", "startExecution.sync:2", "arn:aws:states:::states:startExecution"},
		{"arn:aws:states:::dynamodb:putItem", false, false, false, "dynamodb", "putItem", "arn:aws:states:::dynamodb:putItem"},
	}
	for _, tt := range tests {
		got := parseTarget(tt.res)
		if got.direct != tt.direct || got.lambdaInvoke != tt.invoke || got.waitToken != tt.wait || got.resourceType != tt.resourceType || got.resource != tt.resource || got.resolveKey != tt.key {
			t.Errorf("parseTarget(%q) = %+v", tt.res, got)
		}
	}
}

func TestLambdaInvokeOutputShape(t *testing.T) {
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
	  "Parameters":{"FunctionName":"arn:aws:lambda:us-east-1:123456789012:function:double:$LATEST","Payload":{"n.$":"$.n"}},
	  "ResultSelector":{"payload.$":"$.Payload","status.$":"$.StatusCode","version.$":"$.ExecutedVersion","meta.$":"$.SdkHttpMetadata.HttpStatusCode"},"End":true}}}`
	h := Handlers{"double": handler(func(in struct{ N int }) (map[string]int, error) { return map[string]int{"n": in.N * 2}, nil })}
	res, x := run(t, def, `{"n":21}`, h)
	wantSuccess(t, res, x, `{"payload":{"n":42},"status":200,"version":"$LATEST","meta":200}`)
	var types []string
	for _, ev := range x.History() {
		types = append(types, ev.Type)
		if ev.Type == "TaskScheduled" {
			d := ev.TaskScheduledEventDetails
			if d.ResourceType != "lambda" || d.Resource != "invoke" || d.Region != "us-east-1" {
				t.Errorf("TaskScheduled details = %+v", d)
			}
			if !jsonEq(t, []byte(d.Parameters), `{"FunctionName":"arn:aws:lambda:us-east-1:123456789012:function:double:$LATEST","Payload":{"n":21}}`) {
				t.Errorf("parameters = %s", d.Parameters)
			}
		}
	}
	want := "ExecutionStarted TaskStateEntered TaskScheduled TaskStarted TaskSucceeded TaskStateExited ExecutionSucceeded"
	if got := strings.Join(types, " "); got != want {
		t.Errorf("history = %s\nwant      %s", got, want)
	}
}

func TestHistoryShape(t *testing.T) {
	def := `{"StartAt":"P","States":{"P":{"Type":"Pass","Next":"T"},"T":{"Type":"Task","Resource":"` + fnArn + `f","TimeoutSeconds":30,"End":true}}}`
	res, x := run(t, def, `{"a":1}`, Handlers{"f": handler(func(in any) (any, error) { return in, nil })})
	wantSuccess(t, res, x, `{"a":1}`)
	hist := x.History()
	want := []string{"ExecutionStarted", "PassStateEntered", "PassStateExited", "TaskStateEntered", "LambdaFunctionScheduled",
		"LambdaFunctionStarted", "LambdaFunctionSucceeded", "TaskStateExited", "ExecutionSucceeded"}
	if len(hist) != len(want) {
		t.Fatalf("history %v, want %v", historyTypes(x), want)
	}
	for i, ev := range hist {
		if ev.Type != want[i] {
			t.Errorf("event %d type %s, want %s", i, ev.Type, want[i])
		}
		if ev.ID != int64(i+1) || ev.PreviousEventID != int64(i) {
			t.Errorf("event %d id=%d prev=%d, want %d %d", i, ev.ID, ev.PreviousEventID, i+1, i)
		}
	}
	if d := hist[0].ExecutionStartedEventDetails; d == nil || d.Input != `{"a":1}` || d.RoleArn != "arn:aws:iam::123456789012:role/test" {
		t.Errorf("ExecutionStarted details %+v", d)
	}
	if d := hist[1].StateEnteredEventDetails; d == nil || d.Name != "P" || d.Input != `{"a":1}` {
		t.Errorf("PassStateEntered details %+v", d)
	}
	if d := hist[4].LambdaFunctionScheduledEventDetails; d == nil || d.Resource != fnArn+"f" || d.TimeoutInSeconds == nil || *d.TimeoutInSeconds != 30 {
		t.Errorf("LambdaFunctionScheduled details %+v", d)
	}
	if d := hist[8].ExecutionSucceededEventDetails; d == nil || d.Output != `{"a":1}` {
		t.Errorf("ExecutionSucceeded details %+v", d)
	}
	// The JSON shape uses the AWS member names.
	b, _ := json.Marshal(hist[1])
	for _, key := range []string{`"timestamp"`, `"type":"PassStateEntered"`, `"id":2`, `"previousEventId":1`, `"stateEnteredEventDetails":{"name":"P","input":"{\"a\":1}"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("event JSON %s lacks %s", b, key)
		}
	}
}

func TestRetryThenSucceed(t *testing.T) {
	var calls atomic.Int32
	h := Handlers{"flaky": handler(func() (string, error) {
		if calls.Add(1) < 3 {
			return "", &PartnerUnavailable{Partner: "p"}
		}
		return "ok", nil
	})}
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnArn + `flaky",
	  "Retry":[{"ErrorEquals":["Other"],"MaxAttempts":5},{"ErrorEquals":["PartnerUnavailable"],"IntervalSeconds":2,"BackoffRate":3,"MaxAttempts":3}],
	  "Parameters":{"retry.$":"$$.State.RetryCount"},"End":true}}}`
	sm, _ := Parse([]byte(def))
	clock := VirtualClock(testStart)
	e := NewEngine(Options{Clock: clock, Resolver: h})
	res, x := runOn(t, e, sm, `{}`)
	wantSuccess(t, res, x, `"ok"`)
	if calls.Load() != 3 {
		t.Errorf("calls = %d, want 3", calls.Load())
	}
	// Delays 2s then 6s on the virtual clock.
	if got := clock.Now().Sub(testStart); got != 8*time.Second {
		t.Errorf("virtual time passed = %v, want 8s", got)
	}
	var retries []string
	for _, ev := range x.History() {
		if ev.Type == "LambdaFunctionScheduled" {
			retries = append(retries, ev.LambdaFunctionScheduledEventDetails.Input)
		}
	}
	if strings.Join(retries, " ") != `{"retry":0} {"retry":1} {"retry":2}` {
		t.Errorf("inputs per attempt = %v", retries)
	}
}

func TestRetryExhaustedThenCatch(t *testing.T) {
	var calls atomic.Int32
	h := Handlers{"bad": handler(func() error { calls.Add(1); return &PartnerUnavailable{Partner: "p"} })}
	def := `{"StartAt":"T","States":{
	  "T":{"Type":"Task","Resource":"` + fnArn + `bad","Retry":[{"ErrorEquals":["States.ALL"],"IntervalSeconds":1,"MaxAttempts":2}],
	    "Catch":[{"ErrorEquals":["Nope"],"Next":"X"},{"ErrorEquals":["States.TaskFailed"],"ResultPath":"$.error","Next":"Handled"}],"End":true},
	  "X":{"Type":"Fail","Error":"Wrong"},
	  "Handled":{"Type":"Pass","End":true}}}`
	res, x := run(t, def, `{"keep":1}`, h)
	wantSuccess(t, res, x, `{"keep":1,"error":{"Error":"PartnerUnavailable","Cause":"{\"errorMessage\":\"partner unavailable: p\",\"errorType\":\"PartnerUnavailable\"}"}}`)
	if calls.Load() != 3 {
		t.Errorf("calls = %d, want 3 (1 + 2 retries)", calls.Load())
	}
}

func TestRetryDelay(t *testing.T) {
	half := func() float64 { return 0.5 }
	tests := []struct {
		name    string
		r       retrier
		attempt int
		want    time.Duration
	}{
		{"first", retrier{interval: 1, backoff: 2}, 0, time.Second},
		{"third", retrier{interval: 3, backoff: 2}, 2, 12 * time.Second},
		{"fractional backoff", retrier{interval: 2, backoff: 1.5}, 2, 4500 * time.Millisecond},
		{"capped", retrier{interval: 10, backoff: 2, maxDelay: 15}, 3, 15 * time.Second},
		{"full jitter", retrier{interval: 4, backoff: 2, fullJitter: true}, 1, 4 * time.Second},
		{"jitter after cap", retrier{interval: 10, backoff: 2, maxDelay: 15, fullJitter: true}, 3, 7500 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := retryDelay(&tt.r, tt.attempt, half); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
	r := retrier{interval: 5, backoff: 2, maxDelay: 30, fullJitter: true}
	for i := range 200 {
		d := retryDelay(&r, i%6, func() float64 { return float64(i) / 200 })
		if d < 0 || d > 30*time.Second {
			t.Fatalf("jittered delay %v outside [0, 30s]", d)
		}
	}
}

func TestTerminalErrorsAreNotCaught(t *testing.T) {
	def := `{"StartAt":"T","States":{
	  "T":{"Type":"Task","Resource":"` + fnArn + `f","InputPath":"$.missing","Retry":[{"ErrorEquals":["States.ALL"]}],"Catch":[{"ErrorEquals":["States.ALL"],"Next":"C"}],"End":true},
	  "C":{"Type":"Succeed"}}}`
	res, x := run(t, def, `{}`, Handlers{"f": handler(func() error { return nil })})
	wantFailure(t, res, x, ErrRuntime)
}

func TestCatchResultPathVariants(t *testing.T) {
	tests := []struct {
		resultPath, want string
	}{
		{``, `{"Error":"errorString","Cause":"{\"errorMessage\":\"x\",\"errorType\":\"errorString\"}"}`},
		{`,"ResultPath":null`, `{"in":1}`},
		{`,"ResultPath":"$.err.info"`, `{"in":1,"err":{"info":{"Error":"errorString","Cause":"{\"errorMessage\":\"x\",\"errorType\":\"errorString\"}"}}}`},
	}
	for _, tt := range tests {
		def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnArn + `f","Catch":[{"ErrorEquals":["States.ALL"],"Next":"C"` + tt.resultPath + `}],"End":true},"C":{"Type":"Pass","End":true}}}`
		res, x := run(t, def, `{"in":1}`, Handlers{"f": handler(func() error { return errors.New("x") })})
		wantSuccess(t, res, x, tt.want)
	}
}

func TestFailState(t *testing.T) {
	tests := []struct {
		name, state, input, wantErr, wantCause string
	}{
		{"static", `{"Type":"Fail","Error":"Bad","Cause":"because"}`, `{}`, "Bad", "because"},
		{"paths", `{"Type":"Fail","ErrorPath":"$.e","CausePath":"$.c"}`, `{"e":"E1","c":"C1"}`, "E1", "C1"},
		{"intrinsic", `{"Type":"Fail","Error":"X","CausePath":"States.Format('id {}', $.id)"}`, `{"id":7}`, "X", "id 7"},
		{"path to non-string", `{"Type":"Fail","ErrorPath":"$.e"}`, `{"e":1}`, ErrRuntime, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, x := run(t, `{"StartAt":"F","States":{"F":`+tt.state+`}}`, tt.input, nil)
			wantFailure(t, res, x, tt.wantErr)
			if tt.wantCause != "" && res.Cause != tt.wantCause {
				t.Errorf("cause = %q, want %q", res.Cause, tt.wantCause)
			}
		})
	}
}

func TestParallel(t *testing.T) {
	def := `{"StartAt":"P","States":{"P":{"Type":"Parallel","ResultPath":"$.out","ResultSelector":{"a.$":"$[0]","b.$":"$[1].v"},"End":true,"Branches":[
	  {"StartAt":"A","States":{"A":{"Type":"Pass","Parameters":{"x.$":"$.x"},"End":true}}},
	  {"StartAt":"B","States":{"B":{"Type":"Task","Resource":"` + fnArn + `inc","End":true}}}]}}}`
	h := Handlers{"inc": handler(func(in struct{ X int }) (map[string]int, error) { return map[string]int{"v": in.X + 1}, nil })}
	res, x := run(t, def, `{"x":1}`, h)
	wantSuccess(t, res, x, `{"x":1,"out":{"a":{"x":1},"b":2}}`)
	types := strings.Join(historyTypes(x), " ")
	for _, want := range []string{"ParallelStateEntered ParallelStateStarted", "ParallelStateSucceeded ParallelStateExited"} {
		if !strings.Contains(types, want) {
			t.Errorf("history lacks %q: %s", want, types)
		}
	}
}

func TestParallelFailureCancelsAndCatches(t *testing.T) {
	def := `{"StartAt":"P","States":{"P":{"Type":"Parallel","Catch":[{"ErrorEquals":["Boom"],"Next":"C"}],"End":true,"Branches":[
	  {"StartAt":"A","States":{"A":{"Type":"Fail","Error":"Boom","Cause":"c"}}},
	  {"StartAt":"W","States":{"W":{"Type":"Task","Resource":"` + fnArn + `slow","End":true}}}]},
	  "C":{"Type":"Pass","End":true}}}`
	h := Handlers{"slow": handler(func(ctx context.Context) (string, error) {
		<-ctx.Done()
		return "", ctx.Err()
	})}
	res, x := run(t, def, `{}`, h)
	wantSuccess(t, res, x, `{"Error":"Boom","Cause":"c"}`)
	if !strings.Contains(strings.Join(historyTypes(x), " "), "ParallelStateFailed") {
		t.Errorf("history lacks ParallelStateFailed: %v", historyTypes(x))
	}
}

func TestMap(t *testing.T) {
	var running, peak atomic.Int32
	h := Handlers{"sq": handler(func(in struct{ N int }) (int, error) {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(2 * time.Millisecond)
		running.Add(-1)
		return in.N * in.N, nil
	})}
	for _, tt := range []struct {
		name, conc string
		maxPeak    int32
	}{{"sequential", `"MaxConcurrency":1`, 1}, {"bounded", `"MaxConcurrency":3`, 3}, {"legacy Iterator and Parameters", `"MaxConcurrency":0`, 40}} {
		t.Run(tt.name, func(t *testing.T) {
			peak.Store(0)
			proc := `"ItemProcessor":{"ProcessorConfig":{"Mode":"INLINE"},"StartAt":"S","States":{"S":{"Type":"Task","Resource":"` + fnArn + `sq","End":true}}},"ItemSelector":{"N.$":"$$.Map.Item.Value"}`
			if strings.HasPrefix(tt.name, "legacy") {
				proc = `"Iterator":{"StartAt":"S","States":{"S":{"Type":"Task","Resource":"` + fnArn + `sq","End":true}}},"Parameters":{"N.$":"$$.Map.Item.Value"}`
			}
			def := `{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.nums",` + tt.conc + `,` + proc + `,"ResultPath":"$.squares","End":true}}}`
			res, x := run(t, def, `{"nums":[1,2,3,4,5,6,7,8]}`, h)
			wantSuccess(t, res, x, `{"nums":[1,2,3,4,5,6,7,8],"squares":[1,4,9,16,25,36,49,64]}`)
			if peak.Load() > tt.maxPeak {
				t.Errorf("peak concurrency %d > %d", peak.Load(), tt.maxPeak)
			}
			hist := x.History()
			var started, succeeded int
			for _, ev := range hist {
				switch ev.Type {
				case "MapStateStarted":
					if ev.MapStateStartedEventDetails.Length != 8 {
						t.Errorf("MapStateStarted length %d", ev.MapStateStartedEventDetails.Length)
					}
				case "MapIterationStarted":
					started++
				case "MapIterationSucceeded":
					succeeded++
				}
			}
			if started != 8 || succeeded != 8 {
				t.Errorf("iterations started %d succeeded %d, want 8 8", started, succeeded)
			}
		})
	}
}

func TestMapFailure(t *testing.T) {
	def := `{"StartAt":"M","States":{"M":{"Type":"Map","MaxConcurrency":1,"ItemProcessor":{"StartAt":"C","States":{
	  "C":{"Type":"Choice","Choices":[{"Variable":"$","NumericEquals":2,"Next":"F"}],"Default":"OK"},
	  "F":{"Type":"Fail","Error":"Two","Cause":"item 2"},"OK":{"Type":"Pass","End":true}}},"End":true}}}`
	res, x := run(t, def, `[1,2,3]`, nil)
	wantFailure(t, res, x, "Two")
	types := strings.Join(historyTypes(x), " ")
	if !strings.Contains(types, "MapIterationFailed") || !strings.Contains(types, "MapStateFailed") {
		t.Errorf("history %s", types)
	}
	t.Run("items not an array", func(t *testing.T) {
		res, x := run(t, `{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.a","ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},"End":true}}}`, `{"a":1}`, nil)
		wantFailure(t, res, x, ErrRuntime)
	})
	t.Run("empty", func(t *testing.T) {
		res, x := run(t, `{"StartAt":"M","States":{"M":{"Type":"Map","ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},"End":true}}}`, `[]`, nil)
		wantSuccess(t, res, x, `[]`)
	})
}

func TestWait(t *testing.T) {
	tests := []struct {
		name, state, input string
		want               time.Duration
	}{
		{"Seconds", `"Seconds":10`, `{}`, 10 * time.Second},
		{"SecondsPath", `"SecondsPath":"$.s"`, `{"s":86400}`, 24 * time.Hour},
		{"Timestamp", `"Timestamp":"2024-05-01T13:00:00Z"`, `{}`, time.Hour},
		{"TimestampPath", `"TimestampPath":"$.t"`, `{"t":"2024-05-03T12:00:00Z"}`, 48 * time.Hour},
		{"Timestamp in the past", `"Timestamp":"2020-01-01T00:00:00Z"`, `{}`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sm, err := Parse([]byte(`{"StartAt":"W","States":{"W":{"Type":"Wait",` + tt.state + `,"Next":"D"},"D":{"Type":"Pass","Parameters":{"at.$":"$$.State.EnteredTime"},"End":true}}}`))
			if err != nil {
				t.Fatal(err)
			}
			clock := VirtualClock(testStart)
			res, x := runOn(t, NewEngine(Options{Clock: clock}), sm, tt.input)
			wantSuccess(t, res, x, fmt.Sprintf(`{"at":%q}`, isoTime(testStart.Add(tt.want))))
		})
	}
	t.Run("bad SecondsPath", func(t *testing.T) {
		res, x := run(t, `{"StartAt":"W","States":{"W":{"Type":"Wait","SecondsPath":"$.s","End":true}}}`, `{"s":"soon"}`, nil)
		wantFailure(t, res, x, ErrRuntime)
	})
}

func TestWaitOnScaledClock(t *testing.T) {
	sm, _ := Parse([]byte(`{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":86400,"End":true}}}`))
	e := NewEngine(Options{Clock: ScaledClock(86400 * 20)}) // one day in 50ms
	begin := time.Now()
	res, x := runOn(t, e, sm, `{}`)
	wantSuccess(t, res, x, `{}`)
	if time.Since(begin) > 5*time.Second {
		t.Errorf("scaled wait took %v", time.Since(begin))
	}
}

func startWaiting(t *testing.T, e *Engine, def string) (*Execution, chan string) {
	t.Helper()
	tokens := make(chan string, 4)
	e.opts.Resolver = Handlers{
		"arn:aws:states:::sqs:sendMessage": handler(func(in struct{ Token string }) (map[string]string, error) {
			tokens <- in.Token
			return map[string]string{"MessageId": "m1"}, nil
		}),
	}
	sm, err := Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	x, err := e.Start(context.Background(), sm, StartInput{Name: "w", StateMachineName: "sm", Input: json.RawMessage(`{"a":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	return x, tokens
}

const waitDef = `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage.waitForTaskToken",
  "Parameters":{"Token.$":"$$.Task.Token"},%s"ResultPath":"$.reply","End":true}}}`

func waitResult(t *testing.T, x *Execution) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := x.Wait(ctx)
	if err != nil {
		t.Fatalf("wait: %v; history %v", err, historyTypes(x))
	}
	return res
}

func TestWaitForTaskToken(t *testing.T) {
	t.Run("success", func(t *testing.T) {
		e := NewEngine(Options{Clock: VirtualClock(testStart)})
		x, tokens := startWaiting(t, e, fmt.Sprintf(waitDef, ""))
		tok := <-tokens
		if err := e.SendTaskHeartbeat(tok); err != nil {
			t.Fatalf("heartbeat: %v", err)
		}
		if err := e.SendTaskSuccess(tok, json.RawMessage(`{nope`)); !errors.Is(err, ErrInvalidOutput) {
			t.Errorf("bad output: %v", err)
		}
		if err := e.SendTaskSuccess(tok, json.RawMessage(`{"ok":true}`)); err != nil {
			t.Fatalf("SendTaskSuccess: %v", err)
		}
		wantSuccess(t, waitResult(t, x), x, `{"a":1,"reply":{"ok":true}}`)
		if err := e.SendTaskSuccess(tok, json.RawMessage(`{}`)); !errors.Is(err, ErrTaskTimedOut) {
			t.Errorf("second SendTaskSuccess = %v, want TaskTimedOut", err)
		}
		want := "ExecutionStarted TaskStateEntered TaskScheduled TaskStarted TaskSubmitted TaskSucceeded TaskStateExited ExecutionSucceeded"
		if got := strings.Join(historyTypes(x), " "); got != want {
			t.Errorf("history %s\nwant    %s", got, want)
		}
	})
	t.Run("failure", func(t *testing.T) {
		e := NewEngine(Options{Clock: VirtualClock(testStart)})
		x, tokens := startWaiting(t, e, fmt.Sprintf(waitDef, ""))
		if err := e.SendTaskFailure(<-tokens, "Rejected", "no"); err != nil {
			t.Fatal(err)
		}
		res := waitResult(t, x)
		wantFailure(t, res, x, "Rejected")
		if res.Cause != "no" {
			t.Errorf("cause %q", res.Cause)
		}
	})
	t.Run("heartbeat timeout", func(t *testing.T) {
		clock := VirtualClock(testStart).(*Virtual)
		e := NewEngine(Options{Clock: clock})
		x, tokens := startWaiting(t, e, fmt.Sprintf(waitDef, `"HeartbeatSeconds":60,"TimeoutSeconds":600,`))
		tok := <-tokens
		waitForEvent(t, x, "TaskSubmitted")
		clock.Advance(59 * time.Second)
		if err := e.SendTaskHeartbeat(tok); err != nil {
			t.Fatal(err)
		}
		waitForTimerAt(t, clock, testStart.Add(119*time.Second))
		clock.Advance(59 * time.Second) // 118s in, but the heartbeat reset the timer
		if x.Describe().Status != StatusRunning {
			t.Fatalf("status %s after heartbeat", x.Describe().Status)
		}
		clock.Advance(2 * time.Second)
		wantFailure(t, waitResult(t, x), x, ErrHeartbeatTimeout)
		if err := e.SendTaskSuccess(tok, json.RawMessage(`{}`)); !errors.Is(err, ErrTaskTimedOut) {
			t.Errorf("late SendTaskSuccess = %v, want TaskTimedOut", err)
		}
	})
	t.Run("task timeout", func(t *testing.T) {
		clock := VirtualClock(testStart).(*Virtual)
		e := NewEngine(Options{Clock: clock})
		x, _ := startWaiting(t, e, fmt.Sprintf(waitDef, `"TimeoutSeconds":300,`))
		waitForEvent(t, x, "TaskSubmitted")
		clock.Advance(301 * time.Second)
		wantFailure(t, waitResult(t, x), x, ErrTimeout)
		if !strings.Contains(strings.Join(historyTypes(x), " "), "TaskTimedOut") {
			t.Errorf("history lacks TaskTimedOut: %v", historyTypes(x))
		}
	})
	t.Run("token errors", func(t *testing.T) {
		e := NewEngine(Options{})
		if err := e.SendTaskSuccess("", nil); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("empty token: %v", err)
		}
		if err := e.SendTaskSuccess("garbage", json.RawMessage(`{}`)); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("garbage token: %v", err)
		}
		if err := e.SendTaskSuccess(newTaskToken(), json.RawMessage(`{}`)); !errors.Is(err, ErrTaskDoesNotExist) {
			t.Errorf("unknown token: %v", err)
		}
		var apiErr *APIError
		if err := e.SendTaskHeartbeat(newTaskToken()); !errors.As(err, &apiErr) || apiErr.Code != "TaskDoesNotExist" {
			t.Errorf("heartbeat unknown token: %v", err)
		}
	})
}

func waitForEvent(t *testing.T, x *Execution, typ string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, ev := range x.History() {
			if ev.Type == typ {
				return
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("no %s event; history %v", typ, historyTypes(x))
}

// waitForTimerAt waits until a timer for at is pending on the virtual clock.
func waitForTimerAt(t *testing.T, c *Virtual, at time.Time) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		for _, tm := range c.timers.h {
			if tm.at.Equal(at) {
				c.mu.Unlock()
				return
			}
		}
		c.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("no timer pending for %v", at)
}

func TestTaskTimeoutOnHandler(t *testing.T) {
	clock := VirtualClock(testStart).(*Virtual)
	release := make(chan struct{})
	defer close(release)
	e := NewEngine(Options{Clock: clock, Resolver: Handlers{"hang": handler(func() error { <-release; return nil })}})
	sm, _ := Parse([]byte(`{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnArn + `hang","TimeoutSeconds":5,
	  "Catch":[{"ErrorEquals":["States.Timeout"],"Next":"Late"}],"End":true},"Late":{"Type":"Pass","Result":"late","End":true}}}`))
	x, _ := e.Start(context.Background(), sm, StartInput{Input: json.RawMessage(`{}`)})
	waitForEvent(t, x, "LambdaFunctionStarted")
	clock.Advance(6 * time.Second)
	wantSuccess(t, waitResult(t, x), x, `"late"`)
	if !strings.Contains(strings.Join(historyTypes(x), " "), "LambdaFunctionTimedOut") {
		t.Errorf("history %v", historyTypes(x))
	}
}

func TestStopAndExecutionTimeout(t *testing.T) {
	t.Run("stop", func(t *testing.T) {
		e := NewEngine(Options{Clock: VirtualClock(testStart)})
		x, _ := startWaiting(t, e, fmt.Sprintf(waitDef, ""))
		waitForEvent(t, x, "TaskSubmitted")
		x.Stop("Cancelled", "by user")
		res := waitResult(t, x)
		if res.Status != StatusAborted || res.Error != "Cancelled" || res.Cause != "by user" {
			t.Errorf("result %+v", res)
		}
		hist := x.History()
		if last := hist[len(hist)-1]; last.Type != EvExecutionAborted || last.ExecutionAbortedEventDetails.Error != "Cancelled" {
			t.Errorf("last event %+v", last)
		}
	})
	t.Run("execution timeout", func(t *testing.T) {
		res, x := run(t, `{"TimeoutSeconds":60,"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"End":true}}}`, `{}`, nil)
		if res.Status != StatusTimedOut || res.Error != ErrTimeout {
			t.Errorf("result %+v, history %v", res, historyTypes(x))
		}
	})
}

func TestLimits(t *testing.T) {
	t.Run("payload over the quota", func(t *testing.T) {
		big := strings.Repeat("x", 300*1024)
		def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnArn + `big","Catch":[{"ErrorEquals":["States.ALL"],"Next":"C"}],"End":true},"C":{"Type":"Succeed"}}}`
		res, x := run(t, def, `{}`, Handlers{"big": handler(func() (string, error) { return big, nil })})
		wantFailure(t, res, x, ErrDataLimitExceeded)
	})
	t.Run("state output over the quota", func(t *testing.T) {
		def := `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"a.$":"$.s","b.$":"$.s"},"End":true}}}`
		res, x := run(t, def, `{"s":"`+strings.Repeat("y", 140*1024)+`"}`, nil)
		wantFailure(t, res, x, ErrDataLimitExceeded)
	})
	t.Run("execution input over the quota", func(t *testing.T) {
		sm, _ := Parse([]byte(`{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`))
		_, err := NewEngine(Options{}).Start(context.Background(), sm, StartInput{Input: json.RawMessage(`"` + strings.Repeat("z", 257*1024) + `"`)})
		if !errors.Is(err, ErrInvalidExecutionInput) {
			t.Errorf("err = %v, want InvalidExecutionInput", err)
		}
	})
	t.Run("history quota", func(t *testing.T) {
		def := `{"StartAt":"Loop","States":{"Loop":{"Type":"Pass","Next":"Loop2"},"Loop2":{"Type":"Pass","Next":"Loop"}}}`
		res, x := run(t, def, `{}`, nil)
		wantFailure(t, res, x, ErrRuntime)
		if n := len(x.History()); n != 25001 {
			t.Errorf("history has %d events, want 25000 + ExecutionFailed", n)
		}
	})
}

func TestHandlerPanicDoesNotCrash(t *testing.T) {
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnArn + `p","End":true}}}`
	res, x := run(t, def, `{}`, Handlers{"p": handler(func() error { panic(&PartnerUnavailable{Partner: "x"}) })})
	if res.Status != StatusFailed || res.Error != "PartnerUnavailable" || !strings.Contains(res.Cause, "partner unavailable: x") {
		t.Errorf("result %+v; history %v", res, historyTypes(x))
	}
}

func TestUnknownResource(t *testing.T) {
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnArn + `nope","End":true}}}`
	res, x := run(t, def, `{}`, nil)
	wantFailure(t, res, x, "Lambda.ResourceNotFoundException")
}

func TestMapConcurrentLambdaHandlerOutputs(t *testing.T) {
	// lambda.NewHandler's output aliases a pooled buffer; concurrent
	// iterations must still each get their own result.
	h := Handlers{"echo": handler(func(in struct{ I int }) (map[string]any, error) {
		return map[string]any{"i": in.I, "pad": strings.Repeat("p", in.I%7)}, nil
	})}
	items := make([]string, 200)
	want := make([]string, 200)
	for i := range items {
		items[i] = fmt.Sprint(i)
		want[i] = fmt.Sprintf(`{"i":%d,"pad":%q}`, i, strings.Repeat("p", i%7))
	}
	def := `{"StartAt":"M","States":{"M":{"Type":"Map","MaxConcurrency":10,"ItemSelector":{"I.$":"$$.Map.Item.Value"},
	  "ItemProcessor":{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnArn + `echo","End":true}}},"End":true}}}`
	res, x := run(t, def, `[`+strings.Join(items, ",")+`]`, h)
	wantSuccess(t, res, x, `[`+strings.Join(want, ",")+`]`)
}

func TestHandlerSeesLambdaContext(t *testing.T) {
	h := Handlers{"who": handler(func(ctx context.Context) (string, error) {
		lc, ok := lambdacontext.FromContext(ctx)
		if !ok || lc.AwsRequestID == "" {
			return "", errors.New("no lambda context")
		}
		return lc.InvokedFunctionArn, nil
	})}
	res, x := run(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"`+fnArn+`who","End":true}}}`, `{}`, h)
	wantSuccess(t, res, x, `"`+fnArn+`who"`)
	res, x = run(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"who"},"OutputPath":"$.Payload","End":true}}}`, `{}`, h)
	wantSuccess(t, res, x, `"who"`)
}

func TestTimeoutSecondsPath(t *testing.T) {
	clock := VirtualClock(testStart).(*Virtual)
	release := make(chan struct{})
	defer close(release)
	e := NewEngine(Options{Clock: clock, Resolver: Handlers{"hang": handler(func() error { <-release; return nil })}})
	sm, err := Parse([]byte(`{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnArn + `hang","InputPath":"$.cfg","TimeoutSecondsPath":"$.t","End":true}}}`))
	if err != nil {
		t.Fatal(err)
	}
	x, _ := e.Start(context.Background(), sm, StartInput{Input: json.RawMessage(`{"cfg":{"t":30}}`)})
	waitForTimerAt(t, clock, testStart.Add(30*time.Second))
	clock.Advance(30 * time.Second)
	wantFailure(t, waitResult(t, x), x, ErrTimeout)
}

func TestNewIDOption(t *testing.T) {
	sm, err := Parse([]byte(`{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"f"},
	  "ResultSelector":{"req.$":"$.SdkResponseMetadata.RequestId","name.$":"$$.Execution.Name"},"End":true}}}`))
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	e := NewEngine(Options{Clock: VirtualClock(testStart), Resolver: Handlers{"f": handler(func() error { return nil })},
		NewID: func() string { return fmt.Sprintf("id-%d", n.Add(1)) }})
	x, err := e.Start(context.Background(), sm, StartInput{Input: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	// id-1 names the execution, id-2 is the Lambda request.
	wantSuccess(t, waitResult(t, x), x, `{"req":"id-2","name":"id-1"}`)
}

type rawHandler func(ctx context.Context, in []byte) ([]byte, error)

func (h rawHandler) Invoke(ctx context.Context, in []byte) ([]byte, error) { return h(ctx, in) }

func TestCustomHandlers(t *testing.T) {
	t.Run("empty output is null", func(t *testing.T) {
		h := Handlers{"e": rawHandler(func(context.Context, []byte) ([]byte, error) { return nil, nil })}
		res, x := run(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"`+fnArn+`e","ResultPath":"$.r","End":true}}}`, `{"a":1}`, h)
		wantSuccess(t, res, x, `{"a":1,"r":null}`)
	})
	t.Run("invalid JSON output", func(t *testing.T) {
		h := Handlers{"e": rawHandler(func(context.Context, []byte) ([]byte, error) { return []byte("{oops"), nil })}
		res, x := run(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"`+fnArn+`e","End":true}}}`, `{}`, h)
		wantFailure(t, res, x, ErrRuntime)
	})
	t.Run("service integration gets Parameters and returns raw output", func(t *testing.T) {
		h := Handlers{"arn:aws:states:::dynamodb:putItem": rawHandler(func(_ context.Context, in []byte) ([]byte, error) {
			return append([]byte(`{"got":`), append(in, '}')...), nil
		})}
		def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::dynamodb:putItem","Parameters":{"TableName":"t","Item":{"id":{"S.$":"$.id"}}},"End":true}}}`
		res, x := run(t, def, `{"id":"r1"}`, h)
		wantSuccess(t, res, x, `{"got":{"TableName":"t","Item":{"id":{"S":"r1"}}}}`)
		for _, ev := range x.History() {
			if ev.Type == "TaskScheduled" && (ev.TaskScheduledEventDetails.ResourceType != "dynamodb" || ev.TaskScheduledEventDetails.Resource != "putItem") {
				t.Errorf("TaskScheduled %+v", ev.TaskScheduledEventDetails)
			}
		}
	})
}

func TestStopIsIdempotentAndFinal(t *testing.T) {
	clock := VirtualClock(testStart).(*Virtual)
	e := NewEngine(Options{Clock: clock})
	x, _ := startWaiting(t, e, fmt.Sprintf(waitDef, ""))
	waitForEvent(t, x, "TaskSubmitted")
	clock.Advance(time.Minute)
	x.Stop("", "")
	x.Stop("Again", "ignored")
	res := waitResult(t, x)
	if res.Status != StatusAborted || res.Error != "" || !res.StopDate.Equal(testStart.Add(time.Minute)) || !res.StartDate.Equal(testStart) {
		t.Errorf("result %+v", res)
	}
	hist := x.History()
	n := 0
	for _, ev := range hist {
		if ev.Type == EvExecutionAborted {
			n++
		}
	}
	if n != 1 || hist[len(hist)-1].Type != EvExecutionAborted {
		t.Errorf("history %v", historyTypes(x))
	}
}

func TestHistoryThreadsInParallelAndMap(t *testing.T) {
	def := `{"StartAt":"P","States":{"P":{"Type":"Parallel","Next":"M","Branches":[
	  {"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}},
	  {"StartAt":"B","States":{"B":{"Type":"Pass","End":true}}}]},
	  "M":{"Type":"Map","ItemsPath":"$[0]","MaxConcurrency":1,"ItemProcessor":{"StartAt":"I","States":{"I":{"Type":"Pass","End":true}}},"End":true}}}`
	res, x := run(t, def, `[1,2]`, nil)
	wantSuccess(t, res, x, `[1,2]`)
	hist := x.History()
	byID := map[int64]HistoryEvent{}
	var parallelStarted, mapStarted int64
	for _, ev := range hist {
		byID[ev.ID] = ev
		switch ev.Type {
		case "ParallelStateStarted":
			parallelStarted = ev.ID
		case "MapStateStarted":
			mapStarted = ev.ID
		}
	}
	for _, ev := range hist {
		if ev.ID > 1 && (ev.PreviousEventID <= 0 || ev.PreviousEventID >= ev.ID) {
			t.Errorf("event %d %s has previousEventId %d", ev.ID, ev.Type, ev.PreviousEventID)
		}
		switch {
		case ev.Type == "PassStateEntered" && (ev.StateEnteredEventDetails.Name == "A" || ev.StateEnteredEventDetails.Name == "B"):
			if ev.PreviousEventID != parallelStarted {
				t.Errorf("branch state %s follows %d, want ParallelStateStarted %d", ev.StateEnteredEventDetails.Name, ev.PreviousEventID, parallelStarted)
			}
		case ev.Type == "MapIterationStarted":
			if ev.PreviousEventID != mapStarted {
				t.Errorf("iteration %d follows %d, want MapStateStarted %d", ev.MapIterationStartedEventDetails.Index, ev.PreviousEventID, mapStarted)
			}
		case ev.Type == "PassStateEntered" && ev.StateEnteredEventDetails.Name == "I":
			if prev := byID[ev.PreviousEventID]; prev.Type != "MapIterationStarted" {
				t.Errorf("iteration state follows %s", prev.Type)
			}
		}
	}
}

// TestMapOutputQuota checks the Map state's output size at the quota's
// edge (a later state shrinks the data, so only the Map's check can fail),
// whether the iterations' output sizes are known (they end in a Task)
// or not (they end in a Pass state).
func TestMapOutputQuota(t *testing.T) {
	// Three items of a string of 330 bytes: 3 × 332 + 2 commas + 2
	// brackets = 1,000 bytes.
	const n = 330
	for _, tc := range []struct {
		name    string
		last    string
		limit   int
		wantErr string
	}{
		{"task at the quota", "task", 1000, ""},
		{"task a byte over the quota", "task", 999, ErrDataLimitExceeded},
		{"pass at the quota", "pass", 1000, ""},
		{"pass a byte over the quota", "pass", 999, ErrDataLimitExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			call := `"Call":{"Type":"Task","Resource":"` + fnArn + `s","End":true}`
			if tc.last == "pass" {
				call = `"Call":{"Type":"Task","Resource":"` + fnArn + `s","Next":"Keep"},"Keep":{"Type":"Pass","End":true}`
			}
			def := `{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.items",
			  "ItemProcessor":{"StartAt":"Call","States":{` + call + `}},"Next":"Shrink"},
			  "Shrink":{"Type":"Pass","Result":"ok","End":true}}}`
			sm, err := Parse([]byte(def))
			if err != nil {
				t.Fatal(err)
			}
			s := strings.Repeat("x", n)
			h := Handlers{"s": handler(func() (string, error) { return s, nil })}
			e := NewEngine(Options{Clock: VirtualClock(testStart), Resolver: h, MaxPayloadBytes: tc.limit})
			res, x := runOn(t, e, sm, `{"items":[1,2,3]}`)
			if tc.wantErr != "" {
				wantFailure(t, res, x, tc.wantErr)
				return
			}
			wantSuccess(t, res, x, `"ok"`)
			for _, ev := range x.History() {
				if d := ev.StateExitedEventDetails; d != nil && d.Name == "M" && len(d.Output) != tc.limit {
					t.Errorf("the Map's output is %d bytes, want %d", len(d.Output), tc.limit)
				}
			}
		})
	}
}
