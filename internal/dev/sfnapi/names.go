package sfnapi

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// checkName applies AWS's rules for state machine and execution names: 1 to
// 80 characters; no white space, brackets < > { } [ ], wildcards ? *, the
// characters " # % \ ^ | ~ ` $ & , ; : /, nor control characters.
func checkName(kind, name string) error {
	n := utf8.RuneCountInString(name)
	if n < 1 || n > 80 {
		return errorf("InvalidName", "invalid %s name: must be 1 to 80 characters, got %d", kind, n)
	}
	if !utf8.ValidString(name) {
		return errorf("InvalidName", "invalid %s name: not valid UTF-8", kind)
	}
	for _, r := range name {
		switch {
		case unicode.IsSpace(r):
			return errorf("InvalidName", "invalid %s name: white space is not allowed", kind)
		case r <= 0x1f || (r >= 0x7f && r <= 0x9f):
			return errorf("InvalidName", "invalid %s name: control character U+%04X is not allowed", kind, r)
		case strings.ContainsRune(`<>{}[]?*"#%\^|~`+"`"+`$&,;:/`, r):
			return errorf("InvalidName", "invalid %s name: character %q is not allowed", kind, r)
		}
	}
	return nil
}

func (s *Server) arnPrefix() string {
	return "arn:" + s.opts.Partition + ":states:" + s.opts.Region + ":" + s.opts.Account + ":"
}

func (s *Server) stateMachineArn(name string) string {
	return s.arnPrefix() + "stateMachine:" + name
}

func (s *Server) executionArn(machine, name string) string {
	return s.arnPrefix() + "execution:" + machine + ":" + name
}

// checkArn checks that arn is a Step Functions ARN of this partition, region
// and account for the resource kind ("stateMachine" or "execution").
func (s *Server) checkArn(field, arn, kind string) error {
	if arn == "" {
		return errorf("InvalidArn", "%s is required", field)
	}
	rest, ok := strings.CutPrefix(arn, s.arnPrefix())
	if !ok {
		return errorf("InvalidArn", "invalid %s %q: want an ARN starting with %q", field, arn, s.arnPrefix())
	}
	parts := strings.Split(rest, ":")
	want := 2
	if kind == "execution" {
		want = 3
	}
	if len(parts) != want || parts[0] != kind {
		return errorf("InvalidArn", "invalid %s %q: not a %s ARN", field, arn, kind)
	}
	for _, p := range parts[1:] {
		if p == "" {
			return errorf("InvalidArn", "invalid %s %q: empty name", field, arn)
		}
	}
	return nil
}

// newName returns a random UUID (version 4), AWS's default execution name.
func newName() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Pagination: a nextToken is an opaque encoding of the next offset and the
// listing it belongs to.

const (
	defaultPage = 100
	maxPage     = 1000
)

func pageSize(maxResults int) (int, error) {
	switch {
	case maxResults < 0 || maxResults > maxPage:
		return 0, errorf("ValidationException", "maxResults must be between 0 and %d, got %d", maxPage, maxResults)
	case maxResults == 0:
		return defaultPage, nil
	default:
		return maxResults, nil
	}
}

func encodeToken(scope string, offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(scope + "\x00" + strconv.Itoa(offset)))
}

func decodeToken(scope, token string) (int, error) {
	if token == "" {
		return 0, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err == nil {
		sc, off, ok := strings.Cut(string(raw), "\x00")
		if n, err := strconv.Atoi(off); ok && err == nil && sc == scope && n >= 0 {
			return n, nil
		}
	}
	return 0, errorf("InvalidToken", "invalid nextToken: it does not belong to this listing")
}

// page cuts [offset, offset+size) out of n items and returns the next token.
func page(scope string, n int, maxResults int, token string) (from, to int, next string, err error) {
	size, err := pageSize(maxResults)
	if err != nil {
		return 0, 0, "", err
	}
	from, err = decodeToken(scope, token)
	if err != nil {
		return 0, 0, "", err
	}
	if from > n {
		from = n
	}
	to = min(from+size, n)
	if to < n {
		next = encodeToken(scope, to)
	}
	return from, to, next, nil
}

func tokenScope(token string) (string, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", false
	}
	sc, _, ok := strings.Cut(string(raw), "\x00")
	return sc, ok
}
