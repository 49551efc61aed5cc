package anchor

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
)

// Format names the anchor document's shape and version.
const Format = "dsrflow.audit-anchor.v1"

// Limits of an anchor read back (Parse); an anchor this package writes
// stays within them.
const (
	// MaxDocumentBytes bounds one anchor object.
	MaxDocumentBytes = 16 << 20
	// MaxHeads bounds the chain heads of one anchor.
	MaxHeads = 100_000
	// maxRequestID bounds a request ID (intake's are 28 characters).
	maxRequestID = 128
	// maxSeq bounds a sequence number (the store writes ten digits).
	maxSeq = 9_999_999_999
)

// Reason says why an anchor was written.
type Reason string

const (
	// ReasonDaily: the scheduled anchor of every chain changed since its
	// last anchor (Anchorer.Anchor).
	ReasonDaily Reason = "daily"
	// ReasonClosed: a request closed and its chain was anchored at once
	// (Anchorer.AnchorRequest).
	ReasonClosed Reason = "closed"
)

func (r Reason) valid() bool { return r == ReasonDaily || r == ReasonClosed }

// Head is the head of one request's audit chain: its last event's sequence
// number and hash (store.Event). A request ID is not personal data.
type Head struct {
	RequestID string `json:"requestId"`
	Seq       int    `json:"seq"`
	Hash      string `json:"hash"`
}

// Document is one anchor object:
//
//	{"format":"dsrflow.audit-anchor.v1","at":"2026-03-02T09:00:00Z","reason":"daily",
//	 "chains":[{"requestId":"r-…","seq":12,"hash":"<64 hex>"}, …]}
//
// Chains are in request ID order, each request at most once.
type Document struct {
	Format string    `json:"format"`
	At     time.Time `json:"at"`
	Reason Reason    `json:"reason"`
	Chains []Head    `json:"chains"`
}

// nameTime is the time at the start of an anchor's name: fixed width, so
// names sort by time, and no colons, so a name is a file name anywhere.
const nameTime = "20060102T150405.000000000Z"

// namePattern is an anchor's name: <time>-<reason>-<digest>.json, where
// digest is the first 16 bytes of the SHA-256 of the document, in hex.
var namePattern = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}\.[0-9]{9}Z-(daily|closed)-[0-9a-f]{32}\.json$`)

// ValidName reports whether name is the name of an anchor.
func ValidName(name string) bool { return namePattern.MatchString(name) }

// nameFor is the name of the anchor doc encoded as body.
func nameFor(doc Document, body []byte) string {
	return doc.At.UTC().Format(nameTime) + "-" + string(doc.Reason) + "-" + digest(body) + ".json"
}

// sinceName is the name every anchor written at or after t sorts after.
func sinceName(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(nameTime)
}

func digest(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:16])
}

// encode returns doc's JSON and its name.
func encode(doc Document) (name string, body []byte, err error) {
	if err := doc.check(); err != nil {
		return "", nil, err
	}
	body, err = json.Marshal(doc)
	if err != nil {
		return "", nil, err
	}
	return nameFor(doc, body), body, nil
}

// ErrInvalid is returned (wrapped) for an anchor that is not one this
// package wrote: malformed, over a limit, or not matching its name.
var ErrInvalid = errors.New("invalid anchor")

// Parse reads the anchor stored under name: a document of at most
// MaxDocumentBytes, in Format, with no unknown fields, at most MaxHeads
// heads, each request once, and the digest and time its name carries.
// Errors name the field and the limit, never a value.
func Parse(name string, body []byte) (Document, error) {
	if !ValidName(name) {
		return Document{}, fmt.Errorf("%w: name is not <time>-<reason>-<digest>.json", ErrInvalid)
	}
	if len(body) > MaxDocumentBytes {
		return Document{}, fmt.Errorf("%w: %d bytes, limit %d", ErrInvalid, len(body), MaxDocumentBytes)
	}
	if !strings.Contains(name, "-"+digest(body)+".json") {
		return Document{}, fmt.Errorf("%w: content does not match the digest in its name", ErrInvalid)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var doc Document
	if err := dec.Decode(&doc); err != nil {
		return Document{}, fmt.Errorf("%w: %v", ErrInvalid, jsonErr(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return Document{}, fmt.Errorf("%w: data after the document", ErrInvalid)
	}
	if err := doc.check(); err != nil {
		return Document{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if nameFor(doc, body) != name {
		return Document{}, fmt.Errorf("%w: time or reason differs from its name", ErrInvalid)
	}
	return doc, nil
}

// check reports the first field of doc that breaks the format.
func (doc Document) check() error {
	switch {
	case doc.Format != Format:
		return fmt.Errorf("format: want %s", Format)
	case doc.At.IsZero() || doc.At.Year() < 2000 || doc.At.Year() > 9999:
		return errors.New("at: want a time between the years 2000 and 9999")
	case !doc.Reason.valid():
		return fmt.Errorf("reason: want %s or %s", ReasonDaily, ReasonClosed)
	case len(doc.Chains) == 0:
		return errors.New("chains: empty")
	case len(doc.Chains) > MaxHeads:
		return fmt.Errorf("chains: %d heads, limit %d", len(doc.Chains), MaxHeads)
	}
	for i, h := range doc.Chains {
		if err := h.check(); err != nil {
			return fmt.Errorf("chains[%d]: %w", i, err)
		}
		if i > 0 && doc.Chains[i-1].RequestID >= h.RequestID {
			return fmt.Errorf("chains[%d]: requestId: not in ascending order or repeated", i)
		}
	}
	return nil
}

func (h Head) check() error {
	if !validRequestID(h.RequestID) {
		return fmt.Errorf("requestId: want 1 to %d characters of A-Z a-z 0-9 . _ -", maxRequestID)
	}
	if h.Seq < 1 || h.Seq > maxSeq {
		return fmt.Errorf("seq: want 1 to %d", maxSeq)
	}
	if len(h.Hash) != sha256.Size*2 || strings.Trim(h.Hash, "0123456789abcdef") != "" {
		return errors.New("hash: want 64 lower-case hex digits")
	}
	return nil
}

// validRequestID reports whether id may be a request ID: what a Step
// Functions execution name and a DynamoDB key both take, and more than
// intake issues.
func validRequestID(id string) bool {
	if len(id) == 0 || len(id) > maxRequestID {
		return false
	}
	for _, c := range []byte(id) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// jsonErr keeps a decoding error's position and field, not the text it
// quotes.
func jsonErr(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("not JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("%s: want %s", te.Field, te.Type)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field"
	default:
		return "not an anchor document"
	}
}
