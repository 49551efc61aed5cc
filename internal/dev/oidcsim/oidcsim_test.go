package oidcsim

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"dsrflow/internal/idtoken"
)

var t0 = time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)

// serve mounts a provider on dir under /oidc/ of a test server, as the
// local stack does, and returns it with the server.
func serve(t *testing.T, dir string, now func() time.Time) (*Provider, *httptest.Server) {
	t.Helper()
	var p *Provider
	mux := http.NewServeMux()
	mux.Handle("/oidc/", http.StripPrefix("/oidc", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { p.ServeHTTP(w, r) })))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	var err error
	p, err = New(Config{Dir: dir, Issuer: srv.URL + "/oidc/"}, Deps{Clock: now})
	if err != nil {
		t.Fatal(err)
	}
	return p, srv
}

func TestMintedTokenVerifies(t *testing.T) {
	dir := t.TempDir()
	now := t0
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	p, srv := serve(t, dir, clock)
	if _, err := os.Stat(filepath.Join(dir, KeyFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("New made the key: %v", err)
	}
	cfg := p.VerifierConfig()
	if cfg.Issuer != srv.URL+"/oidc" || cfg.JWKSURL != srv.URL+"/oidc/jwks.json" {
		t.Errorf("VerifierConfig = %+v", cfg)
	}
	v, err := idtoken.New(cfg, idtoken.Deps{HTTPClient: srv.Client(), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := p.Mint("u_42", 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.Verify(context.Background(), raw)
	if err != nil || got.Subject != "u_42" || !got.ExpiresAt.Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("Verify(minted) = %+v, %v; want subject u_42", got, err)
	}
	info, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v, mode %v; want 0600", err, info.Mode().Perm())
	}
	// Eleven minutes on the token has expired.
	mu.Lock()
	now = now.Add(11 * time.Minute)
	mu.Unlock()
	var e *idtoken.Error
	if _, err := v.Verify(context.Background(), raw); !errors.As(err, &e) || e.Code != idtoken.CodeExpired {
		t.Errorf("Verify after expiry = %v, want token_expired", err)
	}
	// A token for another audience is refused.
	other, _ := New(Config{Dir: dir, Issuer: p.Issuer(), Audience: "another-app"}, Deps{Clock: clock})
	raw, _ = other.Mint("u_42", time.Minute)
	if _, err := v.Verify(context.Background(), raw); !errors.As(err, &e) || e.Code != idtoken.CodeAudience {
		t.Errorf("Verify(other audience) = %v, want token_audience", err)
	}
}

// TestKeyShared: a second provider on the same folder (dsr local token in
// another process) signs with the same key, and concurrent first uses agree.
func TestKeyShared(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	kids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := New(Config{Dir: dir, Issuer: "http://127.0.0.1:1/oidc"}, Deps{})
			if err != nil {
				t.Error(err)
				return
			}
			k, err := p.key.Get(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			kids[i] = k.kid
		}()
	}
	wg.Wait()
	for i := range kids {
		if kids[i] == "" || kids[i] != kids[0] {
			t.Fatalf("key IDs differ across providers on one folder: %v", kids)
		}
	}
	if len(kids[0]) != 43 {
		t.Errorf("kid %q is not a base64url SHA-256 thumbprint", kids[0])
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".signing-key-*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestServedDocuments(t *testing.T) {
	p, srv := serve(t, t.TempDir(), nil)
	get := func(path string) (int, map[string]any) {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	status, doc := get("/oidc/.well-known/openid-configuration")
	if status != 200 || doc["issuer"] != p.Issuer() || doc["jwks_uri"] != p.JWKSURL() {
		t.Errorf("discovery: %d %v", status, doc)
	}
	status, set := get("/oidc/jwks.json")
	keys, _ := set["keys"].([]any)
	if status != 200 || len(keys) != 1 {
		t.Fatalf("jwks: %d %v", status, set)
	}
	k := keys[0].(map[string]any)
	if k["kty"] != "EC" || k["crv"] != "P-256" || k["alg"] != "ES256" || k["use"] != "sig" || k["d"] != nil {
		t.Errorf("JWK %v: want a public P-256 signing key", k)
	}
	if status, _ := get("/oidc/nothing"); status != http.StatusNotFound {
		t.Errorf("unknown path: %d, want 404", status)
	}
	resp, err := srv.Client().Post(srv.URL+"/oidc/jwks.json", "text/plain", strings.NewReader("x"))
	if err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %v %v, want 405", resp.StatusCode, err)
	}
	resp.Body.Close()
}

func TestMintRefuses(t *testing.T) {
	p, err := New(Config{Dir: t.TempDir(), Issuer: "http://127.0.0.1:1/oidc"}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		account string
		ttl     time.Duration
	}{{"bad id!", time.Minute}, {"", time.Minute}, {" u_42", time.Minute}, {"u_42", 0}, {"u_42", MaxTTL + time.Second}} {
		if _, err := p.Mint(tt.account, tt.ttl); err == nil {
			t.Errorf("Mint(%q, %s) accepted", tt.account, tt.ttl)
		}
	}
	for _, cfg := range []Config{{Issuer: "http://x"}, {Dir: "d", Issuer: "x"}} {
		if _, err := New(cfg, Deps{}); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func TestBrokenKeyFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, KeyFile), []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, _ := New(Config{Dir: dir, Issuer: "http://127.0.0.1:1/oidc"}, Deps{})
	if _, err := p.Mint("u_42", time.Minute); err == nil || !strings.Contains(err.Error(), "delete it") {
		t.Errorf("Mint with a broken key file: %v, want an error saying what to do", err)
	}
}
