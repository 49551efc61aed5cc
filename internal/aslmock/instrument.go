package aslmock

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
)

// Mock runs a Script against a definition on the local engine. The engine
// resolves tasks by resource, while scripts (and Step Functions Local mock
// configs) name Task states, so Instrument gives every Task state a resource
// of its own and Resolve maps it back to the state:
//
//   - a Task ending in .waitForTaskToken gets "arn:aws:states:::aslmock:task-N.waitForTaskToken"
//     and keeps its callback semantics ($$.Task.Token exists); its handler
//     answers the token it finds in the task input with the scripted outcome,
//     as Step Functions Local does for mocked callback tasks;
//   - every other Task gets "arn:aws:lambda:us-east-1:123456789012:function:aslmock-task-N",
//     so the scripted Return is the task result as is (Step Functions Local
//     returns a mocked response unchanged, without lambda:invoke's wrapping).
type Mock struct {
	definition []byte
	player     *Player
	states     map[string]string // resolve key -> state name
	callback   map[string]bool   // resolve key -> .waitForTaskToken

	mu     sync.Mutex
	tokens TokenSender
}

// TokenSender completes .waitForTaskToken tasks; the engine is one.
type TokenSender interface {
	SendTaskSuccess(taskToken string, output json.RawMessage) error
	SendTaskFailure(taskToken, errName, cause string) error
}

const (
	lambdaPrefix   = "arn:aws:lambda:us-east-1:123456789012:function:aslmock-task-"
	callbackPrefix = "arn:aws:states:::aslmock:task-"
	callbackSuffix = ".waitForTaskToken"
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
	m := &Mock{player: NewPlayer(s), states: map[string]string{}, callback: map[string]bool{}}
	n := 0
	var walk func(machine any)
	walk = func(machine any) {
		mm, _ := machine.(map[string]any)
		states, _ := mm["States"].(map[string]any)
		for name, raw := range states {
			st, _ := raw.(map[string]any)
			if st == nil {
				continue
			}
			if st["Type"] == "Task" {
				n++
				res, _ := st["Resource"].(string)
				if strings.HasSuffix(res, callbackSuffix) {
					key := fmt.Sprintf("%s%d", callbackPrefix, n)
					st["Resource"] = key + callbackSuffix
					m.states[key] = name
					m.callback[key] = true
				} else {
					key := fmt.Sprintf("%s%d", lambdaPrefix, n)
					st["Resource"] = key
					m.states[key] = name
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
	m.definition = out
	return m, nil
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
func (m *Mock) Resolve(resource string) (lambda.Handler, error) {
	state, ok := m.states[resource]
	if !ok {
		return nil, fmt.Errorf("aslmock: no Task state has resource %q", resource)
	}
	if m.callback[resource] {
		return handlerFunc(func(ctx context.Context, payload []byte) ([]byte, error) {
			return m.answerCallback(ctx, state, payload)
		}), nil
	}
	return handlerFunc(func(ctx context.Context, payload []byte) ([]byte, error) {
		return m.player.Invoke(ctx, state, payload)
	}), nil
}

// answerCallback completes a .waitForTaskToken task: it tries each string in
// the task input as the token (the definition passes $$.Task.Token in its
// Parameters) and sends the scripted outcome; the engine holds the answer
// until the handler has returned.
func (m *Mock) answerCallback(_ context.Context, state string, payload []byte) ([]byte, error) {
	m.mu.Lock()
	tokens := m.tokens
	m.mu.Unlock()
	if tokens == nil {
		return nil, messages.InvokeResponse_Error{Type: "States.Runtime", Message: "aslmock: no engine to answer the callback task " + state}
	}
	var in any
	_ = json.Unmarshal(payload, &in)
	candidates := stringsIn(in, nil)
	o, err := m.player.Next(state)
	for _, tok := range candidates {
		var serr error
		switch {
		case err != nil:
			serr = tokens.SendTaskFailure(tok, "States.Runtime", err.Error())
		case o.Throw != nil:
			serr = tokens.SendTaskFailure(tok, o.Throw.Error, o.Throw.Cause)
		default:
			serr = tokens.SendTaskSuccess(tok, o.Return)
		}
		if serr == nil {
			return []byte("{}"), nil
		}
	}
	return nil, messages.InvokeResponse_Error{Type: "States.Runtime", Message: fmt.Sprintf("aslmock: the input of callback task %q carries no task token ($$.Task.Token)", state)}
}

func stringsIn(v any, acc []string) []string {
	switch t := v.(type) {
	case string:
		acc = append(acc, t)
	case []any:
		for _, e := range t {
			acc = stringsIn(e, acc)
		}
	case map[string]any:
		for _, e := range t {
			acc = stringsIn(e, acc)
		}
	}
	return acc
}

type handlerFunc func(ctx context.Context, payload []byte) ([]byte, error)

func (f handlerFunc) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return f(ctx, payload)
}

// LambdaCause reads a Step Functions cause produced from a Lambda function
// error ({"errorMessage": ..., "errorType": ...}) and returns its message when
// the error type is errName; any other cause is returned unchanged. The local
// engine reports a scripted throw the way AWS reports a Lambda function
// error, with the Lambda error JSON as the cause.
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
