package webintake

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

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
	CodeTooManyOpen            dsr.Code = "too_many_open"
	CodeBodyTooLarge           dsr.Code = "body_too_large"
	CodeUnsupportedMediaType   dsr.Code = "unsupported_media_type"
	CodeNotFound               dsr.Code = "not_found"
	CodeMethodNotAllowed       dsr.Code = "method_not_allowed"
	CodeFormExpired            dsr.Code = "form_expired"
	CodeInternal               dsr.Code = "internal"
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

func jsonResponse(status int, v any) response {
	b, err := json.Marshal(v)
	if err != nil {
		return response{status: http.StatusInternalServerError, contentType: contentJSON, body: `{"errors":[{"field":"","code":"internal","message":"internal error"}]}`}
	}
	return response{status: status, contentType: contentJSON, body: string(b)}
}

// jsonErrors answers field errors (dsr's codes or the web layer's) in l.
func jsonErrors(status int, l dsr.Locale, errs dsr.FieldErrors) response {
	out := apiErrors{Errors: make([]apiError, 0, len(errs))}
	for _, e := range errs {
		out.Errors = append(out.Errors, apiError{Field: e.Field, Code: string(e.Code), Message: message(e, l)})
	}
	return jsonResponse(status, out)
}

// message is a field error's text: dsr's for its codes, the catalog's for
// the web layer's.
func message(e dsr.FieldError, l dsr.Locale) string {
	if t, ok := catalog["code."+string(e.Code)]; ok {
		return t.In(l)
	}
	return e.Message(l)
}

// htmlPage renders a page, or a bare 500 when the templates are broken (a
// test catches that before it ships).
func (h *Handler) htmlPage(status int, name string, p *page) response {
	body, err := render(name, p)
	if err != nil {
		h.logger().Error("render page", "page", name, "error", err.Error())
		return response{status: http.StatusInternalServerError, contentType: "text/plain; charset=utf-8", body: "internal error\n"}
	}
	return response{status: status, contentType: contentHTML, body: body}
}

// prefix is the path prefix of the API's stage ("" for $default), so that
// links work on a named stage too.
func (r *request) prefix() string {
	st := r.ev.RequestContext.Stage
	if st == "" || st == "$default" {
		return ""
	}
	p := r.ev.RawPath
	if strings.HasPrefix(p, "/"+st+"/") || p == "/"+st {
		return "/" + st
	}
	return ""
}

// formURL is the form in locale l.
func (r *request) formURL(l dsr.Locale) string {
	return r.prefix() + "/?lang=" + url.QueryEscape(string(l))
}

// errorPage answers a request-level error as JSON (when the client sent or
// prefers JSON) or as an HTML page with a link back to the form.
func (h *Handler) errorPage(r *request, status int, code dsr.Code, key string, args ...any) response {
	msg := text(r.locale, key, args...)
	if r.jsonClient() {
		return jsonResponse(status, apiErrors{Errors: []apiError{{Code: string(code), Message: msg}}})
	}
	p := &page{
		Locale:    r.locale,
		Title:     msg,
		SwitchURL: r.formURL(otherLocale(r.locale)),
		Message:   msg,
		BackURL:   r.formURL(r.locale),
	}
	p.Title = titleFor(status, r.locale)
	return h.htmlPage(status, "message", p)
}

func (h *Handler) notFound(r *request) response {
	return h.errorPage(r, http.StatusNotFound, CodeNotFound, "errors.notFound")
}

func (h *Handler) internalError(r *request) response {
	return h.errorPage(r, http.StatusInternalServerError, CodeInternal, "errors.internal")
}

// jsonClient reports whether to answer in JSON: the client sent JSON or
// prefers it.
func (r *request) jsonClient() bool {
	return isJSONMediaType(r.mediaType()) || r.wantsJSON()
}

func isJSONMediaType(mt string) bool {
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

var statusTitles = map[int]dsr.Text{
	http.StatusBadRequest:            {ZhCN: "请求有误", En: "Bad request"},
	http.StatusNotFound:              {ZhCN: "未找到", En: "Not found"},
	http.StatusMethodNotAllowed:      {ZhCN: "不支持的方法", En: "Method not allowed"},
	http.StatusRequestEntityTooLarge: {ZhCN: "内容过大", En: "Request too large"},
	http.StatusUnsupportedMediaType:  {ZhCN: "不支持的内容类型", En: "Unsupported content type"},
	http.StatusTooManyRequests:       {ZhCN: "未完成的请求过多", En: "Too many open requests"},
	http.StatusInternalServerError:   {ZhCN: "服务出错", En: "Something went wrong"},
}

func titleFor(status int, l dsr.Locale) string {
	if t, ok := statusTitles[status]; ok {
		return t.In(l)
	}
	return http.StatusText(status)
}
