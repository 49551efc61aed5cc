package webintake

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"html"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/intake"
	"dsrflow/internal/intake/intaketest"
	"dsrflow/internal/store"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

var emu *dynamotest.Emulator

func TestMain(m *testing.M) { os.Exit(dynamotest.Main(m, &emu)) }

var (
	testSubjectSecret = []byte("subject-secret-for-tests-0123456789abcdef")
	testTokenSecret   = []byte("status-token-secret-for-tests-0123456789")
)

// testEnv is one handler over a fresh table and a recording Step Functions endpoint.
type testEnv struct {
	h     *Handler
	store *store.Store
	sfn   *intaketest.SFN
	svc   *intake.Service
}

func newEnv(t *testing.T, maxOpen int) *testEnv {
	t.Helper()
	table := emu.NewTable(t)
	st := store.New(emu.Client(), table)
	fake := intaketest.NewSFN(t)
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	svc := &intake.Service{
		Store:             st,
		SFN:               fake.Client(),
		StateMachineArn:   intaketest.StateMachineArn,
		SubjectSecret:     testSubjectSecret,
		MaxOpenPerSubject: maxOpen,
		Logger:            logger,
	}
	return &testEnv{
		h:     &Handler{Intake: svc, Store: st, TokenSecret: testTokenSecret, Logger: logger},
		store: st,
		sfn:   fake,
		svc:   svc,
	}
}

func (e *testEnv) do(t *testing.T, ev events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := e.h.Handle(ctx, ev)
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	return resp
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

// formValues is the body of events/intake-web-post-form.json.
func formValues(t *testing.T) url.Values {
	t.Helper()
	ev := loadEvent(t, "intake-web-post-form.json")
	b, err := base64.StdEncoding.DecodeString(ev.Body)
	if err != nil {
		t.Fatal(err)
	}
	v, err := url.ParseQuery(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// formEvent is the sample form post with another body, base64-encoded as
// API Gateway sends form posts.
func formEvent(t *testing.T, vals url.Values) events.APIGatewayV2HTTPRequest {
	t.Helper()
	ev := loadEvent(t, "intake-web-post-form.json")
	body := vals.Encode()
	ev.Body = base64.StdEncoding.EncodeToString([]byte(body))
	ev.Headers["content-length"] = itoa(len(body))
	return ev
}

// jsonEvent is the sample JSON post with another body and Idempotency-Key
// (none when key is empty).
func jsonEvent(t *testing.T, body, key string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	ev := loadEvent(t, "intake-web-post-json.json")
	ev.Body = body
	ev.Headers["content-length"] = itoa(len(body))
	if key == "" {
		delete(ev.Headers, "idempotency-key")
	} else {
		ev.Headers["idempotency-key"] = key
	}
	return ev
}

// statusEvent is the sample status request for a status path
// ("/requests/<id>?token=…").
func statusEvent(t *testing.T, link string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	ev := loadEvent(t, "intake-web-get-status.json")
	ev.RawPath = u.EscapedPath()
	ev.RequestContext.HTTP.Path = u.Path
	ev.RawQueryString = u.RawQuery
	ev.QueryStringParameters = map[string]string{}
	for k, v := range u.Query() {
		ev.QueryStringParameters[k] = strings.Join(v, ",")
	}
	ev.PathParameters = map[string]string{"id": strings.TrimPrefix(u.Path, "/requests/")}
	return ev
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

var statusLinkRE = regexp.MustCompile(`id="status-link" href="([^"]+)"`)

// statusLink is the status link on a confirmation page.
func statusLink(t *testing.T, page string) string {
	t.Helper()
	m := statusLinkRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no status link on the page:\n%s", page)
	}
	return html.UnescapeString(m[1])
}

var requestIDRETest = regexp.MustCompile(`id="request-id">([^<]+)<`)

func pageRequestID(t *testing.T, page string) string {
	t.Helper()
	m := requestIDRETest.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no request ID on the page:\n%s", page)
	}
	return m[1]
}

// decodeJSON decodes a JSON answer into a generic value.
func decodeJSON(t *testing.T, body string) map[string]any {
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

func decodeErrors(t *testing.T, body string) jsonErrorList {
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
