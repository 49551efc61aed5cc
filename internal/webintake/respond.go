package webintake

import (
	"encoding/json"
	"net/http"
	"net/url"

	"dsrflow/internal/dsr"
)

// Codes of the errors the web layer finds itself, beside dsr's field codes.
// They are API, like dsr.Code: add, never rename.
const (
	CodeUnknownField           dsr.Code = "unknown_field"
	CodeInvalidType            dsr.Code = "invalid_type"
	CodeMalformedJSON          dsr.Code = "malformed_json"
	CodeMalformedBody          dsr.Code = "malformed_body"
	CodeIdempotencyKeyRequired dsr.Code = "idempotency_key_required"
	CodeInvalidIdempotencyKey  dsr.Code = "invalid_idempotency_key"
	// CodeIdempotencyKeyReused: the key (or the form's nonce) came before
	// with another body (422).
	CodeIdempotencyKeyReused dsr.Code = "idempotency_key_reused"
	CodeTooManyOpen          dsr.Code = "too_many_open"
	CodeBodyTooLarge         dsr.Code = "body_too_large"
	CodeUnsupportedMediaType dsr.Code = "unsupported_media_type"
	CodeNotFound             dsr.Code = "not_found"
	CodeMethodNotAllowed     dsr.Code = "method_not_allowed"
	CodeFormExpired          dsr.Code = "form_expired"
	// CodeCrossSite: a post from another site (403).
	CodeCrossSite dsr.Code = "cross_site"
	// CodeEmailNotASCII: the email's local part is not ASCII and the mail
	// transport does not support SMTPUTF8 (field "email").
	CodeEmailNotASCII dsr.Code = "email_not_ascii"
	CodeInternal      dsr.Code = "internal"
)

// FieldHeaderIdempotencyKey is the "field" of Idempotency-Key errors.
const FieldHeaderIdempotencyKey = "Idempotency-Key"

// apiError is one entry of a JSON error answer.
type apiError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

type apiErrors struct {
	Errors []apiError `json:"errors"`
}

const (
	contentHTML = "text/html; charset=utf-8"
	contentJSON = "application/json; charset=utf-8"
)

// internalJSON is the answer when an answer cannot be encoded.
const internalJSON = `{"errors":[{"field":"","code":"internal","message":"internal error"}]}`

// writeJSON writes v as the JSON answer.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	w.Header().Set("Content-Type", contentJSON)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(internalJSON))
		return
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeErrors answers field errors (dsr's codes or the web layer's) in l.
func writeErrors(w http.ResponseWriter, status int, l dsr.Locale, errs dsr.FieldErrors) {
	out := apiErrors{Errors: make([]apiError, 0, len(errs))}
	for _, e := range errs {
		out.Errors = append(out.Errors, apiError{Field: e.Field, Code: string(e.Code), Message: message(e, l)})
	}
	writeJSON(w, status, out)
}

// message is a field error's text: dsr's for its codes, the catalog's for
// the web layer's.
func message(e dsr.FieldError, l dsr.Locale) string {
	if t, ok := catalog["code."+string(e.Code)]; ok {
		return t.In(l)
	}
	return e.Message(l)
}

// writePage renders a page, or a bare 500 when the templates are broken (a
// test catches that before it ships).
func (h *Handler) writePage(w http.ResponseWriter, status int, name string, p *page) {
	h.writePageForms(w, status, name, p, "")
}

// writePageForms is writePage for a page whose upload forms post to
// formOrigin (the upload bucket's origin; "" for none): its CSP allows form
// posts there too.
func (h *Handler) writePageForms(w http.ResponseWriter, status int, name string, p *page, formOrigin string) {
	if formOrigin != "" {
		setSecurityHeaders(w.Header(), formOrigin)
	}
	body, err := render(name, p)
	if err != nil {
		h.logger.Error("render page", "page", name, "error", err.Error())
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("internal error\n"))
		return
	}
	w.Header().Set("Content-Type", contentHTML)
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// formURL is the form in locale l.
func formURL(l dsr.Locale) string { return "/?lang=" + url.QueryEscape(string(l)) }

// errorPage answers a request-level error as JSON (when the client sent or
// prefers JSON) or as an HTML page in l with a link back to the form.
func (h *Handler) errorPage(w http.ResponseWriter, r *http.Request, l dsr.Locale, status int, code dsr.Code, key string, args ...any) {
	msg := text(l, key, args...)
	if jsonClient(r) {
		writeJSON(w, status, apiErrors{Errors: []apiError{{Code: string(code), Message: msg}}})
		return
	}
	h.writePage(w, status, "message", &page{
		Locale:    l,
		Title:     titleFor(status, l),
		SwitchURL: formURL(otherLocale(l)),
		Message:   msg,
		BackURL:   formURL(l),
	})
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request, l dsr.Locale) {
	h.errorPage(w, r, l, http.StatusNotFound, CodeNotFound, "errors.notFound")
}

func (h *Handler) internalError(w http.ResponseWriter, r *http.Request, l dsr.Locale) {
	h.errorPage(w, r, l, http.StatusInternalServerError, CodeInternal, "errors.internal")
}

var statusTitles = map[int]dsr.Text{
	http.StatusBadRequest:            {ZhCN: "请求有误", En: "Bad request"},
	http.StatusForbidden:             {ZhCN: "请求被拒绝", En: "Request refused"},
	http.StatusNotFound:              {ZhCN: "未找到", En: "Not found"},
	http.StatusMethodNotAllowed:      {ZhCN: "不支持的方法", En: "Method not allowed"},
	http.StatusRequestEntityTooLarge: {ZhCN: "内容过大", En: "Request too large"},
	http.StatusUnsupportedMediaType:  {ZhCN: "不支持的内容类型", En: "Unsupported content type"},
	http.StatusTooManyRequests:       {ZhCN: "请求过多", En: "Too many requests"},
	http.StatusInternalServerError:   {ZhCN: "服务出错", En: "Something went wrong"},
}

func titleFor(status int, l dsr.Locale) string {
	if t, ok := statusTitles[status]; ok {
		return t.In(l)
	}
	return http.StatusText(status)
}
