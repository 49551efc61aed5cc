// Package idtoken verifies the OpenID Connect ID tokens of the app's
// sign-in provider, so that a request made in the app (POST /requests with
// Authorization: Bearer <ID token>) is verified by the login: the token's
// subject is the account, and no code is sent.
//
// A token is accepted when it is a JWS signed by one of the provider's keys
// (its JWKS, fetched on first use and cached) with an allowed algorithm
// (RS256 and ES256 by default: never none or an HMAC, so a public key can
// not serve as an HMAC secret), its iss is the issuer, its aud holds the
// audience (and azp, when present, is the audience), exp is in the future
// and iat/nbf are not, each within the clock skew, and its sub is an
// account ID (dsr.ParseAccountID). Anything else is an *Error with a
// stable code and a message in both languages; nothing about the token
// goes into errors or logs.
//
// Verification is github.com/golang-jwt/jwt/v5, key selection by kid and
// alg is github.com/MicahParks/keyfunc/v3 and JWK parsing is
// github.com/MicahParks/jwkset; fetching and caching the key set is
// keys.go.
//
// Environment (Config): OIDC_ISSUER, OIDC_AUDIENCE and OIDC_JWKS_URL, all
// three or none (none: every bearer token is refused with
// token_not_accepted); OIDC_ALGORITHMS (default RS256,ES256) and
// OIDC_CLOCK_SKEW (default 60s, at most 5m).
package idtoken

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"dsrflow/internal/dsr"
)

// Limits.
const (
	// MaxTokenBytes is the largest token read; ID tokens are 1 to 2 KiB.
	MaxTokenBytes = 8 << 10
	// MaxClockSkew bounds OIDC_CLOCK_SKEW.
	MaxClockSkew = 5 * time.Minute
	// maxEmail and maxPhone bound the contact claims kept.
	maxEmail = 254
	maxPhone = 32
)

// SupportedAlgorithms are the algorithms OIDC_ALGORITHMS may name:
// asymmetric signatures only.
var SupportedAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}

// Config is the provider, read from the environment.
type Config struct {
	// Issuer is the provider's issuer identifier, compared exactly with
	// the token's iss.
	Issuer string `env:"OIDC_ISSUER"`
	// Audience is this service's client ID at the provider, which the
	// token's aud must hold.
	Audience string `env:"OIDC_AUDIENCE"`
	// JWKSURL is where the provider publishes its keys (jwks_uri).
	JWKSURL string `env:"OIDC_JWKS_URL"`
	// Algorithms are the signature algorithms accepted.
	Algorithms []string `env:"OIDC_ALGORITHMS" envDefault:"RS256,ES256"`
	// ClockSkew is the leeway on exp, nbf and iat.
	ClockSkew time.Duration `env:"OIDC_CLOCK_SKEW" envDefault:"60s"`
}

// Enabled reports whether a provider is configured.
func (c Config) Enabled() bool { return c.Issuer != "" || c.Audience != "" || c.JWKSURL != "" }

// Check reports configuration mistakes by variable name, never a value.
func (c Config) Check() error {
	if !c.Enabled() {
		return nil
	}
	var errs []error
	for _, v := range []struct{ name, value string }{{"OIDC_ISSUER", c.Issuer}, {"OIDC_AUDIENCE", c.Audience}, {"OIDC_JWKS_URL", c.JWKSURL}} {
		if v.value == "" {
			errs = append(errs, fmt.Errorf("%s is required when any OIDC_ variable is set", v.name))
		}
	}
	if c.Issuer != "" {
		if err := checkURL("OIDC_ISSUER", c.Issuer); err != nil {
			errs = append(errs, err)
		}
	}
	if c.JWKSURL != "" {
		if err := checkURL("OIDC_JWKS_URL", c.JWKSURL); err != nil {
			errs = append(errs, err)
		}
	}
	if len(c.Audience) > 255 || strings.IndexFunc(c.Audience, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		errs = append(errs, errors.New("OIDC_AUDIENCE must be at most 255 bytes without spaces"))
	}
	if len(c.Algorithms) == 0 {
		errs = append(errs, errors.New("OIDC_ALGORITHMS must name at least one algorithm"))
	}
	for _, a := range c.Algorithms {
		if !slices.Contains(SupportedAlgorithms, a) {
			errs = append(errs, fmt.Errorf("OIDC_ALGORITHMS may name only %s", strings.Join(SupportedAlgorithms, ", ")))
			break
		}
	}
	if c.ClockSkew < 0 || c.ClockSkew > MaxClockSkew {
		errs = append(errs, fmt.Errorf("OIDC_CLOCK_SKEW must be between 0 and %s", MaxClockSkew))
	}
	return errors.Join(errs...)
}

// checkURL accepts an absolute https URL without query, fragment or user
// information, or http on a loopback host (the local stack's simulated
// provider).
func checkURL(name, v string) error {
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%s must be an absolute https URL without query or fragment", name)
	}
	h := u.Hostname()
	loopback := h == "localhost" || h == "::1" || strings.HasPrefix(h, "127.")
	if u.Scheme != "https" && !(u.Scheme == "http" && loopback) {
		return fmt.Errorf("%s must be an https URL (http only on a loopback host)", name)
	}
	return nil
}

// Deps are the verifier's collaborators.
type Deps struct {
	// HTTPClient fetches the JWKS; nil: http.DefaultClient (each fetch
	// has its own timeout).
	HTTPClient *http.Client
	// Clock is the time tokens are judged at; nil: time.Now.
	Clock func() time.Time
}

// Claims is what an accepted token says.
type Claims struct {
	// Subject is the account ID (sub).
	Subject   string
	IssuedAt  time.Time
	ExpiresAt time.Time
	// PhoneNumber is the phone_number claim when phone_number_verified is
	// true, else empty.
	PhoneNumber string
	// Email is the email claim when email_verified is true, else empty.
	Email string
}

// Verifier checks ID tokens of one provider.
type Verifier struct {
	cfg    Config
	clock  func() time.Time
	keys   keyfunc.Keyfunc
	parser *jwt.Parser
}

// New checks cfg and returns a Verifier. It does no I/O: the key set is
// fetched by the first Verify. With no provider configured the Verifier
// refuses every token with CodeNotAccepted.
func New(cfg Config, deps Deps) (*Verifier, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if deps.Clock == nil {
		deps.Clock = time.Now
	}
	v := &Verifier{cfg: cfg, clock: deps.Clock}
	if !cfg.Enabled() {
		return v, nil
	}
	client := deps.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	kf, err := keyfunc.New(keyfunc.Options{Storage: newRemoteKeys(cfg.JWKSURL, client, deps.Clock)})
	if err != nil {
		return nil, fmt.Errorf("idtoken: %w", err)
	}
	v.keys = kf
	v.parser = jwt.NewParser(
		jwt.WithValidMethods(cfg.Algorithms),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithLeeway(cfg.ClockSkew),
		jwt.WithTimeFunc(deps.Clock),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithStrictDecoding(),
	)
	return v, nil
}

// Enabled reports whether the Verifier accepts tokens at all.
func (v *Verifier) Enabled() bool { return v.keys != nil }

// tokenClaims are the claims read from a token.
type tokenClaims struct {
	jwt.RegisteredClaims
	AuthorizedParty     string   `json:"azp,omitempty"`
	PhoneNumber         string   `json:"phone_number,omitempty"`
	PhoneNumberVerified flexBool `json:"phone_number_verified,omitempty"`
	Email               string   `json:"email,omitempty"`
	EmailVerified       flexBool `json:"email_verified,omitempty"`
}

// flexBool reads true and "true" as true (some providers send verified
// flags as strings) and anything else as false.
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	*b = flexBool(string(data) == "true" || string(data) == `"true"`)
	return nil
}

// Verify checks raw, a compact JWS, and returns its claims, or an *Error.
func (v *Verifier) Verify(ctx context.Context, raw string) (Claims, error) {
	if !v.Enabled() {
		return Claims{}, &Error{Code: CodeNotAccepted}
	}
	if raw == "" || len(raw) > MaxTokenBytes {
		return Claims{}, &Error{Code: CodeMalformed, err: fmt.Errorf("empty or longer than %d bytes", MaxTokenBytes)}
	}
	var c tokenClaims
	tok, err := v.parser.ParseWithClaims(raw, &c, v.keys.KeyfuncCtx(ctx))
	if err != nil {
		code := codeOf(err)
		if errors.Is(err, jwt.ErrTokenRequiredClaimMissing) {
			// Claims are validated only after the signature verified,
			// so c is the provider's word: say which claim is missing.
			switch {
			case c.Issuer == "":
				code = CodeIssuer
			case len(c.Audience) == 0:
				code = CodeAudience
			}
		}
		return Claims{}, &Error{Code: code, err: err}
	}
	if typ, _ := tok.Header["typ"].(string); isAccessTokenType(typ) {
		return Claims{}, &Error{Code: CodeMalformed, err: errors.New("an access token, not an ID token")}
	}
	if c.AuthorizedParty != "" && c.AuthorizedParty != v.cfg.Audience {
		return Claims{}, &Error{Code: CodeAudience, err: errors.New("azp is another client")}
	}
	if c.IssuedAt == nil || c.ExpiresAt == nil {
		return Claims{}, &Error{Code: CodeMalformed, err: errors.New("no iat or exp")}
	}
	sub, err := dsr.ParseAccountID(c.Subject)
	if err != nil || sub != c.Subject {
		return Claims{}, &Error{Code: CodeSubject, err: errors.New("sub is not an account ID")}
	}
	out := Claims{Subject: sub, IssuedAt: c.IssuedAt.UTC(), ExpiresAt: c.ExpiresAt.UTC()}
	if c.PhoneNumberVerified && c.PhoneNumber != "" && len(c.PhoneNumber) <= maxPhone {
		out.PhoneNumber = c.PhoneNumber
	}
	if c.EmailVerified && c.Email != "" && len(c.Email) <= maxEmail {
		out.Email = c.Email
	}
	return out, nil
}

// isAccessTokenType reports a JWT access token's typ (RFC 9068 2.1).
func isAccessTokenType(typ string) bool {
	t := strings.ToLower(typ)
	return t == "at+jwt" || t == "application/at+jwt"
}

// codeOf maps the JWT library's errors to codes, the most telling first: a
// token that fails several checks gets one code.
func codeOf(err error) Code {
	switch {
	case errors.Is(err, errUnavailable):
		return CodeUnavailable
	case errors.Is(err, jwt.ErrTokenMalformed):
		return CodeMalformed
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return CodeSignature
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return CodeIssuer
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return CodeAudience
	case errors.Is(err, jwt.ErrTokenExpired):
		return CodeExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return CodeNotYetValid
	}
	return CodeMalformed
}

// BearerToken is the token of an Authorization header value "Bearer
// <token>" (the scheme in any case, RFC 7235 2.1), and whether the value
// uses the Bearer scheme at all.
func BearerToken(authorization string) (token string, ok bool) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(authorization), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(rest), true
}
