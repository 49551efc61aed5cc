package idtoken

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"dsrflow/internal/dsr"
)

const (
	issuer   = "https://login.example.cn"
	audience = "dsrflow-intake"
	account  = "u_42"
)

var t0 = time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// signer is a key the tests sign with, and its kid.
type signer struct {
	kid string
	alg jwt.SigningMethod
	key crypto.Signer
}

// keys made once: RSA generation is slow.
var (
	keysOnce                        sync.Once
	ecKey, rsaKey, otherEC, rsa1024 signer
)

func testKeys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		r, _ := rsa.GenerateKey(rand.Reader, 2048)
		small, _ := rsa.GenerateKey(rand.Reader, 1024)
		ecKey = signer{"ec-1", jwt.SigningMethodES256, ec}
		otherEC = signer{"other-1", jwt.SigningMethodES256, other}
		rsaKey = signer{"rsa-1", jwt.SigningMethodRS256, r}
		rsa1024 = signer{"rsa-small", jwt.SigningMethodRS256, small}
	})
}

// jwksServer publishes the public keys of its signers; it counts fetches
// and can be made to fail.
type jwksServer struct {
	t       testing.TB
	mu      sync.Mutex
	signers []signer
	fetches int
	status  int    // non-zero: answer this status
	body    string // non-empty: answer this body
	srv     *httptest.Server
}

func newJWKS(t testing.TB, signers ...signer) *jwksServer {
	j := &jwksServer{t: t, signers: signers}
	j.srv = httptest.NewServer(j)
	t.Cleanup(j.srv.Close)
	return j
}

func (j *jwksServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.fetches++
	if j.status != 0 {
		w.WriteHeader(j.status)
		return
	}
	if j.body != "" {
		_, _ = w.Write([]byte(j.body))
		return
	}
	var set jwkset.JWKSMarshal
	for _, s := range j.signers {
		jwk, err := jwkset.NewJWKFromKey(s.key.Public(), jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: s.kid, ALG: jwkset.ALG(s.alg.Alg()), USE: jwkset.UseSig}})
		if err != nil {
			j.t.Errorf("JWK of %s: %v", s.kid, err)
			continue
		}
		set.Keys = append(set.Keys, jwk.Marshal())
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(set)
}

func (j *jwksServer) count() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.fetches
}

func (j *jwksServer) set(f func(j *jwksServer)) {
	j.mu.Lock()
	defer j.mu.Unlock()
	f(j)
}

func newVerifier(t testing.TB, j *jwksServer, c *clock) *Verifier {
	t.Helper()
	v, err := New(Config{Issuer: issuer, Audience: audience, JWKSURL: j.srv.URL + "/jwks.json", Algorithms: []string{"RS256", "ES256"}, ClockSkew: time.Minute},
		Deps{HTTPClient: j.srv.Client(), Clock: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// claims are valid claims at t0, changed by edits.
func claims(edits ...func(jwt.MapClaims)) jwt.MapClaims {
	c := jwt.MapClaims{"iss": issuer, "aud": audience, "sub": account, "iat": t0.Add(-time.Minute).Unix(), "exp": t0.Add(10 * time.Minute).Unix()}
	for _, e := range edits {
		e(c)
	}
	return c
}

func sign(t testing.TB, s signer, c jwt.MapClaims, header ...func(map[string]any)) string {
	t.Helper()
	tok := jwt.NewWithClaims(s.alg, c)
	if s.kid != "" {
		tok.Header["kid"] = s.kid
	}
	for _, h := range header {
		h(tok.Header)
	}
	raw, err := tok.SignedString(s.key)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func set(k string, v any) func(jwt.MapClaims) { return func(c jwt.MapClaims) { c[k] = v } }
func del(k string) func(jwt.MapClaims)        { return func(c jwt.MapClaims) { delete(c, k) } }

func TestVerify(t *testing.T) {
	testKeys(t)
	j := newJWKS(t, ecKey, rsaKey, rsa1024)
	noKid := ecKey
	noKid.kid = ""
	ecAsRSA := signer{ecKey.kid, jwt.SigningMethodRS256, rsaKey.key} // RS256 signature under the EC key's kid
	ps256 := signer{rsaKey.kid, jwt.SigningMethodPS256, rsaKey.key}

	// alg none, and HS256 with the RSA public key (as PEM, as the JWK's
	// modulus) for the HMAC secret: the classic algorithm confusion.
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claims()).SignedString(jwt.UnsafeAllowNoneSignatureType)
	pubDER, _ := x509.MarshalPKIXPublicKey(rsaKey.key.Public())
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	hsTok := func(secret []byte) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims())
		tok.Header["kid"] = rsaKey.kid
		raw, _ := tok.SignedString(secret)
		return raw
	}

	tests := []struct {
		name     string
		raw      string
		wantCode Code // empty: accepted
		want     Claims
	}{
		{"valid ES256", sign(t, ecKey, claims()), "", Claims{Subject: account, IssuedAt: t0.Add(-time.Minute), ExpiresAt: t0.Add(10 * time.Minute)}},
		{"valid RS256", sign(t, rsaKey, claims()), "", Claims{Subject: account, IssuedAt: t0.Add(-time.Minute), ExpiresAt: t0.Add(10 * time.Minute)}},
		{"valid without kid", sign(t, noKid, claims()), "", Claims{Subject: account, IssuedAt: t0.Add(-time.Minute), ExpiresAt: t0.Add(10 * time.Minute)}},
		{"audience among several", sign(t, ecKey, claims(set("aud", []string{"other", audience}))), "", Claims{Subject: account, IssuedAt: t0.Add(-time.Minute), ExpiresAt: t0.Add(10 * time.Minute)}},
		{"expired within the skew", sign(t, ecKey, claims(set("exp", t0.Add(-30*time.Second).Unix()))), "", Claims{Subject: account, IssuedAt: t0.Add(-time.Minute), ExpiresAt: t0.Add(-30 * time.Second)}},
		{
			"verified contacts", sign(t, ecKey, claims(set("phone_number", "+8613800138000"), set("phone_number_verified", true), set("email", "li@example.cn"), set("email_verified", "true"))), "",
			Claims{Subject: account, IssuedAt: t0.Add(-time.Minute), ExpiresAt: t0.Add(10 * time.Minute), PhoneNumber: "+8613800138000", Email: "li@example.cn"},
		},
		{
			"unverified contacts are dropped", sign(t, ecKey, claims(set("phone_number", "+8613800138000"), set("email", "li@example.cn"), set("email_verified", false))), "",
			Claims{Subject: account, IssuedAt: t0.Add(-time.Minute), ExpiresAt: t0.Add(10 * time.Minute)},
		},
		{"expired", sign(t, ecKey, claims(set("exp", t0.Add(-2*time.Minute).Unix()))), CodeExpired, Claims{}},
		{"not yet valid (nbf)", sign(t, ecKey, claims(set("nbf", t0.Add(5*time.Minute).Unix()))), CodeNotYetValid, Claims{}},
		{"issued in the future", sign(t, ecKey, claims(set("iat", t0.Add(5*time.Minute).Unix()))), CodeNotYetValid, Claims{}},
		{"signed by another key", sign(t, signer{ecKey.kid, jwt.SigningMethodES256, otherEC.key}, claims()), CodeSignature, Claims{}},
		{"another key without kid", sign(t, signer{"", jwt.SigningMethodES256, otherEC.key}, claims()), CodeSignature, Claims{}},
		{"unknown kid", sign(t, otherEC, claims()), CodeSignature, Claims{}},
		{"alg none", none, CodeSignature, Claims{}},
		{"HS256 with the public key PEM as secret", hsTok(pubPEM), CodeSignature, Claims{}},
		{"HS256 with the public key DER as secret", hsTok(pubDER), CodeSignature, Claims{}},
		{"RS256 under an EC key's kid", sign(t, ecAsRSA, claims()), CodeSignature, Claims{}},
		{"PS256, not allowed", sign(t, ps256, claims()), CodeSignature, Claims{}},
		{"RSA key below 2048 bits", sign(t, rsa1024, claims()), CodeSignature, Claims{}},
		{"wrong issuer", sign(t, ecKey, claims(set("iss", "https://evil.example"))), CodeIssuer, Claims{}},
		{"issuer with a trailing slash", sign(t, ecKey, claims(set("iss", issuer+"/"))), CodeIssuer, Claims{}},
		{"no issuer", sign(t, ecKey, claims(del("iss"))), CodeIssuer, Claims{}},
		{"wrong audience", sign(t, ecKey, claims(set("aud", "another-client"))), CodeAudience, Claims{}},
		{"no audience", sign(t, ecKey, claims(del("aud"))), CodeAudience, Claims{}},
		{"azp of another client", sign(t, ecKey, claims(set("aud", []string{audience, "x"}), set("azp", "x"))), CodeAudience, Claims{}},
		{"no exp", sign(t, ecKey, claims(del("exp"))), CodeMalformed, Claims{}},
		{"no iat", sign(t, ecKey, claims(del("iat"))), CodeMalformed, Claims{}},
		{"subject not an account ID", sign(t, ecKey, claims(set("sub", "auth0|123"))), CodeSubject, Claims{}},
		{"no subject", sign(t, ecKey, claims(del("sub"))), CodeSubject, Claims{}},
		{"subject with spaces", sign(t, ecKey, claims(set("sub", " u_42 "))), CodeSubject, Claims{}},
		{"an access token", sign(t, ecKey, claims(), func(h map[string]any) { h["typ"] = "at+jwt" }), CodeMalformed, Claims{}},
		{"not a JWT", "not-a-token", CodeMalformed, Claims{}},
		{"empty", "", CodeMalformed, Claims{}},
		{"three empty parts", "..", CodeMalformed, Claims{}},
		{"too large", sign(t, ecKey, claims(set("pad", strings.Repeat("x", MaxTokenBytes)))), CodeMalformed, Claims{}},
		{"a valid token's signature with padding", sign(t, ecKey, claims()) + "=", CodeMalformed, Claims{}},
	}
	c := &clock{now: t0}
	v := newVerifier(t, j, c)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Verify(context.Background(), tt.raw)
			if tt.wantCode == "" {
				if err != nil || got != tt.want {
					t.Errorf("Verify = %+v, %v; want %+v", got, err, tt.want)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Code != tt.wantCode {
				t.Fatalf("Verify error = %v (%+v); want code %s", err, got, tt.wantCode)
			}
			if got != (Claims{}) {
				t.Errorf("claims returned with an error: %+v", got)
			}
			if e.HTTPStatus() != http.StatusUnauthorized || !strings.Contains(e.WWWAuthenticate(), `error="invalid_token"`) {
				t.Errorf("status %d, WWW-Authenticate %q; want 401 invalid_token", e.HTTPStatus(), e.WWWAuthenticate())
			}
			if err.Error() != "id token: "+string(tt.wantCode) {
				t.Errorf("error text %q says more than the code", err.Error())
			}
		})
	}
}

func TestKeySetFetching(t *testing.T) {
	testKeys(t)
	j := newJWKS(t, ecKey)
	c := &clock{now: t0}
	v := newVerifier(t, j, c)
	ctx := context.Background()
	step := func(name string, raw string, wantCode Code, wantFetches int) {
		t.Helper()
		_, err := v.Verify(ctx, raw)
		var e *Error
		switch {
		case wantCode == "" && err != nil:
			t.Errorf("%s: %v, want accepted", name, err)
		case wantCode != "" && (!errors.As(err, &e) || e.Code != wantCode):
			t.Errorf("%s: %v, want %s", name, err, wantCode)
		}
		if got := j.count(); got != wantFetches {
			t.Errorf("%s: %d JWKS fetches, want %d", name, got, wantFetches)
		}
	}
	now := func() jwt.MapClaims {
		n := c.Now()
		return jwt.MapClaims{"iss": issuer, "aud": audience, "sub": account, "iat": n.Unix(), "exp": n.Add(10 * time.Minute).Unix()}
	}

	if j.count() != 0 {
		t.Fatal("New fetched the key set")
	}
	step("first use fetches", sign(t, ecKey, now()), "", 1)
	step("cached", sign(t, ecKey, now()), "", 1)
	// The provider rotates: a token with the new key's kid fetches again.
	j.set(func(j *jwksServer) { j.signers = append(j.signers, rsaKey) })
	step("new kid fetches", sign(t, rsaKey, now()), "", 2)
	step("unknown kid within a minute: no fetch", sign(t, otherEC, now()), CodeSignature, 2)
	step("again", sign(t, otherEC, now()), CodeSignature, 2)
	c.Add(61 * time.Second)
	step("unknown kid after a minute fetches", sign(t, otherEC, now()), CodeSignature, 3)
	// The provider withdraws a key: an hour on, the set is fetched again.
	j.set(func(j *jwksServer) { j.signers = []signer{ecKey} })
	step("withdrawn key still cached", sign(t, rsaKey, now()), "", 3)
	c.Add(time.Hour)
	// An hour on, the set is fetched again; the withdrawn kid is then
	// unknown and makes one more (rate-limited) fetch.
	step("an hour on the set is fetched again", sign(t, rsaKey, now()), CodeSignature, 5)
	// The provider is down: the keys in hand still serve.
	j.set(func(j *jwksServer) { j.status = http.StatusInternalServerError })
	c.Add(time.Hour)
	step("stale set kept when the fetch fails", sign(t, ecKey, now()), "", 6)
	step("no new try within 10 s", sign(t, ecKey, now()), "", 6)
	c.Add(11 * time.Second)
	step("tried again after 10 s", sign(t, ecKey, now()), "", 7)
}

func TestKeySetUnavailable(t *testing.T) {
	testKeys(t)
	tests := []struct {
		name string
		edit func(j *jwksServer)
	}{
		{"HTTP 500", func(j *jwksServer) { j.status = http.StatusInternalServerError }},
		{"not JSON", func(j *jwksServer) { j.body = "<html>maintenance</html>" }},
		{"no usable key", func(j *jwksServer) {
			j.body = `{"keys":[{"kty":"oct","k":"c2VjcmV0"},{"kty":"EC","use":"enc","crv":"P-256","x":"x","y":"y"}]}`
		}},
		{"too large", func(j *jwksServer) { j.body = `{"keys":[],"pad":"` + strings.Repeat("x", maxJWKSBytes) + `"}` }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := newJWKS(t, ecKey)
			j.set(tt.edit)
			c := &clock{now: t0}
			v := newVerifier(t, j, c)
			raw := sign(t, ecKey, claims())
			_, err := v.Verify(context.Background(), raw)
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeUnavailable || e.HTTPStatus() != http.StatusServiceUnavailable {
				t.Fatalf("Verify = %v, want token_unavailable (503)", err)
			}
			if _, err := v.Verify(context.Background(), raw); !errors.As(err, &e) || e.Code != CodeUnavailable || j.count() != 1 {
				t.Errorf("second Verify: %v after %d fetches; want token_unavailable without fetching again", err, j.count())
			}
			// The provider recovers.
			j.set(func(j *jwksServer) { j.status, j.body = 0, "" })
			c.Add(11 * time.Second)
			if _, err := v.Verify(context.Background(), raw); err != nil {
				t.Errorf("after recovery: %v", err)
			}
		})
	}
	t.Run("connection refused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		v, err := New(Config{Issuer: issuer, Audience: audience, JWKSURL: url, Algorithms: []string{"ES256"}}, Deps{Clock: func() time.Time { return t0 }})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(context.Background(), sign(t, ecKey, claims())); !errors.As(err, new(*Error)) || err.(*Error).Code != CodeUnavailable {
			t.Errorf("Verify = %v, want token_unavailable", err)
		}
	})
}

func TestNotConfigured(t *testing.T) {
	v, err := New(Config{}, Deps{})
	if err != nil || v.Enabled() {
		t.Fatalf("New(empty) = %v, enabled %v", err, v != nil && v.Enabled())
	}
	_, err = v.Verify(context.Background(), "a.b.c")
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeNotAccepted || e.HTTPStatus() != http.StatusUnauthorized {
		t.Errorf("Verify = %v, want token_not_accepted (401)", err)
	}
}

func TestConfigCheck(t *testing.T) {
	good := Config{Issuer: issuer, Audience: audience, JWKSURL: issuer + "/jwks", Algorithms: []string{"RS256", "ES256"}, ClockSkew: time.Minute}
	with := func(f func(*Config)) Config { c := good; f(&c); return c }
	tests := []struct {
		name    string
		c       Config
		wantErr string
	}{
		{"good", good, ""},
		{"none", Config{Algorithms: []string{"RS256"}}, ""},
		{"local simulator over http", with(func(c *Config) {
			c.Issuer, c.JWKSURL = "http://127.0.0.1:8080/oidc", "http://127.0.0.1:8080/oidc/jwks.json"
		}), ""},
		{"issuer only", Config{Issuer: issuer, Algorithms: []string{"RS256"}}, "OIDC_AUDIENCE"},
		{"no JWKS", with(func(c *Config) { c.JWKSURL = "" }), "OIDC_JWKS_URL"},
		{"plain http issuer", with(func(c *Config) { c.Issuer = "http://login.example.cn" }), "OIDC_ISSUER"},
		{"JWKS with a query", with(func(c *Config) { c.JWKSURL = issuer + "/jwks?x=1" }), "OIDC_JWKS_URL"},
		{"audience with a space", with(func(c *Config) { c.Audience = "a b" }), "OIDC_AUDIENCE"},
		{"HS256", with(func(c *Config) { c.Algorithms = []string{"HS256"} }), "OIDC_ALGORITHMS"},
		{"none alg", with(func(c *Config) { c.Algorithms = []string{"none"} }), "OIDC_ALGORITHMS"},
		{"no algorithms", with(func(c *Config) { c.Algorithms = nil }), "OIDC_ALGORITHMS"},
		{"skew too large", with(func(c *Config) { c.ClockSkew = time.Hour }), "OIDC_CLOCK_SKEW"},
		{"negative skew", with(func(c *Config) { c.ClockSkew = -time.Second }), "OIDC_CLOCK_SKEW"},
	}
	for _, tt := range tests {
		err := tt.c.Check()
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: Check = %v", tt.name, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: Check = %v, want an error naming %s", tt.name, err, tt.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), "example.cn") {
			t.Errorf("%s: error %q quotes a value", tt.name, err)
		}
		if _, nerr := New(tt.c, Deps{}); (nerr == nil) != (err == nil) {
			t.Errorf("%s: New error %v, Check error %v", tt.name, nerr, err)
		}
	}
}

func TestMessages(t *testing.T) {
	seen := map[string]Code{}
	for _, code := range Codes() {
		e := &Error{Code: code}
		for _, l := range dsr.Locales() {
			m := e.Message(l)
			if m == "" {
				t.Errorf("%s has no %s message", code, l)
			}
			if prev, dup := seen[m]; dup {
				t.Errorf("%s and %s share the message %q", code, prev, m)
			}
			seen[m] = code
		}
		want := http.StatusUnauthorized
		if code == CodeUnavailable {
			want = http.StatusServiceUnavailable
		}
		if e.HTTPStatus() != want {
			t.Errorf("%s: status %d, want %d", code, e.HTTPStatus(), want)
		}
	}
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"Bearer abc.def.ghi", "abc.def.ghi", true},
		{"bearer   abc ", "abc", true},
		{"BEARER abc", "abc", true},
		{"Bearer", "", true},
		{"Basic dXNlcjpwYXNz", "", false},
		{"", "", false},
		{"Bearerabc", "", false},
	}
	for _, tt := range tests {
		if got, ok := BearerToken(tt.in); got != tt.want || ok != tt.ok {
			t.Errorf("BearerToken(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzVerify: no input panics, every refusal is an *Error with a known
// code and a text of the code alone, and nothing but the untouched valid
// tokens is accepted.
func FuzzVerify(f *testing.F) {
	testKeys(f)
	j := newJWKS(f, ecKey, rsaKey)
	v := newVerifier(f, j, &clock{now: t0})
	valid := map[string]bool{sign(f, ecKey, claims()): true, sign(f, rsaKey, claims()): true}
	for raw := range valid {
		f.Add(raw)
		f.Add(raw[:len(raw)-2])
		f.Add(strings.Replace(raw, ".", "..", 1))
	}
	f.Add(sign(f, ecKey, claims(set("exp", t0.Add(-time.Hour).Unix()))))
	f.Add(sign(f, otherEC, claims()))
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1XzQyIn0.")
	f.Add("")
	f.Add("a.b.c")
	codes := map[Code]bool{}
	for _, c := range Codes() {
		codes[c] = true
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := v.Verify(context.Background(), raw)
		if err == nil {
			if !valid[raw] || got.Subject != account {
				t.Errorf("accepted %q as %+v", raw, got)
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) || !codes[e.Code] || err.Error() != "id token: "+string(e.Code) {
			t.Errorf("error %v is not a coded *Error", err)
		}
	})
}

// TestConcurrentFirstUse: verifications racing on a cold verifier fetch
// the key set once.
func TestConcurrentFirstUse(t *testing.T) {
	testKeys(t)
	j := newJWKS(t, ecKey)
	v := newVerifier(t, j, &clock{now: t0})
	raw := sign(t, ecKey, claims())
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := v.Verify(context.Background(), raw); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := j.count(); n != 1 {
		t.Errorf("%d JWKS fetches, want 1", n)
	}
}
