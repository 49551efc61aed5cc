package webintake

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"regexp"

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

// nonceRE matches a nonce newNonce made.
var nonceRE = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// idempotencyKeyRE is what an Idempotency-Key header may hold: 1 to 255
// visible ASCII characters (a UUID is the usual choice).
var idempotencyKeyRE = regexp.MustCompile(`^[\x21-\x7e]{1,255}$`)

// requestIDRE is what a request ID may look like in a status URL; anything
// else is not looked up. intake.RequestID makes "r-" + 26 of [a-z2-7].
var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

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
