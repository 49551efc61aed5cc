package webintake

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dsrflow/internal/dev/oidcsim"
	"dsrflow/internal/dsr"
	"dsrflow/internal/idtoken"
)

// loginEnv is the privacy center with the simulated app provider: its keys
// on an httptest server, tokens minted on the handler's virtual clock.
type loginEnv struct {
	*testEnv
	provider *oidcsim.Provider
	issuer   string
	keyDir   string
}

func newLoginEnv(t *testing.T) *loginEnv {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	le := &loginEnv{issuer: srv.URL + "/oidc", keyDir: filepath.Join(t.TempDir(), "oidc")}
	var now func() time.Time
	clock := func() time.Time { return now() }
	p, err := oidcsim.New(oidcsim.Config{Dir: le.keyDir, Issuer: le.issuer}, oidcsim.Deps{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/oidc/", http.StripPrefix("/oidc", p))
	le.provider = p
	le.testEnv = newEnv(t, 3, func(c *Config) { c.OIDC = p.VerifierConfig() })
	now = le.clock.Now
	return le
}

// mint is a token from a provider like the app's but with cfg changed
// (another key folder, issuer or audience).
func (le *loginEnv) mint(t *testing.T, edit func(*oidcsim.Config), account string, ttl time.Duration) string {
	t.Helper()
	cfg := oidcsim.Config{Dir: le.keyDir, Issuer: le.issuer}
	if edit != nil {
		edit(&cfg)
	}
	p, err := oidcsim.New(cfg, oidcsim.Deps{Clock: le.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := p.Mint(account, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func loginPost(body, key string, authorization ...string) *http.Request {
	req := newRequest(http.MethodPost, "/requests", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Idempotency-Key", key)
	for _, a := range authorization {
		req.Header.Add("Authorization", a)
	}
	return req
}

// TestBearerLogin: an ID token of the app's provider proves the account at
// intake (no code); a token that does not verify answers 401 with its code
// and creates nothing.
func TestBearerLogin(t *testing.T) {
	t.Parallel()
	le := newLoginEnv(t)
	const access = `{"kind":"access","role":"self","email":"li.na@example.com","locale":"en"}`

	good, err := le.provider.Mint("10000002", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	resp := le.do(t, loginPost(access, "login-good-0123456789abcdef", "Bearer "+good))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST with a good token = %d %s", resp.StatusCode, resp.Body)
	}
	var out acceptedJSON
	if err := json.Unmarshal([]byte(resp.Body), &out); err != nil {
		t.Fatal(err)
	}
	r, err := le.store.GetRequest(context.Background(), out.RequestID)
	if err != nil {
		t.Fatal(err)
	}
	if r.VerifiedBy != dsr.ProofLogin || len(r.SubjectKeys) == 0 {
		t.Errorf("request verified by %q with %d subject keys, want login and the account's key", r.VerifiedBy, len(r.SubjectKeys))
	}
	idn, err := le.store.GetIdentity(context.Background(), out.RequestID)
	if err != nil || len(idn.Proved) == 0 || idn.Proved[0].Value != "10000002" || idn.Proved[0].Method != dsr.ProofLogin {
		t.Errorf("identity %+v, %v; want account 10000002 proved by login", idn, err)
	}
	started := len(le.sfn.Calls())
	if started != 1 {
		t.Fatalf("StartExecution calls = %d, want 1", started)
	}
	if strings.Contains(le.logs.String(), good) || strings.Contains(le.logs.String(), "li.na@") {
		t.Error("the logs hold the token or the email")
	}

	refused := []struct {
		name       string
		auth       []string
		token      func() string
		wantStatus int
		wantCode   idtoken.Code
	}{
		{name: "expired", token: func() string { return le.mint(t, nil, "10000002", time.Minute) }, wantStatus: 401, wantCode: idtoken.CodeExpired},
		{name: "signed by another key", token: func() string {
			return le.mint(t, func(c *oidcsim.Config) { c.Dir = filepath.Join(t.TempDir(), "other") }, "10000002", time.Hour)
		}, wantStatus: 401, wantCode: idtoken.CodeSignature},
		{name: "another issuer", token: func() string {
			return le.mint(t, func(c *oidcsim.Config) { c.Issuer = "http://127.0.0.1:1/elsewhere" }, "10000002", time.Hour)
		}, wantStatus: 401, wantCode: idtoken.CodeIssuer},
		{name: "another audience", token: func() string {
			return le.mint(t, func(c *oidcsim.Config) { c.Audience = "another-app" }, "10000002", time.Hour)
		}, wantStatus: 401, wantCode: idtoken.CodeAudience},
		{name: "not a bearer token", auth: []string{"Basic dXNlcjpwYXNz"}, wantStatus: 401, wantCode: idtoken.CodeMalformed},
		{name: "two Authorization headers", auth: []string{"Bearer " + good, "Bearer " + good}, wantStatus: 401, wantCode: idtoken.CodeMalformed},
		{name: "garbage", auth: []string{"Bearer not.a.jwt"}, wantStatus: 401, wantCode: idtoken.CodeMalformed},
	}
	for i, tt := range refused {
		auth := tt.auth
		if tt.token != nil {
			tok := tt.token()
			if tt.wantCode == idtoken.CodeExpired {
				le.clock.Advance(2*time.Minute + time.Minute + time.Second) // past exp and the skew
			}
			auth = []string{"Bearer " + tok}
		}
		key := "login-refused-" + strings.Repeat("x", 10) + string(rune('a'+i))
		resp := le.do(t, loginPost(access, key, auth...))
		if resp.StatusCode != tt.wantStatus {
			t.Errorf("%s: status %d %s, want %d", tt.name, resp.StatusCode, resp.Body, tt.wantStatus)
			continue
		}
		if !decodeErrors(t, resp.Body).has("", string(tt.wantCode)) {
			t.Errorf("%s: body %s, want code %s", tt.name, resp.Body, tt.wantCode)
		}
		if h := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer ") || !strings.Contains(h, string(tt.wantCode)) {
			t.Errorf("%s: WWW-Authenticate %q", tt.name, h)
		}
		if n := len(le.sfn.Calls()); n != started {
			t.Errorf("%s: a refused token started an execution (%d calls)", tt.name, n)
		}
	}

	// A login proves the requester's own account: not for a guardian.
	tok, err := le.provider.Mint("10000002", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	guardian := `{"kind":"access","role":"guardian","email":"li.na@example.com","subjectName":"小明","subjectAccountId":"10000003","locale":"en"}`
	resp = le.do(t, loginPost(guardian, "login-guardian-0123456789ab", "Bearer "+tok))
	if resp.StatusCode != http.StatusBadRequest || !decodeErrors(t, resp.Body).has(dsr.FieldRole, string(CodeLoginSelfOnly)) {
		t.Errorf("guardian with a login = %d %s, want 400 %s", resp.StatusCode, resp.Body, CodeLoginSelfOnly)
	}
	if n := len(le.sfn.Calls()); n != started {
		t.Errorf("the guardian's request started an execution")
	}
}

// TestBearerWithoutProvider: with no provider configured, a bearer token
// is refused (token_not_accepted), never ignored.
func TestBearerWithoutProvider(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	resp := e.do(t, loginPost(`{"kind":"access","role":"self","email":"a@example.com","locale":"en"}`, "no-provider-0123456789abcd", "Bearer a.b.c"))
	if resp.StatusCode != http.StatusUnauthorized || !decodeErrors(t, resp.Body).has("", string(idtoken.CodeNotAccepted)) {
		t.Errorf("status %d %s, want 401 %s", resp.StatusCode, resp.Body, idtoken.CodeNotAccepted)
	}
	if n := len(e.sfn.Calls()); n != 0 {
		t.Errorf("%d executions started", n)
	}
}
