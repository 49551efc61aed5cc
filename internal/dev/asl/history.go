package asl

import (
	"sync/atomic"
	"time"
)

// HistoryEvent is one event of an execution, shaped and JSON-tagged like the
// HistoryEvent of Step Functions' GetExecutionHistory. Timestamp marshals as
// RFC 3339; the API layer converts it to epoch seconds on the wire.
type HistoryEvent struct {
	Timestamp       time.Time `json:"timestamp"`
	Type            string    `json:"type"`
	ID              int64     `json:"id"`
	PreviousEventID int64     `json:"previousEventId"`

	ExecutionStartedEventDetails          *ExecutionStartedEventDetails        `json:"executionStartedEventDetails,omitempty"`
	ExecutionSucceededEventDetails        *ExecutionSucceededEventDetails      `json:"executionSucceededEventDetails,omitempty"`
	ExecutionFailedEventDetails           *ErrorEventDetails                   `json:"executionFailedEventDetails,omitempty"`
	ExecutionAbortedEventDetails          *ErrorEventDetails                   `json:"executionAbortedEventDetails,omitempty"`
	ExecutionTimedOutEventDetails         *ErrorEventDetails                   `json:"executionTimedOutEventDetails,omitempty"`
	StateEnteredEventDetails              *StateEnteredEventDetails            `json:"stateEnteredEventDetails,omitempty"`
	StateExitedEventDetails               *StateExitedEventDetails             `json:"stateExitedEventDetails,omitempty"`
	TaskScheduledEventDetails             *TaskScheduledEventDetails           `json:"taskScheduledEventDetails,omitempty"`
	TaskStartedEventDetails               *TaskStartedEventDetails             `json:"taskStartedEventDetails,omitempty"`
	TaskSubmittedEventDetails             *TaskOutputEventDetails              `json:"taskSubmittedEventDetails,omitempty"`
	TaskSucceededEventDetails             *TaskOutputEventDetails              `json:"taskSucceededEventDetails,omitempty"`
	TaskFailedEventDetails                *TaskErrorEventDetails               `json:"taskFailedEventDetails,omitempty"`
	TaskTimedOutEventDetails              *TaskErrorEventDetails               `json:"taskTimedOutEventDetails,omitempty"`
	TaskStartFailedEventDetails           *TaskErrorEventDetails               `json:"taskStartFailedEventDetails,omitempty"`
	LambdaFunctionScheduledEventDetails   *LambdaFunctionScheduledEventDetails `json:"lambdaFunctionScheduledEventDetails,omitempty"`
	LambdaFunctionSucceededEventDetails   *LambdaFunctionSucceededEventDetails `json:"lambdaFunctionSucceededEventDetails,omitempty"`
	LambdaFunctionFailedEventDetails      *ErrorEventDetails                   `json:"lambdaFunctionFailedEventDetails,omitempty"`
	LambdaFunctionTimedOutEventDetails    *ErrorEventDetails                   `json:"lambdaFunctionTimedOutEventDetails,omitempty"`
	LambdaFunctionStartFailedEventDetails *ErrorEventDetails                   `json:"lambdaFunctionStartFailedEventDetails,omitempty"`
	MapStateStartedEventDetails           *MapStateStartedEventDetails         `json:"mapStateStartedEventDetails,omitempty"`
	MapIterationStartedEventDetails       *MapIterationEventDetails            `json:"mapIterationStartedEventDetails,omitempty"`
	MapIterationSucceededEventDetails     *MapIterationEventDetails            `json:"mapIterationSucceededEventDetails,omitempty"`
	MapIterationFailedEventDetails        *MapIterationEventDetails            `json:"mapIterationFailedEventDetails,omitempty"`
	MapIterationAbortedEventDetails       *MapIterationEventDetails            `json:"mapIterationAbortedEventDetails,omitempty"`
}

// ExecutionStartedEventDetails: input is the execution input as JSON text.
type ExecutionStartedEventDetails struct {
	Input        string                            `json:"input"`
	InputDetails *HistoryEventExecutionDataDetails `json:"inputDetails,omitempty"`
	RoleArn      string                            `json:"roleArn,omitempty"`
}

// HistoryEventExecutionDataDetails tells whether a payload was truncated.
type HistoryEventExecutionDataDetails struct {
	Truncated bool `json:"truncated"`
}

// ExecutionSucceededEventDetails holds the execution output.
type ExecutionSucceededEventDetails struct {
	Output        string                            `json:"output"`
	OutputDetails *HistoryEventExecutionDataDetails `json:"outputDetails,omitempty"`
}

// ErrorEventDetails is the {error, cause} detail shared by
// ExecutionFailed/Aborted/TimedOut and LambdaFunctionFailed/TimedOut.
type ErrorEventDetails struct {
	Error string `json:"error,omitempty"`
	Cause string `json:"cause,omitempty"`
}

// StateEnteredEventDetails names the state and its input.
type StateEnteredEventDetails struct {
	Name         string                            `json:"name"`
	Input        string                            `json:"input"`
	InputDetails *HistoryEventExecutionDataDetails `json:"inputDetails,omitempty"`
}

// StateExitedEventDetails names the state and its output.
type StateExitedEventDetails struct {
	Name          string                            `json:"name"`
	Output        string                            `json:"output"`
	OutputDetails *HistoryEventExecutionDataDetails `json:"outputDetails,omitempty"`
}

// TaskScheduledEventDetails describes a scheduled service-integration task.
type TaskScheduledEventDetails struct {
	ResourceType       string `json:"resourceType"`
	Resource           string `json:"resource"`
	Region             string `json:"region"`
	Parameters         string `json:"parameters"`
	TimeoutInSeconds   *int64 `json:"timeoutInSeconds,omitempty"`
	HeartbeatInSeconds *int64 `json:"heartbeatInSeconds,omitempty"`
}

// TaskStartedEventDetails names the started task's resource.
type TaskStartedEventDetails struct {
	ResourceType string `json:"resourceType"`
	Resource     string `json:"resource"`
}

// TaskOutputEventDetails is the detail of TaskSubmitted and TaskSucceeded.
type TaskOutputEventDetails struct {
	ResourceType  string                            `json:"resourceType"`
	Resource      string                            `json:"resource"`
	Output        string                            `json:"output"`
	OutputDetails *HistoryEventExecutionDataDetails `json:"outputDetails,omitempty"`
}

// TaskErrorEventDetails is the detail of TaskFailed, TaskTimedOut and
// TaskStartFailed.
type TaskErrorEventDetails struct {
	ResourceType string `json:"resourceType"`
	Resource     string `json:"resource"`
	Error        string `json:"error,omitempty"`
	Cause        string `json:"cause,omitempty"`
}

// LambdaFunctionScheduledEventDetails describes a Lambda function call made
// through a direct function ARN.
type LambdaFunctionScheduledEventDetails struct {
	Resource         string                            `json:"resource"`
	Input            string                            `json:"input"`
	InputDetails     *HistoryEventExecutionDataDetails `json:"inputDetails,omitempty"`
	TimeoutInSeconds *int64                            `json:"timeoutInSeconds,omitempty"`
}

// LambdaFunctionSucceededEventDetails holds a Lambda function's output.
type LambdaFunctionSucceededEventDetails struct {
	Output        string                            `json:"output"`
	OutputDetails *HistoryEventExecutionDataDetails `json:"outputDetails,omitempty"`
}

// MapStateStartedEventDetails gives the number of Map iterations.
type MapStateStartedEventDetails struct {
	Length int `json:"length"`
}

// MapIterationEventDetails names a Map state and an iteration index.
type MapIterationEventDetails struct {
	Name  string `json:"name"`
	Index int    `json:"index"`
}

// Event type names.
const (
	EvExecutionStarted   = "ExecutionStarted"
	EvExecutionSucceeded = "ExecutionSucceeded"
	EvExecutionFailed    = "ExecutionFailed"
	EvExecutionAborted   = "ExecutionAborted"
	EvExecutionTimedOut  = "ExecutionTimedOut"
)

// event is an event as the engine reports it; the log keeps it as a
// record. Payloads are kept as values and encoded only when History is read.
type event struct {
	typ       string
	desc      *evDesc // typ and name, shared; nil to have the log find or make one
	ts        time.Time
	id, prev  int64
	name      string
	payload   any
	hasPay    bool
	text      string // payload already encoded (or encoded lazily)
	encoded   bool
	errName   string
	cause     string
	resType   string
	resource  string
	region    string
	timeout   int64
	heartbeat int64
	index     int
}

// evDesc is an event's type and state name, shared by every record of a
// state's events rather than copied into each. A desc made for one state's
// Task events also holds their details that do not change from one call to
// the next (resource, region, timeouts); records of such events then need
// no recordMore of their own. A desc is never modified once made.
type evDesc struct {
	typ, name                 string
	resType, resource, region string
	timeout, heartbeat        int64
}

// stateDescs are the descs of a Task or Map state's own events, made when
// the definition is parsed.
type stateDescs struct {
	// Task: TaskStarted / LambdaFunctionStarted and TaskSucceeded /
	// LambdaFunctionSucceeded.
	taskStarted, taskSucceeded *evDesc
	// Task: the last TaskScheduled / LambdaFunctionScheduled desc used;
	// its region and timeouts depend on the engine and the input, so it is
	// replaced when they differ.
	taskScheduled atomic.Pointer[evDesc]
	// Map: MapStateStarted, MapIterationStarted, MapIterationSucceeded and
	// MapStateSucceeded.
	mapStarted, iterStarted, iterSucceeded, mapSucceeded *evDesc
}

// newStateDescs makes the descs of st's Task or Map events (nil for other
// states).
func newStateDescs(st *state) *stateDescs {
	switch st.kind {
	case kindTask:
		tgt := &st.target
		if tgt.direct {
			return &stateDescs{taskStarted: &evDesc{typ: "LambdaFunctionStarted"}, taskSucceeded: &evDesc{typ: "LambdaFunctionSucceeded"}}
		}
		return &stateDescs{
			taskStarted:   &evDesc{typ: "TaskStarted", resType: tgt.resourceType, resource: tgt.resource},
			taskSucceeded: &evDesc{typ: "TaskSucceeded", resType: tgt.resourceType, resource: tgt.resource},
		}
	case kindMap:
		return &stateDescs{
			mapStarted: &evDesc{typ: "MapStateStarted", name: st.name}, mapSucceeded: &evDesc{typ: "MapStateSucceeded", name: st.name},
			iterStarted: &evDesc{typ: "MapIterationStarted", name: st.name}, iterSucceeded: &evDesc{typ: "MapIterationSucceeded", name: st.name},
		}
	}
	return nil
}

// scheduledDesc returns the desc of a Task's TaskScheduled (or, for a
// Lambda function ARN, LambdaFunctionScheduled) event.
func (d *stateDescs) scheduledDesc(st *state, region string, timeout, heartbeat int64) *evDesc {
	want := evDesc{typ: "TaskScheduled", resType: st.target.resourceType, resource: st.target.resource, region: region, timeout: timeout, heartbeat: heartbeat}
	if st.target.direct {
		want = evDesc{typ: "LambdaFunctionScheduled", resource: st.resource, timeout: timeout}
	}
	if cur := d.taskScheduled.Load(); cur != nil && *cur == want {
		return cur
	}
	nd := new(evDesc)
	*nd = want
	d.taskScheduled.Store(nd)
	return nd
}

// record is how an event is stored: 48 bytes holding the fields every event
// has, and the rest (task and execution details, the encoded payload)
// behind a pointer that state, Map and Parallel events leave nil. The ID is
// the record's position in the log, and the timestamp is kept as Unix
// nanoseconds (the log keeps the location). Long histories then take little
// memory, and the garbage collector has few pointers to follow.
type record struct {
	desc    *evDesc
	ts      int64
	payload any
	more    *recordMore // the rare fields; nil when all are zero
	prev    int32
	index   int32
}

// recordMore holds an event's rare fields and its payload's JSON text once
// encoded.
type recordMore struct {
	text                                      string
	encoded                                   bool
	errName, cause, resType, resource, region string
	timeout, heartbeat                        int64
}

// set fills a zero record with ev (whose desc is set), field by field.
func (r *record) set(ev *event) {
	r.desc, r.ts, r.payload = ev.desc, ev.ts.UnixNano(), ev.payload
	r.prev, r.index = int32(ev.prev), int32(ev.index)
	if ev.encoded || ev.errName != "" || ev.cause != "" || ev.resType != "" || ev.resource != "" || ev.region != "" || ev.timeout != 0 || ev.heartbeat != 0 {
		r.more = &recordMore{text: ev.text, encoded: ev.encoded, errName: ev.errName, cause: ev.cause,
			resType: ev.resType, resource: ev.resource, region: ev.region, timeout: ev.timeout, heartbeat: ev.heartbeat}
	}
}

// public returns the event with the given ID in the API's shape, keeping
// the payload's JSON text for the next call.
func (r *record) public(id int64, loc *time.Location) HistoryEvent {
	d := r.desc
	ev := event{typ: d.typ, name: d.name, ts: time.Unix(0, r.ts).In(loc), id: id, prev: int64(r.prev), payload: r.payload, index: int(r.index),
		resType: d.resType, resource: d.resource, region: d.region, timeout: d.timeout, heartbeat: d.heartbeat}
	if m := r.more; m != nil {
		ev.text, ev.encoded, ev.errName, ev.cause = m.text, m.encoded, m.errName, m.cause
		if m.resType != "" || m.resource != "" || m.region != "" || m.timeout != 0 || m.heartbeat != 0 {
			ev.resType, ev.resource, ev.region, ev.timeout, ev.heartbeat = m.resType, m.resource, m.region, m.timeout, m.heartbeat
		}
	}
	h := ev.public()
	if ev.encoded && (r.more == nil || !r.more.encoded) {
		if r.more == nil {
			r.more = &recordMore{}
		}
		r.more.text, r.more.encoded = ev.text, true
	}
	return h
}

func (ev *event) payloadText() string {
	if !ev.encoded {
		ev.text = mustJSON(ev.payload)
		ev.encoded = true
	}
	return ev.text
}

func (ev *event) public() HistoryEvent {
	h := HistoryEvent{Timestamp: ev.ts, Type: ev.typ, ID: ev.id, PreviousEventID: ev.prev}
	errD := func() *ErrorEventDetails { return &ErrorEventDetails{Error: ev.errName, Cause: ev.cause} }
	taskErr := func() *TaskErrorEventDetails {
		return &TaskErrorEventDetails{ResourceType: ev.resType, Resource: ev.resource, Error: ev.errName, Cause: ev.cause}
	}
	opt := func(n int64) *int64 {
		if n <= 0 {
			return nil
		}
		return &n
	}
	switch ev.typ {
	case EvExecutionStarted:
		h.ExecutionStartedEventDetails = &ExecutionStartedEventDetails{Input: ev.payloadText(), InputDetails: &HistoryEventExecutionDataDetails{}, RoleArn: ev.resource}
	case EvExecutionSucceeded:
		h.ExecutionSucceededEventDetails = &ExecutionSucceededEventDetails{Output: ev.payloadText(), OutputDetails: &HistoryEventExecutionDataDetails{}}
	case EvExecutionFailed:
		h.ExecutionFailedEventDetails = errD()
	case EvExecutionAborted:
		h.ExecutionAbortedEventDetails = errD()
	case EvExecutionTimedOut:
		h.ExecutionTimedOutEventDetails = errD()
	case "TaskScheduled":
		h.TaskScheduledEventDetails = &TaskScheduledEventDetails{ResourceType: ev.resType, Resource: ev.resource, Region: ev.region,
			Parameters: ev.payloadText(), TimeoutInSeconds: opt(ev.timeout), HeartbeatInSeconds: opt(ev.heartbeat)}
	case "TaskStarted":
		h.TaskStartedEventDetails = &TaskStartedEventDetails{ResourceType: ev.resType, Resource: ev.resource}
	case "TaskSubmitted":
		h.TaskSubmittedEventDetails = &TaskOutputEventDetails{ResourceType: ev.resType, Resource: ev.resource, Output: ev.payloadText(), OutputDetails: &HistoryEventExecutionDataDetails{}}
	case "TaskSucceeded":
		h.TaskSucceededEventDetails = &TaskOutputEventDetails{ResourceType: ev.resType, Resource: ev.resource, Output: ev.payloadText(), OutputDetails: &HistoryEventExecutionDataDetails{}}
	case "TaskFailed":
		h.TaskFailedEventDetails = taskErr()
	case "TaskTimedOut":
		h.TaskTimedOutEventDetails = taskErr()
	case "TaskStartFailed":
		h.TaskStartFailedEventDetails = taskErr()
	case "LambdaFunctionScheduled":
		h.LambdaFunctionScheduledEventDetails = &LambdaFunctionScheduledEventDetails{Resource: ev.resource, Input: ev.payloadText(),
			InputDetails: &HistoryEventExecutionDataDetails{}, TimeoutInSeconds: opt(ev.timeout)}
	case "LambdaFunctionSucceeded":
		h.LambdaFunctionSucceededEventDetails = &LambdaFunctionSucceededEventDetails{Output: ev.payloadText(), OutputDetails: &HistoryEventExecutionDataDetails{}}
	case "LambdaFunctionFailed":
		h.LambdaFunctionFailedEventDetails = errD()
	case "LambdaFunctionTimedOut":
		h.LambdaFunctionTimedOutEventDetails = errD()
	case "LambdaFunctionStartFailed":
		h.LambdaFunctionStartFailedEventDetails = errD()
	case "MapStateStarted":
		h.MapStateStartedEventDetails = &MapStateStartedEventDetails{Length: ev.index}
	case "MapIterationStarted":
		h.MapIterationStartedEventDetails = &MapIterationEventDetails{Name: ev.name, Index: ev.index}
	case "MapIterationSucceeded":
		h.MapIterationSucceededEventDetails = &MapIterationEventDetails{Name: ev.name, Index: ev.index}
	case "MapIterationFailed":
		h.MapIterationFailedEventDetails = &MapIterationEventDetails{Name: ev.name, Index: ev.index}
	case "MapIterationAborted":
		h.MapIterationAbortedEventDetails = &MapIterationEventDetails{Name: ev.name, Index: ev.index}
	default:
		n := len(ev.typ)
		switch {
		case n > 12 && ev.typ[n-12:] == "StateEntered":
			h.StateEnteredEventDetails = &StateEnteredEventDetails{Name: ev.name, Input: ev.payloadText(), InputDetails: &HistoryEventExecutionDataDetails{}}
		case n > 11 && ev.typ[n-11:] == "StateExited":
			h.StateExitedEventDetails = &StateExitedEventDetails{Name: ev.name, Output: ev.payloadText(), OutputDetails: &HistoryEventExecutionDataDetails{}}
		}
	}
	return h
}
