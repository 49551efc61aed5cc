package partnersim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"dsrflow/internal/dev/partnersim"
	"dsrflow/internal/dsr"
	"dsrflow/internal/partner"
)

var secret = []byte("sim-secret-0123456789abcdef")

func post(t *testing.T, url string, body any, sec []byte, at time.Time) (int, []byte) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	ts, sig := partner.Sign(sec, at, b)
	req.Header.Set(partner.HeaderTimestamp, ts)
	req.Header.Set(partner.HeaderSignature, sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func TestSignaturesRequired(t *testing.T) {
	srv := httptest.NewServer(partnersim.New("p", secret, partnersim.Behavior{}))
	defer srv.Close()
	req := partner.Request{SubjectRequestID: "r1", SubjectRequestType: partner.ActionErase}
	for _, tt := range []struct {
		name string
		sec  []byte
		at   time.Time
		want int
	}{
		{"good", secret, time.Now(), 200},
		{"wrong secret", []byte("another-secret-0123456789"), time.Now(), 401},
		{"stale", secret, time.Now().Add(-time.Hour), 401},
	} {
		if got, _ := post(t, srv.URL+"/requests", req, tt.sec, tt.at); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestAsyncCallsBackSigned(t *testing.T) {
	var mu sync.Mutex
	var got []partner.Response
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if err := partner.Verify(secret, r.Header.Get(partner.HeaderTimestamp), r.Header.Get(partner.HeaderSignature), b, time.Now()); err != nil {
			t.Errorf("callback not signed: %v", err)
		}
		var resp partner.Response
		_ = json.Unmarshal(b, &resp)
		mu.Lock()
		got = append(got, resp)
		mu.Unlock()
	}))
	defer cb.Close()
	sim := partnersim.New("p", secret, partnersim.Behavior{Mode: partner.ModeAsync, CallbackDelay: 10 * time.Millisecond})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	req := partner.Request{SubjectRequestID: "r1", SubjectRequestType: partner.ActionExport, StatusCallbackURLs: []string{cb.URL}}
	status, body := post(t, srv.URL+"/requests", req, secret, time.Now())
	if status != 202 {
		t.Fatalf("async answer %d %s, want 202", status, body)
	}
	if _, err := partner.ParseResponse("p", "r1", body); err != nil {
		t.Errorf("202 body is not the protocol: %v", err)
	}
	// A repeated request is accepted again but called back once.
	post(t, srv.URL+"/requests", req, secret, time.Now())
	sim.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0].RequestStatus != partner.StatusCompleted || got[0].Receipt != sim.Receipt("r1") || len(got[0].Export) == 0 {
		t.Errorf("callbacks = %+v, want one completed export with the receipt", got)
	}
}

func TestFailureBehaviours(t *testing.T) {
	req := partner.Request{SubjectRequestID: "r1", SubjectRequestType: partner.ActionErase}
	seq := func(b partnersim.Behavior, n int) []int {
		srv := httptest.NewServer(partnersim.New("p", secret, b))
		defer srv.Close()
		var out []int
		for range n {
			s, _ := post(t, srv.URL+"/requests", req, secret, time.Now())
			out = append(out, s)
		}
		return out
	}
	eq := func(a, b []int) bool { return len(a) == len(b) && string(mustJSON(a)) == string(mustJSON(b)) }
	if got := seq(partnersim.Behavior{FailFirst: 2, FailStatus: 500}, 4); !eq(got, []int{500, 500, 200, 200}) {
		t.Errorf("FailFirst 2: %v", got)
	}
	if got := seq(partnersim.Behavior{Permanent: 400}, 3); !eq(got, []int{400, 400, 400}) {
		t.Errorf("Permanent 400: %v", got)
	}
	a := seq(partnersim.Behavior{FailRate: 0.5, Seed: 7}, 20)
	b := seq(partnersim.Behavior{FailRate: 0.5, Seed: 7}, 20)
	if !eq(a, b) {
		t.Errorf("same seed, different failures: %v vs %v", a, b)
	}
	fails := 0
	for _, s := range a {
		if s != 200 {
			fails++
		}
	}
	if fails == 0 || fails == 20 {
		t.Errorf("FailRate 0.5 failed %d of 20", fails)
	}
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

func TestPrecheckAndPurgeStatus(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	sim := partnersim.New("acct", secret, partnersim.Behavior{
		Obligations:     []partner.Obligation{{Code: "open_dispute", Text: &dsr.Text{ZhCN: "纠纷", En: "dispute"}}},
		BackupRetention: 30 * 24 * time.Hour,
	})
	sim.Now = func() time.Time { return now }
	srv := httptest.NewServer(sim)
	defer srv.Close()
	// The partner's business clock is far from wall time; signatures still
	// use wall time on both sides.
	c := &partner.Client{}
	p := partner.Partner{ID: "acct", Endpoint: srv.URL}
	pre, err := c.Precheck(context.Background(), p, secret, partner.PrecheckRequest{SubjectRequestID: "r1"})
	if err != nil || len(pre.Obligations) != 1 || pre.Obligations[0].Code != "open_dispute" {
		t.Errorf("Precheck = %+v, %v", pre, err)
	}
	for _, tt := range []struct {
		deleted time.Time
		purged  bool
	}{{now.Add(-10 * 24 * time.Hour), false}, {now.Add(-31 * 24 * time.Hour), true}} {
		st, err := c.PurgeStatus(context.Background(), p, secret, partner.PurgeStatusRequest{SubjectRequestID: "r1", DeletedAt: tt.deleted})
		if err != nil || *st.Purged != tt.purged {
			t.Errorf("deleted %v: purged %v, %v; want %v", tt.deleted, st.Purged, err, tt.purged)
		}
	}
}

// TestNowForPerRequest: with NowFor, each request's backups rotate and
// its completion is expected on that request's own clock (the local stack:
// its execution's), while signatures stay on the wall clock.
func TestNowForPerRequest(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	ahead := now.Add(40 * 24 * time.Hour)
	sim := partnersim.New("bk", secret, partnersim.Behavior{Mode: partner.ModeAsync, ManualCallback: true,
		CallbackDelay: time.Hour, BackupRetention: 30 * 24 * time.Hour})
	sim.Now = func() time.Time { return now }
	sim.NowFor = func(id string) time.Time {
		if id == "r-ahead" {
			return ahead
		}
		return now
	}
	srv := httptest.NewServer(sim)
	defer srv.Close()
	c := &partner.Client{}
	p := partner.Partner{ID: "bk", Endpoint: srv.URL}
	deleted := now.Add(-24 * time.Hour)
	for _, tt := range []struct {
		id     string
		clock  time.Time
		purged bool
	}{{"r-ahead", ahead, true}, {"r-now", now, false}} {
		st, err := c.PurgeStatus(context.Background(), p, secret, partner.PurgeStatusRequest{SubjectRequestID: tt.id, DeletedAt: deleted})
		if err != nil {
			t.Fatalf("%s: PurgeStatus: %v", tt.id, err)
		}
		oldest := tt.clock.Add(-30 * 24 * time.Hour).Truncate(24 * time.Hour).Add(24 * time.Hour)
		if *st.Purged != tt.purged || !st.OldestBackup.Equal(oldest) {
			t.Errorf("%s: purged %v, oldest backup %s; want %v, %s", tt.id, *st.Purged, st.OldestBackup, tt.purged, oldest)
		}
		status, body := post(t, srv.URL+"/requests", partner.Request{SubjectRequestID: tt.id, SubjectRequestType: partner.ActionErase}, secret, time.Now())
		var resp partner.Response
		if err := json.Unmarshal(body, &resp); err != nil || status != http.StatusAccepted || resp.ExpectedCompletionTime == nil {
			t.Fatalf("%s: request = %d %s, %v; want 202 with an expected completion time", tt.id, status, body, err)
		}
		if want := tt.clock.Add(time.Hour); !resp.ExpectedCompletionTime.Equal(want) {
			t.Errorf("%s: expected completion %s, want %s", tt.id, resp.ExpectedCompletionTime, want)
		}
	}
}

func TestFleetRoutes(t *testing.T) {
	a := partnersim.New("a", secret, partnersim.Behavior{})
	b := partnersim.New("b", secret, partnersim.Behavior{})
	srv := httptest.NewServer(partnersim.NewFleet(a, b))
	defer srv.Close()
	req := partner.Request{SubjectRequestID: "r1", SubjectRequestType: partner.ActionErase}
	if s, _ := post(t, srv.URL+"/b/requests", req, secret, time.Now()); s != 200 || b.Calls() != 1 || a.Calls() != 0 {
		t.Errorf("/b/requests: %d, calls a=%d b=%d", s, a.Calls(), b.Calls())
	}
	if s, _ := post(t, srv.URL+"/zz/requests", req, secret, time.Now()); s != 404 {
		t.Errorf("unknown partner: %d, want 404", s)
	}
}

func TestLocal(t *testing.T) {
	cfg := &partner.Config{Partners: []partner.Partner{
		{ID: "a", Endpoint: "https://a.example/dsr", Mode: partner.ModeSync},
		{ID: "b", Endpoint: "https://b.example/dsr", Mode: partner.ModeAsync},
	}}
	fleet, local := partnersim.Local(cfg, "http://127.0.0.1:9999/partners/", func(id string) []byte { return []byte(id + "-secret-0123456789") },
		map[string]partnersim.Behavior{"a": {Permanent: 503}})
	if local.Partners[0].Endpoint != "http://127.0.0.1:9999/partners/a" || cfg.Partners[0].Endpoint != "https://a.example/dsr" {
		t.Errorf("endpoints: local %q, original %q", local.Partners[0].Endpoint, cfg.Partners[0].Endpoint)
	}
	if fleet.Partner("a").B.Permanent != 503 || fleet.Partner("b").B.Mode != partner.ModeAsync || fleet.Partner("a").B.Mode != partner.ModeSync {
		t.Errorf("behaviours: a %+v, b %+v", fleet.Partner("a").B, fleet.Partner("b").B)
	}
}
