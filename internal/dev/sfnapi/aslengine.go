package sfnapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"dsrflow/internal/dev/asl"
)

// ASL adapts the local engine (internal/dev/asl) to the API:
// sfnapi.New(sfnapi.ASL(engine), opts).
func ASL(e *asl.Engine) Engine { return aslEngine{e: e} }

type aslEngine struct{ e *asl.Engine }

func (a aslEngine) Validate(definition []byte) []Problem {
	ps := asl.Validate(definition)
	out := make([]Problem, 0, len(ps))
	for _, p := range ps {
		out = append(out, Problem{Location: p.Location, Code: p.Code, Message: p.Message})
	}
	return out
}

func (a aslEngine) Parse(definition []byte) (Machine, error) {
	return asl.Parse(definition)
}

func (a aslEngine) Start(ctx context.Context, m Machine, in StartInput) (Execution, error) {
	sm, ok := m.(*asl.StateMachine)
	if !ok {
		return nil, fmt.Errorf("start: %T is not a state machine of the local engine", m)
	}
	x, err := a.e.Start(ctx, sm, asl.StartInput{
		StateMachineArn: in.StateMachineArn, StateMachineName: in.StateMachineName,
		ExecutionArn: in.ExecutionArn, Name: in.Name, Input: in.Input, RoleArn: in.RoleArn,
	})
	if err != nil {
		return nil, err
	}
	return aslExecution{x: x}, nil
}

func (a aslEngine) SendTaskSuccess(taskToken string, output json.RawMessage) error {
	return aslTaskError(a.e.SendTaskSuccess(taskToken, output))
}

func (a aslEngine) SendTaskFailure(taskToken, errName, cause string) error {
	return aslTaskError(a.e.SendTaskFailure(taskToken, errName, cause))
}

func (a aslEngine) SendTaskHeartbeat(taskToken string) error {
	return aslTaskError(a.e.SendTaskHeartbeat(taskToken))
}

// aslTaskError maps the engine's API errors to this package's.
func aslTaskError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, asl.ErrTaskDoesNotExist):
		return fmt.Errorf("%w: %v", ErrTaskDoesNotExist, err)
	case errors.Is(err, asl.ErrTaskTimedOut):
		return fmt.Errorf("%w: %v", ErrTaskTimedOut, err)
	case errors.Is(err, asl.ErrInvalidOutput):
		return fmt.Errorf("%w: %v", ErrInvalidOutput, err)
	case errors.Is(err, asl.ErrInvalidToken):
		return fmt.Errorf("%w: %v", ErrInvalidToken, err)
	default:
		return err
	}
}

type aslExecution struct{ x *asl.Execution }

func (e aslExecution) Describe() Result {
	r := e.x.Describe()
	return Result{Status: r.Status, Output: r.Output, Error: r.Error, Cause: r.Cause, StartDate: r.StartDate, StopDate: r.StopDate}
}

func (e aslExecution) Stop(errName, cause string) { e.x.Stop(errName, cause) }

// History converts the engine's events: the header fields stay typed, each
// details struct becomes its JSON object under its AWS name.
func (e aslExecution) History() []Event {
	hs := e.x.History()
	out := make([]Event, 0, len(hs))
	for _, h := range hs {
		ev := Event{Timestamp: h.Timestamp, Type: h.Type, ID: h.ID, PreviousEventID: h.PreviousEventID}
		b, err := json.Marshal(h)
		if err == nil {
			var fields map[string]json.RawMessage
			if json.Unmarshal(b, &fields) == nil {
				for _, k := range []string{"timestamp", "type", "id", "previousEventId"} {
					delete(fields, k)
				}
				ev.Details = fields
			}
		}
		out = append(out, ev)
	}
	return out
}
