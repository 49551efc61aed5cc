package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dsrflow/internal/dev/dynamotest"
)

// TestInvokeCommand: dsr invoke prints the response on stdout (exit 0), a
// function error as its error JSON (exit 1), and refuses bad input (exit 2).
func TestInvokeCommand(t *testing.T) {
	root, err := dynamotest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	local := t.TempDir() // no local stack there
	// AWS calls go to a closed loopback port: the function fails fast.
	noAWS := []string{"--env", "AWS_ENDPOINT_URL=http://127.0.0.1:1", "--env", "AWS_ACCESS_KEY_ID=x",
		"--env", "AWS_SECRET_ACCESS_KEY=x", "--env", "AWS_MAX_ATTEMPTS=1"}
	tests := []struct {
		name      string
		args      []string
		code      int
		stdout    string // a JSON field that must be in stdout
		stderrHas string
	}{
		{"form", []string{"intake-web", filepath.Join(root, "events", "intake-web-get-form.json")}, ExitOK, "statusCode", "invoke IntakeWebFunction: init"},
		{"function error", append([]string{"admit", filepath.Join(root, "events", "admit.json")}, noAWS...), ExitFailure, "errorType", "function error ServiceUnavailable"},
		{"unknown function", []string{"no-such-function", filepath.Join(root, "events", "admit.json")}, ExitUsage, "", "unknown function"},
		{"bad event", []string{"admit", bad}, ExitUsage, "", "not valid JSON"},
		{"missing event", []string{"admit", filepath.Join(root, "events", "missing.json")}, ExitUsage, "", "event:"},
		{"bad --env", []string{"admit", filepath.Join(root, "events", "admit.json"), "--env", "NOEQUALS"}, ExitUsage, "", "want NAME=VALUE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			args := append([]string{"invoke", "--root", root, "--local", local}, tc.args...)
			code := Run(context.Background(), args, strings.NewReader(""), &out, &errb)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %.500s\nstderr: %.2000s", code, tc.code, out.String(), errb.String())
			}
			if !strings.Contains(errb.String(), tc.stderrHas) {
				t.Errorf("stderr %.1000q does not contain %q", errb.String(), tc.stderrHas)
			}
			if tc.stdout == "" {
				if out.Len() != 0 {
					t.Errorf("stdout %.300q, want nothing", out.String())
				}
				return
			}
			var m map[string]any
			if err := json.Unmarshal(out.Bytes(), &m); err != nil {
				t.Fatalf("stdout is not one JSON object: %v\n%.300s", err, out.String())
			}
			if _, ok := m[tc.stdout]; !ok {
				t.Errorf("stdout %.300s has no %q", out.String(), tc.stdout)
			}
		})
	}
}
