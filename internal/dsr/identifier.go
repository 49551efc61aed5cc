package dsr

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/mail"
	"strings"

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
	ErrInvalidAccountID = errors.New("invalid account ID")
)

const (
	maxEmailLen      = 254 // RFC 5321 §4.5.3.1.3 path limit, less the angle brackets
	maxEmailLocalLen = 64  // RFC 5321 §4.5.3.1.1
	maxAccountIDLen  = 64
)

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

// PhoneParser reads a phone number typed by a person and returns it in E.164
// form, or an error that does not contain the number. phone.Parse is the one
// the intake functions use; it lives outside this package because its
// metadata costs every program that links it about 15 ms at start.
type PhoneParser func(string) (string, error)

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
// parsePhone or ParseAccountID.
func ParseIdentifier(t IdentifierType, raw string, parsePhone PhoneParser) (string, error) {
	switch t {
	case IdentifierEmail:
		return ParseEmail(raw)
	case IdentifierPhone:
		if parsePhone == nil {
			return "", errors.New("no phone parser given")
		}
		return parsePhone(raw)
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
// must come from ParseEmail, a PhoneParser or ParseAccountID, so that the same
// phone typed in different ways gives the same key.
func SubjectKey(secret []byte, t IdentifierType, normalized string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(t))
	m.Write([]byte{':'})
	m.Write([]byte(normalized))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
