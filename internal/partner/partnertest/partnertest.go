// Package partnertest serves partner-callback in tests: an httptest server
// with the callback handler mounted on its route, as the local stack and the
// Lambda edge adapter mount it.
package partnertest

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"dsrflow/internal/partner"
)

// CallbackServer serves POST /partners/{partner}/callbacks until tb ends.
// callback is asked for the handler on every request, so it may be wired
// after the server starts (the dispatcher needs the server's URL first).
func CallbackServer(tb testing.TB, callback func() *partner.Callback) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc(partner.CallbackRoute, func(w http.ResponseWriter, r *http.Request) {
		callback().ServeHTTP(w, r)
	})
	srv := httptest.NewServer(mux)
	tb.Cleanup(srv.Close)
	return srv
}
