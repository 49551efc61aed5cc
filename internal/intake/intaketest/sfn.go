// Package intaketest provides a Step Functions endpoint for intake tests: an
// httptest server that speaks the AWS JSON 1.0 protocol for StartExecution,
// records every call, and can be told to fail. The real aws-sdk-go-v2 sfn
// client talks to it through its base endpoint.
//
// It follows the documented StartExecution idempotency of Standard workflows:
// a repeated name with the same input returns the first execution's ARN;
// a repeated name with another input is ExecutionAlreadyExists.
package intaketest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

// StateMachineArn is the ARN tests pass to intake.
const StateMachineArn = "arn:aws:states:us-east-1:123456789012:stateMachine:dsrflow-requests"

// Call is one StartExecution request as received.
type Call struct {
	StateMachineArn string `json:"stateMachineArn"`
	Name            string `json:"name"`
	Input           string `json:"input"`
}

// SFN is the fake Step Functions endpoint.
type SFN struct {
	Server *httptest.Server

	mu        sync.Mutex
	calls     []Call
	failCode  int // HTTP status to answer with; 0 means normal behaviour
	started   map[string]string
	otherOps  []string
	alwaysDup bool
}

// NewSFN starts an endpoint and closes it when tb ends.
func NewSFN(tb testing.TB) *SFN {
	tb.Helper()
	f := &SFN{started: map[string]string{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	tb.Cleanup(f.Server.Close)
	return f
}

// Client returns an sfn client for the endpoint with dummy credentials and
// no retries, so each Starter call is one HTTP call.
func (f *SFN) Client() *sfn.Client {
	return sfn.New(sfn.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(f.Server.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("test", "test", ""),
		RetryMaxAttempts: 1,
	})
}

// Fail makes every following call answer with HTTP status code (500: an
// InternalFailure); 0 restores normal behaviour. Calls still count.
func (f *SFN) Fail(code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failCode = code
}

// AnswerAlreadyExists makes every following call answer ExecutionAlreadyExists,
// as Step Functions does for a name whose execution closed.
func (f *SFN) AnswerAlreadyExists(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.alwaysDup = on
}

// Calls returns the StartExecution calls received so far, failed ones included.
func (f *SFN) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Call(nil), f.calls...)
}

// OtherOps lists operations other than StartExecution that were called.
func (f *SFN) OtherOps() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.otherOps...)
}

func (f *SFN) serve(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	if target != "AWSStepFunctions.StartExecution" {
		f.mu.Lock()
		f.otherOps = append(f.otherOps, target)
		f.mu.Unlock()
		writeErr(w, http.StatusBadRequest, "UnknownOperationException", "only StartExecution is served")
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeErr(w, http.StatusBadRequest, "SerializationException", "unreadable body")
		return
	}
	var c Call
	if err := json.Unmarshal(body, &c); err != nil {
		writeErr(w, http.StatusBadRequest, "SerializationException", "body is not JSON")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
	switch {
	case f.failCode != 0:
		writeErr(w, f.failCode, "InternalFailure", "injected failure")
		return
	case f.alwaysDup:
		writeErr(w, http.StatusBadRequest, "ExecutionAlreadyExists", "Execution Already Exists: '"+c.Name+"'")
		return
	}
	arn := fmt.Sprintf("arn:aws:states:us-east-1:123456789012:execution:dsrflow-requests:%s", c.Name)
	if input, ok := f.started[c.Name]; ok && input != c.Input {
		writeErr(w, http.StatusBadRequest, "ExecutionAlreadyExists", "Execution Already Exists: '"+arn+"'")
		return
	}
	f.started[c.Name] = c.Input
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"executionArn": arn,
		"startDate":    float64(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC).Unix()),
	})
}

func writeErr(w http.ResponseWriter, code int, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
}
