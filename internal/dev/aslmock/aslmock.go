// Package aslmock provides scripted Task outcomes for the local Step Functions
// engine: per Task state name, a list of per-attempt results (return a value or
// throw a named error). It reads two formats: dsrflow's own `--tasks` map and
// Step Functions Local's MockConfigFile, so teams can reuse the mocks they have.
package aslmock

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"dsrflow/internal/dev/asl"
)

// Throw is a scripted failure: the Task fails with Error as its error name and
// Cause as its cause.
type Throw struct {
	Error string `json:"error"`
	Cause string `json:"cause"`
}

// Outcome is one attempt's scripted result: exactly one of Return or Throw.
type Outcome struct {
	Return json.RawMessage `json:"return,omitempty"`
	Throw  *Throw          `json:"throw,omitempty"`
}

// Script maps a Task state name to its per-attempt outcomes. Invocations are
// counted from 0 per state name across one execution (Map iterations and
// retries included). With RepeatLast, invocation i uses entry min(i, len-1)
// (the `--tasks` rule); without it, an invocation past the list fails the
// execution, as Step Functions Local does when a mock config names no
// response for an invocation.
type Script struct {
	Outcomes   map[string][]Outcome
	RepeatLast bool
}

// ParseTasks reads a `--tasks` file: a JSON object from Task state name to a
// non-empty list of outcomes, each {"return": JSON} or {"throw": {"error", "cause"}}.
func ParseTasks(data []byte) (Script, error) {
	var raw map[string][]json.RawMessage
	if err := strictUnmarshal(data, &raw); err != nil {
		return Script{}, fmt.Errorf("tasks: want an object of state name to a list of outcomes: %w", err)
	}
	if raw == nil {
		return Script{}, errors.New("tasks: want an object of state name to a list of outcomes, got null")
	}
	s := Script{Outcomes: make(map[string][]Outcome, len(raw)), RepeatLast: true}
	for state, list := range raw {
		if len(list) == 0 {
			return Script{}, fmt.Errorf("tasks: state %q: the list of outcomes is empty", state)
		}
		outs := make([]Outcome, 0, len(list))
		for i, item := range list {
			o, err := parseOutcome(item)
			if err != nil {
				return Script{}, fmt.Errorf("tasks: state %q: outcome %d: %w", state, i, err)
			}
			outs = append(outs, o)
		}
		s.Outcomes[state] = outs
	}
	return s, nil
}

func parseOutcome(item json.RawMessage) (Outcome, error) {
	var fields map[string]json.RawMessage
	if err := strictUnmarshal(item, &fields); err != nil || fields == nil {
		return Outcome{}, errors.New(`want {"return": JSON} or {"throw": {"error": "Name", "cause": "text"}}`)
	}
	for k := range fields {
		if k != "return" && k != "throw" {
			return Outcome{}, fmt.Errorf(`unknown field %q (want "return" or "throw")`, k)
		}
	}
	ret, hasRet := fields["return"]
	thr, hasThr := fields["throw"]
	switch {
	case hasRet && hasThr:
		return Outcome{}, errors.New(`has both "return" and "throw"`)
	case hasRet:
		return Outcome{Return: compact(ret)}, nil
	case hasThr:
		var t Throw
		if err := strictUnmarshal(thr, &t); err != nil {
			return Outcome{}, fmt.Errorf(`"throw": want {"error": "Name", "cause": "text"}: %w`, err)
		}
		if t.Error == "" {
			return Outcome{}, errors.New(`"throw": "error" must be a non-empty error name`)
		}
		return Outcome{Throw: &t}, nil
	default:
		return Outcome{}, errors.New(`want {"return": JSON} or {"throw": {"error": "Name", "cause": "text"}}`)
	}
}

// MockConfig is Step Functions Local's MockConfigFile.
type MockConfig struct {
	StateMachines   map[string]mockStateMachine              `json:"StateMachines"`
	MockedResponses map[string]map[string]mockedResponseItem `json:"MockedResponses"`
}

type mockStateMachine struct {
	TestCases map[string]map[string]string `json:"TestCases"`
}

type mockedResponseItem struct {
	Return json.RawMessage `json:"Return,omitempty"`
	Throw  *struct {
		Error string `json:"Error"`
		Cause string `json:"Cause"`
	} `json:"Throw,omitempty"`
}

// ParseMockConfig reads a Step Functions Local MockConfigFile and checks that
// every test case names mocked responses that exist and that every mocked
// response's invocation keys ("0", "1-2", ...) cover 0..n without gaps or overlaps.
func ParseMockConfig(data []byte) (*MockConfig, error) {
	var c MockConfig
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("mock config: %w", err)
	}
	if len(c.StateMachines) == 0 {
		return nil, errors.New(`mock config: "StateMachines" is missing or empty`)
	}
	for name := range c.MockedResponses {
		if _, err := c.outcomes(name); err != nil {
			return nil, err
		}
	}
	for sm, def := range c.StateMachines {
		for tc, states := range def.TestCases {
			for state, resp := range states {
				if _, ok := c.MockedResponses[resp]; !ok {
					return nil, fmt.Errorf("mock config: state machine %q test case %q state %q: mocked response %q is not defined", sm, tc, state, resp)
				}
			}
		}
	}
	return &c, nil
}

// StateMachineNames lists the state machines the config has test cases for, sorted.
func (c *MockConfig) StateMachineNames() []string {
	names := make([]string, 0, len(c.StateMachines))
	for n := range c.StateMachines {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Script returns the outcomes of one test case. stateMachine may be empty when
// the config has exactly one state machine.
func (c *MockConfig) Script(stateMachine, testCase string) (Script, error) {
	if stateMachine == "" {
		names := c.StateMachineNames()
		if len(names) != 1 {
			return Script{}, fmt.Errorf("mock config has %d state machines (%s): name one", len(names), strings.Join(names, ", "))
		}
		stateMachine = names[0]
	}
	sm, ok := c.StateMachines[stateMachine]
	if !ok {
		return Script{}, fmt.Errorf("mock config has no state machine %q (have %s)", stateMachine, strings.Join(c.StateMachineNames(), ", "))
	}
	tc, ok := sm.TestCases[testCase]
	if !ok {
		cases := make([]string, 0, len(sm.TestCases))
		for n := range sm.TestCases {
			cases = append(cases, n)
		}
		sort.Strings(cases)
		return Script{}, fmt.Errorf("mock config: state machine %q has no test case %q (have %s)", stateMachine, testCase, strings.Join(cases, ", "))
	}
	s := Script{Outcomes: make(map[string][]Outcome, len(tc))}
	for state, resp := range tc {
		outs, err := c.outcomes(resp)
		if err != nil {
			return Script{}, err
		}
		s.Outcomes[state] = outs
	}
	return s, nil
}

// outcomes expands a mocked response's invocation keys into a list.
func (c *MockConfig) outcomes(name string) ([]Outcome, error) {
	items := c.MockedResponses[name]
	if len(items) == 0 {
		return nil, fmt.Errorf("mock config: mocked response %q has no invocations", name)
	}
	type span struct {
		from, to int
		o        Outcome
	}
	spans := make([]span, 0, len(items))
	for key, item := range items {
		from, to, err := parseRange(key)
		if err != nil {
			return nil, fmt.Errorf("mock config: mocked response %q: %w", name, err)
		}
		var o Outcome
		switch {
		case item.Return != nil && item.Throw != nil:
			return nil, fmt.Errorf("mock config: mocked response %q invocation %q has both Return and Throw", name, key)
		case item.Return != nil:
			o.Return = compact(item.Return)
		case item.Throw != nil:
			if item.Throw.Error == "" {
				return nil, fmt.Errorf("mock config: mocked response %q invocation %q: Throw needs an Error", name, key)
			}
			o.Throw = &Throw{Error: item.Throw.Error, Cause: item.Throw.Cause}
		default:
			return nil, fmt.Errorf("mock config: mocked response %q invocation %q needs Return or Throw", name, key)
		}
		spans = append(spans, span{from, to, o})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].from < spans[j].from })
	var outs []Outcome
	for _, sp := range spans {
		if sp.from != len(outs) {
			return nil, fmt.Errorf("mock config: mocked response %q: invocations must cover 0, 1, 2, ... without gaps or overlaps (invocation %d is next, found a key starting at %d)", name, len(outs), sp.from)
		}
		for i := sp.from; i <= sp.to; i++ {
			outs = append(outs, sp.o)
		}
	}
	return outs, nil
}

// parseRange reads "3" or "1-2".
func parseRange(key string) (from, to int, err error) {
	a, b, isRange := strings.Cut(key, "-")
	from, err = strconv.Atoi(a)
	if err != nil || from < 0 {
		return 0, 0, fmt.Errorf("invocation key %q: want a number like \"0\" or a range like \"1-2\"", key)
	}
	if !isRange {
		return from, from, nil
	}
	to, err = strconv.Atoi(b)
	if err != nil || to < from {
		return 0, 0, fmt.Errorf("invocation key %q: want a range like \"1-2\" with from <= to", key)
	}
	return from, to, nil
}

// Player plays a Script: each call for a state takes that state's next outcome.
// It is safe for concurrent use (Map and Parallel branches call it at once).
type Player struct {
	script Script
	mu     sync.Mutex
	calls  map[string]int
}

// NewPlayer starts a Script from attempt 0 for every state.
func NewPlayer(s Script) *Player {
	return &Player{script: s, calls: make(map[string]int)}
}

// ErrNoScript is returned for a state the Script has no outcomes for.
var ErrNoScript = errors.New("no scripted outcome")

// Next returns the outcome of the next invocation of state and counts it.
func (p *Player) Next(state string) (Outcome, error) {
	outs := p.script.Outcomes[state]
	if len(outs) == 0 {
		return Outcome{}, fmt.Errorf("task state %q: %w", state, ErrNoScript)
	}
	p.mu.Lock()
	i := p.calls[state]
	p.calls[state] = i + 1
	p.mu.Unlock()
	if i >= len(outs) {
		if !p.script.RepeatLast {
			return Outcome{}, fmt.Errorf("task state %q invocation %d: %w", state, i, ErrNoScript)
		}
		i = len(outs) - 1
	}
	return outs[i], nil
}

// Calls reports how many times state has been invoked.
func (p *Player) Calls(state string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[state]
}

// Invoke plays the next outcome of state as a Task handler: the returned
// JSON, or an *asl.TaskFailure carrying the scripted error name and cause,
// which the engine reports verbatim (as Step Functions Local does for a
// mocked Throw). A state without a scripted outcome fails with
// States.Runtime, which no Retry or Catch handles, so the execution fails.
func (p *Player) Invoke(_ context.Context, state string, _ []byte) ([]byte, error) {
	o, err := p.Next(state)
	if err != nil {
		return nil, &asl.TaskFailure{Name: asl.ErrRuntime, Cause: err.Error()}
	}
	if o.Throw != nil {
		return nil, &asl.TaskFailure{Name: o.Throw.Error, Cause: o.Throw.Cause}
	}
	return o.Return, nil
}

// Missing lists the names in states that the Script has no outcomes for, sorted.
func (s Script) Missing(states []string) []string {
	var out []string
	for _, st := range states {
		if len(s.Outcomes[st]) == 0 {
			out = append(out, st)
		}
	}
	sort.Strings(out)
	return out
}

// TaskStates lists the names of every Task state in an ASL definition,
// including those inside Parallel branches and Map processors, sorted.
func TaskStates(definition []byte) ([]string, error) {
	var root machine
	if err := json.Unmarshal(definition, &root); err != nil {
		return nil, fmt.Errorf("read definition: %w", err)
	}
	var names []string
	root.walk(func(name, typ string) {
		if typ == "Task" {
			names = append(names, name)
		}
	})
	sort.Strings(names)
	return names, nil
}

type machine struct {
	States map[string]struct {
		Type          string    `json:"Type"`
		Branches      []machine `json:"Branches"`
		Iterator      *machine  `json:"Iterator"`
		ItemProcessor *machine  `json:"ItemProcessor"`
	} `json:"States"`
}

func (m *machine) walk(visit func(name, typ string)) {
	for name, st := range m.States {
		visit(name, st.Type)
		for i := range st.Branches {
			st.Branches[i].walk(visit)
		}
		if st.Iterator != nil {
			st.Iterator.walk(visit)
		}
		if st.ItemProcessor != nil {
			st.ItemProcessor.walk(visit)
		}
	}
}

func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

func compact(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}
