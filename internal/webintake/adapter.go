package webintake

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// LambdaFunc is an API Gateway HTTP API (payload 2.0) Lambda handler.
type LambdaFunc func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// maxAdapterBody is API Gateway's payload limit (10 MB); a larger body is
// refused with 413 before the function runs, as API Gateway does.
const maxAdapterBody = 10 << 20

// HTTPHandler serves a Lambda handler over net/http the way an HTTP API with
// a $default route and stage invokes it: header names lower-cased and repeated
// headers joined with commas, cookies moved to Cookies, the body base64-encoded
// unless it is text (text/*, application/json, application/xml,
// application/javascript; a form post IS encoded, as in AWS), and the answer's
// headers, multi-value headers, cookies and base64 body written back. A
// handler error is a 500 with API Gateway's body.
func HTTPHandler(fn LambdaFunc, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.Default()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ev, err := EventFromHTTP(req)
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				writeGatewayError(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
				return
			}
			writeGatewayError(w, http.StatusBadRequest, "Bad Request")
			return
		}
		resp, err := fn(req.Context(), ev)
		if err != nil {
			logger.ErrorContext(req.Context(), "handler failed", "error", err.Error())
			writeGatewayError(w, http.StatusInternalServerError, "Internal Server Error")
			return
		}
		if err := WriteHTTP(w, resp); err != nil {
			logger.ErrorContext(req.Context(), "write response", "error", err.Error())
		}
	})
}

func writeGatewayError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, `{"message":"`+msg+`"}`)
}

// EventFromHTTP converts a net/http request into the event API Gateway would
// send for it on a $default route.
func EventFromHTTP(req *http.Request) (events.APIGatewayV2HTTPRequest, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(http.MaxBytesReader(nil, req.Body, maxAdapterBody))
		if err != nil {
			return events.APIGatewayV2HTTPRequest{}, err
		}
		body = b
	}
	headers := map[string]string{}
	for name, vals := range req.Header {
		lname := strings.ToLower(name)
		if lname == "cookie" {
			continue
		}
		headers[lname] = strings.Join(vals, ",")
	}
	host := req.Host
	headers["host"] = host
	if len(body) > 0 || req.ContentLength > 0 {
		headers["content-length"] = strconv.Itoa(len(body))
	}
	sourceIP := req.RemoteAddr
	if h, _, err := net.SplitHostPort(req.RemoteAddr); err == nil {
		sourceIP = h
	}
	headers["x-forwarded-for"] = sourceIP
	proto, port := "http", "80"
	if req.TLS != nil {
		proto, port = "https", "443"
	}
	if _, p, err := net.SplitHostPort(host); err == nil {
		port = p
	}
	headers["x-forwarded-proto"] = proto
	headers["x-forwarded-port"] = port

	var cookies []string
	for _, c := range req.Cookies() {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	query := map[string]string{}
	for k, vals := range req.URL.Query() {
		query[k] = strings.Join(vals, ",")
	}
	if len(query) == 0 {
		query = nil
	}
	now := time.Now().UTC()
	domain := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		domain = h
	}
	prefix, _, _ := strings.Cut(domain, ".")
	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              "$default",
		RawPath:               req.URL.EscapedPath(),
		RawQueryString:        req.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: query,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     "$default",
			AccountID:    "123456789012",
			Stage:        "$default",
			RequestID:    localRequestID(),
			APIID:        "local",
			DomainName:   domain,
			DomainPrefix: prefix,
			Time:         now.Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    req.Method,
				Path:      req.URL.Path,
				Protocol:  req.Proto,
				SourceIP:  sourceIP,
				UserAgent: req.UserAgent(),
			},
		},
	}
	if len(body) > 0 {
		if textBody(headers["content-type"]) {
			ev.Body = string(body)
		} else {
			ev.Body = base64.StdEncoding.EncodeToString(body)
			ev.IsBase64Encoded = true
		}
	}
	return ev, nil
}

// textBody reports whether API Gateway passes a body of this content type
// as text rather than base64.
func textBody(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"):
		return true
	case mt == "application/json", mt == "application/xml", mt == "application/javascript":
		return true
	}
	return false
}

func localRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// WriteHTTP writes a handler's answer as API Gateway would: headers, then
// multi-value headers, cookies as Set-Cookie, the body decoded from base64
// when IsBase64Encoded. A missing Content-Type is application/json, API
// Gateway's default for payload 2.0 answers.
func WriteHTTP(w http.ResponseWriter, resp events.APIGatewayV2HTTPResponse) error {
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			writeGatewayError(w, http.StatusBadGateway, "Internal Server Error")
			return err
		}
		body = b
	}
	h := w.Header()
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	for _, c := range resp.Cookies {
		h.Add("Set-Cookie", c)
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	status := resp.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, err := w.Write(body)
	return err
}
