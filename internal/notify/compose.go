package notify

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
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
//
// Every message carries our own Message-ID, <dsr.{request}.{template}.{random}@{sender's domain}>
// (MessageID), so that a reply to it (In-Reply-To, References) names its
// request, and Auto-Submitted: auto-generated (RFC 3834), so that
// well-behaved autoresponders do not answer it. Attachments (the signed
// deletion certificate) make it multipart/mixed.
func Compose(m Message, fromName, from string, date time.Time) ([]byte, error) {
	if m.To.Email == "" {
		return nil, fmt.Errorf("compose message for request %s: no email address", m.RequestID)
	}
	msgID := m.MessageID
	if msgID == "" {
		msgID = MessageID(m.RequestID, m.Template, from)
	}
	// Checked before encoding: an encoded word would carry a break safely,
	// but a subject with one is a bug in its template.
	for _, v := range []struct{ name, value string }{
		{"From", fromName + from}, {"To", m.To.Email}, {"Subject", m.Subject},
		{"X-Dsrflow-Request", m.RequestID}, {"X-Dsrflow-Template", m.Template}, {"Content-Language", string(m.Locale)},
		{"Message-ID", msgID},
	} {
		if strings.ContainsAny(v.value, "\r\n") {
			return nil, fmt.Errorf("compose message for request %q: %s: %w", m.RequestID, v.name, errHeaderBreak)
		}
	}
	for _, a := range m.Attachments {
		if !validFileName(a.Name) || !validContentType(a.ContentType) {
			return nil, fmt.Errorf("compose message for request %q: attachment name or type not allowed", m.RequestID)
		}
	}
	boundary := ""
	contentType := "text/plain; charset=utf-8"
	cte := "base64"
	if len(m.Attachments) > 0 {
		boundary = "dsr-" + strings.Trim(strings.NewReplacer("<", "", ">", "", "@", "-").Replace(msgID), ".")
		contentType = `multipart/mixed; boundary="` + boundary + `"`
		cte = ""
	}
	headers := []struct{ name, value string }{
		{"Auto-Submitted", "auto-generated"},
		{"Content-Language", string(m.Locale)},
		{"Content-Transfer-Encoding", cte},
		{"Content-Type", contentType},
		{"Date", date.Format(time.RFC1123Z)},
		{"From", (&mail.Address{Name: fromName, Address: from}).String()},
		{"MIME-Version", "1.0"},
		{"Message-ID", msgID},
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
	if boundary == "" {
		writeBase64(&b, []byte(m.Body))
		return b.Bytes(), nil
	}
	b.WriteString("--" + boundary + "\r\n")
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	writeBase64(&b, []byte(m.Body))
	for _, a := range m.Attachments {
		b.WriteString("--" + boundary + "\r\n")
		writeFolded(&b, "Content-Type: "+a.ContentType+`; name="`+a.Name+`"`)
		writeFolded(&b, `Content-Disposition: attachment; filename="`+a.Name+`"`)
		b.WriteString("Content-Transfer-Encoding: base64\r\n\r\n")
		writeBase64(&b, a.Data)
	}
	b.WriteString("--" + boundary + "--\r\n")
	return b.Bytes(), nil
}

// writeBase64 writes data base64-encoded in lines of maxLine.
func writeBase64(b *bytes.Buffer, data []byte) {
	body := base64.StdEncoding.EncodeToString(data)
	for len(body) > maxLine {
		b.WriteString(body[:maxLine])
		b.WriteString("\r\n")
		body = body[maxLine:]
	}
	if body != "" {
		b.WriteString(body)
		b.WriteString("\r\n")
	}
}

// validFileName accepts the file names our templates give attachments:
// ASCII letters, digits, '.', '-' and '_'.
func validFileName(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// validContentType accepts type/subtype of letters, digits and "+.-".
func validContentType(s string) bool {
	t, sub, ok := strings.Cut(s, "/")
	return ok && validToken(t) && validToken(sub)
}

func validToken(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '+' || r == '.' || r == '-') {
			return false
		}
	}
	return true
}

// MessageID is the Message-ID of our message of template for request id:
// <dsr.{id}.{template}.{16 random hex}@{domain of from}>. A reply's
// In-Reply-To or References carries it back, and with it the request
// (mail.ThreadRequestID reads it).
func MessageID(id, template, from string) string {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	domain := "dsrflow.invalid"
	if at := strings.LastIndexByte(from, '@'); at >= 0 && at < len(from)-1 {
		domain = from[at+1:]
	}
	return "<dsr." + id + "." + template + "." + hex.EncodeToString(rnd[:]) + "@" + domain + ">"
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
