package invoke_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dsrflow/internal/dev/devstack"
	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dev/invoke"
	"dsrflow/internal/dev/samtemplate"
)

func template(t *testing.T) (*samtemplate.Template, string) {
	t.Helper()
	root, err := dynamotest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := samtemplate.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return tpl, root
}

// TestEnvironment: the template's variables with the local stack's names,
// endpoints and secrets when it runs, placeholders when it does not, and
// overrides last.
func TestEnvironment(t *testing.T) {
	t.Setenv("AWS_PROFILE", "")
	tpl, _ := template(t)
	web, err := tpl.Function("intake-web")
	if err != nil {
		t.Fatal(err)
	}
	local := invoke.Local{
		Dir: "/tmp/local",
		Env: map[string]string{
			"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000",
			"AWS_REGION":                "cn-north-1",
			"DSR_TABLE":                 "dsrflow-requests",
			"DSR_STATE_MACHINE_ARN":     "arn:aws:states:cn-north-1:000000000000:stateMachine:dsr",
		},
	}
	tests := []struct {
		name      string
		local     invoke.Local
		overrides map[string]string
		want      map[string]string
		absent    []string
	}{
		{
			name:  "local stack",
			local: local,
			want: map[string]string{
				"TABLE_NAME":                "dsrflow-requests",
				"STATE_MACHINE_ARN":         "arn:aws:states:cn-north-1:000000000000:stateMachine:dsr",
				"SUBJECT_KEY_SECRET_ID":     "SubjectKeySecret",
				"STATUS_TOKEN_SECRET_ID":    "StatusTokenSecret",
				"SECRETS_DIR":               "/tmp/local/secrets",
				"MAX_OPEN_PER_SUBJECT":      "3",
				"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000",
				"AWS_REGION":                "cn-north-1",
				"S3_USE_PATH_STYLE":         "true",
			},
			absent: []string{"SUBJECT_KEY_SECRET", "STATUS_TOKEN_SECRET"},
		},
		{
			name:      "no local stack, override",
			overrides: map[string]string{"MAX_OPEN_PER_SUBJECT": "0"},
			want: map[string]string{
				"STATE_MACHINE_ARN":     "arn:aws:states:us-east-1:123456789012:stateMachine:RequestStateMachine",
				"SUBJECT_KEY_SECRET_ID": "SubjectKeySecret",
				"MAX_OPEN_PER_SUBJECT":  "0",
			},
			absent: []string{"S3_USE_PATH_STYLE", "OUTBOX_DIR", "AWS_ENDPOINT_URL_DYNAMODB", "SECRETS_DIR"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := invoke.Environment(tpl, web, tc.local, tc.overrides)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			for _, k := range tc.absent {
				if v, ok := got[k]; ok {
					t.Errorf("%s = %q, want it unset", k, v)
				}
			}
		})
	}

	cb, err := tpl.Function("partner-callback")
	if err != nil {
		t.Fatal(err)
	}
	got, err := invoke.Environment(tpl, cb, invoke.Local{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range got {
		if strings.Contains(v, "{{resolve:") {
			t.Errorf("%s = %q: a dynamic reference cannot resolve locally", k, v)
		}
	}
}

// TestRun builds intake-web for this machine and invokes it on the sample
// form request, which needs no AWS service; then checks the input errors.
func TestRun(t *testing.T) {
	_, root := template(t)
	event, err := os.ReadFile(filepath.Join(root, "events", "intake-web-get-form.json"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var logs strings.Builder
	res, err := invoke.Run(ctx, invoke.Options{
		Root: root, Function: "intake-web", Event: event, LocalDir: t.TempDir(), BuildDir: t.TempDir(), Logs: &logs,
	})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, logs.String())
	}
	if res.Err != nil {
		t.Fatalf("function error: %v", res.Err)
	}
	var resp struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
	}
	if err := json.Unmarshal(res.Payload, &resp); err != nil {
		t.Fatalf("response %s: %v", res.Payload, err)
	}
	if resp.StatusCode != 200 || !strings.Contains(resp.Body, "<form") {
		t.Errorf("status %d, body %.200q; want 200 and the form", resp.StatusCode, resp.Body)
	}

	_, err = invoke.Run(ctx, invoke.Options{Root: root, Function: "intake-web", Event: []byte("{not json")})
	if !errors.Is(err, invoke.ErrBadEvent) {
		t.Errorf("bad event: error %v, want ErrBadEvent", err)
	}
	_, err = invoke.Run(ctx, invoke.Options{Root: root, Function: "no-such-function", Event: event})
	if !errors.Is(err, invoke.ErrUnknownFunction) {
		t.Errorf("unknown function: error %v, want ErrUnknownFunction", err)
	}
}

// TestRunAgainstLocalStack: with the local stack running, the function
// built for this machine uses its endpoints, names and secrets: a JSON
// request through intake-web lands in the stack's table and starts the
// workflow in its Step Functions engine.
func TestRunAgainstLocalStack(t *testing.T) {
	_, root := template(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	st, err := devstack.Start(ctx, devstack.Options{
		Dir: dir, Root: root, HTTPAddr: "127.0.0.1:0", DynamoDBAddr: "127.0.0.1:0", S3Addr: "127.0.0.1:0",
		SFNAddr: "127.0.0.1:0", PartnersAddr: "127.0.0.1:0", ConsoleAddr: "127.0.0.1:0", ReconcileEvery: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.WriteEnvFile(); err != nil {
		t.Fatal(err)
	}
	event, err := os.ReadFile(filepath.Join(root, "events", "intake-web-post-json.json"))
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	res, err := invoke.Run(ctx, invoke.Options{
		Root: root, Function: "intake-web", Event: event, LocalDir: dir, BuildDir: t.TempDir(), Logs: &logs,
	})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, logs.String())
	}
	if res.Err != nil {
		t.Fatalf("function error: %v\n%s", res.Err, logs.String())
	}
	var resp struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
	}
	if err := json.Unmarshal(res.Payload, &resp); err != nil {
		t.Fatalf("response %s: %v", res.Payload, err)
	}
	var body struct {
		RequestID string `json:"requestId"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || resp.StatusCode != 202 || body.RequestID == "" {
		t.Fatalf("status %d body %.300s: want 202 with a request ID\n%s", resp.StatusCode, resp.Body, logs.String())
	}
	req, err := st.Store.GetRequest(ctx, body.RequestID)
	if err != nil {
		t.Fatalf("request %s is not in the local stack's table: %v", body.RequestID, err)
	}
	if !req.ExecutionStarted {
		t.Errorf("request %s: execution not started in the local engine", body.RequestID)
	}
}
