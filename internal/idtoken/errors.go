package idtoken

import (
	"net/http"

	"dsrflow/internal/dsr"
)

// Code is the stable code of a refused token: what a client branches on
// and what logs record. Codes never carry the token or its claims.
type Code string

// Codes of Error.
const (
	// CodeExpired: the token's exp (plus the clock skew) has passed.
	CodeExpired Code = "token_expired"
	// CodeNotYetValid: the token's nbf or iat is in the future (beyond
	// the clock skew).
	CodeNotYetValid Code = "token_not_yet_valid"
	// CodeSignature: the signature does not verify with any of the
	// provider's keys, the key is unknown, or the algorithm is not one
	// that is allowed (alg none, HS256 and the like).
	CodeSignature Code = "token_signature"
	// CodeIssuer: iss is not the configured issuer.
	CodeIssuer Code = "token_issuer"
	// CodeAudience: aud does not hold the configured audience (or azp
	// names another client).
	CodeAudience Code = "token_audience"
	// CodeSubject: sub is not an account ID this service accepts
	// (dsr.ParseAccountID).
	CodeSubject Code = "token_subject"
	// CodeMalformed: not a JWT, too large, a required claim missing, or
	// an access token where an ID token is expected.
	CodeMalformed Code = "token_malformed"
	// CodeUnavailable: the provider's keys (JWKS) cannot be fetched; the
	// token was not judged. HTTP 503: the client may retry.
	CodeUnavailable Code = "token_unavailable"
	// CodeNotAccepted: no OpenID Connect provider is configured, so
	// bearer tokens are refused.
	CodeNotAccepted Code = "token_not_accepted"
)

// Error is a token that was not accepted. Its text is the code alone; the
// cause (from the JWT library) is kept for errors.Is and never quotes the
// token, but callers should log Code, not the cause.
type Error struct {
	Code Code
	err  error
}

func (e *Error) Error() string { return "id token: " + string(e.Code) }

// Unwrap is the cause.
func (e *Error) Unwrap() error { return e.err }

// HTTPStatus is the status to answer with: 503 when the keys cannot be
// fetched, else 401.
func (e *Error) HTTPStatus() int {
	if e.Code == CodeUnavailable {
		return http.StatusServiceUnavailable
	}
	return http.StatusUnauthorized
}

// WWWAuthenticate is the WWW-Authenticate header of a 401 (RFC 6750 3):
// the bearer scheme, error invalid_token and the code as description.
func (e *Error) WWWAuthenticate() string {
	return `Bearer realm="dsrflow", error="invalid_token", error_description="` + string(e.Code) + `"`
}

// Message is what to tell the person, in locale l.
func (e *Error) Message(l dsr.Locale) string {
	t, ok := messages[e.Code]
	if !ok {
		t = messages[CodeMalformed]
	}
	return t.In(l)
}

var messages = map[Code]dsr.Text{
	CodeExpired: {
		ZhCN: "登录凭证已过期，请重新登录后再提交。",
		En:   "Your sign-in has expired. Please sign in again and resubmit.",
	},
	CodeNotYetValid: {
		ZhCN: "登录凭证尚未生效，请检查设备时间后重试。",
		En:   "Your sign-in token is not valid yet. Please check your device's clock and try again.",
	},
	CodeSignature: {
		ZhCN: "登录凭证无法验证（签名无效）。请重新登录后再提交。",
		En:   "Your sign-in token could not be verified (invalid signature). Please sign in again and resubmit.",
	},
	CodeIssuer: {
		ZhCN: "登录凭证不是由本应用的登录服务签发的。",
		En:   "The sign-in token was not issued by this app's sign-in service.",
	},
	CodeAudience: {
		ZhCN: "登录凭证不是为本服务签发的。",
		En:   "The sign-in token was not issued for this service.",
	},
	CodeSubject: {
		ZhCN: "登录凭证中的账号标识无效。",
		En:   "The account in the sign-in token is not valid here.",
	},
	CodeMalformed: {
		ZhCN: "登录凭证格式无效。",
		En:   "The sign-in token is malformed.",
	},
	CodeUnavailable: {
		ZhCN: "暂时无法验证登录凭证，请稍后重试。",
		En:   "We cannot check sign-in tokens right now. Please try again shortly.",
	},
	CodeNotAccepted: {
		ZhCN: "本服务不接受登录凭证。请通过表单提交，我们会向您发送验证码。",
		En:   "This service does not accept sign-in tokens. Please use the form; we will send you a code.",
	},
}

// Codes lists every code, for documentation and tests.
func Codes() []Code {
	return []Code{CodeExpired, CodeNotYetValid, CodeSignature, CodeIssuer, CodeAudience, CodeSubject, CodeMalformed, CodeUnavailable, CodeNotAccepted}
}
