// Package lazyinit builds a Lambda function's handler on its first
// invocation instead of during the cold start's init phase.
//
// AWS clients, loaded configuration files and the like are built on first use
// so that init does no I/O beyond reading the environment; a function's main
// reads and checks its configuration eagerly (a bad configuration should fail
// init, where Lambda reports it) and hands the rest to New. A build that fails
// fails that invocation and is tried again on the next one, unlike
// sync.OnceValues, which would keep the error for the life of the sandbox.
package lazyinit

import (
	"context"
	"sync"
)

// Value is a T built on first use.
type Value[T any] struct {
	build func(context.Context) (T, error)

	mu    sync.Mutex
	v     T
	built bool
}

// New returns a Value that build makes on the first Get.
func New[T any](build func(context.Context) (T, error)) *Value[T] {
	return &Value[T]{build: build}
}

// Get returns the value, building it first if no Get has succeeded yet.
// Concurrent first calls build it once.
func (l *Value[T]) Get(ctx context.Context) (T, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.built {
		return l.v, nil
	}
	v, err := l.build(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	l.v, l.built = v, true
	return v, nil
}

// Handler is a Lambda handler that gets the value and calls call with it;
// call is typically a method expression such as (*workflow.Handlers).Admit.
func Handler[T, In, Out any](l *Value[T], call func(T, context.Context, In) (Out, error)) func(context.Context, In) (Out, error) {
	return func(ctx context.Context, in In) (Out, error) {
		v, err := l.Get(ctx)
		if err != nil {
			var zero Out
			return zero, err
		}
		return call(v, ctx, in)
	}
}

// Action is Handler for a call that returns nothing but an error.
func Action[T, In any](l *Value[T], call func(T, context.Context, In) error) func(context.Context, In) error {
	return func(ctx context.Context, in In) error {
		v, err := l.Get(ctx)
		if err != nil {
			return err
		}
		return call(v, ctx, in)
	}
}

// Derive is a Value that is part of l's value, picked when first used; for
// example the partner dispatcher of the workflow handlers.
func Derive[T, U any](l *Value[T], pick func(T) U) *Value[U] {
	return New(func(ctx context.Context) (U, error) {
		v, err := l.Get(ctx)
		if err != nil {
			var zero U
			return zero, err
		}
		return pick(v), nil
	})
}
