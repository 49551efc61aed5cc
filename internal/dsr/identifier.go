package dsr

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/mail"
	"strings"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/net/idna"
)

// IdentifierType is the kind of value that identifies a data subject.
type IdentifierType string

const (
	IdentifierEmail   IdentifierType = "email"
	IdentifierPhone   IdentifierType = "phone"   // E.164
	IdentifierAccount IdentifierType = "account" // account ID
)

// Errors of the identifier parsers. They never contain the value parsed.
var (
	ErrInvalidEmail     = errors.New("invalid email address")
	ErrInvalidPhone     = errors.New("invalid phone number")
	ErrInvalidAccountID = errors.New("invalid account ID")
)

const (
	maxEmailLen      = 254 // RFC 5321 §4.5.3.1.3 path limit, less the angle brackets
	maxEmailLocalLen = 64  // RFC 5321 §4.5.3.1.1
	maxPhoneInputLen = 40  // generous for spaces, dashes, brackets and a 00 prefix
	maxAccountIDLen  = 64
)

// DefaultPhoneRegion is the region assumed for a phone number written without
// a country code: the service's users are in mainland China.
const DefaultPhoneRegion = "CN"

// dnsName converts and checks a domain: IDNA lookup rules (RFC 5891 §5) plus
// the DNS limits of 63 bytes a label and 253 a name.
var dnsName = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.VerifyDNSLength(true))

// ParseEmail checks an email address and returns its normalized form.
//
// The syntax is checked with net/mail (RFC 5322). Only a bare address is
// accepted: no display name ("Zhang San <a@b.cn>"), no angle brackets, no
// comments, no quoted local part, no list of addresses. The domain must be a
// domain name with at least one dot (no IP literal, no "localhost"); an
// internationalized domain is converted to its ASCII (punycode) form.
//
// Normalization: surrounding space is trimmed and the WHOLE address is
// lower-cased. RFC 5321 lets a server treat the local part case-sensitively,
// but the mailboxes our users have (QQ, 163, Gmail, Outlook, ...) do not, and
// the normalized form is what the subject key is computed over: the same person
// must not get two keys for "Zhang@QQ.com" and "zhang@qq.com". Provider-specific
// rewrites (dropping dots or "+tag" suffixes) are NOT applied, since on other
// providers they name different mailboxes.
func ParseEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidEmail)
	}
	if len(s) > maxEmailLen {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrInvalidEmail, maxEmailLen)
	}
	addr, err := mail.ParseAddress(s)
	if err != nil {
		return "", fmt.Errorf("%w: not an address", ErrInvalidEmail)
	}
	if addr.Name != "" || addr.Address != s {
		return "", fmt.Errorf("%w: only a bare address is accepted", ErrInvalidEmail)
	}
	at := strings.LastIndexByte(s, '@')
	local, domain := s[:at], s[at+1:]
	if len(local) > maxEmailLocalLen {
		return "", fmt.Errorf("%w: local part longer than %d bytes", ErrInvalidEmail, maxEmailLocalLen)
	}
	ascii, err := dnsName.ToASCII(domain)
	if err != nil || !strings.Contains(ascii, ".") || strings.HasSuffix(ascii, ".") {
		return "", fmt.Errorf("%w: domain is not a domain name", ErrInvalidEmail)
	}
	out := strings.ToLower(local) + "@" + strings.ToLower(ascii)
	if len(out) > maxEmailLen {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrInvalidEmail, maxEmailLen)
	}
	return out, nil
}

// ParsePhone checks a phone number and returns it in E.164 form ("+8613800138000").
// A number without a country code is read as a mainland China number. Spaces,
// dashes, brackets, full-width digits and the 00 international prefix are
// accepted; the number must be valid for its region according to
// github.com/nyaruka/phonenumbers (Google's libphonenumber metadata), and must
// not carry an extension (it could not receive a text message).
func ParsePhone(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidPhone)
	}
	if len(s) > maxPhoneInputLen {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrInvalidPhone, maxPhoneInputLen)
	}
	num, err := phonenumbers.Parse(s, DefaultPhoneRegion)
	if err != nil {
		return "", fmt.Errorf("%w: not a phone number", ErrInvalidPhone)
	}
	if num.GetExtension() != "" {
		return "", fmt.Errorf("%w: extensions are not accepted", ErrInvalidPhone)
	}
	if !phonenumbers.IsValidNumber(num) {
		return "", fmt.Errorf("%w: no such number in its region", ErrInvalidPhone)
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

// ParseAccountID checks an account ID: 1 to 64 characters of A–Z, a–z, 0–9,
// "_" and "-", after trimming surrounding space. Case is kept: IDs are opaque.
func ParseAccountID(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidAccountID)
	}
	if len(s) > maxAccountIDLen {
		return "", fmt.Errorf("%w: longer than %d characters", ErrInvalidAccountID, maxAccountIDLen)
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-'
		if !ok {
			return "", fmt.Errorf("%w: only letters, digits, _ and - are allowed", ErrInvalidAccountID)
		}
	}
	return s, nil
}

// ParseIdentifier normalizes a raw identifier of type t with ParseEmail,
// ParsePhone or ParseAccountID.
func ParseIdentifier(t IdentifierType, raw string) (string, error) {
	switch t {
	case IdentifierEmail:
		return ParseEmail(raw)
	case IdentifierPhone:
		return ParsePhone(raw)
	case IdentifierAccount:
		return ParseAccountID(raw)
	}
	return "", fmt.Errorf("unknown identifier type %q", t)
}

// MinSubjectSecretLen is the shortest secret SubjectKey should be given
// (256 bits, the HMAC-SHA256 block output); configuration loaders check it.
const MinSubjectSecretLen = 32

// SubjectKey is the keyed hash by which a data subject is looked up without
// storing the identifier in an index: base64url (no padding, 43 characters) of
// HMAC-SHA256(secret, "<type>:<normalized value>"). The type prefix keeps an
// account ID from colliding with an equal-looking phone number. normalized
// must come from ParseEmail, ParsePhone or ParseAccountID, so that the same
// phone typed in different ways gives the same key.
func SubjectKey(secret []byte, t IdentifierType, normalized string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(t))
	m.Write([]byte{':'})
	m.Write([]byte(normalized))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
