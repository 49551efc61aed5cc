package sfnapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

const (
	maxDefinitionBytes = 1 << 20   // AWS: a definition is at most 1 MiB
	maxPayloadBytes    = 256 << 10 // AWS: inputs and outputs are at most 256 KiB
	maxErrorChars      = 256
	maxCauseChars      = 32768
)

// CreateStateMachine registers a state machine as the API's CreateStateMachine
// does and returns its ARN; make run uses it to preload the project's workflow.
func (s *Server) CreateStateMachine(ctx context.Context, name, definition, roleArn string) (string, error) {
	out, err := s.createStateMachine(ctx, &createStateMachineInput{Name: name, Definition: definition, RoleArn: roleArn})
	if err != nil {
		return "", err
	}
	return out.(createStateMachineOutput).StateMachineArn, nil
}

type createStateMachineInput struct {
	Name       string `json:"name"`
	Definition string `json:"definition"`
	RoleArn    string `json:"roleArn"`
	Type       string `json:"type"`
}

type createStateMachineOutput struct {
	StateMachineArn string `json:"stateMachineArn"`
	CreationDate    epoch  `json:"creationDate"`
}

func (s *Server) createStateMachine(_ context.Context, in *createStateMachineInput) (any, error) {
	if err := checkName("state machine", in.Name); err != nil {
		return nil, err
	}
	switch in.Type {
	case "", "STANDARD":
		in.Type = "STANDARD"
	case "EXPRESS":
		return nil, errorf("StateMachineTypeNotSupported", "the local Step Functions engine runs STANDARD state machines only; EXPRESS is not supported")
	default:
		return nil, errorf("ValidationException", "invalid type %q: want STANDARD", in.Type)
	}
	if in.RoleArn == "" {
		return nil, errorf("InvalidArn", "roleArn is required")
	}
	if len(in.Definition) > maxDefinitionBytes {
		return nil, errorf("InvalidDefinition", "definition is larger than 1 MiB")
	}
	if problems := s.engine.Validate([]byte(in.Definition)); len(problems) > 0 {
		return nil, &apiError{Type: "InvalidDefinition", Message: "Invalid State Machine Definition: " + describeProblems(problems)}
	}
	compiled, err := s.engine.Parse([]byte(in.Definition))
	if err != nil {
		return nil, errorf("InvalidDefinition", "Invalid State Machine Definition: %v", err)
	}
	arn := s.stateMachineArn(in.Name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.machines[arn]; ok {
		// AWS: creating an existing state machine with the same settings
		// returns it; different settings are an error.
		if m.definition == in.Definition && m.roleArn == in.RoleArn && m.typ == in.Type {
			return createStateMachineOutput{StateMachineArn: arn, CreationDate: epoch(m.created)}, nil
		}
		return nil, errorf("StateMachineAlreadyExists", "State Machine Already Exists: '%s'", arn)
	}
	m := &stateMachine{arn: arn, name: in.Name, definition: in.Definition, roleArn: in.RoleArn, typ: in.Type, created: s.opts.Now(), compiled: compiled}
	s.machines[arn] = m
	s.order = append(s.order, m)
	s.log.Info("state machine created", "stateMachineArn", arn)
	return createStateMachineOutput{StateMachineArn: arn, CreationDate: epoch(m.created)}, nil
}

// describeProblems writes problems the way AWS's InvalidDefinition message
// does: 'CODE: message at /location'.
func describeProblems(problems []Problem) string {
	parts := make([]string, 0, len(problems))
	for _, p := range problems {
		parts = append(parts, fmt.Sprintf("'%s: %s at %s'", awsCode(p), p.Message, orRoot(p.Location)))
	}
	return strings.Join(parts, ", ")
}

// awsCode maps an engine problem to the diagnostic codes AWS documents for
// ValidateStateMachineDefinition (INVALID_JSON_DESCRIPTION, INVALID_RESOURCE,
// DUPLICATE_STATE_NAME, INVALID_STATE_NAME, SCHEMA_VALIDATION_FAILED, ...).
// The engine's finer code stays in the diagnostic's message.
func awsCode(p Problem) string {
	switch {
	case p.Code == "INVALID_JSON":
		return "INVALID_JSON_DESCRIPTION"
	case p.Code == "INVALID_STATE_NAME" || p.Code == "DUPLICATE_STATE_NAME" || p.Code == "MISSING_END_STATE":
		return p.Code
	case strings.HasSuffix(p.Location, "/Resource"):
		return "INVALID_RESOURCE"
	default:
		return "SCHEMA_VALIDATION_FAILED"
	}
}

func orRoot(loc string) string {
	if loc == "" {
		return "/"
	}
	return loc
}

type arnInput struct {
	StateMachineArn string `json:"stateMachineArn"`
}

func (s *Server) machine(arn string) (*stateMachine, error) {
	if err := s.checkArn("stateMachineArn", arn, "stateMachine"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	m, ok := s.machines[arn]
	s.mu.Unlock()
	if !ok {
		return nil, errorf("StateMachineDoesNotExist", "State Machine Does Not Exist: '%s'", arn)
	}
	return m, nil
}

type loggingConfiguration struct {
	Level                string `json:"level"`
	IncludeExecutionData bool   `json:"includeExecutionData"`
}

type tracingConfiguration struct {
	Enabled bool `json:"enabled"`
}

type describeStateMachineOutput struct {
	StateMachineArn      string               `json:"stateMachineArn"`
	Name                 string               `json:"name"`
	Status               string               `json:"status"`
	Definition           string               `json:"definition"`
	RoleArn              string               `json:"roleArn"`
	Type                 string               `json:"type"`
	CreationDate         epoch                `json:"creationDate"`
	LoggingConfiguration loggingConfiguration `json:"loggingConfiguration"`
	TracingConfiguration tracingConfiguration `json:"tracingConfiguration"`
}

func (s *Server) describeStateMachine(_ context.Context, in *arnInput) (any, error) {
	m, err := s.machine(in.StateMachineArn)
	if err != nil {
		return nil, err
	}
	return describeStateMachineOutput{
		StateMachineArn: m.arn, Name: m.name, Status: "ACTIVE", Definition: m.definition,
		RoleArn: m.roleArn, Type: m.typ, CreationDate: epoch(m.created),
		LoggingConfiguration: loggingConfiguration{Level: "OFF"},
	}, nil
}

type listInput struct {
	MaxResults int    `json:"maxResults"`
	NextToken  string `json:"nextToken"`
}

type stateMachineListItem struct {
	StateMachineArn string `json:"stateMachineArn"`
	Name            string `json:"name"`
	Type            string `json:"type"`
	CreationDate    epoch  `json:"creationDate"`
}

type listStateMachinesOutput struct {
	StateMachines []stateMachineListItem `json:"stateMachines"`
	NextToken     string                 `json:"nextToken,omitempty"`
}

func (s *Server) listStateMachines(_ context.Context, in *listInput) (any, error) {
	s.mu.Lock()
	all := slices.Clone(s.order)
	s.mu.Unlock()
	from, to, next, err := page("stateMachines", len(all), in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := listStateMachinesOutput{StateMachines: []stateMachineListItem{}, NextToken: next}
	for _, m := range all[from:to] {
		out.StateMachines = append(out.StateMachines, stateMachineListItem{StateMachineArn: m.arn, Name: m.name, Type: m.typ, CreationDate: epoch(m.created)})
	}
	return out, nil
}

type startExecutionInput struct {
	StateMachineArn string  `json:"stateMachineArn"`
	Name            string  `json:"name"`
	Input           *string `json:"input"`
	TraceHeader     string  `json:"traceHeader"`
}

type startExecutionOutput struct {
	ExecutionArn string `json:"executionArn"`
	StartDate    epoch  `json:"startDate"`
}

func (s *Server) startExecution(ctx context.Context, in *startExecutionInput) (any, error) {
	m, err := s.machine(in.StateMachineArn)
	if err != nil {
		return nil, err
	}
	name := in.Name
	if name == "" {
		name = newName()
	}
	if err := checkName("execution", name); err != nil {
		return nil, err
	}
	input := "{}"
	if in.Input != nil {
		input = *in.Input
	}
	if len(input) > maxPayloadBytes {
		return nil, errorf("InvalidExecutionInput", "Invalid Execution Input: larger than 256 KiB (%d bytes)", len(input))
	}
	if !json.Valid([]byte(input)) {
		return nil, errorf("InvalidExecutionInput", "Invalid Execution Input: not valid JSON")
	}
	arn := s.executionArn(m.name, name)

	s.mu.Lock()
	defer s.mu.Unlock()
	if x, ok := s.executions[arn]; ok {
		// AWS: for a STANDARD workflow, the same name and input as a RUNNING
		// execution returns that execution; a closed one or a different input
		// is ExecutionAlreadyExists (names are reserved for 90 days).
		if x.input == input && x.run.Describe().Status == "RUNNING" {
			return startExecutionOutput{ExecutionArn: arn, StartDate: epoch(x.started)}, nil
		}
		return nil, errorf("ExecutionAlreadyExists", "Execution Already Exists: '%s'", arn)
	}
	run, err := s.engine.Start(context.WithoutCancel(ctx), m.compiled, StartInput{
		StateMachineArn: m.arn, StateMachineName: m.name, ExecutionArn: arn, Name: name,
		Input: json.RawMessage(input), RoleArn: m.roleArn,
	})
	if err != nil {
		return nil, fmt.Errorf("start execution %s: %w", arn, err)
	}
	started := run.Describe().StartDate
	if started.IsZero() {
		started = s.opts.Now()
	}
	x := &execution{arn: arn, name: name, input: input, machine: m, run: run, started: started}
	s.executions[arn] = x
	m.executions = append(m.executions, x)
	s.log.Info("execution started", "executionArn", arn)
	return startExecutionOutput{ExecutionArn: arn, StartDate: epoch(started)}, nil
}

func (s *Server) execution(arn string) (*execution, error) {
	if err := s.checkArn("executionArn", arn, "execution"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	x, ok := s.executions[arn]
	s.mu.Unlock()
	if !ok {
		return nil, errorf("ExecutionDoesNotExist", "Execution Does Not Exist: '%s'", arn)
	}
	return x, nil
}

type executionArnInput struct {
	ExecutionArn string `json:"executionArn"`
}

type dataDetails struct {
	Included bool `json:"included"`
}

type describeExecutionOutput struct {
	ExecutionArn    string       `json:"executionArn"`
	StateMachineArn string       `json:"stateMachineArn"`
	Name            string       `json:"name"`
	Status          string       `json:"status"`
	StartDate       epoch        `json:"startDate"`
	StopDate        *epoch       `json:"stopDate,omitempty"`
	Input           string       `json:"input"`
	InputDetails    dataDetails  `json:"inputDetails"`
	Output          *string      `json:"output,omitempty"`
	OutputDetails   *dataDetails `json:"outputDetails,omitempty"`
	Error           string       `json:"error,omitempty"`
	Cause           string       `json:"cause,omitempty"`
}

func (s *Server) describeExecution(_ context.Context, in *executionArnInput) (any, error) {
	x, err := s.execution(in.ExecutionArn)
	if err != nil {
		return nil, err
	}
	r := x.run.Describe()
	out := describeExecutionOutput{
		ExecutionArn: x.arn, StateMachineArn: x.machine.arn, Name: x.name, Status: r.Status,
		StartDate: epoch(x.started), StopDate: epochPtr(r.StopDate),
		Input: x.input, InputDetails: dataDetails{Included: true},
		Error: r.Error, Cause: r.Cause,
	}
	if r.Status == "SUCCEEDED" {
		o := string(r.Output)
		out.Output = &o
		out.OutputDetails = &dataDetails{Included: true}
	}
	return out, nil
}

type listExecutionsInput struct {
	StateMachineArn string `json:"stateMachineArn"`
	StatusFilter    string `json:"statusFilter"`
	MaxResults      int    `json:"maxResults"`
	NextToken       string `json:"nextToken"`
}

type executionListItem struct {
	ExecutionArn    string `json:"executionArn"`
	StateMachineArn string `json:"stateMachineArn"`
	Name            string `json:"name"`
	Status          string `json:"status"`
	StartDate       epoch  `json:"startDate"`
	StopDate        *epoch `json:"stopDate,omitempty"`
}

type listExecutionsOutput struct {
	Executions []executionListItem `json:"executions"`
	NextToken  string              `json:"nextToken,omitempty"`
}

var executionStatuses = []string{"RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"}

func (s *Server) listExecutions(_ context.Context, in *listExecutionsInput) (any, error) {
	m, err := s.machine(in.StateMachineArn)
	if err != nil {
		return nil, err
	}
	if in.StatusFilter != "" && !slices.Contains(executionStatuses, in.StatusFilter) {
		return nil, errorf("ValidationException", "invalid statusFilter %q: want one of %s", in.StatusFilter, strings.Join(executionStatuses, ", "))
	}
	// Newest first. A listing covers the executions that existed when its
	// first page was asked for, so later starts do not shift its pages.
	s.mu.Lock()
	snap := len(m.executions)
	if n, ok := snapshotOf(in.NextToken); ok && n <= snap {
		snap = n
	}
	started := slices.Clone(m.executions[:snap])
	s.mu.Unlock()
	var matched []executionListItem
	for i := len(started) - 1; i >= 0; i-- {
		x := started[i]
		r := x.run.Describe()
		if in.StatusFilter != "" && r.Status != in.StatusFilter {
			continue
		}
		matched = append(matched, executionListItem{ExecutionArn: x.arn, StateMachineArn: m.arn, Name: x.name, Status: r.Status, StartDate: epoch(x.started), StopDate: epochPtr(r.StopDate)})
	}
	scope := fmt.Sprintf("executions|%s|%s|%d", m.arn, in.StatusFilter, snap)
	from, to, next, err := page(scope, len(matched), in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := listExecutionsOutput{Executions: []executionListItem{}, NextToken: next}
	out.Executions = append(out.Executions, matched[from:to]...)
	return out, nil
}

type getExecutionHistoryInput struct {
	ExecutionArn         string `json:"executionArn"`
	MaxResults           int    `json:"maxResults"`
	ReverseOrder         bool   `json:"reverseOrder"`
	NextToken            string `json:"nextToken"`
	IncludeExecutionData *bool  `json:"includeExecutionData"`
}

type getExecutionHistoryOutput struct {
	Events    []map[string]any `json:"events"`
	NextToken string           `json:"nextToken,omitempty"`
}

// dataFields are the details fields that carry execution data; they are left
// out when includeExecutionData is false.
var dataFields = []string{"input", "output", "parameters"}

func (s *Server) getExecutionHistory(_ context.Context, in *getExecutionHistoryInput) (any, error) {
	x, err := s.execution(in.ExecutionArn)
	if err != nil {
		return nil, err
	}
	events := x.run.History()
	snap := len(events)
	if n, ok := snapshotOf(in.NextToken); ok && n <= snap {
		snap = n
	}
	events = events[:snap]
	if in.ReverseOrder {
		events = slices.Clone(events)
		slices.Reverse(events)
	}
	scope := fmt.Sprintf("history|%s|%t|%d", x.arn, in.ReverseOrder, snap)
	from, to, next, err := page(scope, len(events), in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	includeData := in.IncludeExecutionData == nil || *in.IncludeExecutionData
	out := getExecutionHistoryOutput{Events: []map[string]any{}, NextToken: next}
	for _, e := range events[from:to] {
		ev := map[string]any{"timestamp": epoch(e.Timestamp), "type": e.Type, "id": e.ID}
		if e.PreviousEventID != 0 {
			ev["previousEventId"] = e.PreviousEventID
		}
		for k, v := range e.Details {
			if !includeData {
				v = withoutData(v)
			}
			ev[k] = v
		}
		out.Events = append(out.Events, ev)
	}
	return out, nil
}

// withoutData drops the input, output and parameters of a details object.
func withoutData(details json.RawMessage) json.RawMessage {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(details, &m); err != nil {
		return details
	}
	for _, f := range dataFields {
		delete(m, f)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return details
	}
	return b
}

// snapshotOf reads the listing length a nextToken was made for (the last
// field of its scope).
func snapshotOf(token string) (int, bool) {
	if token == "" {
		return 0, false
	}
	scope, ok := tokenScope(token)
	if !ok {
		return 0, false
	}
	i := strings.LastIndexByte(scope, '|')
	if i < 0 {
		return 0, false
	}
	var n int
	if _, err := fmt.Sscanf(scope[i+1:], "%d", &n); err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

type stopExecutionInput struct {
	ExecutionArn string `json:"executionArn"`
	Error        string `json:"error"`
	Cause        string `json:"cause"`
}

type stopExecutionOutput struct {
	StopDate epoch `json:"stopDate"`
}

func (s *Server) stopExecution(_ context.Context, in *stopExecutionInput) (any, error) {
	x, err := s.execution(in.ExecutionArn)
	if err != nil {
		return nil, err
	}
	if len(in.Error) > maxErrorChars || len(in.Cause) > maxCauseChars {
		return nil, errorf("ValidationException", "error is limited to %d and cause to %d characters", maxErrorChars, maxCauseChars)
	}
	if x.run.Describe().Status == "RUNNING" {
		x.run.Stop(in.Error, in.Cause)
		s.log.Info("execution stopped", "executionArn", x.arn)
	}
	stopped := x.run.Describe().StopDate
	if stopped.IsZero() {
		stopped = s.opts.Now()
	}
	return stopExecutionOutput{StopDate: epoch(stopped)}, nil
}

type sendTaskSuccessInput struct {
	TaskToken string  `json:"taskToken"`
	Output    *string `json:"output"`
}

func (s *Server) sendTaskSuccess(_ context.Context, in *sendTaskSuccessInput) (any, error) {
	if err := checkToken(in.TaskToken); err != nil {
		return nil, err
	}
	if in.Output == nil {
		return nil, errorf("InvalidOutput", "output is required")
	}
	if len(*in.Output) > maxPayloadBytes {
		return nil, errorf("InvalidOutput", "output is larger than 256 KiB")
	}
	if !json.Valid([]byte(*in.Output)) {
		return nil, errorf("InvalidOutput", "output is not valid JSON")
	}
	return struct{}{}, taskError(s.engine.SendTaskSuccess(in.TaskToken, json.RawMessage(*in.Output)))
}

type sendTaskFailureInput struct {
	TaskToken string `json:"taskToken"`
	Error     string `json:"error"`
	Cause     string `json:"cause"`
}

func (s *Server) sendTaskFailure(_ context.Context, in *sendTaskFailureInput) (any, error) {
	if err := checkToken(in.TaskToken); err != nil {
		return nil, err
	}
	if len(in.Error) > maxErrorChars || len(in.Cause) > maxCauseChars {
		return nil, errorf("ValidationException", "error is limited to %d and cause to %d characters", maxErrorChars, maxCauseChars)
	}
	return struct{}{}, taskError(s.engine.SendTaskFailure(in.TaskToken, in.Error, in.Cause))
}

type sendTaskHeartbeatInput struct {
	TaskToken string `json:"taskToken"`
}

func (s *Server) sendTaskHeartbeat(_ context.Context, in *sendTaskHeartbeatInput) (any, error) {
	if err := checkToken(in.TaskToken); err != nil {
		return nil, err
	}
	return struct{}{}, taskError(s.engine.SendTaskHeartbeat(in.TaskToken))
}

func checkToken(token string) error {
	if token == "" || len(token) > 2048 {
		return errorf("InvalidToken", "taskToken must be 1 to 2048 characters")
	}
	return nil
}

// taskError maps the engine's task token errors to the API's.
func taskError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrTaskDoesNotExist):
		return errorf("TaskDoesNotExist", "Task Does Not Exist")
	case errors.Is(err, ErrTaskTimedOut):
		return errorf("TaskTimedOut", "Task Timed Out")
	case errors.Is(err, ErrInvalidOutput):
		return errorf("InvalidOutput", "Invalid Output: %v", err)
	case errors.Is(err, ErrInvalidToken):
		return errorf("InvalidToken", "Invalid Token")
	default:
		return err
	}
}

type validateInput struct {
	Definition string `json:"definition"`
	Type       string `json:"type"`
	Severity   string `json:"severity"`
	MaxResults int    `json:"maxResults"`
}

type diagnostic struct {
	Severity string `json:"severity"`
	Code     string `json:"code"`
	Message  string `json:"message"`
	Location string `json:"location,omitempty"`
}

type validateOutput struct {
	Result      string       `json:"result"`
	Diagnostics []diagnostic `json:"diagnostics"`
	Truncated   bool         `json:"truncated"`
}

func (s *Server) validateStateMachineDefinition(_ context.Context, in *validateInput) (any, error) {
	switch in.Severity {
	case "", "ERROR", "WARNING":
	default:
		return nil, errorf("ValidationException", "invalid severity %q: want ERROR or WARNING", in.Severity)
	}
	limit := in.MaxResults
	if limit < 0 || limit > 100 {
		return nil, errorf("ValidationException", "maxResults must be between 0 and 100, got %d", limit)
	}
	if limit == 0 {
		limit = 100
	}
	var diags []diagnostic
	switch {
	case strings.TrimSpace(in.Definition) == "":
		diags = []diagnostic{{Severity: "ERROR", Code: "MISSING_DESCRIPTION", Message: "the definition is empty"}}
	case len(in.Definition) > maxDefinitionBytes:
		diags = []diagnostic{{Severity: "ERROR", Code: "SCHEMA_VALIDATION_FAILED", Message: "the definition is larger than 1 MiB"}}
	default:
		for _, p := range s.engine.Validate([]byte(in.Definition)) {
			diags = append(diags, diagnostic{Severity: "ERROR", Code: awsCode(p), Message: p.Code + ": " + p.Message, Location: p.Location})
		}
	}
	out := validateOutput{Result: "OK", Diagnostics: []diagnostic{}}
	if len(diags) > 0 {
		out.Result = "FAIL"
	}
	if len(diags) > limit {
		diags, out.Truncated = diags[:limit], true
	}
	out.Diagnostics = append(out.Diagnostics, diags...)
	return out, nil
}
