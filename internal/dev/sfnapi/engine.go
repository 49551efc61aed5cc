package sfnapi

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Engine is what the API needs from a Step Functions engine.
type Engine interface {
	// Validate checks a definition and lists its problems (none when valid).
	Validate(definition []byte) []Problem
	// Parse compiles a definition for Start; it fails when Validate would
	// report problems.
	Parse(definition []byte) (Machine, error)
	// Start begins an execution and returns at once.
	Start(ctx context.Context, m Machine, in StartInput) (Execution, error)
	SendTaskSuccess(taskToken string, output json.RawMessage) error
	SendTaskFailure(taskToken, errName, cause string) error
	SendTaskHeartbeat(taskToken string) error
}

// Machine is a compiled definition, opaque to the API.
type Machine any

// Problem is one validation finding. Location is a JSON Pointer into the
// definition ("/States/Route/Choices/0").
type Problem struct {
	Location string
	Code     string
	Message  string
}

// StartInput names an execution and carries its input.
type StartInput struct {
	StateMachineArn, StateMachineName, ExecutionArn, Name string
	Input                                                 json.RawMessage
	RoleArn                                               string
}

// Execution is a started execution.
type Execution interface {
	Describe() Result
	History() []Event
	Stop(errName, cause string)
}

// Result is an execution's status; Output, Error and Cause are set once it
// has closed.
type Result struct {
	Status              string // RUNNING SUCCEEDED FAILED TIMED_OUT ABORTED
	Output              json.RawMessage
	Error, Cause        string
	StartDate, StopDate time.Time
}

// Event is one history event: its header and its details objects keyed as in
// AWS's HistoryEvent ("stateEnteredEventDetails": {...}).
type Event struct {
	Timestamp       time.Time
	Type            string
	ID              int64
	PreviousEventID int64
	Details         map[string]json.RawMessage
}

// Errors an Engine returns from the SendTask* calls, mapped to AWS's API errors.
var (
	ErrTaskDoesNotExist = errors.New("task does not exist")              // TaskDoesNotExist
	ErrTaskTimedOut     = errors.New("task timed out or is not running") // TaskTimedOut
	ErrInvalidOutput    = errors.New("invalid task output")              // InvalidOutput
	ErrInvalidToken     = errors.New("invalid task token")               // InvalidToken
)
