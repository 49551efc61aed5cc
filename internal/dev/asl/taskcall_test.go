package asl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestHandlerSeesTaskInfo(t *testing.T) {
	var (
		mu    sync.Mutex
		calls []string
	)
	record := func(ctx context.Context) error {
		c, ok := TaskInfo(ctx)
		name, nameOK := StateName(ctx)
		if !ok || !nameOK || name != c.StateName {
			return errors.New("no task info")
		}
		mu.Lock()
		calls = append(calls, fmt.Sprintf("%s retry=%d exec=%s sm=%s res=%s token=%t entered=%s",
			c.StateName, c.RetryCount, c.ExecutionArn, c.StateMachineArn, c.Resource, strings.HasPrefix(c.TaskToken, taskTokenPrefix), isoTime(c.EnteredTime)))
		mu.Unlock()
		return nil
	}
	var (
		flaky int
		e     *Engine
	)
	h := Handlers{
		"f": handler(func(ctx context.Context) (string, error) {
			if err := record(ctx); err != nil {
				return "", err
			}
			if name, _ := StateName(ctx); name == "Flaky" {
				if flaky++; flaky < 3 {
					return "", errors.New("again")
				}
			}
			return "ok", nil
		}),
		"arn:aws:states:::sqs:sendMessage": rawHandler(func(ctx context.Context, in []byte) ([]byte, error) {
			if err := record(ctx); err != nil {
				return nil, err
			}
			c, _ := TaskInfo(ctx)
			return []byte("{}"), e.SendTaskSuccess(c.TaskToken, json.RawMessage(`"called back"`))
		}),
	}
	def := `{"StartAt":"First","States":{
	  "First":{"Type":"Task","Resource":"` + fnArn + `f","Next":"Flaky"},
	  "Flaky":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"f"},
	    "Retry":[{"ErrorEquals":["States.ALL"],"IntervalSeconds":1,"MaxAttempts":5}],"Next":"Callback"},
	  "Callback":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage.waitForTaskToken","Parameters":{"t.$":"$$.Task.Token"},"TimeoutSeconds":5,"End":true}}}`
	sm, err := Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	e = NewEngine(Options{Clock: VirtualClock(testStart), Resolver: h})
	x, err := e.Start(context.Background(), sm, StartInput{
		StateMachineArn: "arn:aws:states:us-east-1:123456789012:stateMachine:test", ExecutionArn: "arn:aws:states:us-east-1:123456789012:execution:test:e1",
		Input: json.RawMessage(`{}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	res := waitResult(t, x)
	wantSuccess(t, res, x, `"called back"`)
	const ids = "exec=arn:aws:states:us-east-1:123456789012:execution:test:e1 sm=arn:aws:states:us-east-1:123456789012:stateMachine:test"
	want := []string{
		"First retry=0 " + ids + " res=" + fnArn + "f token=false entered=2024-05-01T12:00:00.000Z",
		"Flaky retry=0 " + ids + " res=arn:aws:states:::lambda:invoke token=false entered=2024-05-01T12:00:00.000Z",
		"Flaky retry=1 " + ids + " res=arn:aws:states:::lambda:invoke token=false entered=2024-05-01T12:00:00.000Z",
		"Flaky retry=2 " + ids + " res=arn:aws:states:::lambda:invoke token=false entered=2024-05-01T12:00:00.000Z",
		"Callback retry=0 " + ids + " res=arn:aws:states:::sqs:sendMessage.waitForTaskToken token=true entered=2024-05-01T12:00:03.000Z",
	}
	if got := strings.Join(calls, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("handler calls:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

func TestTaskInfoOutsideTheEngine(t *testing.T) {
	if _, ok := TaskInfo(context.Background()); ok {
		t.Error("TaskInfo(Background) ok, want false")
	}
	if name, ok := StateName(context.Background()); ok || name != "" {
		t.Errorf("StateName(Background) = %q, %t; want \"\", false", name, ok)
	}
	ctx := WithTaskInfo(context.Background(), TaskCall{StateName: "Charge", RetryCount: 2})
	if c, ok := TaskInfo(ctx); !ok || c.StateName != "Charge" || c.RetryCount != 2 {
		t.Errorf("TaskInfo(WithTaskInfo) = %+v, %t", c, ok)
	}
	if name, ok := StateName(ctx); !ok || name != "Charge" {
		t.Errorf("StateName(WithTaskInfo) = %q, %t", name, ok)
	}
}

func TestTaskFailureIsReportedVerbatim(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		wantErr   string
		wantCause string
	}{
		{"TaskFailure", &TaskFailure{Name: "Card.Declined", Cause: "code 51"}, "Card.Declined", "code 51"},
		{"wrapped", fmt.Errorf("charge r1: %w", &TaskFailure{Name: "Card.Declined", Cause: `{"not":"lambda"}`}), "Card.Declined", `{"not":"lambda"}`},
		{"empty cause", &TaskFailure{Name: "States.Runtime"}, "States.Runtime", ""},
	}
	for _, tt := range tests {
		for _, resource := range []string{"direct", "invoke", "raw"} {
			t.Run(tt.name+"/"+resource, func(t *testing.T) {
				def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnArn + `f","End":true}}}`
				if resource == "invoke" {
					def = `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"f"},"End":true}}}`
				}
				var h Handlers
				if resource == "raw" {
					h = Handlers{"f": rawHandler(func(context.Context, []byte) ([]byte, error) { return nil, tt.err })}
				} else {
					h = Handlers{"f": handler(func() error { return tt.err })}
				}
				res, x := run(t, def, `{}`, h)
				if res.Status != StatusFailed || res.Error != tt.wantErr || res.Cause != tt.wantCause {
					t.Errorf("got %s %q/%q, want FAILED %q/%q", res.Status, res.Error, res.Cause, tt.wantErr, tt.wantCause)
				}
				for _, ev := range x.History() {
					var e, c string
					switch {
					case ev.LambdaFunctionFailedEventDetails != nil:
						e, c = ev.LambdaFunctionFailedEventDetails.Error, ev.LambdaFunctionFailedEventDetails.Cause
					case ev.TaskFailedEventDetails != nil:
						e, c = ev.TaskFailedEventDetails.Error, ev.TaskFailedEventDetails.Cause
					default:
						continue
					}
					if e != tt.wantErr || c != tt.wantCause {
						t.Errorf("%s event: %q/%q, want %q/%q", ev.Type, e, c, tt.wantErr, tt.wantCause)
					}
				}
			})
		}
	}
	t.Run("caught by its name", func(t *testing.T) {
		def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnArn + `f",
		  "Catch":[{"ErrorEquals":["Card.Declined"],"ResultPath":"$.e","Next":"Done"}],"End":true},"Done":{"Type":"Pass","End":true}}}`
		res, x := run(t, def, `{}`, Handlers{"f": handler(func() error { return &TaskFailure{Name: "Card.Declined", Cause: "code 51"} })})
		wantSuccess(t, res, x, `{"e":{"Error":"Card.Declined","Cause":"code 51"}}`)
	})
}

func TestHistoryReadTwiceIsTheSame(t *testing.T) {
	// Payload texts are encoded on the first read and kept; error details
	// live with them.
	def := `{"StartAt":"T","States":{
	  "T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"f","Payload.$":"$"},"TimeoutSeconds":30,
	    "Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$.e","Next":"D"}],"End":true},
	  "D":{"Type":"Pass","End":true}}}`
	res, x := run(t, def, `{"a":1}`, Handlers{"f": handler(func() error { return &TaskFailure{Name: "E", Cause: "c"} })})
	wantSuccess(t, res, x, `{"a":1,"e":{"Error":"E","Cause":"c"}}`)
	first, _ := json.Marshal(x.History())
	second, _ := json.Marshal(x.History())
	if string(first) != string(second) {
		t.Errorf("second History differs:\n%s\n%s", first, second)
	}
	for _, want := range []string{`"parameters":"{\"FunctionName\":\"f\",\"Payload\":{\"a\":1}}"`, `"timeoutInSeconds":30`, `"error":"E","cause":"c"`, `"resourceType":"lambda"`, `"region":"us-east-1"`} {
		if !strings.Contains(string(first), want) {
			t.Errorf("history lacks %s: %s", want, first)
		}
	}
}
