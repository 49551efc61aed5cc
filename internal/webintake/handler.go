// Package webintake is the privacy center: the web form and JSON API through
// which data subjects send requests, and the status page behind each request's
// status link. It handles API Gateway HTTP API events (payload format 2.0) and
// hands new requests to intake.Service; HTTPHandler serves the same handler
// over plain net/http for the local stack and tests.
//
// Routes:
//
//	GET  /                   the request form (zh-CN, or English by ?lang=en or Accept-Language)
//	POST /requests           a new request, as a form post or JSON; 202 with the status link
//	GET  /requests/{id}      the status page, ?token=… required; HTML or JSON by Accept
//	GET  /requests/{id}/verification   the code entry page, ?token=… required
//	POST /requests/{id}/verification   a code, or action=resend (form or JSON)
//
// # Idempotency
//
// A form carries a hidden nonce (32 random bytes, made when the form is
// rendered); a JSON client sends an Idempotency-Key header (required). The
// natural key given to intake is that key, scoped by a keyed hash of the kind
// and the subject's identifiers, so that a double-click or a retry names the
// same request while two clients that happen to pick the same key (say "1")
// do not share a request.
//
// # Status tokens
//
// The status link's token is derived, not drawn: base64url(HMAC-SHA256(
// StatusTokenSecret, "status-token:" + request ID)), 32 bytes. A resubmit of
// the same request therefore gets the same, working link, and still only the
// token's SHA-256 (hex) is stored with the request; the status page compares
// hashes in constant time. Rotating the secret leaves existing links valid
// (they are checked against the stored hash); a post repeated across the
// rotation becomes a new request, since the idempotency scope is keyed by the
// same secret. Should intake ever return a request whose stored hash does not
// match the derived token, the confirmation shows no link rather than a
// broken one.
//
// # Identity verification
//
// While the workflow waits in VerifyIdentity, the requester types the
// one-time code into /requests/{id}/verification (the code message links to
// it; so do the confirmation and status pages). The page is a thin layer over
// verification.Service, built directly from Config (no workflow.New): codes
// are checked and signalled (SendTaskSuccess) there, new codes are sent
// through SES or the outbox. The task token never leaves the service.
// Posts are a form (token, code or action=resend, lang) or JSON
// ({"token","code"} or {"token","action":"resend"}); a code may be typed with
// spaces or dashes, or in full-width digits. Answers:
//
//	200 verified, or already verified (a repeat changes nothing)
//	202 a new code was sent
//	400 code missing, not six digits, wrong (attempts left), or expired
//	404 unknown request, missing or wrong token (as the status page)
//	409 the request does not wait for a code (manual verification, ended)
//	423 locked after too many wrong codes (ask for a new code, or write to
//	    the privacy team when none is left)
//	429 no new code may be sent
//	503 busy or the message could not be sent (Retry-After)
//
// JSON errors are {"errors":[{"field","code","message"}]} with the
// counters (attemptsLeft, resendsLeft, expiresAt) beside them. The status
// token is the request's stored one or, for mail requests that store none,
// the one derived from StatusTokenSecret (StatusToken).
//
// # Failures
//
// When StartExecution fails after the request was written (intake.ErrStart),
// the answer is still 202: the request is recorded and the reconciler or a
// resubmit starts it. Too many open requests for the subject is 429.
package webintake

import (
	"context"
	"encoding/base64"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"dsrflow/internal/dsr"
	"dsrflow/internal/intake"
	"dsrflow/internal/notify"
)

// MaxBodyBytes caps a request body, after base64 decoding.
const MaxBodyBytes = 64 << 10

// Submitter hands a validated request to the intake path (intake.Service).
type Submitter interface {
	Submit(ctx context.Context, sub intake.Submission) (intake.Result, error)
}

// RequestReader reads a stored request (store.Store); a missing one is
// store.ErrNotFound.
type RequestReader interface {
	GetRequest(ctx context.Context, id string) (*dsr.Request, error)
}

// Handler is the privacy center's Lambda handler.
type Handler struct {
	Intake Submitter
	Store  RequestReader
	// TokenSecret keys status tokens and idempotency scopes; at least 32 bytes.
	TokenSecret []byte
	// BaseURL, when set ("https://privacy.example.cn"), makes status links
	// absolute; otherwise they are relative to the site root.
	BaseURL string
	Logger  *slog.Logger
	// Now is the clock; time.Now by default.
	Now func() time.Time

	// Verification checks one-time codes and sends new ones
	// (verification.Service); nil: the verification page answers 404.
	Verification Verifier
	// Team is how requesters reach the privacy team (policy 十), quoted when
	// verification cannot go on by code.
	Team notify.Contact
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}

// route is one entry of the routing table: the API Gateway route key it
// answers, and the method and path pattern the fallback matches when events
// come from a catch-all route ($default) or the local adapter.
type route struct {
	method  string
	pattern []string // path segments; "{id}" matches one segment
	handle  func(h *Handler, ctx context.Context, r *request) response
}

func (rt route) key() string { return rt.method + " /" + strings.Join(rt.pattern, "/") }

// routes lists the privacy center's routes; template.yaml declares the same
// route keys.
var routes = []route{
	{method: http.MethodGet, pattern: nil, handle: (*Handler).getForm},
	{method: http.MethodPost, pattern: []string{"requests"}, handle: (*Handler).postRequest},
	{method: http.MethodGet, pattern: []string{"requests", "{id}"}, handle: (*Handler).getStatus},
	{method: http.MethodGet, pattern: []string{"requests", "{id}", "verification"}, handle: (*Handler).getVerification},
	{method: http.MethodPost, pattern: []string{"requests", "{id}", "verification"}, handle: (*Handler).postVerification},
}

// request is an incoming event, decoded once.
type request struct {
	ev      events.APIGatewayV2HTTPRequest
	method  string
	headers map[string]string // lower-case names
	query   url.Values
	params  map[string]string
	body    []byte
	locale  dsr.Locale // from ?lang=, else Accept-Language, else zh-CN
	token   string     // the status token, once checked (verification page)
}

func (r *request) header(name string) string { return r.headers[strings.ToLower(name)] }

// response is what a route answers, before security headers.
type response struct {
	status      int
	contentType string
	body        string
	headers     map[string]string
}

// Handle answers one API Gateway HTTP API (payload 2.0) event.
func (h *Handler) Handle(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	r := &request{
		ev:      ev,
		method:  strings.ToUpper(ev.RequestContext.HTTP.Method),
		headers: map[string]string{},
		params:  map[string]string{},
	}
	for k, v := range ev.Headers {
		r.headers[strings.ToLower(k)] = v
	}
	if q, err := url.ParseQuery(ev.RawQueryString); err == nil {
		r.query = q
	} else {
		r.query = url.Values{}
		for k, v := range ev.QueryStringParameters {
			r.query.Set(k, v)
		}
	}
	r.locale = requestLocale(r.query.Get("lang"), r.header("accept-language"))
	if r.method == "" {
		r.method, _, _ = strings.Cut(ev.RouteKey, " ")
	}
	resp := h.dispatch(ctx, r)
	return finish(resp), nil
}

// requestLocale picks the language: an explicit ?lang= (or form field) first,
// then Accept-Language, then zh-CN.
func requestLocale(lang, acceptLanguage string) dsr.Locale {
	if lang != "" {
		if l, ok := dsr.ParseLocale(lang); ok {
			return l
		}
	}
	if acceptLanguage != "" {
		return dsr.MatchLocale(acceptLanguage)
	}
	return dsr.DefaultLocale
}

func (h *Handler) dispatch(ctx context.Context, r *request) response {
	rt, ok := matchRouteKey(r.ev.RouteKey, r.ev.PathParameters)
	if ok {
		for k, v := range r.ev.PathParameters {
			r.params[k] = v
		}
	} else {
		var methodOK bool
		rt, methodOK, ok = matchPath(r.method, r.path(), r.params)
		if !ok {
			if methodOK {
				return h.errorPage(r, http.StatusMethodNotAllowed, "method_not_allowed", "errors.method")
			}
			return h.notFound(r)
		}
	}
	if body, status := decodeBody(r.ev); status != 0 {
		return h.errorPage(r, status, "body_too_large", "errors.tooLarge", MaxBodyBytes>>10)
	} else {
		r.body = body
	}
	return rt.handle(h, ctx, r)
}

// path is the request path without the stage prefix API Gateway adds for a
// named stage.
func (r *request) path() string {
	p := r.ev.RawPath
	if p == "" {
		p = r.ev.RequestContext.HTTP.Path
	}
	if st := r.ev.RequestContext.Stage; st != "" && st != "$default" {
		if rest, ok := strings.CutPrefix(p, "/"+st); ok && (rest == "" || rest[0] == '/') {
			p = rest
		}
	}
	if p == "" {
		p = "/"
	}
	return p
}

// matchRouteKey finds the route an API Gateway route key names.
func matchRouteKey(key string, params map[string]string) (route, bool) {
	for _, rt := range routes {
		if rt.key() == key {
			for _, seg := range rt.pattern {
				if strings.HasPrefix(seg, "{") && params[strings.Trim(seg, "{}")] == "" {
					return route{}, false
				}
			}
			return rt, true
		}
	}
	return route{}, false
}

// matchPath finds the route for a method and path; methodOK reports that the
// path exists for another method.
func matchPath(method, path string, params map[string]string) (rt route, methodOK, ok bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	if len(segs) == 1 && segs[0] == "" {
		segs = nil
	}
	for _, cand := range routes {
		got, match := matchSegments(cand.pattern, segs)
		if !match {
			continue
		}
		if cand.method != method {
			methodOK = true
			continue
		}
		for k, v := range got {
			params[k] = v
		}
		return cand, false, true
	}
	return route{}, methodOK, false
}

func matchSegments(pattern, segs []string) (map[string]string, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	params := map[string]string{}
	for i, p := range pattern {
		if strings.HasPrefix(p, "{") {
			v, err := url.PathUnescape(segs[i])
			if err != nil || v == "" {
				return nil, false
			}
			params[strings.Trim(p, "{}")] = v
			continue
		}
		if p != segs[i] {
			return nil, false
		}
	}
	return params, true
}

// decodeBody returns the body's bytes, base64-decoded when API Gateway
// encoded it, or an HTTP status (413, 400) when it is too large or not base64.
func decodeBody(ev events.APIGatewayV2HTTPRequest) ([]byte, int) {
	if !ev.IsBase64Encoded {
		if len(ev.Body) > MaxBodyBytes {
			return nil, http.StatusRequestEntityTooLarge
		}
		return []byte(ev.Body), 0
	}
	if base64.StdEncoding.DecodedLen(len(ev.Body)) > MaxBodyBytes+3 {
		return nil, http.StatusRequestEntityTooLarge
	}
	b, err := base64.StdEncoding.DecodeString(ev.Body)
	if err != nil {
		return nil, http.StatusBadRequest
	}
	if len(b) > MaxBodyBytes {
		return nil, http.StatusRequestEntityTooLarge
	}
	return b, 0
}

// mediaType is the request's Content-Type without parameters, lower-case.
func (r *request) mediaType() string {
	mt, _, err := mime.ParseMediaType(r.header("content-type"))
	if err != nil {
		return ""
	}
	return mt
}

// wantsJSON reports whether the client prefers JSON to HTML (Accept).
func (r *request) wantsJSON() bool {
	return preferJSON(r.header("accept"))
}

// preferJSON compares the quality Accept gives application/json and
// text/html; ties and no Accept header go to HTML.
func preferJSON(accept string) bool {
	var qJSON, qHTML float64 = -1, -1
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if qs, ok := params["q"]; ok {
			v, err := strconv.ParseFloat(qs, 64)
			if err != nil {
				continue
			}
			q = v
		}
		switch mt {
		case "application/json":
			qJSON = max(qJSON, q)
		case "text/html":
			qHTML = max(qHTML, q)
		}
	}
	return qJSON > 0 && qJSON > qHTML
}

// securityHeaders go on every answer. The CSP allows nothing but the page's
// own inline style sheet (by hash) and form posts to this origin.
func securityHeaders(styleSrc string) map[string]string {
	return map[string]string{
		"Content-Security-Policy": "default-src 'none'; style-src " + styleSrc +
			"; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
		"X-Frame-Options":        "DENY",
		// Pages carry form nonces and status tokens: never store them.
		"Cache-Control": "no-store",
	}
}

func finish(resp response) events.APIGatewayV2HTTPResponse {
	css, err := styleSheet()
	styleSrc := "'none'"
	if err == nil {
		styleSrc = styleHash(css)
	}
	headers := securityHeaders(styleSrc)
	headers["Content-Type"] = resp.contentType
	for k, v := range resp.headers {
		headers[k] = v
	}
	return events.APIGatewayV2HTTPResponse{
		StatusCode: resp.status,
		Headers:    headers,
		Body:       resp.body,
	}
}
