package asl

import (
	"fmt"
)

// Error names defined by the Amazon States Language and Step Functions.
const (
	ErrALL                    = "States.ALL"
	ErrTaskFailed             = "States.TaskFailed"
	ErrTimeout                = "States.Timeout"
	ErrHeartbeatTimeout       = "States.HeartbeatTimeout"
	ErrRuntime                = "States.Runtime"
	ErrNoChoiceMatched        = "States.NoChoiceMatched"
	ErrResultPathMatchFailure = "States.ResultPathMatchFailure"
	ErrParameterPathFailure   = "States.ParameterPathFailure"
	ErrIntrinsicFailure       = "States.IntrinsicFailure"
	ErrDataLimitExceeded      = "States.DataLimitExceeded"
	ErrBranchFailed           = "States.BranchFailed"
	ErrPermissions            = "States.Permissions"
)

// TaskFailure is an error a Task handler returns to fail its task with
// exactly this error name and cause, as SendTaskFailure does and as Step
// Functions Local's mocked responses (Throw) do. The engine finds it with
// errors.As and reports Name and Cause verbatim, where any other handler
// error is reported as AWS reports a Lambda function error: its type as the
// name and the Lambda error JSON ({"errorMessage", "errorType"}) as the cause.
// A Lambda function deployed to AWS cannot do this; it is for scripted and
// simulated tasks.
type TaskFailure struct {
	Name  string
	Cause string
}

func (f *TaskFailure) Error() string {
	if f.Cause == "" {
		return f.Name
	}
	return f.Name + ": " + f.Cause
}

// stateError is an error raised while running a state, named as in ASL.
type stateError struct {
	Name  string
	Cause string
}

func (e *stateError) Error() string { return e.Name + ": " + e.Cause }

func newStateError(name, format string, args ...any) *stateError {
	return &stateError{Name: name, Cause: fmt.Sprintf(format, args...)}
}

// terminal errors cannot be retried or caught.
func (e *stateError) terminal() bool {
	return e.Name == ErrRuntime || e.Name == ErrDataLimitExceeded
}

// matches reports whether a Retry/Catch ErrorEquals list matches this error.
func (e *stateError) matches(names []string) bool {
	if e.terminal() {
		return false
	}
	for _, n := range names {
		switch {
		case n == e.Name:
			return true
		case n == ErrALL:
			return true
		case n == ErrTaskFailed && e.Name != ErrTimeout:
			// States.TaskFailed matches every error except States.Timeout.
			return true
		}
	}
	return false
}

// APIError is an error of the Step Functions API (its Code is the AWS error
// name, e.g. TaskDoesNotExist). Compare with errors.Is against the Err*
// sentinels below; errors.As gives the Code and Message.
type APIError struct {
	Code    string
	Message string
}

func (e *APIError) Error() string {
	if e.Message == "" {
		return e.Code
	}
	return e.Code + ": " + e.Message
}

// Is matches any APIError with the same Code.
func (e *APIError) Is(target error) bool {
	t, ok := target.(*APIError)
	return ok && t.Code == e.Code
}

// Sentinels for errors.Is.
var (
	ErrTaskDoesNotExist      = &APIError{Code: "TaskDoesNotExist"}
	ErrTaskTimedOut          = &APIError{Code: "TaskTimedOut"}
	ErrInvalidToken          = &APIError{Code: "InvalidToken"}
	ErrInvalidOutput         = &APIError{Code: "InvalidOutput"}
	ErrInvalidExecutionInput = &APIError{Code: "InvalidExecutionInput"}
)

func apiError(code, format string, args ...any) *APIError {
	return &APIError{Code: code, Message: fmt.Sprintf(format, args...)}
}
