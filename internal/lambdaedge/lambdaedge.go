// Package lambdaedge serves the project's stdlib http.Handlers as AWS Lambda
// functions behind an API Gateway HTTP API (payload format 2.0), through
// github.com/awslabs/aws-lambda-go-api-proxy's httpadapter: the event becomes
// an *http.Request (path, query, headers, cookies, the base64 body decoded,
// RemoteAddr the caller's source IP) and the ResponseWriter's output becomes
// the response event. Handlers know nothing of Lambda; the local stack and
// the tests mount the same handlers on an http.ServeMux directly.
package lambdaedge

import (
	"context"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"dsrflow/internal/lazyinit"
)

// Func is an API Gateway HTTP API (payload 2.0) Lambda handler.
type Func func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// Handler serves h behind the HTTP API.
func Handler(h http.Handler) Func {
	return httpadapter.NewV2(h).ProxyWithContext
}

// Lazy serves the handler mk makes from v's value, built on the first
// invocation (internal/lazyinit: no I/O during a cold start's init), and
// mounted on pattern (an http.ServeMux pattern such as
// "POST /partners/{partner}/callbacks", so that r.PathValue works); an
// empty pattern serves it for every path (a handler with its own mux). A
// failed build answers 503 and is tried again on the next request.
func Lazy[T any, H http.Handler](pattern string, v *lazyinit.Value[T], mk func(T) H) Func {
	h := lazyinit.New(func(ctx context.Context) (http.Handler, error) {
		val, err := v.Get(ctx)
		if err != nil {
			return nil, err
		}
		var handler http.Handler = mk(val)
		if pattern != "" {
			mux := http.NewServeMux()
			mux.Handle(pattern, handler)
			handler = mux
		}
		return handler, nil
	})
	return Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler, err := h.Get(r.Context())
		if err != nil {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"message":"Service Unavailable"}`))
			return
		}
		handler.ServeHTTP(w, r)
	}))
}
