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
	// stale, when set (NewKeyed), runs on every Get before the value is
	// served and reports whether it must be built again.
	stale func(context.Context) (bool, error)

	mu    sync.Mutex
	v     T
	built bool
}

// New returns a Value that build makes on the first Get.
func New[T any](build func(context.Context) (T, error)) *Value[T] {
	return &Value[T]{build: build}
}

// NewKeyed returns a Value built by build from a key, and built again
// whenever key returns a different one. key runs on every Get, so it must
// be cheap: the functions' key is their secrets, read through
// internal/secretstore's cache, so that a rotated secret reaches the
// handlers without a redeploy. An error from key fails that Get (the
// value built from the old key is not served). A build that fails is
// tried again on the next Get, with the key of that Get.
func NewKeyed[T any, K comparable](key func(context.Context) (K, error), build func(context.Context, K) (T, error)) *Value[T] {
	var next, cur K
	var have bool
	l := &Value[T]{}
	l.stale = func(ctx context.Context) (bool, error) {
		k, err := key(ctx)
		if err != nil {
			return false, err
		}
		next = k
		return !have || k != cur, nil
	}
	l.build = func(ctx context.Context) (T, error) {
		v, err := build(ctx, next)
		if err == nil {
			cur, have = next, true
		}
		return v, err
	}
	return l
}

// Get returns the value, building it first if no Get has succeeded yet.
// Concurrent first calls build it once.
func (l *Value[T]) Get(ctx context.Context) (T, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stale != nil {
		stale, err := l.stale(ctx)
		if err != nil {
			var zero T
			return zero, err
		}
		if stale {
			l.built = false
		}
	}
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
