package webintake

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/net/html"

	"dsrflow/internal/documents"
	"dsrflow/internal/dsr"
)

// fuzzHandler is a handler with no clients: enough for parsing,
// validation, nonces and rendering.
func fuzzHandler() *Handler {
	secret := []byte("status-token-secret-for-fuzzing-0123456789")
	at := time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)
	return &Handler{
		tokenSecret: secret, nonceKey: deriveKey(secret, "form-nonce"), digestKey: deriveKey(secret, "body-digest"),
		ticketKey: deriveKey(secret, "upload-ticket"), ticketLife: time.Hour + ticketGrace,
		clock: func() time.Time { return at },
	}
}

// knownFields are the fields a field error may name, besides list entries.
var knownFields = []string{"", FieldToken, FieldCode, FieldAction, dsr.FieldKind, dsr.FieldRole, dsr.FieldErasureGround, dsr.FieldEmail, dsr.FieldPhone,
	dsr.FieldAccountID, dsr.FieldContact, dsr.FieldLocale, dsr.FieldDetails, dsr.FieldCorrections, dsr.FieldPurposes,
	dsr.FieldSubjectName, dsr.FieldSubjectEmail, dsr.FieldSubjectPhone, dsr.FieldSubjectAccountID}

// checkFieldErrors fails on an error without a message or naming a field
// the submission does not have.
func checkFieldErrors(t *testing.T, errs dsr.FieldErrors) {
	t.Helper()
	for _, e := range errs {
		name := e.Field
		if base, _, ok := listEntry(e.Field); ok {
			name = base
		}
		if !slices.Contains(knownFields, name) {
			t.Errorf("error on unknown field %q (%s)", e.Field, e.Code)
		}
		for _, l := range dsr.Locales() {
			if message(e, l) == "" {
				t.Errorf("error %s has no %s message", e, l)
			}
		}
	}
}

// FuzzFormBody feeds form bodies to the form's parser, the validation and
// the form page: nothing panics, errors name known fields with messages,
// a valid post has one digest, and the page shown again holds what was
// typed as values (never as markup).
func FuzzFormBody(f *testing.F) {
	h := fuzzHandler()
	sample := url.Values{"nonce": {h.newNonce()}, "lang": {"zh-CN"}, "kind": {"erasure"}, "role": {"self"},
		"email": {"zhang.san@example.com"}, "phone": {"138 0013 8000"}, "erasureGround": {"stopped_using"},
		"details": {"我已不再使用该应用"}}
	f.Add(sample.Encode())
	f.Add("kind=correction&role=self&phone=%2B852+6123+4567&corrections=a%0Ab%0D%0A%0Ac&lang=en")
	f.Add("kind=consent_withdrawal&role=agent&email=a%40b.cn&consentPurposes=analytics&consentPurposes=all&subjectName=%E5%BC%A0&subjectPhone=1")
	f.Add("email=%E5%BC%A0%E4%B8%89%40example.com&kind=access&role=self")
	f.Add("email=%22%3E%3Cscript%3E&details=%3C%2Ftextarea%3E%3Cb%3E&switchLang=en")
	f.Add("kind=%zz")
	f.Add("a=1&a=2&&=&;")
	f.Add("")
	f.Fuzz(func(t *testing.T, body string) {
		post, err := parseFormBody([]byte(body))
		if err != nil {
			return
		}
		l := pickLocale(post.lang, "")
		v, errs := h.validate(post.in.submission(l), utf8.RuneCountInString(post.in.Corrections))
		checkFieldErrors(t, errs)
		if len(errs) == 0 {
			if !v.Kind.Valid() || !v.Role.Valid() || (v.Email == "" && v.Phone == "") {
				t.Fatalf("validated without kind, role or contact: %+v", v)
			}
			// The normalized request, sent again, is the same body.
			again, errs := h.validate(resubmission(v), 0)
			if len(errs) > 0 || h.bodyDigest(again) != h.bodyDigest(v) {
				t.Fatalf("the normalized submission sent again: %v, digest equal %v", errs, h.bodyDigest(again) == h.bodyDigest(v))
			}
		}
		byField, summary := formErrors(errs, l)
		out, err := render("form", &page{Locale: l, Title: "t", Form: newForm(l, post.in, post.nonce, byField, summary)})
		if err != nil {
			t.Fatalf("render: %v", err)
		}
		doc, err := html.Parse(strings.NewReader(out))
		if err != nil {
			t.Fatalf("parse: %v", err)
		}
		values := map[string]string{}
		var walk func(n *html.Node)
		walk = func(n *html.Node) {
			if n.Type == html.ElementNode {
				if n.Data == "script" || n.Data == "b" {
					t.Fatalf("a value became a <%s> element", n.Data)
				}
				if n.Data == "input" && attr(n, "type") != "radio" && attr(n, "type") != "checkbox" {
					values[attr(n, "name")] = attr(n, "value")
				}
			}
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				walk(c)
			}
		}
		walk(doc)
		for name, typed := range map[string]string{"email": post.in.Email, "phone": post.in.Phone, "subjectName": post.in.SubjectName} {
			// The HTML parser replaces NUL and invalid UTF-8 and folds CR:
			// compare what survives parsing unchanged.
			if !utf8.ValidString(typed) || strings.ContainsAny(typed, "\x00\r") {
				continue
			}
			if values[name] != typed {
				t.Errorf("%s shown again as %q, typed %q", name, values[name], typed)
			}
		}
	})
}

// resubmission is a validated request as a client would send it again.
func resubmission(v dsr.Validated) dsr.Submission {
	return dsr.Submission{
		Kind: string(v.Kind), Role: string(v.Role), ErasureGround: string(v.ErasureGround),
		Email: v.Email, Phone: v.Phone, AccountID: v.AccountID, Locale: string(v.Locale),
		Details: v.Details, Corrections: v.Corrections, Purposes: v.Purposes,
		SubjectName: v.SubjectName, SubjectEmail: v.SubjectEmail, SubjectPhone: v.SubjectPhone, SubjectAccountID: v.SubjectAccountID,
	}
}

// FuzzJSONBody feeds JSON bodies to the API's decoder and the validation:
// nothing panics, a decoding error names at most a field (never a value),
// and validation errors name known fields with messages.
func FuzzJSONBody(f *testing.F) {
	h := fuzzHandler()
	f.Add(sampleJSONBody)
	f.Add(`{"kind":"erasure","role":"self","email":"li.si@example.com","locale":"en"}`)
	f.Add(`{"kind":"correction","role":"guardian","phone":"13800138000","corrections":["a",""],"subjectName":"x","subjectEmail":"y@","subjectAccountId":"k"}`)
	f.Add(`{"kind":"access","role":"self","email":"li.si@example.com","name":"Li Si"}`)
	f.Add(`{"kind":"access","role":"self","corrections":"x"}`)
	f.Add(`{"kind":1}`)
	f.Add(`["access"]`)
	f.Add(`{"kind":"access",`)
	f.Add(`{} {}`)
	f.Add(`null`)
	f.Add(`{"details":"\u0000\ud800"}`)
	f.Fuzz(func(t *testing.T, body string) {
		sub, fe := decodeSubmissionJSON([]byte(body))
		if fe != nil {
			if fe.Code != CodeUnknownField && fe.Code != CodeInvalidType && fe.Code != CodeMalformedJSON {
				t.Fatalf("decode error code %q", fe.Code)
			}
			if fe.Code != CodeUnknownField && fe.Field != "" && !slices.Contains(knownFields, fe.Field) {
				t.Errorf("decode error on field %q (%s)", fe.Field, fe.Code)
			}
			return
		}
		v, errs := h.validate(sub, 0)
		checkFieldErrors(t, errs)
		if len(errs) > 0 {
			return
		}
		if !v.Kind.Valid() || !v.Role.Valid() || !v.Locale.Valid() {
			t.Fatalf("validated without kind, role or locale: %+v", v)
		}
		again, errs := h.validate(resubmission(v), 0)
		if len(errs) > 0 || h.bodyDigest(again) != h.bodyDigest(v) {
			t.Fatalf("the normalized submission sent again: %v", errs)
		}
	})
}

// FuzzNonce: nothing but a nonce the handler issued checks, and the
// verification form's parser and the code normalizer never panic.
func FuzzNonce(f *testing.F) {
	h := fuzzHandler()
	// A nonce with a fixed random part, so that every fuzzing process
	// knows the one it issued.
	raw := make([]byte, nonceRawLen)
	binary.BigEndian.PutUint64(raw, uint64(h.now().Unix()))
	copy(raw[nonceIssuedLen:], "sixteen-random-b")
	copy(raw[nonceIssuedLen+nonceRandLen:], nonceTag(h.nonceKey, raw[:nonceIssuedLen+nonceRandLen]))
	issued := base64.RawURLEncoding.EncodeToString(raw)
	if !h.checkNonce(issued) {
		f.Fatal("the fixed nonce does not check")
	}
	f.Add(issued)
	f.Add(issued[:len(issued)-1] + "A")
	f.Add(strings.Repeat("A", nonceLen))
	f.Add("")
	f.Add("token=t&code=%EF%BC%91%EF%BC%92%EF%BC%93+456&action=resend")
	f.Fuzz(func(t *testing.T, s string) {
		if s != issued && h.checkNonce(s) {
			t.Fatalf("a nonce the handler did not issue checks: %q", s)
		}
		if post, err := parseVerifyForm([]byte(s)); err == nil {
			if code, ok := normalizeCode(post.in.Code); ok && (len(code) != 6 || strings.Trim(code, "0123456789") != "") {
				t.Fatalf("normalizeCode(%q) = %q", post.in.Code, code)
			}
		}
	})
}

// FuzzUploadTicket: nothing but a ticket the handler issued, for that
// request, is accepted, and an accepted ticket names a valid upload name and
// type.
func FuzzUploadTicket(f *testing.F) {
	h := fuzzHandler()
	const id = "r-fuzzfuzzfuzzfuzzfuzzfuzzfu"
	// A ticket with a fixed name, so that every fuzzing process knows the
	// one it issued.
	issued := h.newTicket(id, upload{name: "0123456789abcdef0123456789abcdef", contentType: documents.TypePNG, issued: h.now()})
	if _, err := h.parseTicket(id, issued); err != nil {
		f.Fatalf("the fixed ticket does not parse: %v", err)
	}
	f.Add(id, issued)
	f.Add(id, issued[:len(issued)-1]+"B")
	f.Add("r-other", issued)
	f.Add(id, strings.Repeat("A", ticketLen))
	f.Add(id, "")
	f.Fuzz(func(t *testing.T, requestID, s string) {
		u, err := h.parseTicket(requestID, s)
		if err != nil {
			if !errors.Is(err, errTicketInvalid) && !errors.Is(err, errTicketExpired) {
				t.Fatalf("error %v", err)
			}
			return
		}
		if requestID != id || s != issued {
			t.Fatalf("a ticket the handler did not issue is accepted: %q for %q", s, requestID)
		}
		if !documents.ValidName(u.name) || !documents.UploadType(u.contentType) {
			t.Fatalf("accepted ticket names %+v", u)
		}
	})
}
