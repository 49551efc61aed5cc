package asl

import (
	"context"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// TaskCall tells a Task handler which state of which execution it runs for.
// The engine puts it in the context passed to lambda.Handler.Invoke; read it
// with TaskInfo or StateName.
type TaskCall struct {
	// StateName is the Task state's name ($$.State.Name).
	StateName string
	// RetryCount is how many times the state has been retried so far
	// ($$.State.RetryCount): 0 on the first attempt.
	RetryCount int
	// EnteredTime is when the state was entered ($$.State.EnteredTime).
	EnteredTime time.Time
	// ExecutionArn and StateMachineArn are $$.Execution.Id and
	// $$.StateMachine.Id.
	ExecutionArn    string
	StateMachineArn string
	// Resource is the Task's Resource as written in the definition.
	Resource string
	// TaskToken is $$.Task.Token for a .waitForTaskToken task, else empty.
	TaskToken string
}

type taskCallKey struct{}

// taskCtx is the context the engine passes to a Task handler: its parent
// with the TaskCall (and the handler's LambdaContext) in one allocation,
// instead of a context.WithValue and a TaskCall of its own.
type taskCtx struct {
	context.Context
	call TaskCall
	lc   lambdacontext.LambdaContext
}

// Value answers taskCallKey with the TaskCall and asks the parent for the
// rest.
func (c *taskCtx) Value(key any) any {
	if _, ok := key.(taskCallKey); ok {
		return &c.call
	}
	return c.Context.Value(key)
}

// WithTaskInfo returns a context carrying c, as the engine passes to Task
// handlers; it lets a handler be called outside the engine (in tests).
func WithTaskInfo(ctx context.Context, c TaskCall) context.Context {
	return context.WithValue(ctx, taskCallKey{}, &c)
}

// TaskInfo returns what the engine said about the Task a handler runs for;
// ok is false when ctx does not come from the engine (or WithTaskInfo).
func TaskInfo(ctx context.Context) (TaskCall, bool) {
	c, ok := ctx.Value(taskCallKey{}).(*TaskCall)
	if !ok || c == nil {
		return TaskCall{}, false
	}
	return *c, true
}

// StateName returns the name of the Task state a handler runs for.
func StateName(ctx context.Context) (string, bool) {
	c, ok := ctx.Value(taskCallKey{}).(*TaskCall)
	if !ok || c == nil {
		return "", false
	}
	return c.StateName, true
}

// ExecutionArnFrom returns the ARN of the execution a Task handler runs
// for ($$.Execution.Id): with Options.ExecutionClock, the execution whose
// clock the handler's work belongs to.
func ExecutionArnFrom(ctx context.Context) (string, bool) {
	c, ok := ctx.Value(taskCallKey{}).(*TaskCall)
	if !ok || c == nil {
		return "", false
	}
	return c.ExecutionArn, true
}
