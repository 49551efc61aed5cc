package asl

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

var testStart = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// run parses def, runs it with input on a virtual clock and waits.
func run(t *testing.T, def string, input string, handlers Handlers) (Result, *Execution) {
	t.Helper()
	sm, err := Parse([]byte(def))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	e := NewEngine(Options{Clock: VirtualClock(testStart), Resolver: handlers})
	return runOn(t, e, sm, input)
}

func runOn(t *testing.T, e *Engine, sm *StateMachine, input string) (Result, *Execution) {
	t.Helper()
	x, err := e.Start(context.Background(), sm, StartInput{
		StateMachineArn: "arn:aws:states:us-east-1:123456789012:stateMachine:test", StateMachineName: "test",
		Name: "exec1", Input: json.RawMessage(input), RoleArn: "arn:aws:iam::123456789012:role/test",
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := x.Wait(ctx)
	if err != nil {
		t.Fatalf("Wait: %v (history %s)", err, historyTypes(x))
	}
	return res, x
}

func historyTypes(x *Execution) []string {
	var out []string
	for _, h := range x.History() {
		out = append(out, h.Type)
	}
	return out
}

// jsonEq compares JSON documents by meaning.
func jsonEq(t *testing.T, got []byte, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Errorf("got invalid JSON %q: %v", got, err)
		return false
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want invalid JSON %q: %v", want, err)
	}
	return reflect.DeepEqual(g, w)
}

func wantSuccess(t *testing.T, res Result, x *Execution, want string) {
	t.Helper()
	if res.Status != StatusSucceeded {
		t.Fatalf("status = %s (%s: %s), want SUCCEEDED; history %v", res.Status, res.Error, res.Cause, historyTypes(x))
	}
	if !jsonEq(t, res.Output, want) {
		t.Errorf("output = %s, want %s", res.Output, want)
	}
}

func wantFailure(t *testing.T, res Result, x *Execution, wantErr string) {
	t.Helper()
	if res.Status != StatusFailed {
		t.Fatalf("status = %s (output %s), want FAILED with %s; history %v", res.Status, res.Output, wantErr, historyTypes(x))
	}
	if res.Error != wantErr {
		t.Errorf("error = %q (cause %q), want %q", res.Error, res.Cause, wantErr)
	}
}

func handler(f any) lambda.Handler { return lambda.NewHandler(f) }
