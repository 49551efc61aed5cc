package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is written by the command while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestLocalFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"local", "--partner-mode", "sometimes"}, "--partner-mode"},
		{[]string{"local", "--partner-failure-rate", "1"}, "--partner-failure-rate"},
		{[]string{"local", "--partner-latency", "-1s"}, "--partner-latency"},
		{[]string{"local", "--clock-scale", "0.5"}, "--clock-scale"},
		{[]string{"local", "load", "--requests", "0"}, "--requests"},
		{[]string{"local", "load", "--partner-mode", "x"}, "--partner-mode"},
		{[]string{"local", "extra"}, "unknown command"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Run(context.Background(), tc.args, strings.NewReader(""), &out, &errb)
			if code != ExitUsage || !strings.Contains(errb.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want %d naming %s", code, errb.String(), ExitUsage, tc.want)
			}
		})
	}
}

// TestLocalRunsAndStops starts dsr local on free ports, waits for the
// banner, stops it as Ctrl-C would (the context ends) and checks the exit
// status, the banner and the env file.
func TestLocalRunsAndStops(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &lockedBuffer{}
	var errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"local", "--dir", dir, "--http", "127.0.0.1:0", "--dynamodb", "127.0.0.1:0",
			"--s3", "127.0.0.1:0", "--sfn", "127.0.0.1:0", "--partners", "127.0.0.1:0"}, strings.NewReader(""), out, &errb)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "Ctrl-C stops everything") {
		select {
		case code := <-done:
			t.Fatalf("dsr local exited %d before the banner: %s", code, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no banner after 30 s: %s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case code := <-done:
		if code != ExitOK {
			t.Errorf("exit %d after stop, want 0; stderr %s", code, errb.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("dsr local did not stop")
	}
	banner := out.String()
	for _, want := range []string{"privacy center (form)", "export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:", "export AWS_ENDPOINT_URL_SFN=", "export AWS_ENDPOINT_URL_S3=", "export DSR_TABLE=dsrflow-requests", "POST /requests", "maildrop", "outbox", "stopped"} {
		if !strings.Contains(banner, want) {
			t.Errorf("output lacks %q:\n%s", want, banner)
		}
	}
	env, err := os.ReadFile(filepath.Join(dir, "env"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:", "AWS_REGION=us-east-1", "DSR_TABLE=dsrflow-requests", "DSR_STATE_MACHINE_ARN=arn:aws:states:"} {
		if !strings.Contains(string(env), want) {
			t.Errorf("env file lacks %q:\n%s", want, env)
		}
	}
}
