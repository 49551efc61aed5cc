package notify

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// maxLine is the line length headers are folded to and the body is wrapped
// at (RFC 5322 2.1.1 recommends 78; base64 lines are 76, RFC 2045 6.8).
const maxLine = 76

// errHeaderBreak is returned (wrapped) when a header value holds a line
// break, which would let it add headers of its own.
var errHeaderBreak = errors.New("header value has a line break")

// Compose builds the RFC 5322 message for an email: text/plain in UTF-8,
// base64 body, non-ASCII header text as RFC 2047 encoded words, long
// headers folded. It is written with the standard library's net/mail and
// mime encoders rather than enmime's builder: enmime and the HTML and
// charset packages it brings add about 25 packages to the cold start of
// every function that can send a message (internal/dev/coldstart). Parsing
// mail, where enmime earns its keep, is in internal/mail.
func Compose(m Message, fromName, from string, date time.Time) ([]byte, error) {
	if m.To.Email == "" {
		return nil, fmt.Errorf("compose message for request %s: no email address", m.RequestID)
	}
	// Checked before encoding: an encoded word would carry a break safely,
	// but a subject with one is a bug in its template.
	for _, v := range []struct{ name, value string }{
		{"From", fromName + from}, {"To", m.To.Email}, {"Subject", m.Subject},
		{"X-Dsrflow-Request", m.RequestID}, {"X-Dsrflow-Template", m.Template}, {"Content-Language", string(m.Locale)},
	} {
		if strings.ContainsAny(v.value, "\r\n") {
			return nil, fmt.Errorf("compose message for request %q: %s: %w", m.RequestID, v.name, errHeaderBreak)
		}
	}
	headers := []struct{ name, value string }{
		{"Content-Language", string(m.Locale)},
		{"Content-Transfer-Encoding", "base64"},
		{"Content-Type", "text/plain; charset=utf-8"},
		{"Date", date.Format(time.RFC1123Z)},
		{"From", (&mail.Address{Name: fromName, Address: from}).String()},
		{"MIME-Version", "1.0"},
		{"Subject", encodeWords(m.Subject, maxLine-len("Subject: "))},
		{"To", (&mail.Address{Address: m.To.Email}).String()},
		{"X-Dsrflow-Request", m.RequestID},
		{"X-Dsrflow-Template", m.Template},
	}
	var b bytes.Buffer
	for _, h := range headers {
		if h.value == "" {
			continue
		}
		writeFolded(&b, h.name+": "+h.value)
	}
	b.WriteString("\r\n")
	body := base64.StdEncoding.EncodeToString([]byte(m.Body))
	for len(body) > maxLine {
		b.WriteString(body[:maxLine])
		b.WriteString("\r\n")
		body = body[maxLine:]
	}
	if body != "" {
		b.WriteString(body)
		b.WriteString("\r\n")
	}
	return b.Bytes(), nil
}

// encodeWords is s as RFC 2047 B-encoded words, each at most maxLine long
// and the first at most first long (so that it fits on the header's own
// line: RFC 2047 limits lines with encoded words to 76 characters), split
// between characters, never inside one. Text that needs no encoding is
// returned as it is.
func encodeWords(s string, first int) string {
	if mime.BEncoding.Encode("utf-8", s) == s {
		return s
	}
	const overhead = len("=?utf-8?b??=")
	var words []string
	limit := first
	for s != "" {
		// The longest prefix whose base64 fits: 3 bytes become 4 characters.
		n := (limit - overhead) / 4 * 3
		if n >= len(s) {
			n = len(s)
		} else {
			for n > 0 && !utf8.RuneStart(s[n]) {
				n--
			}
			if n == 0 { // a limit too small for one character; cannot happen with ours
				_, n = utf8.DecodeRuneInString(s)
			}
		}
		words = append(words, "=?utf-8?b?"+base64.StdEncoding.EncodeToString([]byte(s[:n]))+"?=")
		s, limit = s[n:], maxLine-1
	}
	return strings.Join(words, " ")
}

// writeFolded writes one header line, folded at spaces (between encoded
// words, or between a display name and its address) so that lines stay
// within maxLine where the words allow it.
func writeFolded(b *bytes.Buffer, line string) {
	n := 0
	for i, w := range strings.Split(line, " ") {
		if i > 0 {
			// A fold goes before an existing space, so unfolding gives
			// the line back; never before an empty word, which would
			// leave a line of only white space, nor right after the
			// header's name, which some readers keep as a leading space.
			if i > 1 && w != "" && n+1+len(w) > maxLine {
				b.WriteString("\r\n")
				n = 0
			}
			b.WriteByte(' ')
			n++
		}
		b.WriteString(w)
		n += len(w)
	}
	b.WriteString("\r\n")
}
