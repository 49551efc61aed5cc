package webintake

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"dsrflow/internal/dev/asl"
	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/intake/intaketest"
	"dsrflow/internal/logtest"
	"dsrflow/internal/store"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

var emu *dynamotest.Emulator

func TestMain(m *testing.M) { os.Exit(dynamotest.Main(m, &emu)) }

var (
	testSubjectSecret = []byte("subject-secret-for-tests-0123456789abcdef")
	testTokenSecret   = []byte("status-token-secret-for-tests-0123456789")
	testCodeSecret    = []byte("verification-code-secret-for-tests-0123")
)

const flowMailFrom = "privacy@example.cn"

// sampleHost is where the sample requests are sent (the sample events'
// host); sampleOrigin is its origin, as a browser names it.
const (
	sampleHost   = "a1b2c3d4e5.execute-api.cn-north-1.amazonaws.com.cn"
	sampleOrigin = "https://" + sampleHost
)

// testStart is when every test's clock starts.
var testStart = time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)

// testConfig is a valid configuration over table and state machine arn.
func testConfig(table, arn string, maxOpen int) Config {
	return Config{
		TableName: table, StateMachineArn: arn,
		SubjectKeySecret: string(testSubjectSecret), StatusTokenSecret: string(testTokenSecret),
		MaxOpenPerSubject:      maxOpen,
		VerificationCodeSecret: string(testCodeSecret), MailFrom: flowMailFrom, MailFromName: "隐私团队",
	}
}

// testEnv is one handler over a fresh table and a recording Step Functions
// endpoint, on a virtual clock.
type testEnv struct {
	h     *Handler
	store *store.Store
	sfn   *intaketest.SFN
	clock *asl.Virtual
	logs  *logtest.Buffer
}

// newEnv builds the handler with New from cfg, as it is deployed; edit may
// change the configuration first.
func newEnv(t testing.TB, maxOpen int, edit ...func(*Config)) *testEnv {
	t.Helper()
	table := emu.NewTable(t)
	clock := asl.VirtualClock(testStart).(*asl.Virtual)
	st := store.New(store.Config{Table: table}, store.Deps{DB: emu.Client(), Clock: clock.Now})
	fake := intaketest.NewSFN(t)
	logs := &logtest.Buffer{}
	cfg := testConfig(table, intaketest.StateMachineArn, maxOpen)
	cfg.OutboxDir = filepath.Join(t.TempDir(), "outbox")
	for _, e := range edit {
		e(&cfg)
	}
	h, err := New(cfg, Deps{
		Store: st, SFN: fake.Client(), Clock: clock.Now,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &testEnv{h: h, store: st, sfn: fake, clock: clock, logs: logs}
}

// answer is a response as the tests read it.
type answer struct {
	StatusCode int
	Header     http.Header
	Body       string
}

// serve runs one request through h.
func serve(t testing.TB, h http.Handler, req *http.Request) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req.WithContext(ctx))
	return answer{StatusCode: rec.Code, Header: rec.Header(), Body: rec.Body.String()}
}

func (e *testEnv) do(t testing.TB, req *http.Request) answer {
	t.Helper()
	return serve(t, e.h, req)
}

// newRequest is a request to the sample host over HTTPS, as API Gateway
// hands it on (X-Forwarded-Proto), from a Chinese browser.
func newRequest(method, target string, body io.Reader) *http.Request {
	req := httptest.NewRequest(method, "http://"+sampleHost+target, body)
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("Accept-Language", "zh-CN,zh-Hans;q=0.9")
	req.RemoteAddr = "203.0.113.7:52000"
	return req
}

// getForm is GET / with a query ("" for none).
func getForm(query string) *http.Request {
	target := "/"
	if query != "" {
		target += "?" + query
	}
	req := newRequest(http.MethodGet, target, nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	return req
}

// sampleForm is the body of the sample form post (an erasure by the
// requester, in Chinese), with a nonce the handler signed just now.
func (e *testEnv) sampleForm(t testing.TB) url.Values {
	t.Helper()
	return url.Values{
		"nonce":         {e.h.newNonce()},
		"lang":          {"zh-CN"},
		"kind":          {"erasure"},
		"role":          {"self"},
		"email":         {"zhang.san@example.com"},
		"phone":         {"138 0013 8000"},
		"accountId":     {""},
		"erasureGround": {"stopped_using"},
		"corrections":   {""},
		"details":       {"我已不再使用该应用，请删除我的全部个人信息。"},
	}
}

// formPost is the form post of vals, as a browser on the site sends it.
func formPost(vals url.Values) *http.Request {
	req := newRequest(http.MethodPost, "/requests", strings.NewReader(vals.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", sampleOrigin)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	return req
}

// sampleJSON is the sample JSON post's body and key.
const (
	sampleJSONBody = `{"kind": "consent_withdrawal", "role": "self", "email": "li.si@example.com", "locale": "en", "consentPurposes": ["analytics"]}`
	sampleKey      = "7f9c2ba4-e88f-4c3b-9f6a-2d1e5b8c0a47"
)

// jsonPost is a JSON post with Idempotency-Key key (none when empty), as
// curl sends it.
func jsonPost(body, key string) *http.Request {
	req := newRequest(http.MethodPost, "/requests", strings.NewReader(body))
	req.Header.Del("Accept-Language")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	return req
}

// statusGet is a GET of a status link ("/requests/<id>?token=…", or an
// absolute link).
func statusGet(t testing.TB, link string) *http.Request {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return newRequest(http.MethodGet, u.RequestURI(), nil)
}

var statusLinkRE = regexp.MustCompile(`id="status-link" href="([^"]+)"`)

// statusLink is the status link on a confirmation page.
func statusLink(t testing.TB, page string) string {
	t.Helper()
	m := statusLinkRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no status link on the page:\n%s", page)
	}
	return html.UnescapeString(m[1])
}

var requestIDRETest = regexp.MustCompile(`id="request-id">([^<]+)<`)

func pageRequestID(t testing.TB, page string) string {
	t.Helper()
	m := requestIDRETest.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no request ID on the page:\n%s", page)
	}
	return m[1]
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// decodeJSON decodes a JSON answer into a generic value.
func decodeJSON(t testing.TB, body string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("answer is not JSON: %v\n%s", err, body)
	}
	return v
}

// jsonErrorList is the "errors" of a JSON error answer as field/code/message.
type jsonErrorList []struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func decodeErrors(t testing.TB, body string) jsonErrorList {
	t.Helper()
	var v struct {
		Errors jsonErrorList `json:"errors"`
	}
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("not an error answer: %v\n%s", err, body)
	}
	return v.Errors
}

func (l jsonErrorList) has(field, code string) bool {
	for _, e := range l {
		if e.Field == field && e.Code == code {
			return true
		}
	}
	return false
}

// goldenCompare compares got with testdata/<name>, rewriting it with -update.
func goldenCompare(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it); got:\n%s", name, got)
	}
}

var nonceValueRE = regexp.MustCompile(`name="nonce" value="[^"]*"`)

// stableForm replaces the random nonce so a form can be compared with a golden file.
func stableForm(page string) string {
	return nonceValueRE.ReplaceAllString(page, `name="nonce" value="NONCE"`)
}

// pageNonce is the nonce of a form page.
func pageNonce(page string) string {
	return strings.TrimSuffix(strings.TrimPrefix(nonceValueRE.FindString(page), `name="nonce" value="`), `"`)
}

// loadEvent reads events/<name> strictly: a field the Go type does not know
// fails the test, so the sample events stay in AWS's shape.
func loadEvent(t testing.TB, name string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(emu.Root, "events", name))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return ev
}
