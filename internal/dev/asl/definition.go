package asl

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// Problem is one validation finding, located by a JSON Pointer into the
// definition.
type Problem struct {
	Location string `json:"location"`
	Code     string `json:"code"`
	Message  string `json:"message"`
}

// ValidationError is returned by Parse for an invalid definition.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid state machine definition (%d problems)", len(e.Problems))
	for i, p := range e.Problems {
		if i == 5 {
			b.WriteString("; ...")
			break
		}
		fmt.Fprintf(&b, "; %s %s: %s", p.Location, p.Code, p.Message)
	}
	return b.String()
}

// Problem codes.
const (
	CodeInvalidJSON       = "INVALID_JSON"
	CodeMissingField      = "MISSING_FIELD"
	CodeUnknownField      = "UNKNOWN_FIELD"
	CodeInvalidType       = "INVALID_TYPE"
	CodeInvalidValue      = "INVALID_VALUE"
	CodeMissingNext       = "MISSING_NEXT"
	CodeNextAndEnd        = "NEXT_AND_END"
	CodeMissingTarget     = "MISSING_TRANSITION_TARGET"
	CodeUnreachable       = "UNREACHABLE_STATE"
	CodeInvalidStateName  = "INVALID_STATE_NAME"
	CodeInvalidPath       = "INVALID_PATH"
	CodeInvalidRefPath    = "INVALID_REFERENCE_PATH"
	CodeInvalidIntrinsic  = "INVALID_INTRINSIC"
	CodeInvalidChoiceRule = "INVALID_CHOICE_RULE"
	CodeInvalidErrorName  = "INVALID_ERROR_NAME"
	CodeInvalidTimestamp  = "INVALID_TIMESTAMP"
	CodeConflictingFields = "CONFLICTING_FIELDS"
	CodeUnsupported       = "UNSUPPORTED"
	CodeDuplicateKey      = "DUPLICATE_KEY"
	// CodeDuplicateStateName: a state name is used more than once in the
	// state machine (names are unique across Parallel branches and Map
	// processors too).
	CodeDuplicateStateName = "DUPLICATE_STATE_NAME"
)

type stateKind uint8

const (
	kindPass stateKind = iota
	kindTask
	kindChoice
	kindWait
	kindSucceed
	kindFail
	kindParallel
	kindMap
)

var kindNames = map[string]stateKind{
	"Pass": kindPass, "Task": kindTask, "Choice": kindChoice, "Wait": kindWait,
	"Succeed": kindSucceed, "Fail": kindFail, "Parallel": kindParallel, "Map": kindMap,
}

// StateMachine is a parsed, validated and compiled definition. It is
// immutable and may be run by many executions at once.
type StateMachine struct {
	root           *machine
	timeoutSeconds int64
	comment        string
}

// Comment returns the definition's top-level Comment.
func (sm *StateMachine) Comment() string { return sm.comment }

// StateNames lists the top-level states in definition order.
func (sm *StateMachine) StateNames() []string { return append([]string(nil), sm.root.order...) }

type machine struct {
	startAt string
	start   *state
	states  map[string]*state
	order   []string
}

type retrier struct {
	errors      []string
	interval    float64
	maxAttempts int
	backoff     float64
	maxDelay    float64
	fullJitter  bool
}

type catcher struct {
	errors     []string
	next       string
	nextState  *state
	resultPath *Path
	discard    bool // ResultPath: null
}

type state struct {
	name    string
	typ     string
	kind    stateKind
	next    string
	nextSt  *state
	end     bool
	pointer string

	enteredType, exitedType, abortedType string      // history event types
	enteredDesc, exitedDesc              *evDesc     // the same, shared by this state's history records
	descs                                *stateDescs // a Task's or Map's other events

	inputPath      *Path
	inputNull      bool
	outputPath     *Path
	outputNull     bool
	resultPath     *Path
	resultDiscard  bool
	parameters     *tmpl
	resultSelector *tmpl
	result         any
	hasResult      bool
	needsCtx       bool
	growsData      bool
	// outputIsResult: the state's output is its Task, Map or Parallel
	// result as it is (no ResultSelector, ResultPath or OutputPath).
	outputIsResult bool
	// shapes of the objects in the state's data, behind a pointer so the
	// fields states read on every transition stay close together.
	shapes *stateShapes

	// Task
	resource         string
	target           taskTarget // how resource is called, from parseTarget
	timeoutSeconds   int64
	timeoutPath      *Path
	heartbeatSeconds int64
	heartbeatPath    *Path
	retry            []*retrier
	catch            []*catcher

	// Choice
	choices     []*choiceRule
	defaultName string
	defaultSt   *state

	// Wait
	seconds       int64
	hasSeconds    bool
	timestamp     time.Time
	hasTimestamp  bool
	secondsPath   *Path
	timestampPath *Path

	// Fail
	errName   string
	cause     string
	errorPath *tmpl
	causePath *tmpl

	// Parallel
	branches []*machine

	// Map
	iterator           *machine
	itemsPath          *Path
	itemSelector       *tmpl
	maxConcurrency     int
	maxConcurrencyPath *Path
}

// Validate checks a definition and reports every problem found.
func Validate(definition []byte) []Problem {
	_, problems := compile(definition)
	return problems
}

// Parse validates and compiles a definition. On problems it returns a
// *ValidationError.
func Parse(definition []byte) (*StateMachine, error) {
	sm, problems := compile(definition)
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	return sm, nil
}

type checker struct {
	problems []Problem
	// stateAt maps each state name seen so far, in the whole machine, to
	// the JSON Pointer of its first definition.
	stateAt map[string]string
}

func (c *checker) add(loc, code, format string, args ...any) {
	if loc == "" {
		loc = ""
	}
	c.problems = append(c.problems, Problem{Location: loc, Code: code, Message: fmt.Sprintf(format, args...)})
}

func join(loc, key string) string { return loc + "/" + pointerEscape(key) }

func compile(definition []byte) (*StateMachine, []Problem) {
	c := &checker{stateAt: map[string]string{}}
	raw, dups, err := decodeOrdered(definition)
	if err != nil {
		c.add("", CodeInvalidJSON, "the definition is not valid JSON: %v", err)
		return nil, c.problems
	}
	for _, d := range dups {
		c.add(d, CodeDuplicateKey, "this field appears more than once in its object")
	}
	top, ok := raw.(*jobj)
	if !ok {
		c.add("", CodeInvalidType, "the definition must be a JSON object")
		return nil, c.problems
	}
	sm := &StateMachine{}
	for _, k := range top.keys {
		switch k {
		case "StartAt", "States", "Comment", "Version":
		case "TimeoutSeconds":
			sm.timeoutSeconds = c.posInt(top.m[k], "/TimeoutSeconds", 0, 99999999)
		case "QueryLanguage":
			c.queryLanguage(top.m[k], "/QueryLanguage")
		default:
			c.unknownField("", k, "the top level")
		}
	}
	if s, ok := top.m["Comment"].(string); ok {
		sm.comment = s
	} else if _, has := top.m["Comment"]; has {
		c.add("/Comment", CodeInvalidType, "Comment must be a string")
	}
	if v, ok := top.m["Version"]; ok {
		if _, isStr := v.(string); !isStr {
			c.add("/Version", CodeInvalidType, "Version must be a string")
		}
	}
	sm.root = c.machine(top, "")
	if len(c.problems) > 0 {
		return nil, c.problems
	}
	return sm, nil
}

func (c *checker) unknownField(loc, k, where string) {
	switch k {
	case "Assign":
		c.add(join(loc, k), CodeUnsupported, "Assign (variables) is not supported yet")
	case "Arguments", "Output":
		c.add(join(loc, k), CodeUnsupported, "%s is a JSONata field; JSONata is not supported yet", k)
	default:
		c.add(join(loc, k), CodeUnknownField, "field %q is not allowed in %s", k, where)
	}
}

func (c *checker) queryLanguage(v any, loc string) {
	s, ok := v.(string)
	switch {
	case !ok:
		c.add(loc, CodeInvalidType, "QueryLanguage must be a string")
	case s == "JSONata":
		c.add(loc, CodeUnsupported, "QueryLanguage JSONata is not supported yet")
	case s != "JSONPath":
		c.add(loc, CodeInvalidValue, "QueryLanguage must be JSONPath or JSONata, got %q", s)
	}
}

func (c *checker) posInt(v any, loc string, minV, maxV int64) int64 {
	n, ok := v.(json.Number)
	if !ok {
		c.add(loc, CodeInvalidType, "must be an integer")
		return 0
	}
	i, err := n.Int64()
	if err != nil {
		c.add(loc, CodeInvalidType, "must be an integer, got %s", n)
		return 0
	}
	if i < minV || i > maxV {
		c.add(loc, CodeInvalidValue, "must be between %d and %d, got %d", minV, maxV, i)
	}
	return i
}

// machine checks a {StartAt, States} object (the top level, a Parallel branch
// or a Map ItemProcessor) and compiles it.
func (c *checker) machine(o *jobj, loc string) *machine {
	m := &machine{states: map[string]*state{}}
	startV, hasStart := o.m["StartAt"]
	if !hasStart {
		c.add(loc, CodeMissingField, "StartAt is required")
	} else if s, ok := startV.(string); !ok {
		c.add(join(loc, "StartAt"), CodeInvalidType, "StartAt must be a string")
	} else {
		m.startAt = s
	}
	statesV, hasStates := o.m["States"]
	if !hasStates {
		c.add(loc, CodeMissingField, "States is required")
		return m
	}
	states, ok := statesV.(*jobj)
	if !ok {
		c.add(join(loc, "States"), CodeInvalidType, "States must be an object")
		return m
	}
	if len(states.keys) == 0 {
		c.add(join(loc, "States"), CodeInvalidValue, "States must contain at least one state")
	}
	sloc := join(loc, "States")
	for _, name := range states.keys {
		sp := join(sloc, name)
		if first, dup := c.stateAt[name]; dup {
			c.add(sp, CodeDuplicateStateName, "state name %q is already used at %s; state names must be unique in the whole state machine, Parallel branches and Map processors included", name, first)
		} else {
			c.stateAt[name] = sp
		}
		st := c.state(name, states.m[name], sp)
		if st != nil {
			m.states[name] = st
		}
		m.order = append(m.order, name)
	}
	if hasStart && m.startAt != "" {
		if _, ok := states.m[m.startAt]; !ok {
			c.add(join(loc, "StartAt"), CodeMissingTarget, "StartAt names state %q, which does not exist", m.startAt)
		}
	}
	// Resolve transitions and check them.
	exists := func(n string) bool { _, ok := states.m[n]; return ok }
	for _, name := range states.keys {
		st := m.states[name]
		if st == nil {
			continue
		}
		if st.next != "" {
			if !exists(st.next) {
				c.add(join(st.pointer, "Next"), CodeMissingTarget, "Next names state %q, which does not exist", st.next)
			}
			st.nextSt = m.states[st.next]
		}
		if st.defaultName != "" {
			if !exists(st.defaultName) {
				c.add(join(st.pointer, "Default"), CodeMissingTarget, "Default names state %q, which does not exist", st.defaultName)
			}
			st.defaultSt = m.states[st.defaultName]
		}
		for i, r := range st.choices {
			if r.next != "" {
				if !exists(r.next) {
					c.add(join(join(join(st.pointer, "Choices"), itoa(i)), "Next"), CodeMissingTarget, "Next names state %q, which does not exist", r.next)
				}
				r.nextState = m.states[r.next]
			}
		}
		for i, ct := range st.catch {
			if ct.next != "" {
				if !exists(ct.next) {
					c.add(join(join(join(st.pointer, "Catch"), itoa(i)), "Next"), CodeMissingTarget, "Next names state %q, which does not exist", ct.next)
				}
				ct.nextState = m.states[ct.next]
			}
		}
	}
	m.start = m.states[m.startAt]
	// Reachability.
	if m.startAt != "" && exists(m.startAt) {
		seen := map[string]bool{}
		var visit func(n string)
		visit = func(n string) {
			if seen[n] || !exists(n) {
				return
			}
			seen[n] = true
			st := m.states[n]
			if st == nil {
				return
			}
			if st.next != "" {
				visit(st.next)
			}
			if st.defaultName != "" {
				visit(st.defaultName)
			}
			for _, r := range st.choices {
				visit(r.next)
			}
			for _, ct := range st.catch {
				visit(ct.next)
			}
		}
		visit(m.startAt)
		for _, name := range states.keys {
			if !seen[name] {
				c.add(join(sloc, name), CodeUnreachable, "state %q cannot be reached from StartAt", name)
			}
		}
	}
	return m
}

var commonFields = map[string]bool{"Type": true, "Comment": true, "QueryLanguage": true}

var stateFields = map[stateKind]map[string]bool{
	kindPass:     set("Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "Result"),
	kindTask:     set("Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "Retry", "Catch", "Resource", "TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds", "HeartbeatSecondsPath", "Credentials"),
	kindChoice:   set("InputPath", "OutputPath", "Choices", "Default"),
	kindWait:     set("Next", "End", "InputPath", "OutputPath", "Seconds", "Timestamp", "SecondsPath", "TimestampPath"),
	kindSucceed:  set("InputPath", "OutputPath"),
	kindFail:     set("Error", "Cause", "ErrorPath", "CausePath"),
	kindParallel: set("Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "Retry", "Catch", "Branches"),
	kindMap: set("Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "Retry", "Catch",
		"ItemProcessor", "Iterator", "ItemsPath", "ItemSelector", "MaxConcurrency", "MaxConcurrencyPath"),
}

var distributedMapFields = set("ItemReader", "ItemBatcher", "ResultWriter", "ToleratedFailurePercentage",
	"ToleratedFailurePercentagePath", "ToleratedFailureCount", "ToleratedFailureCountPath", "Label")

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

func (c *checker) state(name string, v any, loc string) *state {
	if len(name) > 80 {
		c.add(loc, CodeInvalidStateName, "state names must be at most 80 characters")
	}
	o, ok := v.(*jobj)
	if !ok {
		c.add(loc, CodeInvalidType, "a state must be an object")
		return nil
	}
	typV, ok := o.m["Type"]
	if !ok {
		c.add(loc, CodeMissingField, "Type is required")
		return nil
	}
	typ, ok := typV.(string)
	kind, known := kindNames[typ]
	if !ok || !known {
		c.add(join(loc, "Type"), CodeInvalidValue, "Type must be one of Task, Pass, Choice, Wait, Succeed, Fail, Parallel, Map; got %s", mustJSON(plain(typV)))
		return nil
	}
	st := &state{name: name, typ: typ, kind: kind, pointer: loc,
		enteredType: typ + "StateEntered", exitedType: typ + "StateExited", abortedType: typ + "StateAborted"}
	st.enteredDesc = &evDesc{typ: st.enteredType, name: name}
	st.exitedDesc = &evDesc{typ: st.exitedType, name: name}
	legal := stateFields[kind]
	for _, k := range o.keys {
		switch {
		case commonFields[k] || legal[k]:
		case kind == kindMap && distributedMapFields[k]:
			c.add(join(loc, k), CodeUnsupported, "%s belongs to Distributed Map, which is not supported yet", k)
		default:
			c.unknownField(loc, k, "a "+typ+" state")
		}
	}
	if q, ok := o.m["QueryLanguage"]; ok {
		c.queryLanguage(q, join(loc, "QueryLanguage"))
	}
	if cm, ok := o.m["Comment"]; ok {
		if _, isStr := cm.(string); !isStr {
			c.add(join(loc, "Comment"), CodeInvalidType, "Comment must be a string")
		}
	}
	// Transitions.
	switch kind {
	case kindChoice, kindSucceed, kindFail:
	default:
		nextV, hasNext := o.m["Next"]
		endV, hasEnd := o.m["End"]
		if hasNext {
			if s, ok := nextV.(string); ok {
				st.next = s
			} else {
				c.add(join(loc, "Next"), CodeInvalidType, "Next must be a string")
			}
		}
		if hasEnd {
			if b, ok := endV.(bool); ok {
				st.end = b
			} else {
				c.add(join(loc, "End"), CodeInvalidType, "End must be a boolean")
			}
		}
		switch {
		case hasNext && st.end:
			c.add(loc, CodeNextAndEnd, "a state must have exactly one of Next and \"End\": true; it has both")
		case !hasNext && !st.end:
			c.add(loc, CodeMissingNext, "a %s state must have Next or \"End\": true", typ)
		}
	}
	// Paths.
	if kind != kindFail {
		st.inputPath, st.inputNull = c.optPath(o, "InputPath", loc, false)
		st.outputPath, st.outputNull = c.optPath(o, "OutputPath", loc, false)
	}
	if legal["ResultPath"] {
		st.resultPath, st.resultDiscard = c.optPath(o, "ResultPath", loc, true)
	}
	if p, ok := o.m["Parameters"]; ok && legal["Parameters"] {
		st.parameters = c.template(p, join(loc, "Parameters"))
	}
	if p, ok := o.m["ResultSelector"]; ok && legal["ResultSelector"] {
		st.resultSelector = c.template(p, join(loc, "ResultSelector"))
	}
	if legal["Retry"] {
		st.retry = c.retriers(o, loc)
		st.catch = c.catchers(o, loc)
	}
	switch kind {
	case kindPass:
		if r, ok := o.m["Result"]; ok {
			st.result, st.hasResult = plain(r), true
		}
	case kindTask:
		c.task(st, o, loc)
	case kindChoice:
		c.choice(st, o, loc)
	case kindWait:
		c.wait(st, o, loc)
	case kindFail:
		c.fail(st, o, loc)
	case kindParallel:
		c.parallel(st, o, loc)
	case kindMap:
		c.mapState(st, o, loc)
	}
	for _, t := range []*tmpl{st.parameters, st.resultSelector, st.itemSelector, st.errorPath, st.causePath} {
		if t != nil && t.usesCtx {
			st.needsCtx = true
		}
	}
	for _, p := range []*Path{st.inputPath, st.outputPath, st.itemsPath, st.secondsPath, st.timestampPath, st.timeoutPath, st.heartbeatPath, st.maxConcurrencyPath} {
		if p != nil && p.context {
			st.needsCtx = true
		}
	}
	for _, r := range st.choices {
		if ruleUsesCtx(r) {
			st.needsCtx = true
		}
	}
	if strings.HasSuffix(st.resource, ".waitForTaskToken") {
		st.needsCtx = true
	}
	st.descs = newStateDescs(st)
	st.shapes = &stateShapes{}
	st.outputIsResult = st.resultSelector == nil && !st.resultDiscard && (st.resultPath == nil || len(st.resultPath.segs) == 0) &&
		st.outputPath == nil && !st.outputNull
	st.growsData = st.kind == kindTask || st.kind == kindParallel || st.kind == kindMap ||
		st.parameters != nil || st.hasResult || (st.resultPath != nil && len(st.resultPath.segs) > 0)
	return st
}

func (c *checker) template(v any, loc string) *tmpl {
	return compileTemplate(v, loc, func(l, code, msg string) { c.add(l, code, "%s", msg) })
}

// optPath reads an optional path field; null is allowed (returns isNull).
func (c *checker) optPath(o *jobj, field, loc string, reference bool) (*Path, bool) {
	v, ok := o.m[field]
	if !ok {
		return nil, false
	}
	if v == nil {
		return nil, true
	}
	s, ok := v.(string)
	if !ok {
		c.add(join(loc, field), CodeInvalidType, "%s must be a string or null", field)
		return nil, false
	}
	return c.path(s, join(loc, field), reference), false
}

func (c *checker) path(s, loc string, reference bool) *Path {
	p, err := parsePath(s)
	if err != nil {
		code := CodeInvalidPath
		if reference {
			code = CodeInvalidRefPath
		}
		c.add(loc, code, "%v", err)
		return nil
	}
	if reference && (!p.refPath || p.context) {
		c.add(loc, CodeInvalidRefPath, "%q is not a valid reference path (only $-rooted .field, ['field'] and [index] steps)", s)
		return nil
	}
	return p
}

func (c *checker) definitePath(s, loc string) *Path {
	p, err := parsePath(s)
	if err != nil {
		c.add(loc, CodeInvalidPath, "%v", err)
		return nil
	}
	if !p.definite {
		c.add(loc, CodeInvalidRefPath, "%q must select a single value (a reference path)", s)
		return nil
	}
	return p
}

func (c *checker) stringField(o *jobj, field, loc string) (string, bool) {
	v, ok := o.m[field]
	if !ok {
		return "", false
	}
	s, isStr := v.(string)
	if !isStr {
		c.add(join(loc, field), CodeInvalidType, "%s must be a string", field)
		return "", false
	}
	return s, true
}

func (c *checker) task(st *state, o *jobj, loc string) {
	res, ok := c.stringField(o, "Resource", loc)
	if !ok {
		if _, has := o.m["Resource"]; !has {
			c.add(loc, CodeMissingField, "a Task state requires Resource")
		}
	} else {
		st.resource = res
		st.target = parseTarget(res)
		if !strings.HasPrefix(res, "arn:") {
			c.add(join(loc, "Resource"), CodeInvalidValue, "Resource must be an ARN, got %q", res)
		} else if strings.HasPrefix(res, "arn:aws:states:") && strings.Contains(res, ":activity:") {
			c.add(join(loc, "Resource"), CodeUnsupported, "activities are not supported yet")
		}
	}
	if isLambdaInvoke(res) {
		params, _ := o.m["Parameters"].(*jobj)
		if params == nil {
			c.add(loc, CodeMissingField, "a %s task requires Parameters with FunctionName", res)
		} else if _, ok := params.m["FunctionName"]; !ok {
			if _, ok := params.m["FunctionName.$"]; !ok {
				c.add(join(loc, "Parameters"), CodeMissingField, "Parameters of a %s task require FunctionName", res)
			}
		}
	}
	_, hasT := o.m["TimeoutSeconds"]
	_, hasTP := o.m["TimeoutSecondsPath"]
	_, hasH := o.m["HeartbeatSeconds"]
	_, hasHP := o.m["HeartbeatSecondsPath"]
	if hasT {
		st.timeoutSeconds = c.posInt(o.m["TimeoutSeconds"], join(loc, "TimeoutSeconds"), 1, 99999999)
	}
	if hasH {
		st.heartbeatSeconds = c.posInt(o.m["HeartbeatSeconds"], join(loc, "HeartbeatSeconds"), 1, 99999999)
	}
	if hasT && hasTP {
		c.add(loc, CodeConflictingFields, "TimeoutSeconds and TimeoutSecondsPath cannot both be set")
	}
	if hasH && hasHP {
		c.add(loc, CodeConflictingFields, "HeartbeatSeconds and HeartbeatSecondsPath cannot both be set")
	}
	if s, ok := c.stringField(o, "TimeoutSecondsPath", loc); ok {
		st.timeoutPath = c.definitePath(s, join(loc, "TimeoutSecondsPath"))
	}
	if s, ok := c.stringField(o, "HeartbeatSecondsPath", loc); ok {
		st.heartbeatPath = c.definitePath(s, join(loc, "HeartbeatSecondsPath"))
	}
	if hasT && hasH && st.heartbeatSeconds >= st.timeoutSeconds && st.timeoutSeconds > 0 {
		c.add(join(loc, "HeartbeatSeconds"), CodeInvalidValue, "HeartbeatSeconds (%d) must be smaller than TimeoutSeconds (%d)", st.heartbeatSeconds, st.timeoutSeconds)
	}
}

func (c *checker) errorNames(v any, loc string) []string {
	arr, ok := v.([]any)
	if !ok {
		c.add(loc, CodeInvalidType, "ErrorEquals must be an array of strings")
		return nil
	}
	if len(arr) == 0 {
		c.add(loc, CodeInvalidValue, "ErrorEquals must not be empty")
	}
	var names []string
	for i, e := range arr {
		s, ok := e.(string)
		if !ok {
			c.add(join(loc, itoa(i)), CodeInvalidType, "error names must be strings")
			continue
		}
		names = append(names, s)
	}
	for _, n := range names {
		if n == ErrALL && len(names) > 1 {
			c.add(loc, CodeInvalidErrorName, "States.ALL must appear alone in ErrorEquals")
		}
	}
	return names
}

func (c *checker) retriers(o *jobj, loc string) []*retrier {
	v, ok := o.m["Retry"]
	if !ok {
		return nil
	}
	rloc := join(loc, "Retry")
	arr, ok := v.([]any)
	if !ok {
		c.add(rloc, CodeInvalidType, "Retry must be an array")
		return nil
	}
	var out []*retrier
	for i, e := range arr {
		eloc := join(rloc, itoa(i))
		ro, ok := e.(*jobj)
		if !ok {
			c.add(eloc, CodeInvalidType, "a retrier must be an object")
			continue
		}
		r := &retrier{interval: 1, maxAttempts: 3, backoff: 2}
		for _, k := range ro.keys {
			fv := ro.m[k]
			floc := join(eloc, k)
			switch k {
			case "ErrorEquals":
				r.errors = c.errorNames(fv, floc)
				if containsStr(r.errors, ErrALL) && i != len(arr)-1 {
					c.add(floc, CodeInvalidErrorName, "a retrier with States.ALL must be the last one")
				}
			case "IntervalSeconds":
				r.interval = float64(c.posInt(fv, floc, 1, 99999999))
			case "MaxAttempts":
				r.maxAttempts = int(c.posInt(fv, floc, 0, 99999999))
			case "BackoffRate":
				n, ok := fv.(json.Number)
				f, err := n.Float64()
				if !ok || err != nil {
					c.add(floc, CodeInvalidType, "BackoffRate must be a number")
				} else if f < 1 {
					c.add(floc, CodeInvalidValue, "BackoffRate must be at least 1.0, got %s", n)
				} else {
					r.backoff = f
				}
			case "MaxDelaySeconds":
				r.maxDelay = float64(c.posInt(fv, floc, 1, 31622400))
			case "JitterStrategy":
				s, _ := fv.(string)
				switch s {
				case "FULL":
					r.fullJitter = true
				case "NONE":
				default:
					c.add(floc, CodeInvalidValue, "JitterStrategy must be FULL or NONE")
				}
			case "Comment":
			default:
				c.unknownField(eloc, k, "a retrier")
			}
		}
		if _, ok := ro.m["ErrorEquals"]; !ok {
			c.add(eloc, CodeMissingField, "ErrorEquals is required")
		}
		out = append(out, r)
	}
	return out
}

func (c *checker) catchers(o *jobj, loc string) []*catcher {
	v, ok := o.m["Catch"]
	if !ok {
		return nil
	}
	cloc := join(loc, "Catch")
	arr, ok := v.([]any)
	if !ok {
		c.add(cloc, CodeInvalidType, "Catch must be an array")
		return nil
	}
	var out []*catcher
	for i, e := range arr {
		eloc := join(cloc, itoa(i))
		co, ok := e.(*jobj)
		if !ok {
			c.add(eloc, CodeInvalidType, "a catcher must be an object")
			continue
		}
		ct := &catcher{}
		for _, k := range co.keys {
			fv := co.m[k]
			floc := join(eloc, k)
			switch k {
			case "ErrorEquals":
				ct.errors = c.errorNames(fv, floc)
				if containsStr(ct.errors, ErrALL) && i != len(arr)-1 {
					c.add(floc, CodeInvalidErrorName, "a catcher with States.ALL must be the last one")
				}
			case "Next":
				s, ok := fv.(string)
				if !ok {
					c.add(floc, CodeInvalidType, "Next must be a string")
				}
				ct.next = s
			case "ResultPath":
				if fv == nil {
					ct.discard = true
				} else if s, ok := fv.(string); ok {
					ct.resultPath = c.path(s, floc, true)
				} else {
					c.add(floc, CodeInvalidType, "ResultPath must be a string or null")
				}
			case "Comment":
			default:
				c.unknownField(eloc, k, "a catcher")
			}
		}
		if _, ok := co.m["ErrorEquals"]; !ok {
			c.add(eloc, CodeMissingField, "ErrorEquals is required")
		}
		if _, ok := co.m["Next"]; !ok {
			c.add(eloc, CodeMissingField, "a catcher requires Next")
		}
		out = append(out, ct)
	}
	return out
}

func containsStr(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func (c *checker) choice(st *state, o *jobj, loc string) {
	v, ok := o.m["Choices"]
	cloc := join(loc, "Choices")
	if !ok {
		c.add(loc, CodeMissingField, "a Choice state requires Choices")
	} else if arr, ok := v.([]any); !ok {
		c.add(cloc, CodeInvalidType, "Choices must be an array")
	} else {
		if len(arr) == 0 {
			c.add(cloc, CodeInvalidValue, "Choices must not be empty")
		}
		for i, e := range arr {
			if r := c.choiceRule(e, join(cloc, itoa(i)), true); r != nil {
				st.choices = append(st.choices, r)
			}
		}
	}
	if d, ok := c.stringField(o, "Default", loc); ok {
		st.defaultName = d
	}
}

func (c *checker) choiceRule(v any, loc string, top bool) *choiceRule {
	o, ok := v.(*jobj)
	if !ok {
		c.add(loc, CodeInvalidChoiceRule, "a choice rule must be an object")
		return nil
	}
	r := &choiceRule{}
	var ops []string
	hasVariable := false
	for _, k := range o.keys {
		fv := o.m[k]
		floc := join(loc, k)
		switch k {
		case "Next":
			if !top {
				c.add(floc, CodeInvalidChoiceRule, "Next is only allowed in a top-level choice rule")
				continue
			}
			s, ok := fv.(string)
			if !ok {
				c.add(floc, CodeInvalidType, "Next must be a string")
			}
			r.next = s
		case "Comment":
		case "Variable":
			hasVariable = true
			s, ok := fv.(string)
			if !ok {
				c.add(floc, CodeInvalidType, "Variable must be a string")
				continue
			}
			r.variable = c.path(s, floc, false)
		case "And", "Or":
			ops = append(ops, k)
			arr, ok := fv.([]any)
			if !ok || len(arr) == 0 {
				c.add(floc, CodeInvalidChoiceRule, "%s must be a non-empty array of choice rules", k)
				continue
			}
			list := []*choiceRule{}
			for i, e := range arr {
				if sub := c.choiceRule(e, join(floc, itoa(i)), false); sub != nil {
					list = append(list, sub)
				}
			}
			if k == "And" {
				r.and = list
			} else {
				r.or = list
			}
		case "Not":
			ops = append(ops, k)
			if _, isArr := fv.([]any); isArr {
				c.add(floc, CodeInvalidChoiceRule, "Not must be a single choice rule, not an array")
				continue
			}
			r.not = c.choiceRule(fv, floc, false)
		default:
			info, known := choiceOps[k]
			if !known {
				if k == "Condition" {
					c.add(floc, CodeUnsupported, "Condition is a JSONata field; JSONata is not supported yet")
				} else if k == "Assign" {
					c.add(floc, CodeUnsupported, "Assign (variables) is not supported yet")
				} else {
					c.add(floc, CodeUnknownField, "%q is not a choice rule field or comparison operator", k)
				}
				continue
			}
			ops = append(ops, k)
			r.op = info.op
			c.operand(r, info, k, fv, floc)
		}
	}
	if len(ops) == 0 {
		c.add(loc, CodeInvalidChoiceRule, "a choice rule needs a comparison operator or And, Or, Not")
	} else if len(ops) > 1 {
		c.add(loc, CodeInvalidChoiceRule, "a choice rule must have exactly one operator, found %s", strings.Join(ops, ", "))
	}
	isBool := r.and != nil || r.or != nil || r.not != nil || containsStr(ops, "And") || containsStr(ops, "Or") || containsStr(ops, "Not")
	if isBool && hasVariable {
		c.add(join(loc, "Variable"), CodeInvalidChoiceRule, "Variable is not allowed with And, Or, Not")
	}
	if !isBool && len(ops) == 1 && !hasVariable {
		c.add(loc, CodeInvalidChoiceRule, "a comparison needs Variable")
	}
	if top {
		if _, ok := o.m["Next"]; !ok {
			c.add(loc, CodeInvalidChoiceRule, "a top-level choice rule requires Next")
		}
	}
	return r
}

func (c *checker) operand(r *choiceRule, info opInfo, k string, v any, loc string) {
	if info.isPath {
		s, ok := v.(string)
		if !ok {
			c.add(loc, CodeInvalidType, "%s must be a path string", k)
			return
		}
		r.operandPath = c.path(s, loc, false)
		return
	}
	switch info.typ {
	case operandString:
		s, ok := v.(string)
		if !ok {
			c.add(loc, CodeInvalidType, "%s needs a string", k)
		}
		r.operand = s
	case operandNumber:
		n, ok := v.(json.Number)
		f, err := n.Float64()
		if !ok || err != nil {
			c.add(loc, CodeInvalidType, "%s needs a number", k)
		}
		r.operand = f
	case operandBool:
		b, ok := v.(bool)
		if !ok {
			c.add(loc, CodeInvalidType, "%s needs a boolean", k)
		}
		r.operand = b
	case operandTimestamp:
		s, ok := v.(string)
		if !ok {
			c.add(loc, CodeInvalidType, "%s needs a timestamp string", k)
			return
		}
		t, err := parseTimestamp(s)
		if err != nil {
			c.add(loc, CodeInvalidTimestamp, "%q is not an RFC 3339 timestamp", s)
		}
		r.operand = t
	}
}

func (c *checker) wait(st *state, o *jobj, loc string) {
	n := 0
	for _, k := range []string{"Seconds", "Timestamp", "SecondsPath", "TimestampPath"} {
		if _, ok := o.m[k]; ok {
			n++
		}
	}
	if n != 1 {
		c.add(loc, CodeConflictingFields, "a Wait state needs exactly one of Seconds, Timestamp, SecondsPath, TimestampPath (found %d)", n)
	}
	if v, ok := o.m["Seconds"]; ok {
		st.seconds, st.hasSeconds = c.posInt(v, join(loc, "Seconds"), 0, 99999999), true
	}
	if s, ok := c.stringField(o, "Timestamp", loc); ok {
		t, err := parseTimestamp(s)
		if err != nil {
			c.add(join(loc, "Timestamp"), CodeInvalidTimestamp, "%q is not an RFC 3339 timestamp", s)
		}
		st.timestamp, st.hasTimestamp = t, true
	}
	if s, ok := c.stringField(o, "SecondsPath", loc); ok {
		st.secondsPath = c.definitePath(s, join(loc, "SecondsPath"))
	}
	if s, ok := c.stringField(o, "TimestampPath", loc); ok {
		st.timestampPath = c.definitePath(s, join(loc, "TimestampPath"))
	}
}

func (c *checker) fail(st *state, o *jobj, loc string) {
	if s, ok := c.stringField(o, "Error", loc); ok {
		st.errName = s
	}
	if s, ok := c.stringField(o, "Cause", loc); ok {
		st.cause = s
	}
	if _, ok := o.m["Error"]; ok {
		if _, ok2 := o.m["ErrorPath"]; ok2 {
			c.add(loc, CodeConflictingFields, "Error and ErrorPath cannot both be set")
		}
	}
	if _, ok := o.m["Cause"]; ok {
		if _, ok2 := o.m["CausePath"]; ok2 {
			c.add(loc, CodeConflictingFields, "Cause and CausePath cannot both be set")
		}
	}
	for _, f := range []string{"ErrorPath", "CausePath"} {
		s, ok := c.stringField(o, f, loc)
		if !ok {
			continue
		}
		var t *tmpl
		if isIntrinsic(s) {
			call, err := parseIntrinsic(s)
			if err != nil {
				c.add(join(loc, f), CodeInvalidIntrinsic, "%v", err)
				continue
			}
			t = &tmpl{kind: tmplCall, call: call, usesCtx: callUsesCtx(call), src: f}
		} else {
			p := c.definitePath(s, join(loc, f))
			if p == nil {
				continue
			}
			t = &tmpl{kind: tmplPath, path: p, usesCtx: p.context, src: f}
		}
		if f == "ErrorPath" {
			st.errorPath = t
		} else {
			st.causePath = t
		}
	}
}

func (c *checker) parallel(st *state, o *jobj, loc string) {
	v, ok := o.m["Branches"]
	bloc := join(loc, "Branches")
	if !ok {
		c.add(loc, CodeMissingField, "a Parallel state requires Branches")
		return
	}
	arr, ok := v.([]any)
	if !ok || len(arr) == 0 {
		c.add(bloc, CodeInvalidType, "Branches must be a non-empty array")
		return
	}
	for i, b := range arr {
		eloc := join(bloc, itoa(i))
		bo, ok := b.(*jobj)
		if !ok {
			c.add(eloc, CodeInvalidType, "a branch must be an object")
			continue
		}
		for _, k := range bo.keys {
			switch k {
			case "StartAt", "States", "Comment":
			case "QueryLanguage":
				c.queryLanguage(bo.m[k], join(eloc, k))
			default:
				c.unknownField(eloc, k, "a branch")
			}
		}
		st.branches = append(st.branches, c.machine(bo, eloc))
	}
}

func (c *checker) mapState(st *state, o *jobj, loc string) {
	proc, hasProc := o.m["ItemProcessor"]
	iter, hasIter := o.m["Iterator"]
	field := "ItemProcessor"
	switch {
	case hasProc && hasIter:
		c.add(loc, CodeConflictingFields, "ItemProcessor and Iterator cannot both be set")
	case !hasProc && !hasIter:
		c.add(loc, CodeMissingField, "a Map state requires ItemProcessor (or the older Iterator)")
	case hasIter:
		proc, field = iter, "Iterator"
	}
	if proc != nil {
		ploc := join(loc, field)
		po, ok := proc.(*jobj)
		if !ok {
			c.add(ploc, CodeInvalidType, "%s must be an object", field)
		} else {
			for _, k := range po.keys {
				switch k {
				case "StartAt", "States", "Comment":
				case "QueryLanguage":
					c.queryLanguage(po.m[k], join(ploc, k))
				case "ProcessorConfig":
					c.processorConfig(po.m[k], join(ploc, k))
				default:
					c.unknownField(ploc, k, "an "+field)
				}
			}
			st.iterator = c.machine(po, ploc)
		}
	}
	if s, ok := c.stringField(o, "ItemsPath", loc); ok {
		st.itemsPath = c.definitePath(s, join(loc, "ItemsPath"))
	}
	_, hasParams := o.m["Parameters"]
	if sel, ok := o.m["ItemSelector"]; ok {
		if hasParams {
			c.add(loc, CodeConflictingFields, "ItemSelector and Parameters cannot both be set")
		}
		st.itemSelector = c.template(sel, join(loc, "ItemSelector"))
	} else if hasParams {
		// In a Map state, Parameters is the older name of ItemSelector.
		st.itemSelector, st.parameters = st.parameters, nil
	}
	if v, ok := o.m["MaxConcurrency"]; ok {
		st.maxConcurrency = int(c.posInt(v, join(loc, "MaxConcurrency"), 0, math.MaxInt32))
		if _, ok := o.m["MaxConcurrencyPath"]; ok {
			c.add(loc, CodeConflictingFields, "MaxConcurrency and MaxConcurrencyPath cannot both be set")
		}
	}
	if s, ok := c.stringField(o, "MaxConcurrencyPath", loc); ok {
		st.maxConcurrencyPath = c.definitePath(s, join(loc, "MaxConcurrencyPath"))
	}
}

func (c *checker) processorConfig(v any, loc string) {
	o, ok := v.(*jobj)
	if !ok {
		c.add(loc, CodeInvalidType, "ProcessorConfig must be an object")
		return
	}
	for _, k := range o.keys {
		switch k {
		case "Mode":
			s, _ := o.m[k].(string)
			switch s {
			case "INLINE":
			case "DISTRIBUTED":
				c.add(join(loc, k), CodeUnsupported, "Distributed Map (Mode DISTRIBUTED) is not supported yet")
			default:
				c.add(join(loc, k), CodeInvalidValue, "Mode must be INLINE or DISTRIBUTED")
			}
		case "ExecutionType":
			c.add(join(loc, k), CodeUnsupported, "ExecutionType belongs to Distributed Map, which is not supported yet")
		default:
			c.unknownField(loc, k, "ProcessorConfig")
		}
	}
}

func ruleUsesCtx(r *choiceRule) bool {
	if r == nil {
		return false
	}
	if (r.variable != nil && r.variable.context) || (r.operandPath != nil && r.operandPath.context) {
		return true
	}
	for _, c := range append(append([]*choiceRule{}, r.and...), r.or...) {
		if ruleUsesCtx(c) {
			return true
		}
	}
	return ruleUsesCtx(r.not)
}
