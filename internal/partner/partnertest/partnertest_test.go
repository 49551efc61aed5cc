package partnertest

import (
	"encoding/base64"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCallbackEvent(t *testing.T) {
	tests := []struct {
		path, wantPartner string
	}{
		{"/partners/voice-store/callbacks", "voice-store"},
		{"/partners/voice-store", ""},
		{"/other/voice-store/callbacks", ""},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", tt.path, strings.NewReader(`{"a":1}`))
		r.Header.Set("X-Signature", "s1")
		r.Header.Add("X-Signature", "s2")
		ev := CallbackEvent(t, r)
		if got := ev.PathParameters["partner"]; got != tt.wantPartner {
			t.Errorf("%s: partner %q, want %q", tt.path, got, tt.wantPartner)
		}
		if ev.RouteKey != "POST /partners/{partner}/callbacks" || ev.Version != "2.0" || ev.RawPath != tt.path {
			t.Errorf("%s: route %q version %q path %q", tt.path, ev.RouteKey, ev.Version, ev.RawPath)
		}
		if got := ev.Headers["x-signature"]; got != "s1,s2" {
			t.Errorf("%s: x-signature %q, want the values joined under the lower-case name", tt.path, got)
		}
		body, err := base64.StdEncoding.DecodeString(ev.Body)
		if !ev.IsBase64Encoded || err != nil || string(body) != `{"a":1}` {
			t.Errorf("%s: body %q (base64 %v, %v), want the request body base64-encoded", tt.path, ev.Body, ev.IsBase64Encoded, err)
		}
		if ev.RequestContext.HTTP.Method != "POST" || ev.RequestContext.HTTP.Path != tt.path {
			t.Errorf("%s: request context %+v", tt.path, ev.RequestContext.HTTP)
		}
	}
}
