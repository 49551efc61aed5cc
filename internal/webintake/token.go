package webintake

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"time"

	"dsrflow/internal/dsr"
)

// MinTokenSecretLen is the shortest StatusTokenSecret accepted (256 bits).
const MinTokenSecretLen = 32

// deriveKey is a key for one purpose, derived from the status-token secret:
// HMAC-SHA256(secret, "webintake-key:" + purpose). The status token itself
// keeps its own derivation (StatusToken), which verification shares.
func deriveKey(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("webintake-key:" + purpose))
	return m.Sum(nil)
}

// The form nonce: base64url (no padding) of
//
//	issued (8 bytes, Unix seconds, big-endian) || random (16 bytes) || tag (16 bytes)
//
// where tag is the first 16 bytes of HMAC-SHA256(nonceKey, "form-nonce:" ||
// issued || random). 40 bytes, 54 characters.
const (
	nonceIssuedLen = 8
	nonceRandLen   = 16
	nonceTagLen    = 16
	nonceRawLen    = nonceIssuedLen + nonceRandLen + nonceTagLen
	nonceLen       = (nonceRawLen*8 + 5) / 6 // 54
)

// NonceLifetime is how long a rendered form may be sent: a day, so that a
// form left open overnight (or a tab kept for the morning) still works,
// while a form copied or harvested days ago does not.
const NonceLifetime = 24 * time.Hour

// nonceSkew tolerates clocks a little apart (an issue time just ahead).
const nonceSkew = 5 * time.Minute

// newNonce is a fresh signed form nonce, issued now.
func (h *Handler) newNonce() string {
	raw := make([]byte, nonceRawLen)
	binary.BigEndian.PutUint64(raw, uint64(h.now().Unix()))
	_, _ = rand.Read(raw[nonceIssuedLen : nonceIssuedLen+nonceRandLen]) // crypto/rand.Read never fails (Go 1.24+)
	copy(raw[nonceIssuedLen+nonceRandLen:], nonceTag(h.nonceKey, raw[:nonceIssuedLen+nonceRandLen]))
	return base64.RawURLEncoding.EncodeToString(raw)
}

func nonceTag(key, signed []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("form-nonce:"))
	m.Write(signed)
	return m.Sum(nil)[:nonceTagLen]
}

// checkNonce reports whether s is a nonce this handler signed, issued at
// most NonceLifetime ago (and not ahead of the clock by more than
// nonceSkew). The tag is compared in constant time.
func (h *Handler) checkNonce(s string) bool {
	if !validNonce(s) {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) != nonceRawLen {
		return false
	}
	signed, tag := raw[:nonceIssuedLen+nonceRandLen], raw[nonceIssuedLen+nonceRandLen:]
	if !hmac.Equal(tag, nonceTag(h.nonceKey, signed)) {
		return false
	}
	issued := int64(binary.BigEndian.Uint64(raw[:nonceIssuedLen]))
	now := h.now().Unix()
	return issued <= now+int64(nonceSkew/time.Second) && now-issued <= int64(NonceLifetime/time.Second)
}

// These checks are loops rather than regular expressions: a counted
// repetition such as {1,255} compiles to that many copies of its class, and
// the expressions cost a quarter of a megabyte at every cold start.

// validNonce reports whether s has the shape of a nonce: 54 characters of
// base64url.
func validNonce(s string) bool { return len(s) == nonceLen && all(s, isBase64URL) }

// Idempotency-Key limits: at most 255 characters; at least 128 bits of
// room (see validIdempotencyKey).
const (
	maxIdempotencyKey    = 255
	minIdempotencyKey    = 22 // 22 × 6 bits = 132 bits of base64url
	minIdempotencyKeyHex = 32 // 32 × 4 bits = 128 bits of hex (a UUID has 32)
)

// validIdempotencyKey reports whether s may be an Idempotency-Key header:
// 22 to 255 visible ASCII characters other than the comma (a list
// separator in HTTP headers), with at least 128 bits of room: a key of hex
// digits (and hyphens, as in a UUID) needs 32 hex digits. A UUID passes (its
// 122 random bits are the standard's; the format carries 128); "1" or
// "my-first-request" do not.
func validIdempotencyKey(s string) bool {
	if len(s) < minIdempotencyKey || len(s) > maxIdempotencyKey {
		return false
	}
	if !all(s, func(c byte) bool { return c >= 0x21 && c <= 0x7e && c != ',' }) {
		return false
	}
	hexDigits := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
			hexDigits++
		case c == '-':
		default:
			return true // not a hex key: 22 characters of a larger alphabet
		}
	}
	return hexDigits >= minIdempotencyKeyHex
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

// canonicalBody is the validated submission as the body digest covers it:
// every field the request keeps, normalized, in a fixed order.
type canonicalBody struct {
	Kind             dsr.Kind          `json:"kind"`
	Role             dsr.Role          `json:"role"`
	ErasureGround    dsr.ErasureGround `json:"erasureGround"`
	Email            string            `json:"email"`
	Phone            string            `json:"phone"`
	AccountID        string            `json:"accountId"`
	Locale           dsr.Locale        `json:"locale"`
	Details          string            `json:"details"`
	Corrections      []string          `json:"corrections"`
	Purposes         []string          `json:"consentPurposes"`
	SubjectName      string            `json:"subjectName"`
	SubjectEmail     string            `json:"subjectEmail"`
	SubjectPhone     string            `json:"subjectPhone"`
	SubjectAccountID string            `json:"subjectAccountId"`
}

// bodyDigest binds an idempotency key to its body: base64url of
// HMAC-SHA256(digestKey, "body-digest:" + the canonical JSON of v). Keyed,
// so that the stored digest tells nothing about the body without the
// secret. Two bodies that validate to the same request (spacing, case of
// the email, a phone typed another way) have the same digest.
func (h *Handler) bodyDigest(v dsr.Validated) string {
	b, _ := json.Marshal(canonicalBody{ // strings and string slices always encode
		Kind: v.Kind, Role: v.Role, ErasureGround: v.ErasureGround, Email: v.Email, Phone: v.Phone,
		AccountID: v.AccountID, Locale: v.Locale, Details: v.Details, Corrections: v.Corrections, Purposes: v.Purposes,
		SubjectName: v.SubjectName, SubjectEmail: v.SubjectEmail, SubjectPhone: v.SubjectPhone, SubjectAccountID: v.SubjectAccountID,
	})
	m := hmac.New(sha256.New, h.digestKey)
	m.Write([]byte("body-digest:"))
	m.Write(b)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
