// Package oidcsim is a simulated OpenID Connect provider for the local
// stack: it publishes a discovery document and a JWKS the way the app's
// real sign-in provider does, and mints ID tokens for any account, so that
// `dsr local token --account ID` can make an in-app request that intake
// verifies with package idtoken exactly as it would in AWS.
//
// Its signing key is an ECDSA P-256 key (ES256), kept as a PKCS #8 PEM file
// (signing-key.pem, mode 0600) in the given folder, made on first use and
// shared by every process that uses the folder (the stack serving the JWKS
// and the dsr command minting tokens). The key ID is the key's RFC 7638
// thumbprint.
//
// Served paths, relative to where the handler is mounted (the issuer URL):
//
//	GET /.well-known/openid-configuration   the discovery document
//	GET /jwks.json                          the key set
package oidcsim

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"dsrflow/internal/dsr"
	"dsrflow/internal/idtoken"
	"dsrflow/internal/lazyinit"
)

// Names and limits.
const (
	// KeyFile is the signing key's file name in the folder.
	KeyFile = "signing-key.pem"
	// DefaultAudience is the client ID tokens are minted for.
	DefaultAudience = "dsrflow-local"
	// MaxTTL bounds a minted token's lifetime.
	MaxTTL = 24 * time.Hour
	// maxKeyFile bounds the key file read.
	maxKeyFile = 16 << 10
)

// Config is the simulated provider.
type Config struct {
	// Dir holds the signing key (created 0700 if missing).
	Dir string
	// Issuer is the provider's URL: where the handler is mounted, e.g.
	// http://127.0.0.1:8080/oidc. It goes into tokens as iss.
	Issuer string
	// Audience goes into tokens as aud; empty: DefaultAudience.
	Audience string
}

// Deps are the provider's collaborators.
type Deps struct {
	// Clock stamps iat and exp; nil: time.Now.
	Clock func() time.Time
}

// Provider mints tokens and serves its keys.
type Provider struct {
	cfg   Config
	clock func() time.Time
	key   *lazyinit.Value[*signingKey]
}

type signingKey struct {
	priv *ecdsa.PrivateKey
	kid  string
	jwk  map[string]string
}

// New returns a Provider. It does no I/O: the key is read or made on
// first use.
func New(cfg Config, deps Deps) (*Provider, error) {
	if cfg.Dir == "" {
		return nil, errors.New("oidcsim: no key folder")
	}
	if !strings.HasPrefix(cfg.Issuer, "http://") && !strings.HasPrefix(cfg.Issuer, "https://") {
		return nil, errors.New("oidcsim: the issuer must be an http(s) URL")
	}
	cfg.Issuer = strings.TrimRight(cfg.Issuer, "/")
	if cfg.Audience == "" {
		cfg.Audience = DefaultAudience
	}
	if deps.Clock == nil {
		deps.Clock = time.Now
	}
	p := &Provider{cfg: cfg, clock: deps.Clock}
	p.key = lazyinit.New(func(context.Context) (*signingKey, error) { return loadOrCreate(cfg.Dir) })
	return p, nil
}

// Issuer is the issuer URL (iss).
func (p *Provider) Issuer() string { return p.cfg.Issuer }

// JWKSURL is where the key set is served.
func (p *Provider) JWKSURL() string { return p.cfg.Issuer + "/jwks.json" }

// VerifierConfig is the idtoken configuration that accepts this
// provider's tokens.
func (p *Provider) VerifierConfig() idtoken.Config {
	return idtoken.Config{Issuer: p.cfg.Issuer, Audience: p.cfg.Audience, JWKSURL: p.JWKSURL(), Algorithms: []string{"ES256"}, ClockSkew: time.Minute}
}

// Environment is VerifierConfig as the variables intake-web reads.
func (p *Provider) Environment() map[string]string {
	return map[string]string{"OIDC_ISSUER": p.cfg.Issuer, "OIDC_AUDIENCE": p.cfg.Audience, "OIDC_JWKS_URL": p.JWKSURL(), "OIDC_ALGORITHMS": "ES256"}
}

// Mint is an ID token for account (an account ID, dsr.ParseAccountID)
// valid for ttl (at most MaxTTL) from now.
func (p *Provider) Mint(account string, ttl time.Duration) (string, error) {
	id, err := dsr.ParseAccountID(account)
	if err != nil || id != account {
		return "", fmt.Errorf("oidcsim: account: %w", dsr.ErrInvalidAccountID)
	}
	if ttl <= 0 || ttl > MaxTTL {
		return "", fmt.Errorf("oidcsim: ttl must be positive and at most %s", MaxTTL)
	}
	k, err := p.key.Get(context.Background())
	if err != nil {
		return "", err
	}
	now := p.clock()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss":       p.cfg.Issuer,
		"sub":       account,
		"aud":       p.cfg.Audience,
		"iat":       now.Unix(),
		"auth_time": now.Unix(),
		"exp":       now.Add(ttl).Unix(),
	})
	tok.Header["kid"] = k.kid
	return tok.SignedString(k.priv)
}

// ServeHTTP serves the discovery document and the key set; mount it at the
// issuer's path with http.StripPrefix.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var body any
	switch strings.TrimSuffix(r.URL.Path, "/") {
	case "/.well-known/openid-configuration":
		body = map[string]any{
			"issuer":                                p.cfg.Issuer,
			"jwks_uri":                              p.JWKSURL(),
			"authorization_endpoint":                p.cfg.Issuer + "/authorize",
			"response_types_supported":              []string{"id_token"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"ES256"},
			"claims_supported":                      []string{"iss", "sub", "aud", "iat", "exp", "auth_time"},
		}
	case "/jwks.json":
		k, err := p.key.Get(r.Context())
		if err != nil {
			http.Error(w, "signing key unavailable", http.StatusInternalServerError)
			return
		}
		body = map[string]any{"keys": []map[string]string{k.jwk}}
	case "/authorize":
		http.Error(w, "the simulated provider has no sign-in page: mint a token with dsr local token --account ID", http.StatusNotImplemented)
		return
	default:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "max-age=300")
	_ = json.NewEncoder(w).Encode(body)
}

// loadOrCreate reads the key in dir, or makes one. A new key is written to
// a temporary file and linked into place, so that two processes starting
// together end up with the same key and nobody reads half a file.
func loadOrCreate(dir string) (*signingKey, error) {
	path := filepath.Join(dir, KeyFile)
	if k, err := readKey(path); err == nil || !errors.Is(err, os.ErrNotExist) {
		return k, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("oidcsim: key folder: %w", err)
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(dir, ".signing-key-*")
	if err != nil {
		return nil, fmt.Errorf("oidcsim: write key: %w", err)
	}
	defer os.Remove(tmp.Name())
	werr := pem.Encode(tmp, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if cerr := tmp.Close(); werr != nil || cerr != nil {
		return nil, fmt.Errorf("oidcsim: write key: %v, %v", werr, cerr)
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return nil, fmt.Errorf("oidcsim: write key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("oidcsim: write key: %w", err)
	}
	return readKey(path) // ours, or the one another process linked first
}

// readKey reads a PKCS #8 P-256 key.
func readKey(path string) (*signingKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxKeyFile))
	if err != nil {
		return nil, fmt.Errorf("oidcsim: read key: %w", err)
	}
	block, _ := pem.Decode(raw)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("oidcsim: %s is not a PEM private key (delete it to make a new one)", path)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	priv, ok := parsed.(*ecdsa.PrivateKey)
	if err != nil || !ok || priv.Curve != elliptic.P256() {
		return nil, fmt.Errorf("oidcsim: %s is not a P-256 key (delete it to make a new one)", path)
	}
	return newSigningKey(priv)
}

// newSigningKey computes the public JWK and its RFC 7638 thumbprint.
func newSigningKey(priv *ecdsa.PrivateKey) (*signingKey, error) {
	pub, err := priv.PublicKey.ECDH()
	if err != nil {
		return nil, err
	}
	point := pub.Bytes() // 0x04 || X || Y, 32 bytes each
	b64 := base64.RawURLEncoding.EncodeToString
	x, y := b64(point[1:33]), b64(point[33:65])
	// RFC 7638 3.2: the required members in lexical order, no spaces.
	sum := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`))
	kid := b64(sum[:])
	return &signingKey{
		priv: priv, kid: kid,
		jwk: map[string]string{"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "alg": "ES256", "use": "sig"},
	}, nil
}
