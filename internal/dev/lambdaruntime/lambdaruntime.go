// Package lambdaruntime runs a built Lambda function (a custom-runtime
// bootstrap, such as the aws-lambda-go functions of this repository) outside
// Lambda: it serves the Lambda Runtime API (2018-06-01) on loopback, starts
// the bootstrap as a child process with AWS_LAMBDA_RUNTIME_API pointing at it,
// and hands it one event at a time. It is what `dsr invoke` and the cold-start
// benchmark use; there is no Docker and no emulator image.
//
// Implemented: GET /runtime/invocation/next (with the request ID, deadline,
// function ARN and trace headers), POST /runtime/invocation/{id}/response,
// POST /runtime/invocation/{id}/error and POST /runtime/init/error.
package lambdaruntime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const apiPrefix = "/2018-06-01/runtime/"

// FunctionError is the error a function reported, as the Runtime API
// receives it (aws-lambda-go sends the Go type name as errorType).
type FunctionError struct {
	Type       string          `json:"errorType"`
	Message    string          `json:"errorMessage"`
	StackTrace json.RawMessage `json:"stackTrace,omitempty"`
}

func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

// Result is the outcome of one invocation: the response payload, or the
// function's error.
type Result struct {
	Payload []byte
	Err     *FunctionError
}

type invocation struct {
	id       string
	payload  []byte
	deadline time.Time
	done     chan Result
}

// server is the Runtime API of one function instance.
type server struct {
	arn     string
	queue   chan *invocation
	mu      sync.Mutex
	pending map[string]*invocation
	ready   chan struct{} // closed on the first /next
	readyAt atomic.Int64  // unix nanos of the first /next
	initErr chan *FunctionError
	seq     atomic.Int64
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, apiPrefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	switch {
	case r.Method == http.MethodGet && path == "invocation/next":
		s.next(w, r)
	case r.Method == http.MethodPost && path == "init/error":
		fe := readError(r)
		select {
		case s.initErr <- fe:
		default:
		}
		w.WriteHeader(http.StatusAccepted)
	case r.Method == http.MethodPost && strings.HasPrefix(path, "invocation/"):
		rest := strings.TrimPrefix(path, "invocation/")
		id, kind, _ := strings.Cut(rest, "/")
		s.mu.Lock()
		inv := s.pending[id]
		delete(s.pending, id)
		s.mu.Unlock()
		if inv == nil {
			http.Error(w, `{"errorMessage":"unknown request ID","errorType":"InvalidRequestID"}`, http.StatusBadRequest)
			return
		}
		var res Result
		switch kind {
		case "response":
			b, err := io.ReadAll(r.Body)
			if err != nil {
				res.Err = &FunctionError{Type: "Runtime.ReadResponse", Message: err.Error()}
			}
			res.Payload = b
		case "error":
			res.Err = readError(r)
		default:
			http.NotFound(w, r)
			return
		}
		inv.done <- res
		w.WriteHeader(http.StatusAccepted)
	default:
		http.NotFound(w, r)
	}
}

func readError(r *http.Request) *FunctionError {
	b, _ := io.ReadAll(r.Body)
	fe := &FunctionError{}
	if err := json.Unmarshal(b, fe); err != nil || fe.Type == "" {
		fe.Type = r.Header.Get("Lambda-Runtime-Function-Error-Type")
		if fe.Message == "" {
			fe.Message = string(b)
		}
	}
	return fe
}

func (s *server) next(w http.ResponseWriter, r *http.Request) {
	if s.readyAt.CompareAndSwap(0, time.Now().UnixNano()) {
		close(s.ready)
	}
	var inv *invocation
	select {
	case inv = <-s.queue:
	case <-r.Context().Done():
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
	h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
	h.Set("Lambda-Runtime-Invoked-Function-Arn", s.arn)
	h.Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(inv.payload)
}

// Function describes a bootstrap to run.
type Function struct {
	// Path is the executable.
	Path string
	// Name is the function name reported to the function
	// (AWS_LAMBDA_FUNCTION_NAME); default the executable's folder name.
	Name string
	// Env is added to a minimal environment (PATH, HOME, TMPDIR, the Lambda
	// variables); it is not the parent's environment.
	Env map[string]string
	// Dir is the working directory (Lambda's is the folder of the bootstrap,
	// LAMBDA_TASK_ROOT); default the executable's folder.
	Dir string
	// Stdout and Stderr receive the function's output (its logs).
	Stdout, Stderr io.Writer
	// Timeout is the invocation deadline given to the function; default 30s.
	Timeout time.Duration
}

// Instance is one running function process and its Runtime API.
type Instance struct {
	srv     *server
	httpSrv *http.Server
	cmd     *exec.Cmd
	started time.Time
	exited  chan struct{}
	waitErr error
	timeout time.Duration
}

// Start serves a Runtime API on loopback and starts the function against
// it. The clock for InitDuration starts just before the process does.
func Start(fn Function) (*Instance, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("runtime API: %w", err)
	}
	name := fn.Name
	if name == "" {
		name = baseDir(fn.Path)
	}
	srv := &server{
		arn:     "arn:aws:lambda:us-east-1:123456789012:function:" + name,
		queue:   make(chan *invocation),
		pending: map[string]*invocation{},
		ready:   make(chan struct{}),
		initErr: make(chan *FunctionError, 1),
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()

	dir := fn.Dir
	if dir == "" {
		dir = dirOf(fn.Path)
	}
	timeout := fn.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	cmd := exec.Command(fn.Path)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = fn.Stdout, fn.Stderr
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"TMPDIR=" + os.TempDir(),
		"TZ=UTC",
		// Never ask an instance metadata service for credentials or region.
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_LAMBDA_RUNTIME_API=" + ln.Addr().String(),
		"AWS_LAMBDA_FUNCTION_NAME=" + name,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + name,
		"AWS_LAMBDA_LOG_STREAM_NAME=local",
		"LAMBDA_TASK_ROOT=" + dir,
		"_HANDLER=bootstrap",
	}
	for k, v := range fn.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	in := &Instance{srv: srv, httpSrv: hs, cmd: cmd, exited: make(chan struct{}), timeout: timeout}
	in.started = time.Now()
	if err := cmd.Start(); err != nil {
		_ = hs.Close()
		return nil, fmt.Errorf("start %s: %w", fn.Path, err)
	}
	go func() {
		in.waitErr = cmd.Wait()
		close(in.exited)
	}()
	return in, nil
}

func dirOf(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return "."
}

func baseDir(p string) string {
	d := dirOf(p)
	if i := strings.LastIndexByte(d, '/'); i >= 0 {
		return d[i+1:]
	}
	return d
}

// ErrExited is returned (wrapped) when the function process ends while it
// is waited for.
var ErrExited = errors.New("function process exited")

// InitDuration waits until the function asks for its first event and
// returns the time from process start to that request (Lambda's init phase).
func (in *Instance) InitDuration(ctx context.Context) (time.Duration, error) {
	select {
	case <-in.srv.ready:
		return time.Duration(in.srv.readyAt.Load() - in.started.UnixNano()), nil
	case fe := <-in.srv.initErr:
		return 0, fmt.Errorf("init error: %w", fe)
	case <-in.exited:
		return 0, in.exitError()
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (in *Instance) exitError() error {
	if in.waitErr != nil {
		return fmt.Errorf("%w: %v", ErrExited, in.waitErr)
	}
	return ErrExited
}

// Invoke sends one event and waits for the function's response or error.
// The error return is for failures of the run itself (the process exited,
// ctx ended); a function error is Result.Err.
func (in *Instance) Invoke(ctx context.Context, payload []byte) (Result, error) {
	inv := &invocation{
		id:       fmt.Sprintf("00000000-0000-4000-8000-%012d", in.srv.seq.Add(1)),
		payload:  bytes.Clone(payload),
		deadline: time.Now().Add(in.timeout),
		done:     make(chan Result, 1),
	}
	in.srv.mu.Lock()
	in.srv.pending[inv.id] = inv
	in.srv.mu.Unlock()
	defer func() {
		in.srv.mu.Lock()
		delete(in.srv.pending, inv.id)
		in.srv.mu.Unlock()
	}()
	select {
	case in.srv.queue <- inv:
	case fe := <-in.srv.initErr:
		return Result{}, fmt.Errorf("init error: %w", fe)
	case <-in.exited:
		return Result{}, in.exitError()
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	select {
	case res := <-inv.done:
		return res, nil
	case <-in.exited:
		return Result{}, in.exitError()
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
}

// Stop ends the process and the Runtime API.
func (in *Instance) Stop() {
	select {
	case <-in.exited:
	default:
		_ = in.cmd.Process.Kill()
		<-in.exited
	}
	_ = in.httpSrv.Close()
}
