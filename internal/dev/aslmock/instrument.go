package aslmock

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-lambda-go/lambda"

	"dsrflow/internal/dev/asl"
)

// Mock runs a Script against a definition on the local engine. Scripts
// (and Step Functions Local mock configs) name Task states; the engine tells
// each handler which state it runs for (asl.TaskInfo), so Instrument only
// makes every Task call the Mock:
//
//   - a Task ending in .waitForTaskToken gets "arn:aws:states:::aslmock:task.waitForTaskToken"
//     and keeps its callback semantics ($$.Task.Token exists); its handler
//     answers the task's token with the scripted outcome, as Step Functions
//     Local does for mocked callback tasks;
//   - every other Task gets "arn:aws:lambda:us-east-1:123456789012:function:aslmock",
//     so the scripted Return is the task result as is (Step Functions Local
//     returns a mocked response unchanged, without lambda:invoke's wrapping).
type Mock struct {
	definition []byte
	player     *Player

	mu     sync.Mutex
	tokens TokenSender
}

// TokenSender completes .waitForTaskToken tasks; the engine is one.
type TokenSender interface {
	SendTaskSuccess(taskToken string, output json.RawMessage) error
	SendTaskFailure(taskToken, errName, cause string) error
}

const (
	lambdaResource   = "arn:aws:lambda:us-east-1:123456789012:function:aslmock"
	callbackResource = "arn:aws:states:::aslmock:task" // the engine resolves it without .waitForTaskToken
	callbackSuffix   = ".waitForTaskToken"
)

// Instrument rewrites the Task resources of definition and returns a Mock
// that plays s for them.
func Instrument(definition []byte, s Script) (*Mock, error) {
	dec := json.NewDecoder(bytes.NewReader(definition))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("read definition: %w", err)
	}
	var walk func(machine any)
	walk = func(machine any) {
		mm, _ := machine.(map[string]any)
		states, _ := mm["States"].(map[string]any)
		for _, raw := range states {
			st, _ := raw.(map[string]any)
			if st == nil {
				continue
			}
			if st["Type"] == "Task" {
				res, _ := st["Resource"].(string)
				if strings.HasSuffix(res, callbackSuffix) {
					st["Resource"] = callbackResource + callbackSuffix
				} else {
					st["Resource"] = lambdaResource
				}
			}
			if bs, ok := st["Branches"].([]any); ok {
				for _, b := range bs {
					walk(b)
				}
			}
			for _, k := range []string{"Iterator", "ItemProcessor"} {
				if p, ok := st[k]; ok {
					walk(p)
				}
			}
		}
	}
	walk(root)
	out, err := json.Marshal(root)
	if err != nil {
		return nil, fmt.Errorf("rewrite definition: %w", err)
	}
	return &Mock{definition: out, player: NewPlayer(s)}, nil
}

// Definition is the rewritten definition to run.
func (m *Mock) Definition() []byte { return m.definition }

// SetTokenSender gives the Mock the engine that answers callback tasks.
func (m *Mock) SetTokenSender(t TokenSender) {
	m.mu.Lock()
	m.tokens = t
	m.mu.Unlock()
}

// Calls reports how many times a Task state was invoked.
func (m *Mock) Calls(state string) int { return m.player.Calls(state) }

// Resolve returns the handler for a rewritten resource (asl.TaskResolver).
// The handler plays the outcome of the Task state named by asl.TaskInfo in
// its context.
func (m *Mock) Resolve(resource string) (lambda.Handler, error) {
	switch resource {
	case lambdaResource:
		return handlerFunc(func(ctx context.Context, payload []byte) ([]byte, error) {
			state, ok := asl.StateName(ctx)
			if !ok {
				return nil, errNoTaskInfo
			}
			return m.player.Invoke(ctx, state, payload)
		}), nil
	case callbackResource:
		return handlerFunc(m.answerCallback), nil
	}
	return nil, fmt.Errorf("aslmock: resource %q is not one that Instrument gives Task states", resource)
}

var errNoTaskInfo = &asl.TaskFailure{Name: asl.ErrRuntime, Cause: "aslmock: the context does not name the Task state (asl.TaskInfo)"}

// answerCallback completes a .waitForTaskToken task: it sends the scripted
// outcome for the task's token; the engine holds the answer until the
// handler has returned.
func (m *Mock) answerCallback(ctx context.Context, _ []byte) ([]byte, error) {
	task, ok := asl.TaskInfo(ctx)
	if !ok {
		return nil, errNoTaskInfo
	}
	state := task.StateName
	m.mu.Lock()
	tokens := m.tokens
	m.mu.Unlock()
	if tokens == nil {
		return nil, &asl.TaskFailure{Name: asl.ErrRuntime, Cause: "aslmock: no engine to answer the callback task " + state}
	}
	o, err := m.player.Next(state)
	if task.TaskToken == "" {
		return nil, &asl.TaskFailure{Name: asl.ErrRuntime, Cause: fmt.Sprintf("aslmock: callback task %q has no task token", state)}
	}
	var serr error
	switch {
	case err != nil:
		serr = tokens.SendTaskFailure(task.TaskToken, "States.Runtime", err.Error())
	case o.Throw != nil:
		serr = tokens.SendTaskFailure(task.TaskToken, o.Throw.Error, o.Throw.Cause)
	default:
		serr = tokens.SendTaskSuccess(task.TaskToken, o.Return)
	}
	if serr != nil {
		return nil, &asl.TaskFailure{Name: asl.ErrRuntime, Cause: fmt.Sprintf("aslmock: answer callback task %q: %v", state, serr)}
	}
	return []byte("{}"), nil
}

type handlerFunc func(ctx context.Context, payload []byte) ([]byte, error)

func (f handlerFunc) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return f(ctx, payload)
}

// LambdaCause reads a Step Functions cause produced from a Lambda function
// error ({"errorMessage": ..., "errorType": ...}) and returns its message when
// the error type is errName; any other cause is returned unchanged. The
// engine reports an error from a Lambda handler the way AWS does, with the
// Lambda error JSON as the cause; scripted throws (Player, Mock) come as
// *asl.TaskFailure, whose cause the engine reports verbatim and which need
// no unwrapping.
func LambdaCause(errName, cause string) string {
	var v struct {
		ErrorMessage *string `json:"errorMessage"`
		ErrorType    string  `json:"errorType"`
	}
	dec := json.NewDecoder(strings.NewReader(cause))
	if err := dec.Decode(&v); err != nil || v.ErrorMessage == nil || v.ErrorType != errName {
		return cause
	}
	return *v.ErrorMessage
}
