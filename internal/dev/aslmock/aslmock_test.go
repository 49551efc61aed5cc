package aslmock_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"dsrflow/internal/dev/asl"
	"dsrflow/internal/dev/aslmock"
)

func TestParseTasksAndPlay(t *testing.T) {
	s, err := aslmock.ParseTasks([]byte(`{
		"Charge": [{"throw": {"error": "Busy", "cause": "try later"}}, {"return": {"ok": true}}],
		"Ship": [{"return": 1}]
	}`))
	if err != nil {
		t.Fatalf("ParseTasks: %v", err)
	}
	p := aslmock.NewPlayer(s)
	ctx := context.Background()
	tests := []struct {
		state     string
		wantOut   string
		wantError string
		wantCause string
	}{
		{"Charge", "", "Busy", "try later"},
		{"Charge", `{"ok":true}`, "", ""},
		{"Charge", `{"ok":true}`, "", ""}, // min(i, len-1): the last entry repeats
		{"Ship", `1`, "", ""},
		{"Nope", "", "States.Runtime", `task state "Nope": no scripted outcome`},
	}
	for i, tt := range tests {
		out, err := p.Invoke(ctx, tt.state, nil)
		if tt.wantError != "" {
			var tf *asl.TaskFailure
			if !errors.As(err, &tf) {
				t.Fatalf("call %d (%s): got error %v, want *asl.TaskFailure", i, tt.state, err)
			}
			if tf.Name != tt.wantError || tf.Cause != tt.wantCause {
				t.Errorf("call %d (%s): got %q/%q, want %q/%q", i, tt.state, tf.Name, tf.Cause, tt.wantError, tt.wantCause)
			}
			continue
		}
		if err != nil || string(out) != tt.wantOut {
			t.Errorf("call %d (%s): got %s, %v; want %s", i, tt.state, out, err, tt.wantOut)
		}
	}
	if got := p.Calls("Charge"); got != 3 {
		t.Errorf("Calls(Charge) = %d, want 3", got)
	}
}

func TestParseTasksRejects(t *testing.T) {
	tests := map[string]string{
		"not an object": `[1]`,
		"null":          `null`,
		"empty list":    `{"A": []}`,
		"both":          `{"A": [{"return": 1, "throw": {"error": "E"}}]}`,
		"neither":       `{"A": [{}]}`,
		"unknown field": `{"A": [{"returns": 1}]}`,
		"throw no name": `{"A": [{"throw": {"cause": "x"}}]}`,
		"trailing":      `{} {}`,
	}
	for name, in := range tests {
		if _, err := aslmock.ParseTasks([]byte(in)); err == nil {
			t.Errorf("%s: ParseTasks(%s) succeeded, want an error", name, in)
		}
	}
}

const mockConfig = `{
  "StateMachines": {
    "LambdaSQSIntegration": {
      "TestCases": {
        "HappyPath": {"LambdaState": "MockedLambdaSuccess", "SQSState": "MockedSQSSuccess"},
        "RetryPath": {"LambdaState": "MockedLambdaRetry", "SQSState": "MockedSQSSuccess"}
      }
    }
  },
  "MockedResponses": {
    "MockedLambdaSuccess": {"0": {"Return": {"StatusCode": 200, "Payload": {"StatusCode": 200, "body": "Hello from Lambda!"}}}},
    "MockedSQSSuccess": {"0": {"Return": {"MessageId": "m-1"}}},
    "MockedLambdaRetry": {
      "0": {"Throw": {"Error": "Lambda.ResourceNotReadyException", "Cause": "Lambda resource is not ready."}},
      "1-2": {"Throw": {"Error": "Lambda.TimeoutException", "Cause": "Lambda timed out."}},
      "3": {"Return": {"StatusCode": 200}}
    }
  }
}`

func TestMockConfigScript(t *testing.T) {
	c, err := aslmock.ParseMockConfig([]byte(mockConfig))
	if err != nil {
		t.Fatalf("ParseMockConfig: %v", err)
	}
	s, err := c.Script("", "RetryPath")
	if err != nil {
		t.Fatalf("Script: %v", err)
	}
	var got []string
	for _, o := range s.Outcomes["LambdaState"] {
		if o.Throw != nil {
			got = append(got, o.Throw.Error)
		} else {
			got = append(got, string(o.Return))
		}
	}
	want := []string{"Lambda.ResourceNotReadyException", "Lambda.TimeoutException", "Lambda.TimeoutException", `{"StatusCode":200}`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("RetryPath LambdaState: got %q, want %q", got, want)
	}
	// Step Functions Local: an invocation without a mocked response fails.
	p := aslmock.NewPlayer(s)
	for i := range 4 {
		if _, err := p.Next("LambdaState"); err != nil {
			t.Fatalf("invocation %d: %v", i, err)
		}
	}
	if _, err := p.Next("LambdaState"); !errors.Is(err, aslmock.ErrNoScript) {
		t.Errorf("invocation 4 past the mocked responses: got %v, want ErrNoScript", err)
	}
	if _, err := c.Script("LambdaSQSIntegration", "Nope"); err == nil || !strings.Contains(err.Error(), "HappyPath, RetryPath") {
		t.Errorf("unknown test case: got %v, want an error listing the cases", err)
	}
	if _, err := c.Script("Other", "HappyPath"); err == nil {
		t.Error("unknown state machine: got no error")
	}
}

func TestParseMockConfigRejects(t *testing.T) {
	base := func(responses string) string {
		return `{"StateMachines":{"S":{"TestCases":{"T":{"A":"R"}}}},"MockedResponses":{"R":` + responses + `}}`
	}
	tests := map[string]string{
		"gap":             base(`{"0":{"Return":1},"2":{"Return":2}}`),
		"overlap":         base(`{"0-1":{"Return":1},"1":{"Return":2}}`),
		"not from zero":   base(`{"1":{"Return":1}}`),
		"bad key":         base(`{"x":{"Return":1}}`),
		"reversed range":  base(`{"2-1":{"Return":1}}`),
		"neither":         base(`{"0":{}}`),
		"throw no error":  base(`{"0":{"Throw":{"Cause":"c"}}}`),
		"undefined ref":   `{"StateMachines":{"S":{"TestCases":{"T":{"A":"Missing"}}}},"MockedResponses":{}}`,
		"no statemachine": `{"MockedResponses":{}}`,
	}
	for name, in := range tests {
		if _, err := aslmock.ParseMockConfig([]byte(in)); err == nil {
			t.Errorf("%s: ParseMockConfig succeeded, want an error", name)
		}
	}
}

func TestTaskStatesAndMissing(t *testing.T) {
	def := `{"StartAt":"P","States":{
	  "P":{"Type":"Parallel","Branches":[{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"r","End":true}}}],"Next":"M"},
	  "M":{"Type":"Map","ItemProcessor":{"StartAt":"B","States":{"B":{"Type":"Task","Resource":"r","End":true}}},"Next":"L"},
	  "L":{"Type":"Map","Iterator":{"StartAt":"C","States":{"C":{"Type":"Task","Resource":"r","End":true}}},"Next":"D"},
	  "D":{"Type":"Task","Resource":"r","End":true}}}`
	got, err := aslmock.TaskStates([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"A", "B", "C", "D"}; !reflect.DeepEqual(got, want) {
		t.Errorf("TaskStates = %q, want %q", got, want)
	}
	s := aslmock.Script{Outcomes: map[string][]aslmock.Outcome{"A": {{Return: json.RawMessage(`1`)}}, "C": {{Return: json.RawMessage(`1`)}}}}
	if got, want := s.Missing([]string{"A", "B", "C", "D"}), []string{"B", "D"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Missing = %q, want %q", got, want)
	}
}

func TestInstrument(t *testing.T) {
	def := `{"StartAt":"A","States":{
	  "A":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"f","Payload.$":"$"},"Next":"P"},
	  "P":{"Type":"Parallel","Branches":[{"StartAt":"B","States":{"B":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken","Parameters":{"FunctionName":"g","Payload":{"t.$":"$$.Task.Token"}},"End":true}}}],"End":true}}}`
	m, err := aslmock.Instrument([]byte(def), aslmock.Script{Outcomes: map[string][]aslmock.Outcome{
		"A": {{Return: json.RawMessage(`{"a":1}`)}},
		"B": {{Throw: &aslmock.Throw{Error: "Rejected", Cause: "no"}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		States map[string]struct {
			Resource string
			Branches []struct {
				States map[string]struct{ Resource string }
			}
		}
	}
	if err := json.Unmarshal(m.Definition(), &got); err != nil {
		t.Fatal(err)
	}
	resA := got.States["A"].Resource
	resB := got.States["P"].Branches[0].States["B"].Resource
	if !strings.HasPrefix(resA, "arn:aws:lambda:") || !strings.HasSuffix(resB, ".waitForTaskToken") || resA == resB {
		t.Fatalf("rewritten resources A=%q B=%q, want a Lambda ARN and a callback resource", resA, resB)
	}
	ctx := asl.WithTaskInfo(context.Background(), asl.TaskCall{StateName: "A"})
	h, err := m.Resolve(resA)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := h.Invoke(ctx, []byte(`{}`)); err != nil || string(out) != `{"a":1}` {
		t.Errorf("A: got %s %v, want {\"a\":1}", out, err)
	}
	if _, err := h.Invoke(context.Background(), []byte(`{}`)); err == nil {
		t.Error("A without asl.TaskInfo in its context: got no error")
	}

	// The callback task answers its token with the scripted outcome.
	sender := &fakeSender{valid: "AQBtoken"}
	m.SetTokenSender(sender)
	hb, err := m.Resolve(strings.TrimSuffix(resB, ".waitForTaskToken"))
	if err != nil {
		t.Fatal(err)
	}
	ctxB := asl.WithTaskInfo(context.Background(), asl.TaskCall{StateName: "B", TaskToken: "AQBtoken"})
	if out, err := hb.Invoke(ctxB, []byte(`{"t":"AQBtoken","other":["x"]}`)); err != nil || string(out) != `{}` {
		t.Fatalf("B: got %s %v", out, err)
	}
	if sender.failed != "AQBtoken Rejected no" {
		t.Errorf("B answered %q, want a failure of AQBtoken with Rejected/no", sender.failed)
	}
	noToken := asl.WithTaskInfo(context.Background(), asl.TaskCall{StateName: "B"})
	if _, err := hb.Invoke(noToken, []byte(`{"nothing":"here"}`)); err == nil {
		t.Error("B without a task token: got no error")
	}
	unknown := asl.WithTaskInfo(context.Background(), asl.TaskCall{StateName: "B", TaskToken: "AQBother"})
	if _, err := hb.Invoke(unknown, []byte(`{}`)); err == nil {
		t.Error("B with a token the engine does not know: got no error")
	}
	if _, err := m.Resolve("arn:aws:lambda:us-east-1:1:function:other"); err == nil {
		t.Error("Resolve of an unknown resource: got no error")
	}
	if m.Calls("A") != 1 || m.Calls("B") != 3 {
		t.Errorf("Calls A=%d B=%d, want 1 and 3", m.Calls("A"), m.Calls("B"))
	}
}

type fakeSender struct {
	valid             string
	succeeded, failed string
}

func (f *fakeSender) SendTaskSuccess(token string, out json.RawMessage) error {
	if token != f.valid {
		return errors.New("no such token")
	}
	f.succeeded = token + " " + string(out)
	return nil
}

func (f *fakeSender) SendTaskFailure(token, errName, cause string) error {
	if token != f.valid {
		return errors.New("no such token")
	}
	f.failed = token + " " + errName + " " + cause
	return nil
}

func TestLambdaCause(t *testing.T) {
	tests := []struct{ errName, cause, want string }{
		{"Busy", `{"errorMessage":"try later","errorType":"Busy"}`, "try later"},
		{"Busy", `{"errorMessage":"try later","errorType":"Other"}`, `{"errorMessage":"try later","errorType":"Other"}`},
		{"Busy", `plain text`, `plain text`},
		{"Busy", `{"errorType":"Busy"}`, `{"errorType":"Busy"}`},
	}
	for _, tt := range tests {
		if got := aslmock.LambdaCause(tt.errName, tt.cause); got != tt.want {
			t.Errorf("LambdaCause(%q, %q) = %q, want %q", tt.errName, tt.cause, got, tt.want)
		}
	}
}

func TestInstrumentOnTheEngine(t *testing.T) {
	// A Map of Task iterations and a callback Task whose Parameters do not
	// pass $$.Task.Token: the Mock still answers it, as Step Functions Local
	// does for mocked callback tasks.
	def := `{"StartAt":"Each","States":{
	  "Each":{"Type":"Map","ItemsPath":"$.items","ItemProcessor":{"StartAt":"Price","States":{
	    "Price":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"price","Payload.$":"$"},"End":true}}},
	    "ResultPath":"$.prices","Next":"Approve"},
	  "Approve":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage.waitForTaskToken","Parameters":{"QueueUrl":"q","MessageBody":"hi"},"ResultPath":"$.approval","End":true}}}`
	m, err := aslmock.Instrument([]byte(def), aslmock.Script{Outcomes: map[string][]aslmock.Outcome{
		"Price":   {{Return: json.RawMessage(`1`)}, {Return: json.RawMessage(`2`)}},
		"Approve": {{Return: json.RawMessage(`{"ok":true}`)}},
	}, RepeatLast: true})
	if err != nil {
		t.Fatal(err)
	}
	sm, err := asl.Parse(m.Definition())
	if err != nil {
		t.Fatal(err)
	}
	e := asl.NewEngine(asl.Options{Clock: asl.VirtualClock(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)), Resolver: m, MaxMapConcurrency: 1})
	m.SetTokenSender(e)
	x, err := e.Start(context.Background(), sm, asl.StartInput{Input: json.RawMessage(`{"items":["a","b","c"]}`)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := x.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got, want any
	_ = json.Unmarshal(res.Output, &got)
	_ = json.Unmarshal([]byte(`{"items":["a","b","c"],"prices":[1,2,2],"approval":{"ok":true}}`), &want)
	if res.Status != asl.StatusSucceeded || !reflect.DeepEqual(got, want) {
		t.Errorf("result %s %s (%s: %s), want SUCCEEDED with %v", res.Status, res.Output, res.Error, res.Cause, want)
	}
	if m.Calls("Price") != 3 || m.Calls("Approve") != 1 {
		t.Errorf("Calls Price=%d Approve=%d, want 3 and 1", m.Calls("Price"), m.Calls("Approve"))
	}
}
