package webintake

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"dsrflow/internal/intake/intaketest"
	"dsrflow/internal/logtest"
)

// invoke runs an API Gateway event through h as intake-web does: the
// httpadapter of aws-lambda-go-api-proxy (HTTP API, payload 2.0).
func invoke(t testing.TB, h http.Handler, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return httpadapter.NewV2(h).ProxyWithContext(ctx, ev)
}

// TestSampleEvents feeds every events/intake-web*.json through the Lambda
// edge as it is: the adapter decodes base64 bodies, rebuilds the URL and
// headers, and writes the answer back into the event response.
func TestSampleEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	for _, tc := range []struct {
		event    string
		want     int
		wantType string
		wantText string
	}{
		{"intake-web-get-form.json", http.StatusOK, contentHTML, "行使您的个人信息权利"},
		{"intake-web-get-form-en.json", http.StatusOK, contentHTML, "Exercise your personal information rights"},
		// The sample's nonce is no signed nonce of ours (a form kept from
		// another day would be the same): the form again, as typed, with
		// the form_expired message; the base64 body was decoded.
		{"intake-web-post-form.json", http.StatusBadRequest, contentHTML, `value="zhang.san@example.com"`},
		{"intake-web-post-json.json", http.StatusAccepted, contentJSON, `"statusUrl":"https://a1b2c3d4e5.execute-api.cn-north-1.amazonaws.com.cn/requests/`},
		// The sample names no stored request: the same 404 as a wrong token.
		{"intake-web-get-status.json", http.StatusNotFound, contentHTML, "找不到该页面或请求"},
		{"intake-web-get-verification.json", http.StatusNotFound, contentHTML, "找不到该页面或请求"},
		{"intake-web-post-verification.json", http.StatusNotFound, contentHTML, "找不到该页面或请求"},
	} {
		resp, err := invoke(t, e.h, loadEvent(t, tc.event))
		if err != nil {
			t.Errorf("%s: %v", tc.event, err)
			continue
		}
		if resp.StatusCode != tc.want || resp.Headers["Content-Type"] != tc.wantType || !strings.Contains(resp.Body, tc.wantText) {
			t.Errorf("%s: %d %s, want %d %s with %q\n%.400s", tc.event, resp.StatusCode, resp.Headers["Content-Type"], tc.want, tc.wantType, tc.wantText, resp.Body)
		}
		if resp.Headers["Strict-Transport-Security"] != HSTS || resp.IsBase64Encoded {
			t.Errorf("%s: headers %v, base64 %v", tc.event, resp.Headers, resp.IsBase64Encoded)
		}
		if tc.event == "intake-web-post-form.json" && !strings.Contains(resp.Body, "表单已过期或不完整") {
			t.Errorf("%s: no form_expired message", tc.event)
		}
	}
	matches, err := filepath.Glob(filepath.Join(emu.Root, "events", "intake-web*.json"))
	if err != nil || len(matches) != 7 {
		t.Errorf("sample events = %v (%v); add new ones to this test", matches, err)
	}
}

// TestLambdaEdge checks what the adapter hands the handler: comma-joined
// header values split (Accept, Accept-Language are joined again), the
// client's address in RemoteAddr (for rate limiting, never logged), and
// the $default stage's paths without a prefix; a body that is not base64 is
// an invocation error (API Gateway never sends one).
func TestLambdaEdge(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	resp, err := invoke(t, e.h, loadEvent(t, "intake-web-post-json.json"))
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("post: %d %v", resp.StatusCode, err)
	}
	var accepted acceptedJSON
	if err := json.Unmarshal([]byte(resp.Body), &accepted); err != nil {
		t.Fatal(err)
	}
	ev := loadEvent(t, "intake-web-get-status.json")
	ev.RawPath = "/requests/" + accepted.RequestID
	ev.RequestContext.HTTP.Path = ev.RawPath
	ev.RawQueryString = strings.TrimPrefix(accepted.StatusURL[strings.Index(accepted.StatusURL, "?"):], "?")
	ev.Headers["accept"] = "text/html;q=0.5,application/json"
	ev.Headers["accept-language"] = "fr;q=0.9,en;q=0.8"
	got, err := invoke(t, e.h, ev)
	if err != nil || got.StatusCode != http.StatusOK || got.Headers["Content-Type"] != contentJSON || !strings.Contains(got.Body, accepted.RequestID) {
		t.Errorf("status as JSON (Accept split by the adapter): %d %v %s", got.StatusCode, err, got.Body)
	}
	ev.Headers["accept"] = "text/html"
	if got, _ := invoke(t, e.h, ev); !strings.Contains(got.Body, `<html lang="en">`) {
		t.Errorf("Accept-Language split by the adapter: want English, got\n%.300s", got.Body)
	}

	var remote string
	spy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { remote = r.RemoteAddr; e.h.ServeHTTP(w, r) })
	if _, err := invoke(t, spy, loadEvent(t, "intake-web-get-form.json")); err != nil || remote != "203.0.113.7" {
		t.Errorf("RemoteAddr = %q (%v), want the event's source IP", remote, err)
	}
	if strings.Contains(e.logs.String(), "203.0.113.7") {
		t.Error("the client's IP address is in the logs")
	}

	broken := loadEvent(t, "intake-web-post-form.json")
	broken.Body = "%%%not base64"
	if _, err := invoke(t, e.h, broken); err == nil {
		t.Error("a body that is not base64: no invocation error")
	}
	if n := len(e.sfn.Calls()); n != 1 {
		t.Errorf("StartExecution calls = %d, want 1", n)
	}
}

// TestNewAWS runs intake-web as its main wires it: NewAWS from a
// configuration, behind the adapter, with clients built on the first
// request from the environment (AWS_ENDPOINT_URL_* point at dynalite and the
// recording Step Functions endpoint).
func TestNewAWS(t *testing.T) {
	table := emu.NewTable(t)
	fake := intaketest.NewSFN(t)
	for k, v := range map[string]string{
		"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_SESSION_TOKEN": "",
		"AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_DYNAMODB": emu.Endpoint, "AWS_ENDPOINT_URL_SFN": fake.Server.URL,
		"AWS_MAX_ATTEMPTS": "1",
	} {
		t.Setenv(k, v)
	}
	cfg := testConfig(table, intaketest.StateMachineArn, 3)
	cfg.OutboxDir = t.TempDir()
	logs := &logtest.Buffer{}
	h := NewAWS(cfg, slog.New(slog.NewJSONHandler(logs, nil)))
	resp, err := invoke(t, h, loadEvent(t, "intake-web-post-json.json"))
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("post: %d %v %s", resp.StatusCode, err, resp.Body)
	}
	if calls := fake.Calls(); len(calls) != 1 {
		t.Errorf("StartExecution calls = %d, want 1", len(calls))
	}
	if resp, err := invoke(t, h, loadEvent(t, "intake-web-get-form.json")); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("form: %d %v", resp.StatusCode, err)
	}

	// A build that fails (a CA bundle that cannot be read) answers 500
	// with our page, and is tried again on the next request.
	t.Setenv("AWS_CA_BUNDLE", filepath.Join(t.TempDir(), "missing.pem"))
	broken := NewAWS(cfg, slog.New(slog.DiscardHandler))
	resp, err = invoke(t, broken, loadEvent(t, "intake-web-get-form.json"))
	if err != nil || resp.StatusCode != http.StatusInternalServerError || !strings.Contains(resp.Body, "服务暂时出现问题") || resp.Headers["Strict-Transport-Security"] != HSTS {
		t.Errorf("failed build: %d %v\n%.300s", resp.StatusCode, err, resp.Body)
	}
	t.Setenv("AWS_CA_BUNDLE", "")
	if resp, err := invoke(t, broken, loadEvent(t, "intake-web-get-form.json")); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("after the environment is fixed: %d %v", resp.StatusCode, err)
	}
}
