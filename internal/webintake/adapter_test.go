package webintake

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func TestEventFromHTTP(t *testing.T) {
	for _, tc := range []struct {
		name, contentType, body string
		wantBase64              bool
	}{
		{"form post is base64, as in AWS", "application/x-www-form-urlencoded", "kind=erasure&details=%E5%88%A0", true},
		{"JSON is text", "application/json; charset=utf-8", `{"kind":"access"}`, false},
		{"text is text", "text/plain", "hello", false},
		{"binary is base64", "application/octet-stream", "\x00\x01\xff", true},
		{"no content type is base64", "", "x", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "http://localhost:8080/requests?lang=en&a=1&a=2", strings.NewReader(tc.body))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			req.Header.Add("X-Multi", "one")
			req.Header.Add("X-Multi", "two")
			req.Header.Set("Cookie", "a=1; b=2")
			ev, err := EventFromHTTP(req)
			if err != nil {
				t.Fatal(err)
			}
			if ev.IsBase64Encoded != tc.wantBase64 {
				t.Errorf("IsBase64Encoded = %v, want %v", ev.IsBase64Encoded, tc.wantBase64)
			}
			body := ev.Body
			if ev.IsBase64Encoded {
				b, err := base64.StdEncoding.DecodeString(ev.Body)
				if err != nil {
					t.Fatal(err)
				}
				body = string(b)
			}
			if body != tc.body {
				t.Errorf("body = %q, want %q", body, tc.body)
			}
			if ev.Version != "2.0" || ev.RouteKey != "$default" || ev.RawPath != "/requests" || ev.RawQueryString != "lang=en&a=1&a=2" {
				t.Errorf("event = %+v", ev)
			}
			if ev.RequestContext.HTTP.Method != http.MethodPost || ev.RequestContext.Stage != "$default" {
				t.Errorf("request context = %+v", ev.RequestContext)
			}
			if got := ev.QueryStringParameters["a"]; got != "1,2" {
				t.Errorf("query a = %q, want 1,2 (joined as API Gateway does)", got)
			}
			if got := ev.Headers["x-multi"]; got != "one,two" {
				t.Errorf("x-multi = %q, want one,two", got)
			}
			if _, ok := ev.Headers["cookie"]; ok {
				t.Error("the cookie header stays in headers; API Gateway moves it to cookies")
			}
			if !reflect.DeepEqual(ev.Cookies, []string{"a=1", "b=2"}) {
				t.Errorf("cookies = %q", ev.Cookies)
			}
			for k := range ev.Headers {
				if k != strings.ToLower(k) {
					t.Errorf("header %q is not lower-case", k)
				}
			}
			if ev.Headers["host"] != "localhost:8080" {
				t.Errorf("host = %q", ev.Headers["host"])
			}
		})
	}
}

func TestHTTPHandlerWritesResponse(t *testing.T) {
	fn := func(_ context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{
			StatusCode:        http.StatusTeapot,
			Headers:           map[string]string{"Content-Type": "application/octet-stream", "X-Path": ev.RawPath},
			MultiValueHeaders: map[string][]string{"X-Multi": {"a", "b"}},
			Cookies:           []string{"s=1; Path=/; HttpOnly", "t=2"},
			Body:              base64.StdEncoding.EncodeToString([]byte{0, 1, 2}),
			IsBase64Encoded:   true,
		}, nil
	}
	srv := httptest.NewServer(HTTPHandler(fn, nil))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/x%20y")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusTeapot || string(body) != "\x00\x01\x02" {
		t.Errorf("got %d %q", resp.StatusCode, body)
	}
	if got := resp.Header.Values("Set-Cookie"); !reflect.DeepEqual(got, []string{"s=1; Path=/; HttpOnly", "t=2"}) {
		t.Errorf("Set-Cookie = %q", got)
	}
	if got := resp.Header.Values("X-Multi"); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("X-Multi = %q", got)
	}
	if got := resp.Header.Get("X-Path"); got != "/x%20y" {
		t.Errorf("rawPath = %q, want the escaped path", got)
	}
}

func TestHTTPHandlerErrors(t *testing.T) {
	failing := func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{}, io.ErrUnexpectedEOF
	}
	srv := httptest.NewServer(HTTPHandler(failing, nil))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("handler error: status %d, want 500", resp.StatusCode)
	}
}
