// Package mail reads the raw RFC 5322 messages of the privacy mailbox and decides
// what each one is: a data-subject request (with its kind and requester role), mail
// to ignore (auto-replies, bounces, bulk, spam, viruses, spoofed senders), a message
// for a person to triage, or a request to reject.
//
// The package does no I/O. The mailbox handler reads the raw object from S3, calls
// Parse and Classify, writes Attachments back to S3 under its own keys and keeps
// only those keys. A Message holds personal data (sender, body, documents): never
// log it; log Classification codes (Action, IgnoreReason, Reason) and DedupeKey.
//
// MIME is decoded with github.com/jhillyerd/enmime (multipart, quoted-printable,
// base64, RFC 2047 headers, HTML-to-text, and the Chinese charsets GB2312/GBK,
// GB18030 and Big5 through golang.org/x/text).
//
// The mailbox handler uses it like this:
//
//	msg, err := mail.ParseContext(ctx, raw)     // never nil; err only when unreadable (a *ParseError)
//	c := mail.Classify(msg, mail.VerdictsFromHeaders(msg, "amazonses.com"))
//	key := mail.DedupeKey(msg, bucket+"/"+objectKey) // same message twice → same key
//	for i, a := range msg.Attachments {
//		s3Key := mail.AttachmentKey("attachments", key, i, a) // put a.Data there; keep s3Key only
//	}
//	switch c.Action { case mail.ActionRequest: …; case mail.ActionFollowUp: … c.ThreadRequestID …; … }
//
// and logs c.Action, c.Kind, c.IgnoreReason, c.Reason, c.Problems, c.ThreadRequestID
// and key, never c.From, c.Hints, msg.Subject, msg.Text or file names.
//
// Classify decides from structure (classify.go): machine-mail headers, our own
// Message-IDs and request IDs, the text the sender wrote apart from quotes,
// forwards, signatures and disclaimers (segment.go), and clause by clause the
// kinds asked for, negated or only asked about (analyze.go, rules.go). The
// labelled corpus in testdata/corpus measures it: go test -run Corpus -v.
package mail

import (
	"bytes"
	"context"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jaytaylor/html2text"
	"github.com/jhillyerd/enmime"
	"github.com/jhillyerd/enmime/mediatype"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/transform"

	"dsrflow/internal/dsr"
	"dsrflow/internal/phone"
)

// MaxSize is the largest raw message Parse reads; a larger one is recorded as
// unparseable (problem "too_large") so that it goes to triage instead of
// exhausting the function's memory. The handler should check the S3 object size
// first and not download anything larger.
const MaxSize = 25 << 20

// MaxMultiparts is how many multipart/* parts a message may have, and
// MaxMultipartDepth how deeply they may nest. enmime's time grows
// exponentially with the nesting depth of multiparts that are not closed in
// order (each level doubles it: 20 levels take about 0.4 s, 24 about 6 s), so
// a message beyond either limit is not handed to it and goes to triage as
// "too_complex". Real mail nests a handful (mixed > related > alternative, a
// forwarded message or two) and has a few dozen parts at most.
const (
	MaxMultiparts     = 64
	MaxMultipartDepth = 12
)

// MaxParseTime and ParseTimePerMiB bound Parse: a message of n MiB gets
// MaxParseTime + n×ParseTimePerMiB (27 s at MaxSize, within the mailbox
// function's 60 s), and one that takes longer is recorded as unparseable
// (problem "parse_timeout") and goes to triage; the raw message stays in the
// bucket. The structural limits keep real and hostile mail far below it (a
// 24 MB message with large attachments parses in about a second); the
// deadline is the backstop for what they do not foresee.
const (
	MaxParseTime    = 2 * time.Second
	ParseTimePerMiB = time.Second
)

// parseBudget is the time Parse allows a raw message of size bytes.
func parseBudget(size int) time.Duration {
	return MaxParseTime + time.Duration(size>>20)*ParseTimePerMiB
}

// MaxHTML is how much of an HTML body (in bytes) is converted to text; the
// rest is dropped (problem "html_truncated"). A request is stated at the top,
// the rules read MaxRuleText bytes of text, and the conversion time grows with
// the input.
const MaxHTML = 512 << 10

// MaxAttachments and MaxAttachmentBytes cap the documents Parse returns: the
// ones beyond either limit are dropped from Message.Attachments and the
// message is flagged ("too_many_attachments", "attachments_too_large") so that
// it goes to triage; the text is kept and the raw message stays in the bucket.
const (
	MaxAttachments     = 10
	MaxAttachmentBytes = 15 << 20
)

// contentTypeLine is the start of a Content-Type header field.
var contentTypeLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)^content-type[ \t]*:`) })

// multipartShape scans raw line by line for Content-Type header fields,
// unfolded and read with the media type parser enmime uses (so RFC 2231
// boundary*0=/boundary*= parameters are understood as enmime understands
// them), and for boundary delimiter lines. It returns how many multipart/*
// parts are declared and how deeply they nest: a boundary stays open until its
// own closing delimiter, or a delimiter of an enclosing boundary, is seen. It
// stops counting once a limit is passed. Content-Type lines inside a body are
// counted as well: an over-estimate errs on the safe side.
func multipartShape(raw []byte) (count, depth int) {
	var open []string // boundaries of the open multiparts, outermost first
	lines := bytes.Split(raw, []byte("\n"))
	for i := 0; i < len(lines); i++ {
		line := bytes.TrimSuffix(lines[i], []byte("\r"))
		if bytes.HasPrefix(line, []byte("--")) {
			rest := line[2:]
			for j := len(open) - 1; j >= 0; j-- {
				if !bytes.HasPrefix(rest, []byte(open[j])) {
					continue
				}
				if bytes.HasPrefix(rest[len(open[j]):], []byte("--")) {
					open = open[:j]
				} else {
					open = open[:j+1]
				}
				break
			}
			continue
		}
		if !contentTypeLine().Match(line) {
			continue
		}
		value := string(line[bytes.IndexByte(line, ':')+1:])
		for i+1 < len(lines) && len(lines[i+1]) > 0 && (lines[i+1][0] == ' ' || lines[i+1][0] == '\t') {
			i++
			value += " " + string(bytes.TrimSpace(lines[i]))
		}
		mt, params, _, err := mediatype.Parse(value)
		if !strings.HasPrefix(strings.ToLower(strings.TrimSpace(value)), "multipart/") && (err != nil || !strings.HasPrefix(mt, "multipart/")) {
			continue
		}
		count++
		if b := params["boundary"]; b != "" {
			open = append(open, b)
			depth = max(depth, len(open))
		}
		if count > MaxMultiparts || depth > MaxMultipartDepth {
			return count, depth
		}
	}
	return count, depth
}

// Message is a parsed mail message. It is personal data: never log it.
type Message struct {
	// MessageID is the normalized Message-ID (no angle brackets, no spaces), or
	// "" when the message has none.
	MessageID string
	// From is the sender's address normalized by dsr.ParseEmail, or "" when
	// there is no valid one.
	From string
	// Subject is the decoded subject (RFC 2047 and 8-bit Chinese charsets).
	Subject string
	// Date is the Date header; zero when missing or invalid.
	Date time.Time
	// Text is the body as plain text: the text/plain part, else the HTML part
	// converted to text, decoded to UTF-8.
	Text string
	// Phone is the first valid phone number found in the body, in E.164, or "".
	Phone string
	// Header holds the top-level headers, RFC 2047 decoded.
	Header mail.Header
	// ContentType is the top-level media type (e.g. "multipart/report").
	ContentType string
	// ContentTypeParams are the top-level media type's parameters.
	ContentTypeParams map[string]string
	// Attachments are the documents sent with the message (ID documents).
	Attachments []Attachment
	// Problems are what was wrong with the message's MIME, in the order found.
	Problems []Problem
	// Size is the length of the raw message in bytes.
	Size int

	// attached is the first message/rfc822 attachment, read (one level
	// deep): a forwarded message.
	attached *attachedMessage
}

// attachedMessage is what the classifier reads of a forwarded message.
type attachedMessage struct {
	from, subject, text string
}

// maxAttachedMessage is the largest message/rfc822 attachment that is read.
const maxAttachedMessage = 1 << 20

// Attachment is one file sent with a message. Put Data in S3 and keep the key:
// attachments never go into the table or the logs.
type Attachment struct {
	Filename    string // as sent, decoded; may be empty or unsafe as a path
	ContentType string // media type without parameters
	Data        []byte // decoded content
}

// Problem is one defect found while parsing. Code is stable and safe to log;
// Detail may quote parts of the message and must not be logged.
type Problem struct {
	Code   string `json:"code"`
	Detail string `json:"-"`
	// Severe means part of the message was lost or could not be decoded.
	Severe bool `json:"severe"`
}

// Problem codes. The enmime error classes map onto the codes below.
const (
	ProblemEmpty               = "empty"                 // zero bytes, or only whitespace
	ProblemTooLarge            = "too_large"             // larger than MaxSize
	ProblemTooComplex          = "too_complex"           // more than MaxMultiparts multiparts, or nested deeper than MaxMultipartDepth
	ProblemNoHeaders           = "no_headers"            // nothing that looks like a header block
	ProblemUnreadable          = "unreadable"            // the MIME reader gave up
	ProblemMalformedBase64     = "malformed_base64"      // base64 body could not be fully decoded
	ProblemMalformedHeader     = "malformed_header"      // a header line is broken
	ProblemMissingBoundary     = "missing_boundary"      // multipart without (a matching) boundary
	ProblemMissingContentType  = "missing_content_type"  // part without Content-Type
	ProblemCharsetConversion   = "charset_conversion"    // unknown or failing charset
	ProblemContentEncoding     = "content_encoding"      // bad Content-Transfer-Encoding
	ProblemPlainTextFromHTML   = "plain_text_from_html"  // HTML could not be converted
	ProblemCharsetDeclaration  = "charset_declaration"   // declared and detected charsets differ
	ProblemMalformedChildPart  = "malformed_child_part"  // a part inside a multipart is broken
	ProblemInvalidUTF8Repaired = "invalid_utf8_repaired" // text was not UTF-8 after decoding; re-read as GB18030/Big5 or replaced
	ProblemOther               = "other"                 // an enmime error class this package does not know
	ProblemBodyLost            = "body_lost"             // the raw message has a body, but no text or attachment came out of it
	ProblemMissingFrom         = "missing_from"          // no valid From address
	ProblemMissingMessageID    = "missing_message_id"    // no Message-ID header
	ProblemTimeout             = "parse_timeout"         // reading took longer than its budget (MaxParseTime, ParseTimePerMiB)
	ProblemHTMLTruncated       = "html_truncated"        // only the first MaxHTML bytes of the HTML body were read
	ProblemTooManyAttachments  = "too_many_attachments"  // more than MaxAttachments documents; the rest were dropped
	ProblemAttachmentsTooLarge = "attachments_too_large" // documents over MaxAttachmentBytes in total were dropped
)

var enmimeProblemCodes = map[string]string{
	enmime.ErrorMalformedBase64:    ProblemMalformedBase64,
	enmime.ErrorMalformedHeader:    ProblemMalformedHeader,
	enmime.ErrorMissingBoundary:    ProblemMissingBoundary,
	enmime.ErrorMissingContentType: ProblemMissingContentType,
	enmime.ErrorCharsetConversion:  ProblemCharsetConversion,
	enmime.ErrorContentEncoding:    ProblemContentEncoding,
	enmime.ErrorPlainTextFromHTML:  ProblemPlainTextFromHTML,
	enmime.ErrorCharsetDeclaration: ProblemCharsetDeclaration,
	enmime.ErrorMalformedChildPart: ProblemMalformedChildPart,
}

// ParseError says why a message could not be read at all. Parse still returns a
// Message (with Problems and Size) so that the message goes to triage.
type ParseError struct {
	Code string // one of the Problem codes; safe to log
	Err  error  // the underlying reader error, if any; may quote the message
}

// Error names the code only: the underlying error may quote the message.
func (e *ParseError) Error() string { return "parse mail: " + e.Code }

func (e *ParseError) Unwrap() error { return e.Err }

// Unparseable reports whether Parse could not read the message at all.
func (m *Message) Unparseable() bool {
	for _, p := range m.Problems {
		switch p.Code {
		case ProblemEmpty, ProblemTooLarge, ProblemTooComplex, ProblemNoHeaders, ProblemUnreadable, ProblemTimeout:
			return true
		}
	}
	return false
}

// Broken reports whether part of the message was lost while decoding it.
func (m *Message) Broken() bool {
	for _, p := range m.Problems {
		if p.Severe {
			return true
		}
	}
	return false
}

// ProblemCodes lists the codes of m.Problems without repeats, in order.
func (m *Message) ProblemCodes() []string {
	var codes []string
	seen := map[string]bool{}
	for _, p := range m.Problems {
		if !seen[p.Code] {
			seen[p.Code] = true
			codes = append(codes, p.Code)
		}
	}
	return codes
}

func (m *Message) addProblem(code string, severe bool, detail string) {
	m.Problems = append(m.Problems, Problem{Code: code, Severe: severe, Detail: detail})
}

// parser is configured once: charset detection is off so that a declared charset
// wins (chardet mistakes GBK for other charsets on short Chinese text); broken
// parts are kept with an error instead of aborting the whole message.
var parser = enmime.NewParser(
	enmime.DisableCharacterDetection(true),
	enmime.SetReadPartErrorPolicy(enmime.AllowCorruptTextPartErrorPolicy),
	enmime.MultipartWOBoundaryAsSinglePart(true),
	enmime.MaxStoredPartErrors(20),
	// HTML is converted here, after capping its size (htmlToText).
	enmime.DisableTextConversion(true),
)

// Parse reads a raw RFC 5322 message. It never panics and always returns a
// non-nil Message. The error is non-nil (a *ParseError) only when the message
// could not be read at all; the Message then carries the Problems and Size, and
// Classify sends it to triage. Defects in a readable message are not errors:
// they are listed in Message.Problems. Parse gives up after its time budget
// (MaxParseTime and ParseTimePerMiB).
func Parse(raw []byte) (*Message, error) {
	return ParseContext(context.Background(), raw)
}

// ParseContext is Parse under ctx as well: it gives up when ctx is done or
// the time budget has passed, whichever comes first, and returns the message as
// unparseable (problem "parse_timeout"). The MIME reader cannot be stopped:
// it finishes in the background, bounded by the structural limits.
func ParseContext(ctx context.Context, raw []byte) (*Message, error) {
	return parseWithin(ctx, raw, parseBudget(len(raw)))
}

func parseWithin(ctx context.Context, raw []byte, budget time.Duration) (*Message, error) {
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	type result struct {
		msg *Message
		err error
	}
	done := make(chan result, 1)
	go func() {
		msg, err := parse(raw)
		done <- result{msg, err}
	}()
	select {
	case r := <-done:
		return r.msg, r.err
	case <-ctx.Done():
		msg := &Message{Size: len(raw), Header: mail.Header{}}
		msg.addProblem(ProblemTimeout, true, "")
		return msg, &ParseError{Code: ProblemTimeout, Err: ctx.Err()}
	}
}

func parse(raw []byte) (msg *Message, err error) { return parseAt(raw, 0) }

// parseAt parses raw; depth is 1 for an attached message, which is not
// searched for attached messages in turn.
func parseAt(raw []byte, depth int) (msg *Message, err error) {
	msg = &Message{Size: len(raw), Header: mail.Header{}}
	defer func() {
		// enmime and html2text are third-party code fed with hostile input: a
		// panic there must not lose the message.
		if r := recover(); r != nil {
			msg = &Message{Size: len(raw), Header: mail.Header{}}
			msg.addProblem(ProblemUnreadable, true, fmt.Sprint(r))
			err = &ParseError{Code: ProblemUnreadable, Err: fmt.Errorf("mime reader panic: %v", r)}
		}
	}()
	switch {
	case len(bytes.TrimSpace(raw)) == 0:
		msg.addProblem(ProblemEmpty, true, "")
		return msg, &ParseError{Code: ProblemEmpty}
	case len(raw) > MaxSize:
		msg.addProblem(ProblemTooLarge, true, "")
		return msg, &ParseError{Code: ProblemTooLarge}
	case !looksLikeHeaders(raw):
		msg.addProblem(ProblemNoHeaders, true, "")
		return msg, &ParseError{Code: ProblemNoHeaders}
	}
	if count, depth := multipartShape(raw); count > MaxMultiparts || depth > MaxMultipartDepth {
		msg.addProblem(ProblemTooComplex, true, fmt.Sprintf("%d multiparts, nested %d deep", count, depth))
		return msg, &ParseError{Code: ProblemTooComplex}
	}
	env, rerr := parser.ReadEnvelope(bytes.NewReader(raw))
	if rerr != nil || env == nil || env.Root == nil {
		msg.addProblem(ProblemUnreadable, true, errString(rerr))
		return msg, &ParseError{Code: ProblemUnreadable, Err: rerr}
	}
	for _, e := range env.Errors {
		code, ok := enmimeProblemCodes[e.Name]
		if !ok {
			code = ProblemOther
		}
		if code == ProblemPlainTextFromHTML && !e.Severe {
			continue // a note that HTML was converted, not a defect
		}
		msg.addProblem(code, e.Severe || alwaysSevere[code], e.Detail)
	}
	msg.fill(env)
	if depth == 0 {
		msg.readAttached()
	}
	if hasBody(raw) && strings.TrimSpace(msg.Text) == "" && len(msg.Attachments) == 0 && !msg.hasProblem(ProblemTooManyAttachments, ProblemAttachmentsTooLarge) {
		// e.g. a declared boundary that never occurs: enmime keeps no part,
		// and the body would be lost without a word.
		msg.addProblem(ProblemBodyLost, true, "")
	}
	return msg, nil
}

// readAttached reads the first message/rfc822 attachment.
func (m *Message) readAttached() {
	for _, a := range m.Attachments {
		if a.ContentType != "message/rfc822" || len(a.Data) > maxAttachedMessage {
			continue
		}
		inner, err := parseAt(a.Data, 1)
		if err != nil {
			return
		}
		m.attached = &attachedMessage{from: inner.From, subject: inner.Subject, text: inner.Text}
		return
	}
}

func (m *Message) hasProblem(codes ...string) bool {
	for _, p := range m.Problems {
		if slices.Contains(codes, p.Code) {
			return true
		}
	}
	return false
}

// alwaysSevere are the enmime warnings that this package counts as content
// lost: a text part cut short by bad base64 may have lost the very sentence
// that changes the request; an unknown transfer encoding leaves encoded bytes.
var alwaysSevere = map[string]bool{
	ProblemMalformedBase64:    true,
	ProblemMalformedChildPart: true,
	ProblemContentEncoding:    true,
}

// hasBody reports whether anything but white space follows the header block.
func hasBody(raw []byte) bool {
	i := bytes.Index(raw, []byte("\r\n\r\n"))
	if j := bytes.Index(raw, []byte("\n\n")); j >= 0 && (i < 0 || j < i) {
		i = j
	}
	return i >= 0 && len(bytes.TrimSpace(raw[i:])) > 0
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// headerLine is a field name followed by a colon (RFC 5322 ftext is printable
// ASCII except the colon), or the mbox "From " line some servers keep.
var headerLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(?:[!-9;-~]+[ \t]*:|From )`) })

// looksLikeHeaders is true when the first line of raw is a header field.
func looksLikeHeaders(raw []byte) bool {
	line := raw
	if i := bytes.IndexByte(raw, '\n'); i >= 0 {
		line = raw[:i]
	}
	return headerLine().Match(bytes.TrimLeft(line, "\r\n"))
}

func (m *Message) fill(env *enmime.Envelope) {
	for k, vs := range env.Root.Header {
		for _, v := range vs {
			m.Header[k] = append(m.Header[k], repairText(m, enmime.DecodeRFC2047(v)))
		}
	}
	// enmime keeps no parameters for a multipart root; read them here with its
	// tolerant media type parser (report-type of a DSN is one of them).
	m.ContentType, m.ContentTypeParams = env.Root.ContentType, map[string]string{}
	if mt, params, _, err := mediatype.Parse(env.Root.Header.Get("Content-Type")); err == nil {
		if m.ContentType == "" {
			m.ContentType = mt
		}
		m.ContentTypeParams = params
	}
	m.Subject = strings.TrimSpace(repairText(m, env.GetHeader("Subject")))
	m.MessageID = NormalizeMessageID(env.Root.Header.Get("Message-Id"))
	if m.MessageID == "" {
		m.addProblem(ProblemMissingMessageID, false, "")
	}
	m.From = senderAddress(env)
	if m.From == "" {
		m.addProblem(ProblemMissingFrom, false, "")
	}
	if d, err := env.Date(); err == nil {
		m.Date = d.UTC()
	}
	text := env.Text
	if strings.TrimSpace(text) == "" && env.HTML != "" {
		html := env.HTML
		if len(html) > MaxHTML {
			html = strings.ToValidUTF8(html[:MaxHTML], "")
			m.addProblem(ProblemHTMLTruncated, false, "")
		}
		text = htmlToText(html)
	}
	root := env.Root
	rootAsText := strings.TrimSpace(text) == "" && root.FirstChild == nil && len(bytes.TrimSpace(root.Content)) > 0 &&
		(root.ContentType == "" || strings.HasPrefix(root.ContentType, "multipart/"))
	if rootAsText {
		// A multipart without a boundary parameter, or a body without a usable
		// Content-Type: enmime keeps it as a nameless attachment; it is the text.
		text = string(root.Content)
		if strings.HasPrefix(root.ContentType, "multipart/") {
			m.addProblem(ProblemMissingBoundary, false, "multipart without boundary read as text")
		}
	}
	m.Text = repairText(m, text)
	m.Phone = findPhone(m.Text[:min(len(m.Text), MaxRuleText)])
	m.Attachments = m.capAttachments(attachments(env, rootAsText))
}

// capAttachments keeps the documents in order while they stay within
// MaxAttachments and MaxAttachmentBytes, and records what was dropped.
func (m *Message) capAttachments(all []Attachment) []Attachment {
	var kept []Attachment
	total := 0
	tooMany, tooLarge := false, false
	for _, a := range all {
		switch {
		case len(kept) >= MaxAttachments:
			tooMany = true
		case total+len(a.Data) > MaxAttachmentBytes:
			tooLarge = true
		default:
			kept = append(kept, a)
			total += len(a.Data)
		}
	}
	if tooMany {
		m.addProblem(ProblemTooManyAttachments, false, fmt.Sprintf("%d documents", len(all)))
	}
	if tooLarge {
		m.addProblem(ProblemAttachmentsTooLarge, false, "")
	}
	return kept
}

// senderAddress is the From address (the first one), else Sender, lower-cased.
func senderAddress(env *enmime.Envelope) string {
	for _, h := range []string{"From", "Sender"} {
		list, err := env.AddressList(h)
		if err != nil || len(list) == 0 {
			// AddressList is strict; fall back to the first thing that looks like an address.
			if a := looseAddress(env.GetHeader(h)); a != "" {
				return a
			}
			continue
		}
		if a := normalizeAddress(list[0].Address); a != "" {
			return a
		}
	}
	return ""
}

var addrInText = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`[A-Za-z0-9.!#$%&'*+/=?^_{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+`)
})

func looseAddress(s string) string {
	return normalizeAddress(addrInText().FindString(s))
}

// normalizeAddress checks an address with dsr.ParseEmail (the same
// normalization the subject key is computed over); "" when not valid.
func normalizeAddress(a string) string {
	a = strings.TrimSpace(a)
	if a == "" {
		return ""
	}
	if parsed, err := mail.ParseAddress(a); err == nil {
		a = parsed.Address
	}
	out, err := dsr.ParseEmail(a)
	if err != nil {
		return ""
	}
	return out
}

// NormalizeMessageID returns the Message-ID without comments, spaces and angle
// brackets; "" when nothing usable is left. Two deliveries of one message have
// the same normalized ID.
func NormalizeMessageID(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			v = v[i+1 : i+j]
		}
	}
	v = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' || r == '<' || r == '>' {
			return -1
		}
		return r
	}, v)
	if !utf8.ValidString(v) {
		v = strings.ToValidUTF8(v, "")
	}
	return v
}

// repairText returns s as valid UTF-8. Chinese mail often carries raw 8-bit
// GBK or Big5 bytes in headers or in parts labelled with a wrong charset; such
// text is re-read as GB18030 (a superset of GB2312 and GBK), else Big5, else the
// broken bytes are replaced.
func repairText(m *Message, s string) string {
	if utf8.ValidString(s) {
		return s
	}
	m.addProblem(ProblemInvalidUTF8Repaired, false, "")
	for _, dec := range []transform.Transformer{simplifiedchinese.GB18030.NewDecoder(), traditionalchinese.Big5.NewDecoder()} {
		out, _, err := transform.String(dec, s)
		if err == nil && utf8.ValidString(out) && !strings.ContainsRune(out, utf8.RuneError) {
			return out
		}
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// attachments collects every non-text part: attachments, inline images and
// other parts (e.g. an image inside multipart/related without a disposition).
func attachments(env *enmime.Envelope, skipRoot bool) []Attachment {
	var out []Attachment
	add := func(parts []*enmime.Part) {
		for _, p := range parts {
			if p == nil || len(p.Content) == 0 || (skipRoot && p == env.Root) {
				continue
			}
			if p.FileName == "" && strings.HasPrefix(p.ContentType, "text/") {
				continue // an inline text part without a name is body, not a document
			}
			if strings.HasPrefix(p.ContentType, "multipart/") {
				continue
			}
			out = append(out, Attachment{Filename: p.FileName, ContentType: p.ContentType, Data: p.Content})
		}
	}
	add(env.Attachments)
	add(env.Inlines)
	add(env.OtherParts)
	return out
}

// phoneCandidate finds things that may be phone numbers: +country numbers and
// mainland mobile numbers, with common separators.
var phoneCandidate = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?:\+\d{1,3}[\s-]?)?(?:\(?\d{2,4}\)?[\s-]?)?\d{3,4}[\s-]?\d{4}`)
})

// findPhone returns the first valid phone number in text, in E.164, checked by
// phone.Parse (numbers without a country code are mainland China numbers).
func findPhone(text string) string {
	for _, c := range phoneCandidate().FindAllString(text, 20) {
		if e164, err := phone.Parse(c); err == nil {
			return e164
		}
	}
	return ""
}

// htmlToText converts an HTML body to text (enmime does this only when there is
// no text/plain part at all; this covers an empty text/plain beside the HTML).
func htmlToText(html string) string {
	text, err := html2text.FromString(html, html2text.Options{})
	if err != nil {
		return ""
	}
	return text
}
