//go:build awscli

package sfnapi_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"dsrflow/internal/dev/sfnapi"
)

// awsCLI is Debian's AWS CLI v2 (package awscli). `make conformance` installs
// it; this file only builds with -tags awscli, so a missing CLI fails loudly
// there instead of being skipped.
const awsCLI = "/usr/bin/aws"

func TestAWSCLI(t *testing.T) {
	if _, err := os.Stat(awsCLI); err != nil {
		t.Fatalf("%s is required for this test (apt-get install -y awscli): %v", awsCLI, err)
	}
	c, tk, url := newClient(t, sfnapi.Options{Partition: "aws-cn", Region: "cn-north-1"})
	aws := func(args ...string) map[string]any {
		t.Helper()
		cmd := exec.Command(awsCLI, append([]string{"stepfunctions", "--endpoint-url", url, "--output", "json"}, args...)...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=AKIDLOCAL", "AWS_SECRET_ACCESS_KEY=secret", "AWS_DEFAULT_REGION=cn-north-1",
			"AWS_REGION=cn-north-1", "AWS_PAGER=", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		var m map[string]any
		if len(strings.TrimSpace(string(out))) > 0 {
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatalf("aws %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
		return m
	}
	created := aws("create-state-machine", "--name", "dsr", "--definition", holdDef, "--role-arn", "arn:aws-cn:iam::123456789012:role/sfn")
	arn, _ := created["stateMachineArn"].(string)
	if arn != "arn:aws-cn:states:cn-north-1:123456789012:stateMachine:dsr" {
		t.Fatalf("create-state-machine = %v", created)
	}
	started := aws("start-execution", "--state-machine-arn", arn, "--name", "req-1", "--input", `{"hold":true}`)
	execArn, _ := started["executionArn"].(string)
	if !strings.HasSuffix(execArn, ":execution:dsr:req-1") {
		t.Fatalf("start-execution = %v", started)
	}
	aws("send-task-success", "--task-token", tk.get(t, "req-1"), "--task-output", `{"ok":true}`)
	waitDone(t, c, execArn)
	d := aws("describe-execution", "--execution-arn", execArn)
	if d["status"] != "SUCCEEDED" || d["output"] != `{"ok":true}` {
		t.Errorf("describe-execution = %v", d)
	}
	h := aws("get-execution-history", "--execution-arn", execArn, "--reverse-order")
	if evs, _ := h["events"].([]any); len(evs) < 3 || evs[0].(map[string]any)["type"] != "ExecutionSucceeded" {
		t.Errorf("get-execution-history = %v", h)
	}
	l := aws("list-executions", "--state-machine-arn", arn)
	if evs, _ := l["executions"].([]any); len(evs) != 1 {
		t.Errorf("list-executions = %v", l)
	}
	// Debian's awscli 2.9 predates validate-state-machine-definition; the SDK
	// tests cover that operation.
	// An API error exits non-zero with the error name.
	cmd := exec.Command(awsCLI, "stepfunctions", "--endpoint-url", url, "describe-execution", "--execution-arn", "arn:aws-cn:states:cn-north-1:123456789012:execution:dsr:nope")
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=AKIDLOCAL", "AWS_SECRET_ACCESS_KEY=secret", "AWS_DEFAULT_REGION=cn-north-1", "AWS_PAGER=", "AWS_CONFIG_FILE=/dev/null")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "ExecutionDoesNotExist") {
		t.Errorf("describe-execution of a missing execution: err %v, output %s", err, out)
	}
}
