package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const aslRetryDef = `{
  "StartAt": "Charge",
  "States": {
    "Charge": {
      "Type": "Task",
      "Resource": "arn:aws:states:::lambda:invoke",
      "Parameters": {"FunctionName": "charge", "Payload.$": "$"},
      "Retry": [{"ErrorEquals": ["Lambda.TimeoutException", "Lambda.ResourceNotReadyException"], "IntervalSeconds": 3600, "MaxAttempts": 3}],
      "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}],
      "ResultSelector": {"body.$": "$.Payload.body"},
      "Next": "Wait a year"
    },
    "Wait a year": {"Type": "Wait", "Seconds": 31536000, "Next": "Done"},
    "Done": {"Type": "Succeed"},
    "Failed": {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"}
  }
}`

const aslCallbackDef = `{
  "StartAt": "Verify",
  "States": {
    "Verify": {
      "Type": "Task",
      "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
      "Parameters": {"FunctionName": "verify", "Payload": {"token.$": "$$.Task.Token", "id.$": "$.id"}},
      "ResultPath": "$.verified",
      "End": true
    }
  }
}`

const aslMockConfig = `{
  "StateMachines": {
    "charge": {
      "TestCases": {
        "HappyPath": {"Charge": "MockedLambdaSuccess"},
        "RetryPath": {"Charge": "MockedLambdaRetry"},
        "TooFewResponses": {"Charge": "MockedOneTimeout"}
      }
    }
  },
  "MockedResponses": {
    "MockedLambdaSuccess": {"0": {"Return": {"StatusCode": 200, "Payload": {"StatusCode": 200, "body": "Hello from Lambda!"}}}},
    "MockedLambdaRetry": {
      "0": {"Throw": {"Error": "Lambda.ResourceNotReadyException", "Cause": "Lambda resource is not ready."}},
      "1-2": {"Throw": {"Error": "Lambda.TimeoutException", "Cause": "Lambda timed out."}},
      "3": {"Return": {"StatusCode": 200, "Payload": {"StatusCode": 200, "body": "Hello from Lambda!"}}}
    },
    "MockedOneTimeout": {"0": {"Throw": {"Error": "Lambda.TimeoutException", "Cause": "Lambda timed out."}}}
  }
}`

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestASLValidate(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"ok.json":  `{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}`,
		"bad.json": `{"StartAt":"Nope","States":{"A":{"Type":"Pass","Next":"Gone"}}}`,
	})
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantOutHas []string
	}{
		{"valid", []string{"ok.json"}, ExitOK, []string{"ok.json: valid"}},
		{"invalid", []string{"bad.json"}, ExitFailure, []string{"/StartAt: ", "/States/A/Next: "}},
		{"missing file", []string{"none.json"}, ExitUsage, nil},
		{"no file", nil, ExitUsage, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"asl", "validate"}
			for _, a := range tt.args {
				args = append(args, filepath.Join(dir, a))
			}
			var out, errOut bytes.Buffer
			code := Run(context.Background(), args, strings.NewReader(""), &out, &errOut)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d (stdout %q, stderr %q)", code, tt.wantCode, out.String(), errOut.String())
			}
			for _, sub := range tt.wantOutHas {
				if !strings.Contains(out.String(), sub) {
					t.Errorf("stdout = %q, want it to contain %q", out.String(), sub)
				}
			}
			// Every problem line is LOCATION: CODE: message.
			if tt.wantCode == ExitFailure {
				for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
					if parts := strings.SplitN(line, ": ", 3); len(parts) != 3 || !strings.HasPrefix(parts[0], "/") || parts[1] == "" {
						t.Errorf("problem line %q is not LOCATION: CODE: message", line)
					}
				}
			}
		})
	}

	// --sub resolves SAM-style ${NAME} placeholders before validating.
	sam := filepath.Join(dir, "sam.json")
	if err := os.WriteFile(sam, []byte(`{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"${Fn}","End":true}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if code := Run(context.Background(), []string{"asl", "validate", sam}, strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}); code != ExitFailure {
		t.Errorf("unresolved ${Fn}: exit %d, want %d", code, ExitFailure)
	}
	if code := Run(context.Background(), []string{"asl", "validate", sam, "--sub", "Fn=arn:aws-cn:lambda:cn-north-1:123456789012:function:f"}, strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}); code != ExitOK {
		t.Errorf("--sub Fn=...: exit %d, want %d", code, ExitOK)
	}

	var out bytes.Buffer
	code := Run(context.Background(), []string{"asl", "validate", "--json", filepath.Join(dir, "bad.json")}, strings.NewReader(""), &out, &bytes.Buffer{})
	var got struct {
		Valid    bool `json:"valid"`
		Problems []struct{ Location, Code, Message string }
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil || code != ExitFailure || got.Valid || len(got.Problems) < 2 {
		t.Errorf("--json: exit %d, %s (%v)", code, out.String(), err)
	}
}

func TestASLRun(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"charge.json":    aslRetryDef,
		"callback.json":  aslCallbackDef,
		"mock.json":      aslMockConfig,
		"input.json":     `{"orderId": "o-1"}`,
		"ok-tasks.json":  `{"Charge": [{"throw": {"error": "Lambda.TimeoutException", "cause": "slow"}}, {"return": {"Payload": {"body": "charged"}}}]}`,
		"bad-tasks.json": `{"Charge": [{"throw": {"error": "CardDeclined", "cause": "code 51"}}]}`,
		"cb-tasks.json":  `{"Verify": [{"return": {"verified": true}}]}`,
		"broken.json":    `{"Charge": []}`,
		"invalid.json":   `{"StartAt":"A","States":{}}`,
		"sam.json":       `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"${ChargeFunctionArn}","Parameters":{"table":"${Table}"},"End":true}}}`,
		"sam-tasks.json": `{"T": [{"return": "ok"}]}`,
		"timeout.json":   `{"TimeoutSeconds":10,"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"End":true}}}`,
	})
	p := func(name string) string { return filepath.Join(dir, name) }
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     string // the JSON printed, compared by meaning ("cause": "*" takes any cause)
		wantErr  string // substring of stderr
	}{
		{"tasks retry then succeed", []string{p("charge.json"), "--tasks", p("ok-tasks.json"), "--input", `{"orderId":"o-1"}`}, ExitOK,
			`{"status":"SUCCEEDED","output":{"body":"charged"}}`, ""},
		{"tasks failure caught then Fail", []string{p("charge.json"), "--tasks", p("bad-tasks.json"), "--input", "@" + p("input.json")}, ExitOK,
			`{"status":"FAILED","error":"CardDeclined","cause":"code 51"}`, ""},
		{"mock config retry path", []string{p("charge.json"), "--mock-config", p("mock.json"), "--test-case", "RetryPath"}, ExitOK,
			`{"status":"SUCCEEDED","output":{"body":"Hello from Lambda!"}}`, ""},
		{"mock config happy path", []string{p("charge.json"), "--mock-config", p("mock.json"), "--test-case", "HappyPath", "--state-machine", "charge"}, ExitOK,
			`{"status":"SUCCEEDED","output":{"body":"Hello from Lambda!"}}`, ""},
		{"mock config runs out of responses", []string{p("charge.json"), "--mock-config", p("mock.json"), "--test-case", "TooFewResponses"}, ExitOK,
			`{"status":"FAILED","error":"States.Runtime","cause":"task state \"Charge\" invocation 1: no scripted outcome"}`, ""},
		{"callback task", []string{p("callback.json"), "--tasks", p("cb-tasks.json"), "--input", `{"id":"r-1"}`}, ExitOK,
			`{"status":"SUCCEEDED","output":{"id":"r-1","verified":{"verified":true}}}`, ""},
		{"no script for a task", []string{p("charge.json")}, ExitUsage, "", "no scripted outcome for Task state(s) Charge"},
		{"unknown test case", []string{p("charge.json"), "--mock-config", p("mock.json"), "--test-case", "Nope"}, ExitUsage, "", `no test case "Nope"`},
		{"test case without mock config", []string{p("charge.json"), "--test-case", "HappyPath"}, ExitUsage, "", "go with --mock-config"},
		{"both scripts", []string{p("charge.json"), "--tasks", p("ok-tasks.json"), "--mock-config", p("mock.json"), "--test-case", "HappyPath"}, ExitUsage, "", "not both"},
		{"bad tasks file", []string{p("charge.json"), "--tasks", p("broken.json")}, ExitUsage, "", "empty"},
		{"input not JSON", []string{p("charge.json"), "--tasks", p("ok-tasks.json"), "--input", "{nope"}, ExitUsage, "", "--input is not valid JSON"},
		{"input file missing", []string{p("charge.json"), "--tasks", p("ok-tasks.json"), "--input", "@" + p("none.json")}, ExitUsage, "", "--input"},
		{"invalid definition", []string{p("invalid.json")}, ExitFailure, "", "invalid definition"},
		{"definition missing", []string{p("none.json")}, ExitUsage, "", "read definition"},
		{"SAM placeholders in Task resources", []string{p("sam.json"), "--tasks", p("sam-tasks.json"), "--sub", "Table=dsr"}, ExitOK,
			`{"status":"SUCCEEDED","output":"ok"}`, ""},
		{"machine timeout on the virtual clock", []string{p("timeout.json")}, ExitOK,
			`{"status":"TIMED_OUT","error":"States.Timeout","cause":"*"}`, ""},
		{"bad --sub", []string{p("sam.json"), "--tasks", p("sam-tasks.json"), "--sub", "Table"}, ExitUsage, "", "NAME=VALUE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Run(context.Background(), append([]string{"asl", "run"}, tt.args...), strings.NewReader(""), &out, &errOut)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d (stdout %q, stderr %q)", code, tt.wantCode, out.String(), errOut.String())
			}
			if tt.want != "" {
				if strings.Count(strings.TrimSpace(out.String()), "\n") != 0 {
					t.Errorf("stdout has more than one line: %q", out.String())
				}
				var got, want any
				if err := json.Unmarshal(out.Bytes(), &got); err != nil {
					t.Fatalf("stdout %q is not JSON: %v", out.String(), err)
				}
				_ = json.Unmarshal([]byte(tt.want), &want)
				if w, _ := want.(map[string]any); w["cause"] == "*" {
					if g, _ := got.(map[string]any); g != nil {
						if c, ok := g["cause"].(string); ok && c != "" {
							w["cause"] = c
						}
					}
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("stdout = %s, want %s", out.String(), tt.want)
				}
			} else if out.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", out.String())
			}
			if !strings.Contains(errOut.String(), tt.wantErr) {
				t.Errorf("stderr = %q, want it to contain %q", errOut.String(), tt.wantErr)
			}
		})
	}
}
