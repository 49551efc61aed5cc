// Package sfnapi serves the AWS Step Functions API (AWS JSON 1.0 protocol) in
// front of the local engine, so the AWS SDKs and the AWS CLI work against it
// with an endpoint URL.
package sfnapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configure a Server. Zero values take the defaults noted.
type Options struct {
	Partition string           // "aws"; "aws-cn" when Region is a China region (cn-*)
	Region    string           // "us-east-1"
	Account   string           // "123456789012"
	Now       func() time.Time // time.Now; stamps creation dates
	Logger    *slog.Logger     // slog.Default()
}

// Server is the Step Functions API. Create it with New; it is an http.Handler.
type Server struct {
	engine Engine
	opts   Options
	log    *slog.Logger

	mu         sync.Mutex
	machines   map[string]*stateMachine // by ARN
	order      []*stateMachine          // creation order
	executions map[string]*execution    // by ARN
}

type stateMachine struct {
	arn, name, definition, roleArn, typ string
	created                             time.Time
	compiled                            Machine
	executions                          []*execution // start order
}

type execution struct {
	arn, name, input string
	machine          *stateMachine
	run              Execution
	started          time.Time
}

// New returns a Server in front of engine.
func New(engine Engine, opts Options) *Server {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.Partition == "" {
		opts.Partition = "aws"
		if strings.HasPrefix(opts.Region, "cn-") {
			opts.Partition = "aws-cn"
		}
	}
	if opts.Account == "" {
		opts.Account = "123456789012"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Server{
		engine:     engine,
		opts:       opts,
		log:        opts.Logger,
		machines:   make(map[string]*stateMachine),
		executions: make(map[string]*execution),
	}
}

// maxRequestBytes bounds a request body: definitions are at most 1 MiB and
// inputs 256 KiB in AWS.
const maxRequestBytes = 2 << 20

// ServeHTTP answers one AWS JSON 1.0 request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeError(w, &apiError{Type: "UnknownOperationException", Message: "only POST is supported", Status: http.StatusMethodNotAllowed})
		return
	}
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "AWSStepFunctions.")
	if !ok {
		writeError(w, &apiError{Type: "UnknownOperationException", Message: fmt.Sprintf("unknown X-Amz-Target %q", target)})
		return
	}
	h, ok := s.operations()[op]
	if !ok {
		writeError(w, &apiError{Type: "UnknownOperationException", Message: fmt.Sprintf("operation %s is not supported by the local Step Functions API", op)})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes+1))
	if err != nil {
		writeError(w, &apiError{Type: "SerializationException", Message: "read request body: " + err.Error()})
		return
	}
	if len(body) > maxRequestBytes {
		writeError(w, &apiError{Type: "ValidationException", Message: "request body is larger than 2 MiB"})
		return
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	out, err := h(r.Context(), body)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			s.log.Error("step functions api", "operation", op, "err", err)
			ae = &apiError{Type: "InternalFailure", Message: "internal error", Status: http.StatusInternalServerError}
		}
		writeError(w, ae)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	if err := json.NewEncoder(w).Encode(out); err != nil {
		s.log.Error("step functions api: write response", "operation", op, "err", err)
	}
}

type operation func(ctx context.Context, body []byte) (any, error)

func (s *Server) operations() map[string]operation {
	return map[string]operation{
		"CreateStateMachine":             bind(s.createStateMachine),
		"DescribeStateMachine":           bind(s.describeStateMachine),
		"ListStateMachines":              bind(s.listStateMachines),
		"StartExecution":                 bind(s.startExecution),
		"DescribeExecution":              bind(s.describeExecution),
		"ListExecutions":                 bind(s.listExecutions),
		"GetExecutionHistory":            bind(s.getExecutionHistory),
		"StopExecution":                  bind(s.stopExecution),
		"SendTaskSuccess":                bind(s.sendTaskSuccess),
		"SendTaskFailure":                bind(s.sendTaskFailure),
		"SendTaskHeartbeat":              bind(s.sendTaskHeartbeat),
		"ValidateStateMachineDefinition": bind(s.validateStateMachineDefinition),
	}
}

// bind decodes the request into In and calls f.
func bind[In any](f func(ctx context.Context, in *In) (any, error)) operation {
	return func(ctx context.Context, body []byte) (any, error) {
		in := new(In)
		if err := json.Unmarshal(body, in); err != nil {
			return nil, &apiError{Type: "SerializationException", Message: "request body: " + err.Error()}
		}
		return f(ctx, in)
	}
}

// apiError is an AWS API error: its __type names the SDK's error type.
type apiError struct {
	Type    string
	Message string
	Status  int // 400 unless set
}

func (e *apiError) Error() string { return e.Type + ": " + e.Message }

func errorf(typ, format string, a ...any) error {
	return &apiError{Type: typ, Message: fmt.Sprintf(format, a...)}
}

func writeError(w http.ResponseWriter, e *apiError) {
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-ErrorType", e.Type)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{
		"__type":  "com.amazonaws.states#" + e.Type,
		"message": e.Message,
	})
}

// epoch is a timestamp in AWS JSON's form: seconds since the epoch, a JSON
// number with a fraction.
type epoch time.Time

func (t epoch) MarshalJSON() ([]byte, error) {
	tt := time.Time(t)
	return []byte(strconv.FormatFloat(float64(tt.UnixMilli())/1000, 'f', 3, 64)), nil
}

func epochPtr(t time.Time) *epoch {
	if t.IsZero() {
		return nil
	}
	e := epoch(t)
	return &e
}
