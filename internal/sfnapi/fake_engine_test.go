package sfnapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"dsrflow/internal/sfnapi"
)

// fakeEngine stands in for internal/asl until the engine lands. A definition
// is valid when it is a JSON object with StartAt. An execution whose input has
// "hold": true stays RUNNING until its task token ("token-<name>") is answered
// or it is stopped; any other execution succeeds at once, echoing its input.
type fakeEngine struct {
	mu    sync.Mutex
	runs  map[string]*fakeRun // by task token
	clock time.Time
}

func newFakeEngine() *fakeEngine {
	return &fakeEngine{runs: map[string]*fakeRun{}, clock: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (e *fakeEngine) now() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.clock = e.clock.Add(time.Millisecond)
	return e.clock
}

func (e *fakeEngine) Validate(def []byte) []sfnapi.Problem {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(def, &m); err != nil {
		return []sfnapi.Problem{{Location: "", Code: "INVALID_JSON_DESCRIPTION", Message: err.Error()}}
	}
	if _, ok := m["StartAt"]; !ok {
		return []sfnapi.Problem{{Location: "", Code: "SCHEMA_VALIDATION_FAILED", Message: "StartAt is required"}}
	}
	return nil
}

func (e *fakeEngine) Parse(def []byte) (sfnapi.Machine, error) {
	if p := e.Validate(def); len(p) > 0 {
		return nil, fmt.Errorf("%s", p[0].Message)
	}
	return string(def), nil
}

func (e *fakeEngine) Start(_ context.Context, _ sfnapi.Machine, in sfnapi.StartInput) (sfnapi.Execution, error) {
	r := &fakeRun{engine: e, result: sfnapi.Result{Status: "RUNNING", StartDate: e.now()}}
	r.event("ExecutionStarted", "executionStartedEventDetails", map[string]any{"input": string(in.Input), "inputDetails": map[string]bool{"truncated": false}, "roleArn": in.RoleArn})
	var v struct {
		Hold bool `json:"hold"`
	}
	_ = json.Unmarshal(in.Input, &v)
	if v.Hold {
		e.mu.Lock()
		e.runs["token-"+in.Name] = r
		e.mu.Unlock()
		r.event("TaskSubmitted", "taskSubmittedEventDetails", map[string]any{"resourceType": "lambda", "resource": "invoke.waitForTaskToken", "output": "{}"})
		return r, nil
	}
	r.finish(sfnapi.Result{Status: "SUCCEEDED", Output: in.Input})
	return r, nil
}

func (e *fakeEngine) run(token string) (*fakeRun, error) {
	if !strings.HasPrefix(token, "token-") {
		return nil, sfnapi.ErrInvalidToken
	}
	e.mu.Lock()
	r, ok := e.runs[token]
	e.mu.Unlock()
	if !ok {
		return nil, sfnapi.ErrTaskDoesNotExist
	}
	if r.Describe().Status != "RUNNING" {
		return nil, sfnapi.ErrTaskTimedOut
	}
	return r, nil
}

func (e *fakeEngine) SendTaskSuccess(token string, output json.RawMessage) error {
	r, err := e.run(token)
	if err != nil {
		return err
	}
	r.finish(sfnapi.Result{Status: "SUCCEEDED", Output: output})
	return nil
}

func (e *fakeEngine) SendTaskFailure(token, errName, cause string) error {
	r, err := e.run(token)
	if err != nil {
		return err
	}
	r.finish(sfnapi.Result{Status: "FAILED", Error: errName, Cause: cause})
	return nil
}

func (e *fakeEngine) SendTaskHeartbeat(token string) error {
	_, err := e.run(token)
	return err
}

type fakeRun struct {
	engine *fakeEngine
	mu     sync.Mutex
	result sfnapi.Result
	events []sfnapi.Event
}

func (r *fakeRun) event(typ, key string, details map[string]any) {
	b, _ := json.Marshal(details)
	r.mu.Lock()
	defer r.mu.Unlock()
	id := int64(len(r.events) + 1)
	r.events = append(r.events, sfnapi.Event{Timestamp: r.engine.now(), Type: typ, ID: id, PreviousEventID: id - 1, Details: map[string]json.RawMessage{key: b}})
}

func (r *fakeRun) finish(res sfnapi.Result) {
	r.mu.Lock()
	res.StartDate = r.result.StartDate
	res.StopDate = r.engine.now()
	r.result = res
	r.mu.Unlock()
	switch res.Status {
	case "SUCCEEDED":
		r.event("ExecutionSucceeded", "executionSucceededEventDetails", map[string]any{"output": string(res.Output), "outputDetails": map[string]bool{"truncated": false}})
	case "FAILED":
		r.event("ExecutionFailed", "executionFailedEventDetails", map[string]any{"error": res.Error, "cause": res.Cause})
	case "ABORTED":
		r.event("ExecutionAborted", "executionAbortedEventDetails", map[string]any{"error": res.Error, "cause": res.Cause})
	}
}

func (r *fakeRun) Describe() sfnapi.Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.result
}

func (r *fakeRun) History() []sfnapi.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sfnapi.Event(nil), r.events...)
}

func (r *fakeRun) Stop(errName, cause string) {
	if r.Describe().Status == "RUNNING" {
		r.finish(sfnapi.Result{Status: "ABORTED", Error: errName, Cause: cause})
	}
}
