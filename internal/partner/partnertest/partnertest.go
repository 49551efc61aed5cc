// Package partnertest serves partner-callback in tests, as API Gateway does:
// an httptest server whose requests reach partner.Callback as the API
// Gateway HTTP API (2.0) events the function receives.
package partnertest

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"dsrflow/internal/partner"
)

// CallbackServer serves POST /partners/{partner}/callbacks until tb ends.
// callback is asked for the handler on every request, so it may be wired
// after the server starts (the dispatcher needs the server's URL first).
func CallbackServer(tb testing.TB, callback func() *partner.Callback) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, _ := callback().Handle(r.Context(), CallbackEvent(tb, r))
		w.WriteHeader(resp.StatusCode)
		_, _ = io.WriteString(w, resp.Body)
	}))
	tb.Cleanup(srv.Close)
	return srv
}

// CallbackEvent turns an HTTP request into the API Gateway HTTP API (2.0)
// event partner-callback receives: lower-case headers, base64 body.
func CallbackEvent(tb testing.TB, r *http.Request) events.APIGatewayV2HTTPRequest {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		tb.Error(err)
	}
	h := map[string]string{}
	for k, v := range r.Header {
		h[strings.ToLower(k)] = strings.Join(v, ",")
	}
	partnerID := ""
	if parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/"); len(parts) == 3 && parts[0] == "partners" && parts[2] == "callbacks" {
		partnerID = parts[1]
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "POST /partners/{partner}/callbacks", RawPath: r.URL.Path,
		Headers: h, PathParameters: map[string]string{"partner": partnerID},
		Body: base64.StdEncoding.EncodeToString(body), IsBase64Encoded: true,
	}
	ev.RequestContext.HTTP.Method = r.Method
	ev.RequestContext.HTTP.Path = r.URL.Path
	return ev
}
