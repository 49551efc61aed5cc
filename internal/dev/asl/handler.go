package asl

import (
	"bytes"
	"context"
	"sync"

	"github.com/aws/aws-lambda-go/lambda"
)

// NewHandler is lambda.NewHandlerWithOptions for the engine, with Lambda's
// concurrency: it keeps a pool of handler instances, each running one
// invocation at a time, and starts another when all are busy, as Lambda
// starts another instance of a function. A handler made by lambda.NewHandler
// runs one invocation at a time in the engine (its output is a buffer the
// next invocation reuses), so Map iterations and Parallel branches calling
// it wait for each other; with NewHandler they run at once.
//
// handlerFunc follows the rules of lambda.Start. Options run once per
// instance, so lambda.WithEnableSIGTERM does not belong here.
func NewHandler(handlerFunc any, options ...lambda.Option) lambda.Handler {
	p := &pooledHandler{}
	p.pool.New = func() any { return lambda.NewHandlerWithOptions(handlerFunc, options...) }
	return p
}

type pooledHandler struct {
	pool sync.Pool // of lambda.Handler
}

// Invoke runs one invocation on an idle instance and returns a copy of its
// output, so the instance may serve the next invocation at once.
func (p *pooledHandler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	h := p.pool.Get().(lambda.Handler)
	defer p.pool.Put(h)
	out, err := h.Invoke(ctx, payload)
	if out != nil {
		out = bytes.Clone(out)
	}
	return out, err
}
