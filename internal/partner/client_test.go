package partner_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"dsrflow/internal/dev/partnersim"
	"dsrflow/internal/dsr"
	"dsrflow/internal/partner"
)

func testPartner(id, endpoint string, mode partner.Mode) partner.Partner {
	return partner.Partner{
		ID: id, Name: dsr.Text{ZhCN: id, En: id}, Endpoint: endpoint,
		Actions:       []partner.Action{partner.ActionErase, partner.ActionExport, partner.ActionCorrect, partner.ActionWithdrawConsent, partner.ActionCloseAccount},
		IdentityTypes: []dsr.IdentifierType{dsr.IdentifierEmail, dsr.IdentifierPhone, dsr.IdentifierAccount},
		Purposes:      []string{dsr.PurposeAnalytics},
		Mode:          mode, CompletionDeadline: partner.Duration(time.Hour), SecretRef: "env:X",
	}
}

func wireRequest(id string) partner.Request {
	return partner.Request{SubjectRequestID: id, SubjectRequestType: partner.ActionErase, SubmittedTime: time.Now().UTC(),
		SubjectIdentities: []partner.Identity{{Type: "email", Value: "a@example.com", Format: "raw"}}}
}

// TestClassification: every class of answer becomes the right named error.
func TestClassification(t *testing.T) {
	type want struct {
		name string // Go type name = Step Functions error name; "" for success
		code string
	}
	tests := []struct {
		name       string
		status     int
		body       string
		retryAfter string
		want       want
		wantAfter  time.Duration
	}{
		{"200 completed", 200, `{"subject_request_id":"r1","request_status":"completed","receipt":"R-1"}`, "", want{"", ""}, 0},
		{"202 pending", 202, `{"subject_request_id":"r1","request_status":"pending"}`, "", want{"", ""}, 0},
		{"200 failed", 200, `{"subject_request_id":"r1","request_status":"failed","error_code":"no_such_user"}`, "", want{"PartnerFailed", "no_such_user"}, 0},
		{"200 cancelled", 200, `{"subject_request_id":"r1","request_status":"cancelled"}`, "", want{"PartnerFailed", "cancelled"}, 0},
		{"500", 500, `oops`, "", want{"PartnerRetryable", "http_500"}, 0},
		{"502", 502, ``, "", want{"PartnerRetryable", "http_502"}, 0},
		{"503 with Retry-After seconds", 503, ``, "7", want{"PartnerRetryable", "http_503"}, 7 * time.Second},
		{"429 with Retry-After", 429, ``, "30", want{"PartnerRetryable", "http_429"}, 30 * time.Second},
		{"408", 408, ``, "", want{"PartnerRetryable", "http_408"}, 0},
		{"400", 400, `{"error":"bad"}`, "", want{"PartnerRejected", "http_400"}, 0},
		{"401", 401, ``, "", want{"PartnerRejected", "http_401"}, 0},
		{"404", 404, ``, "", want{"PartnerRejected", "http_404"}, 0},
		{"422", 422, ``, "", want{"PartnerRejected", "http_422"}, 0},
		{"302 redirect is not followed", 302, ``, "", want{"PartnerRejected", "http_302"}, 0},
		{"garbage: HTML", 200, `<html>ok</html>`, "", want{"PartnerGarbage", "not_json"}, 0},
		{"garbage: empty", 200, ``, "", want{"PartnerGarbage", "not_json"}, 0},
		{"garbage: array", 200, `[1,2]`, "", want{"PartnerGarbage", "wrong_shape"}, 0},
		{"garbage: other request", 200, `{"subject_request_id":"r2","request_status":"completed","receipt":"R"}`, "", want{"PartnerGarbage", "wrong_request_id"}, 0},
		{"garbage: no request ID", 200, `{"request_status":"completed","receipt":"R"}`, "", want{"PartnerGarbage", "missing_request_id"}, 0},
		{"garbage: unknown status", 200, `{"subject_request_id":"r1","request_status":"done"}`, "", want{"PartnerGarbage", "unknown_status"}, 0},
		{"garbage: completed without receipt", 200, `{"subject_request_id":"r1","request_status":"completed"}`, "", want{"PartnerGarbage", "missing_receipt"}, 0},
		{"garbage: receipt with markup", 200, `{"subject_request_id":"r1","request_status":"completed","receipt":"<script>"}`, "", want{"PartnerGarbage", "bad_receipt"}, 0},
		{"garbage: status wrong type", 200, `{"subject_request_id":"r1","request_status":7}`, "", want{"PartnerGarbage", "wrong_shape"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if err := partner.Verify(secret, r.Header.Get(partner.HeaderTimestamp), r.Header.Get(partner.HeaderSignature), mustRead(r), time.Now()); err != nil {
					t.Errorf("request not signed: %v", err)
				}
				if r.URL.Path != "/dsr/requests" {
					t.Errorf("path %q, want /dsr/requests", r.URL.Path)
				}
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				if tt.status == 302 {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			c := &partner.Client{}
			_, err := c.Dispatch(t.Context(), testPartner("p", srv.URL+"/dsr", partner.ModeSync), secret, wireRequest("r1"))
			gotName, gotCode, gotAfter := classify(err)
			if gotName != tt.want.name || gotCode != tt.want.code {
				t.Errorf("Dispatch error = %v (%s %s), want %s %s", err, gotName, gotCode, tt.want.name, tt.want.code)
			}
			if gotAfter != tt.wantAfter {
				t.Errorf("RetryAfter = %v, want %v", gotAfter, tt.wantAfter)
			}
		})
	}
}

func mustRead(r *http.Request) []byte {
	b := make([]byte, r.ContentLength)
	_, _ = r.Body.Read(b)
	return b
}

func classify(err error) (name, code string, after time.Duration) {
	var (
		r *partner.PartnerRetryable
		j *partner.PartnerRejected
		g *partner.PartnerGarbage
		f *partner.PartnerFailed
	)
	switch {
	case err == nil:
		return "", "", 0
	case errors.As(err, &r):
		return "PartnerRetryable", r.Code, r.RetryAfter
	case errors.As(err, &j):
		return "PartnerRejected", j.Code, 0
	case errors.As(err, &g):
		return "PartnerGarbage", g.Code, 0
	case errors.As(err, &f):
		return "PartnerFailed", f.Code, 0
	}
	return "other: " + err.Error(), "", 0
}

func TestTransportErrorsAreRetryable(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(300 * time.Millisecond):
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	c := &partner.Client{TryTimeout: 50 * time.Millisecond}
	_, err := c.Dispatch(t.Context(), testPartner("p", slow.URL, partner.ModeSync), secret, wireRequest("r1"))
	if name, code, _ := classify(err); name != "PartnerRetryable" || code != "timeout" {
		t.Errorf("slow partner: %v, want PartnerRetryable timeout", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = c.Dispatch(t.Context(), testPartner("p", "http://"+addr, partner.ModeSync), secret, wireRequest("r1"))
	if name, code, _ := classify(err); name != "PartnerRetryable" || code != "connection" {
		t.Errorf("closed port: %v, want PartnerRetryable connection", err)
	}

	// The caller's own cancellation is not a partner error.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = c.Dispatch(ctx, testPartner("p", slow.URL, partner.ModeSync), secret, wireRequest("r1"))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled caller: %v, want context.Canceled", err)
	}
}

func TestBackoffRetriesThenSucceeds(t *testing.T) {
	sim := partnersim.New("p", secret, partnersim.Behavior{Mode: partner.ModeSync, FailFirst: 2, RetryAfter: "3"})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	c := &partner.Client{}
	var waits []time.Duration
	b := partner.Backoff{Attempts: 4, Initial: time.Second, Rate: 2, Max: 10 * time.Second,
		Rand:  func() float64 { return 0.5 },
		Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
	var resp partner.Response
	err := b.Do(t.Context(), func(ctx context.Context) error {
		var err error
		resp, err = c.Dispatch(ctx, testPartner("p", srv.URL, partner.ModeSync), secret, wireRequest("r1"))
		return err
	})
	if err != nil || resp.RequestStatus != partner.StatusCompleted {
		t.Fatalf("after retries: %+v, %v; want completed", resp, err)
	}
	if sim.Calls() != 3 {
		t.Errorf("partner called %d times, want 3", sim.Calls())
	}
	// Full jitter at 0.5 of 1s and 2s is 0.5s and 1s; Retry-After 3s wins.
	if len(waits) != 2 || waits[0] != 3*time.Second || waits[1] != 3*time.Second {
		t.Errorf("waits = %v, want [3s 3s] (Retry-After is the floor)", waits)
	}

	// Without Retry-After the wait is the jittered exponential.
	waits = nil
	sim2 := partnersim.New("p", secret, partnersim.Behavior{Mode: partner.ModeSync, FailFirst: 3})
	srv2 := httptest.NewServer(sim2)
	defer srv2.Close()
	err = b.Do(t.Context(), func(ctx context.Context) error {
		_, err := c.Dispatch(ctx, testPartner("p", srv2.URL, partner.ModeSync), secret, wireRequest("r1"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second}
	if len(waits) != 3 || waits[0] != want[0] || waits[1] != want[1] || waits[2] != want[2] {
		t.Errorf("waits = %v, want %v", waits, want)
	}

	// A permanent refusal is not retried.
	sim3 := partnersim.New("p", secret, partnersim.Behavior{Permanent: 403})
	srv3 := httptest.NewServer(sim3)
	defer srv3.Close()
	err = b.Do(t.Context(), func(ctx context.Context) error {
		_, err := c.Dispatch(ctx, testPartner("p", srv3.URL, partner.ModeSync), secret, wireRequest("r1"))
		return err
	})
	if name, _, _ := classify(err); name != "PartnerRejected" || sim3.Calls() != 1 {
		t.Errorf("permanent 403: %v after %d calls, want PartnerRejected after 1", err, sim3.Calls())
	}
}

func TestSimulatedPartnerRefusesUnsignedRequests(t *testing.T) {
	sim := partnersim.New("p", secret, partnersim.Behavior{Mode: partner.ModeSync})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	c := &partner.Client{}
	_, err := c.Dispatch(t.Context(), testPartner("p", srv.URL, partner.ModeSync), []byte("wrong-secret-0123456789"), wireRequest("r1"))
	if name, code, _ := classify(err); name != "PartnerRejected" || code != "http_401" {
		t.Errorf("wrong secret: %v, want PartnerRejected http_401", err)
	}
	if sim.Calls() != 0 {
		t.Errorf("unsigned request reached the partner logic (%d calls)", sim.Calls())
	}
}
