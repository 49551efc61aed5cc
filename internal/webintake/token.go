package webintake

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"

	"dsrflow/internal/dsr"
)

// MinTokenSecretLen is the shortest TokenSecret accepted (256 bits).
const MinTokenSecretLen = 32

// newNonce is a form's idempotency key: 32 random bytes, base64url.
func newNonce() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// These checks are loops rather than regular expressions: a counted
// repetition such as {1,255} compiles to that many copies of its class, and
// the three expressions cost a quarter of a megabyte at every cold start.

// validNonce reports whether s can be a nonce newNonce made: 43 characters
// of base64url.
func validNonce(s string) bool { return len(s) == 43 && all(s, isBase64URL) }

// validIdempotencyKey reports whether s may be an Idempotency-Key header: 1
// to 255 visible ASCII characters (a UUID is the usual choice).
func validIdempotencyKey(s string) bool {
	return len(s) >= 1 && len(s) <= 255 && all(s, func(c byte) bool { return c >= 0x21 && c <= 0x7e })
}

// validRequestID reports whether s may be a request ID in a status URL;
// anything else is not looked up. intake.RequestID makes "r-" + 26 of
// [a-z2-7].
func validRequestID(s string) bool { return len(s) >= 1 && len(s) <= 64 && all(s, isBase64URL) }

func isBase64URL(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

func all(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

// StatusToken is the status-link token of request id under secret:
// base64url (no padding) of HMAC-SHA256(secret, "status-token:" + id).
func StatusToken(secret []byte, id string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("status-token:" + id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// TokenHash is the hex SHA-256 of a status token: what the request stores.
func TokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// tokenMatches compares a presented token with a stored hash in constant time.
func tokenMatches(token, storedHash string) bool {
	if token == "" || storedHash == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(TokenHash(token)), []byte(storedHash)) == 1
}

// naturalKey scopes an idempotency key (form nonce or Idempotency-Key) by a
// keyed hash of the request's kind and identifiers: the same key from the
// same person for the same kind names the same request; the same key from
// anyone else does not. No identifier appears in it in the clear.
func naturalKey(secret []byte, source, key string, v dsr.Validated) string {
	m := hmac.New(sha256.New, secret)
	for _, part := range []string{"idempotency-scope", string(v.Kind), v.Email, v.Phone, v.AccountID} {
		m.Write([]byte(part))
		m.Write([]byte{0})
	}
	return source + ":" + key + ":" + hex.EncodeToString(m.Sum(nil)[:16])
}
