package webintake

import (
	"strings"
	"testing"

	"dsrflow/internal/dsr"
)

func TestCatalogIsComplete(t *testing.T) {
	for key, txt := range catalog {
		if strings.TrimSpace(txt.ZhCN) == "" || strings.TrimSpace(txt.En) == "" {
			t.Errorf("catalog %q lacks a language: %+v", key, txt)
		}
	}
	for _, s := range dsr.Statuses() {
		for _, l := range dsr.Locales() {
			if statusText(s, l) == string(s) {
				t.Errorf("status %s has no %s label", s, l)
			}
		}
	}
	// Every web-layer code has a message in both languages, not the
	// fallback dsr gives unknown codes.
	fallback := dsr.FieldError{Code: "no-such-code"}
	for _, c := range []dsr.Code{CodeUnknownField, CodeInvalidType, CodeMalformedJSON, CodeMalformedBody,
		CodeIdempotencyKeyRequired, CodeInvalidIdempotencyKey, CodeIdempotencyKeyReused, CodeEmailNotASCII, CodeInternal} {
		for _, l := range dsr.Locales() {
			if got := message(dsr.FieldError{Code: c}, l); got == fallback.Message(l) {
				t.Errorf("code %s has no %s message", c, l)
			}
		}
	}
	// Keys used in Go code exist (text returns the key itself when missing).
	for _, key := range []string{"form.title", "errors.tooMany", "errors.tooLarge", "errors.mediaType", "errors.notFound",
		"errors.method", "errors.internal", "errors.expired", "errors.reused", "errors.crossSite", "accepted.title",
		"accepted.next.others", "status.title", "form.appliesTo", "form.line", "form.listSep"} {
		if _, ok := catalog[key]; !ok {
			t.Errorf("catalog lacks %q", key)
		}
	}
}

// TestTemplatesUseKnownKeys renders every page in both languages and looks
// for catalog keys shown as themselves.
func TestTemplatesUseKnownKeys(t *testing.T) {
	for _, l := range dsr.Locales() {
		for name, p := range map[string]*page{
			"form":     {Locale: l, Form: newForm(l, formInput{}, "n", nil, nil)},
			"accepted": {Locale: l, Accepted: &acceptedView{RequestID: "r-x", StatusURL: "/requests/r-x?token=t"}},
			"others":   {Locale: l, Accepted: &acceptedView{RequestID: "r-x", ForOthers: true}},
			"status":   {Locale: l, Status: &statusView{RequestID: "r-x", Due: "d"}},
			"message":  {Locale: l, Message: "m", BackURL: "/"},
		} {
			pageName := name
			if name == "others" {
				pageName = "accepted"
			}
			out, err := render(pageName, p)
			if err != nil {
				t.Fatalf("%s/%s: %v", name, l, err)
			}
			for key := range catalog {
				if strings.Contains(out, ">"+key+"<") {
					t.Errorf("%s/%s shows the key %q", name, l, key)
				}
			}
			for _, prefix := range []string{"form.", "errors.", "accepted.", "status.", "lang.", "site."} {
				if strings.Contains(out, ">"+prefix) {
					t.Errorf("%s/%s shows a missing catalog key starting %q", name, l, prefix)
				}
			}
		}
	}
}

// BenchmarkRenderForm measures GET / (the form, rendered with a fresh nonce).
func BenchmarkRenderForm(b *testing.B) {
	e := newEnv(b, 3)
	for b.Loop() {
		if resp := e.do(b, getForm("")); resp.StatusCode != 200 {
			b.Fatalf("%d", resp.StatusCode)
		}
	}
}

// BenchmarkValidateForm measures a form post up to the intake call: body
// reading, parsing and validation (a validation error, so no I/O).
func BenchmarkValidateForm(b *testing.B) {
	e := newEnv(b, 3)
	vals := e.sampleForm(b)
	// Without a kind the post fails validation: the form is shown again.
	vals.Set("kind", "")
	for b.Loop() {
		if resp := e.do(b, formPost(vals)); resp.StatusCode != 400 {
			b.Fatalf("%d", resp.StatusCode)
		}
	}
}
