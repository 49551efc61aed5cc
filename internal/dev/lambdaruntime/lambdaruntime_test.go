package lambdaruntime_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"dsrflow/internal/dev/lambdaruntime"
)

// The test binary doubles as the function: with LAMBDARUNTIME_TEST set it
// runs an aws-lambda-go handler instead of the tests.
func TestMain(m *testing.M) {
	switch os.Getenv("LAMBDARUNTIME_TEST") {
	case "":
		os.Exit(m.Run())
	case "echo":
		lambda.Start(echo)
	case "exit":
		fmt.Fprintln(os.Stderr, "bad configuration")
		os.Exit(1)
	}
}

type in struct {
	Name string `json:"name"`
}

type out struct {
	Greeting string `json:"greeting"`
	ARN      string `json:"arn"`
	Deadline bool   `json:"deadline"`
}

type NotFound struct{ Name string }

func (e *NotFound) Error() string { return "no " + e.Name }

func echo(ctx context.Context, v in) (out, error) {
	if v.Name == "nobody" {
		return out{}, &NotFound{Name: v.Name}
	}
	lc, _ := lambdacontext.FromContext(ctx)
	_, hasDeadline := ctx.Deadline()
	fmt.Println(`{"level":"INFO","msg":"hello"}`)
	return out{Greeting: "hello " + v.Name, ARN: lc.InvokedFunctionArn, Deadline: hasDeadline}, nil
}

func start(t *testing.T, mode string, stdout *bytes.Buffer) *lambdaruntime.Instance {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	inst, err := lambdaruntime.Start(lambdaruntime.Function{
		Path: exe, Name: "echo", Env: map[string]string{"LAMBDARUNTIME_TEST": mode},
		Stdout: stdout, Stderr: stdout,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(inst.Stop)
	return inst
}

func TestInvoke(t *testing.T) {
	var logs bytes.Buffer
	inst := start(t, "echo", &logs)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := inst.InitDuration(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d <= 0 {
		t.Errorf("init duration %v, want > 0", d)
	}
	tests := []struct {
		payload, want, wantErr string
	}{
		{`{"name":"li"}`, `{"greeting":"hello li","arn":"arn:aws:lambda:us-east-1:123456789012:function:echo","deadline":true}`, ""},
		{`{"name":"wang"}`, `{"greeting":"hello wang","arn":"arn:aws:lambda:us-east-1:123456789012:function:echo","deadline":true}`, ""},
		{`{"name":"nobody"}`, "", "NotFound: no nobody"},
	}
	for _, tc := range tests {
		res, err := inst.Invoke(ctx, []byte(tc.payload))
		if err != nil {
			t.Fatalf("Invoke(%s): %v", tc.payload, err)
		}
		if tc.wantErr != "" {
			if res.Err == nil || res.Err.Error() != tc.wantErr {
				t.Errorf("Invoke(%s) error = %v, want %s", tc.payload, res.Err, tc.wantErr)
			}
			continue
		}
		if res.Err != nil || string(res.Payload) != tc.want {
			t.Errorf("Invoke(%s) = %s, %v; want %s", tc.payload, res.Payload, res.Err, tc.want)
		}
	}
	if !strings.Contains(logs.String(), `"msg":"hello"`) {
		t.Errorf("function output not captured: %q", logs.String())
	}
}

func TestExitBeforeReady(t *testing.T) {
	var logs bytes.Buffer
	inst := start(t, "exit", &logs)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := inst.InitDuration(ctx); !errors.Is(err, lambdaruntime.ErrExited) {
		t.Errorf("InitDuration error = %v, want ErrExited", err)
	}
	if _, err := inst.Invoke(ctx, []byte(`{}`)); !errors.Is(err, lambdaruntime.ErrExited) {
		t.Errorf("Invoke error = %v, want ErrExited", err)
	}
	if !strings.Contains(logs.String(), "bad configuration") {
		t.Errorf("stderr not captured: %q", logs.String())
	}
}
