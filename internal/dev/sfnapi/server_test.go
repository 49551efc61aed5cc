package sfnapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"dsrflow/internal/dev/asl"
	"dsrflow/internal/dev/sfnapi"
	"dsrflow/internal/dev/sfnapi/sfnapitest"
)

const passDef = `{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`

// holdDef succeeds at once with its input, unless the input has "hold": then
// it waits for a callback whose token the "hold" function records under the
// execution's name.
const holdDef = `{"StartAt":"Route","States":{
  "Route":{"Type":"Choice","Choices":[{"Variable":"$.hold","IsPresent":true,"Next":"Hold"}],"Default":"Done"},
  "Hold":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
    "Parameters":{"FunctionName":"hold","Payload":{"token.$":"$$.Task.Token","name.$":"$$.Execution.Name"}},"End":true},
  "Done":{"Type":"Pass","End":true}}}`

// tokens records the task tokens the "hold" function receives.
type tokens struct {
	mu sync.Mutex
	m  map[string]string
}

func (tk *tokens) Invoke(_ context.Context, payload []byte) ([]byte, error) {
	var in struct{ Token, Name string }
	if err := json.Unmarshal(payload, &in); err != nil {
		return nil, err
	}
	tk.mu.Lock()
	tk.m[in.Name] = in.Token
	tk.mu.Unlock()
	return []byte(`{}`), nil
}

// get waits for the token of execution name.
func (tk *tokens) get(t *testing.T, name string) string {
	t.Helper()
	for range 500 {
		tk.mu.Lock()
		tok, ok := tk.m[name]
		tk.mu.Unlock()
		if ok {
			return tok
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("execution %s never reached its callback task", name)
	return ""
}

// newClient serves a Server in front of the local engine over httptest and
// returns an SDK client for it.
func newClient(t *testing.T, opts sfnapi.Options) (*sfn.Client, *tokens, string) {
	t.Helper()
	opts.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	tk := &tokens{m: map[string]string{}}
	engine := asl.NewEngine(asl.Options{
		Clock:    asl.VirtualClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
		Resolver: asl.Handlers{"hold": tk},
		Logger:   opts.Logger,
	})
	srv := sfnapi.New(sfnapi.ASL(engine), opts)
	client, url := sfnapitest.Serve(t, srv, opts.Region)
	return client, tk, url
}

// waitDone waits until an execution has closed and returns its description.
func waitDone(t *testing.T, c *sfn.Client, arn string) *sfn.DescribeExecutionOutput {
	t.Helper()
	for range 500 {
		d, err := c.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: &arn})
		if err != nil {
			t.Fatalf("DescribeExecution %s: %v", arn, err)
		}
		if d.Status != types.ExecutionStatusRunning {
			return d
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("execution %s is still running", arn)
	return nil
}

func createMachine(t *testing.T, c *sfn.Client, name, def string) string {
	t.Helper()
	out, err := c.CreateStateMachine(context.Background(), &sfn.CreateStateMachineInput{
		Name: aws.String(name), Definition: aws.String(def), RoleArn: aws.String("arn:aws:iam::123456789012:role/sfn"),
	})
	if err != nil {
		t.Fatalf("CreateStateMachine %s: %v", name, err)
	}
	return aws.ToString(out.StateMachineArn)
}

// wantErr checks that err is the SDK's typed error T.
func wantErr[T error](t *testing.T, what string, err error) {
	t.Helper()
	var target T
	if !errors.As(err, &target) {
		t.Errorf("%s: got error %v (%T), want %T", what, err, err, target)
	}
}

func TestStateMachines(t *testing.T) {
	ctx := context.Background()
	c, _, _ := newClient(t, sfnapi.Options{})
	arn := createMachine(t, c, "dsr-workflow", passDef)
	if want := "arn:aws:states:us-east-1:123456789012:stateMachine:dsr-workflow"; arn != want {
		t.Errorf("arn = %q, want %q", arn, want)
	}
	d, err := c.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: &arn})
	if err != nil {
		t.Fatalf("DescribeStateMachine: %v", err)
	}
	if aws.ToString(d.Definition) != passDef || aws.ToString(d.Name) != "dsr-workflow" || d.Status != types.StateMachineStatusActive || d.Type != types.StateMachineTypeStandard || d.CreationDate == nil {
		t.Errorf("DescribeStateMachine = %+v", d)
	}

	// Creating it again with the same settings returns it; other settings fail.
	if again := createMachine(t, c, "dsr-workflow", passDef); again != arn {
		t.Errorf("re-create returned %q, want %q", again, arn)
	}
	_, err = c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("dsr-workflow"), Definition: aws.String(`{"StartAt":"Q","States":{"Q":{"Type":"Succeed"}}}`), RoleArn: aws.String("arn:aws:iam::123456789012:role/sfn")})
	wantErr[*types.StateMachineAlreadyExists](t, "re-create with another definition", err)

	for _, n := range []string{"b", "c", "d"} {
		createMachine(t, c, n, passDef)
	}
	var names []string
	var pages int
	p := sfn.NewListStateMachinesPaginator(c, &sfn.ListStateMachinesInput{MaxResults: 3})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListStateMachines: %v", err)
		}
		pages++
		for _, m := range out.StateMachines {
			names = append(names, aws.ToString(m.Name))
		}
	}
	if want := []string{"dsr-workflow", "b", "c", "d"}; !reflect.DeepEqual(names, want) || pages != 2 {
		t.Errorf("ListStateMachines: got %q in %d pages, want %q in 2", names, pages, want)
	}
	_, err = c.ListStateMachines(ctx, &sfn.ListStateMachinesInput{NextToken: aws.String("garbage")})
	wantErr[*types.InvalidToken](t, "bad nextToken", err)
}

func TestCreateStateMachineErrors(t *testing.T) {
	ctx := context.Background()
	c, _, _ := newClient(t, sfnapi.Options{})
	role := aws.String("arn:aws:iam::123456789012:role/sfn")
	_, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("bad"), Definition: aws.String(`{"States":{}}`), RoleArn: role})
	wantErr[*types.InvalidDefinition](t, "definition without StartAt", err)
	if err != nil && !strings.Contains(err.Error(), "StartAt") {
		t.Errorf("InvalidDefinition message %q does not name the problem", err)
	}
	for _, name := range []string{"has space", "star*", "a/b", strings.Repeat("x", 81), "tab\tname", "ctl\x01"} {
		_, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String(name), Definition: aws.String(passDef), RoleArn: role})
		wantErr[*types.InvalidName](t, fmt.Sprintf("name %q", name), err)
	}
	_, err = c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("fast"), Definition: aws.String(passDef), RoleArn: role, Type: types.StateMachineTypeExpress})
	wantErr[*types.StateMachineTypeNotSupported](t, "EXPRESS", err)

	_, err = c.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String("arn:aws:states:us-east-1:123456789012:stateMachine:nope")})
	wantErr[*types.StateMachineDoesNotExist](t, "unknown machine", err)
	for _, arn := range []string{"nope", "arn:aws:states:us-east-1:123456789012:execution:a:b", "arn:aws-cn:states:us-east-1:123456789012:stateMachine:a", "arn:aws:states:eu-west-1:123456789012:stateMachine:a"} {
		_, err = c.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(arn)})
		wantErr[*types.InvalidArn](t, "arn "+arn, err)
	}
}

func TestChinaPartition(t *testing.T) {
	c, _, _ := newClient(t, sfnapi.Options{Partition: "aws-cn", Region: "cn-north-1", Account: "000011112222"})
	arn := createMachine(t, c, "dsr", holdDef)
	if want := "arn:aws-cn:states:cn-north-1:000011112222:stateMachine:dsr"; arn != want {
		t.Fatalf("arn = %q, want %q", arn, want)
	}
	out, err := c.StartExecution(context.Background(), &sfn.StartExecutionInput{StateMachineArn: &arn, Name: aws.String("req-1")})
	if err != nil {
		t.Fatalf("StartExecution: %v", err)
	}
	if want := "arn:aws-cn:states:cn-north-1:000011112222:execution:dsr:req-1"; aws.ToString(out.ExecutionArn) != want {
		t.Errorf("executionArn = %q, want %q", aws.ToString(out.ExecutionArn), want)
	}
}

func TestChinaRegionImpliesPartition(t *testing.T) {
	c, _, _ := newClient(t, sfnapi.Options{Region: "cn-northwest-1"})
	if arn, want := createMachine(t, c, "dsr", passDef), "arn:aws-cn:states:cn-northwest-1:123456789012:stateMachine:dsr"; arn != want {
		t.Errorf("arn = %q, want %q", arn, want)
	}
}

func TestStartExecutionIdempotency(t *testing.T) {
	ctx := context.Background()
	c, _, _ := newClient(t, sfnapi.Options{})
	arn := createMachine(t, c, "dsr", holdDef)
	start := func(name, input string) (*sfn.StartExecutionOutput, error) {
		return c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: &arn, Name: aws.String(name), Input: aws.String(input)})
	}
	first, err := start("req-1", `{"hold":true}`)
	if err != nil {
		t.Fatalf("StartExecution: %v", err)
	}
	// Same name and input while RUNNING: the same execution.
	again, err := start("req-1", `{"hold":true}`)
	if err != nil {
		t.Fatalf("StartExecution again: %v", err)
	}
	if aws.ToString(again.ExecutionArn) != aws.ToString(first.ExecutionArn) || !again.StartDate.Equal(*first.StartDate) {
		t.Errorf("repeat start = %s %v, want %s %v", aws.ToString(again.ExecutionArn), again.StartDate, aws.ToString(first.ExecutionArn), first.StartDate)
	}
	// Different input: ExecutionAlreadyExists.
	_, err = start("req-1", `{"hold":true,"other":1}`)
	wantErr[*types.ExecutionAlreadyExists](t, "same name, other input", err)
	// Closed execution, same input: ExecutionAlreadyExists.
	second, err := start("req-2", `{"a":1}`)
	if err != nil {
		t.Fatalf("StartExecution req-2: %v", err)
	}
	waitDone(t, c, aws.ToString(second.ExecutionArn))
	_, err = start("req-2", `{"a":1}`)
	wantErr[*types.ExecutionAlreadyExists](t, "same name and input after it closed", err)

	_, err = start("req 3", `{}`)
	wantErr[*types.InvalidName](t, "name with a space", err)
	_, err = start("req-4", `{not json`)
	wantErr[*types.InvalidExecutionInput](t, "input not JSON", err)
	_, err = c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String("arn:aws:states:us-east-1:123456789012:stateMachine:nope")})
	wantErr[*types.StateMachineDoesNotExist](t, "unknown machine", err)

	// No name: a UUID is chosen; no input: "{}".
	out, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: &arn})
	if err != nil {
		t.Fatalf("StartExecution without name: %v", err)
	}
	d := waitDone(t, c, aws.ToString(out.ExecutionArn))
	if len(aws.ToString(d.Name)) != 36 || aws.ToString(d.Input) != "{}" {
		t.Errorf("unnamed execution: name %q input %q, want a UUID and {}", aws.ToString(d.Name), aws.ToString(d.Input))
	}
}

func TestExecutions(t *testing.T) {
	ctx := context.Background()
	c, tk, _ := newClient(t, sfnapi.Options{})
	arn := createMachine(t, c, "dsr", holdDef)
	for i, in := range []string{`{"n":1}`, `{"hold":true}`, `{"n":3}`} {
		if _, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: &arn, Name: aws.String(fmt.Sprintf("r%d", i+1)), Input: aws.String(in)}); err != nil {
			t.Fatalf("StartExecution: %v", err)
		}
	}
	waitDone(t, c, "arn:aws:states:us-east-1:123456789012:execution:dsr:r3")
	tk.get(t, "r2")
	d := waitDone(t, c, "arn:aws:states:us-east-1:123456789012:execution:dsr:r1")
	if d.Status != types.ExecutionStatusSucceeded || aws.ToString(d.Output) != `{"n":1}` || aws.ToString(d.Input) != `{"n":1}` || d.StopDate == nil || aws.ToString(d.StateMachineArn) != arn {
		t.Errorf("DescribeExecution r1 = status %s output %q input %q stop %v", d.Status, aws.ToString(d.Output), aws.ToString(d.Input), d.StopDate)
	}
	held, err := c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String("arn:aws:states:us-east-1:123456789012:execution:dsr:r2")})
	if err != nil {
		t.Fatalf("DescribeExecution r2: %v", err)
	}
	if held.Status != types.ExecutionStatusRunning || held.Output != nil || held.StopDate != nil {
		t.Errorf("DescribeExecution r2 = status %s output %v stop %v, want RUNNING without output", held.Status, held.Output, held.StopDate)
	}
	_, err = c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String("arn:aws:states:us-east-1:123456789012:execution:dsr:nope")})
	wantErr[*types.ExecutionDoesNotExist](t, "unknown execution", err)
	_, err = c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	wantErr[*types.InvalidArn](t, "state machine ARN as execution ARN", err)

	list := func(filter types.ExecutionStatus, max int32) []string {
		var names []string
		p := sfn.NewListExecutionsPaginator(c, &sfn.ListExecutionsInput{StateMachineArn: &arn, StatusFilter: filter, MaxResults: max})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("ListExecutions: %v", err)
			}
			for _, x := range out.Executions {
				names = append(names, aws.ToString(x.Name))
			}
		}
		return names
	}
	if got, want := list("", 2), []string{"r3", "r2", "r1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ListExecutions = %q, want newest first %q", got, want)
	}
	if got, want := list(types.ExecutionStatusRunning, 0), []string{"r2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ListExecutions RUNNING = %q, want %q", got, want)
	}

	stop, err := c.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: held.ExecutionArn, Error: aws.String("Operator"), Cause: aws.String("duplicate")})
	if err != nil || stop.StopDate == nil {
		t.Fatalf("StopExecution: %v %v", stop, err)
	}
	held = waitDone(t, c, aws.ToString(held.ExecutionArn))
	if held.Status != types.ExecutionStatusAborted || aws.ToString(held.Error) != "Operator" || aws.ToString(held.Cause) != "duplicate" {
		t.Errorf("after StopExecution: status %s error %q cause %q, want ABORTED Operator duplicate", held.Status, aws.ToString(held.Error), aws.ToString(held.Cause))
	}
}

func TestExecutionHistory(t *testing.T) {
	ctx := context.Background()
	c, tk, _ := newClient(t, sfnapi.Options{})
	arn := createMachine(t, c, "dsr", holdDef)
	out, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: &arn, Name: aws.String("r1"), Input: aws.String(`{"hold":true}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(tk.get(t, "r1")), Output: aws.String(`{"done":true}`)}); err != nil {
		t.Fatalf("SendTaskSuccess: %v", err)
	}
	waitDone(t, c, aws.ToString(out.ExecutionArn))
	history := func(reverse bool, includeData *bool, max int32) []types.HistoryEvent {
		var events []types.HistoryEvent
		p := sfn.NewGetExecutionHistoryPaginator(c, &sfn.GetExecutionHistoryInput{ExecutionArn: out.ExecutionArn, ReverseOrder: reverse, IncludeExecutionData: includeData, MaxResults: max})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("GetExecutionHistory: %v", err)
			}
			events = append(events, page.Events...)
		}
		return events
	}
	types_ := func(evs []types.HistoryEvent) []string {
		var s []string
		for _, e := range evs {
			s = append(s, string(e.Type))
		}
		return s
	}
	all := history(false, nil, 3) // several pages
	got := types_(all)
	if len(got) < 6 || got[0] != "ExecutionStarted" || got[len(got)-1] != "ExecutionSucceeded" || !slices.Contains(got, "TaskSubmitted") || !slices.Contains(got, "TaskSucceeded") {
		t.Fatalf("history = %q, want ExecutionStarted ... TaskSubmitted ... TaskSucceeded ... ExecutionSucceeded", got)
	}
	last := len(all) - 1
	for i, e := range all {
		if e.Id != int64(i+1) || e.Timestamp == nil || e.Timestamp.Year() != 2026 {
			t.Errorf("event %d: id %d timestamp %v", i, e.Id, e.Timestamp)
		}
	}
	if got := aws.ToString(all[0].ExecutionStartedEventDetails.Input); got != `{"hold":true}` {
		t.Errorf("ExecutionStarted input = %q", got)
	}
	var gotOut any
	_ = json.Unmarshal([]byte(aws.ToString(all[last].ExecutionSucceededEventDetails.Output)), &gotOut)
	if !reflect.DeepEqual(gotOut, map[string]any{"done": true}) {
		t.Errorf("ExecutionSucceeded output = %v", gotOut)
	}
	reversed := types_(history(true, nil, 2))
	slices.Reverse(reversed)
	if !reflect.DeepEqual(reversed, got) {
		t.Errorf("reversed history = %q, want the reverse of %q", reversed, got)
	}
	hidden := history(false, aws.Bool(false), 0)
	if hidden[0].ExecutionStartedEventDetails.Input != nil || hidden[last].ExecutionSucceededEventDetails.Output != nil {
		t.Errorf("includeExecutionData=false still shows input %v / output %v", hidden[0].ExecutionStartedEventDetails.Input, hidden[last].ExecutionSucceededEventDetails.Output)
	}
	if aws.ToString(hidden[0].ExecutionStartedEventDetails.RoleArn) == "" {
		t.Error("includeExecutionData=false dropped a non-data field (roleArn)")
	}
}

func TestTaskCallbacks(t *testing.T) {
	ctx := context.Background()
	c, tk, _ := newClient(t, sfnapi.Options{})
	arn := createMachine(t, c, "dsr", holdDef)
	for _, n := range []string{"a", "b"} {
		if _, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: &arn, Name: aws.String(n), Input: aws.String(`{"hold":true}`)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.SendTaskHeartbeat(ctx, &sfn.SendTaskHeartbeatInput{TaskToken: aws.String(tk.get(t, "a"))}); err != nil {
		t.Errorf("SendTaskHeartbeat: %v", err)
	}
	_, err := c.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(tk.get(t, "a")), Output: aws.String(`{oops`)})
	wantErr[*types.InvalidOutput](t, "output not JSON", err)
	_, err = c.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String("AQBzzzz"), Output: aws.String(`{}`)})
	wantErr[*types.TaskDoesNotExist](t, "unknown token", err)
	_, err = c.SendTaskHeartbeat(ctx, &sfn.SendTaskHeartbeatInput{TaskToken: aws.String("not-a-token")})
	wantErr[*types.InvalidToken](t, "malformed token", err)

	if _, err := c.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: aws.String(tk.get(t, "b")), Error: aws.String("PartnerRejected"), Cause: aws.String("code 42")}); err != nil {
		t.Fatalf("SendTaskFailure: %v", err)
	}
	d := waitDone(t, c, "arn:aws:states:us-east-1:123456789012:execution:dsr:b")
	if d.Status != types.ExecutionStatusFailed || aws.ToString(d.Error) != "PartnerRejected" {
		t.Errorf("after SendTaskFailure: %s %q", d.Status, aws.ToString(d.Error))
	}
	_, err = c.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(tk.get(t, "b")), Output: aws.String(`{}`)})
	wantErr[*types.TaskTimedOut](t, "token of a closed execution", err)
}

func TestValidateStateMachineDefinition(t *testing.T) {
	ctx := context.Background()
	c, _, _ := newClient(t, sfnapi.Options{})
	ok, err := c.ValidateStateMachineDefinition(ctx, &sfn.ValidateStateMachineDefinitionInput{Definition: aws.String(passDef)})
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if ok.Result != types.ValidateStateMachineDefinitionResultCodeOk || len(ok.Diagnostics) != 0 || aws.ToBool(ok.Truncated) {
		t.Errorf("valid definition: %+v", ok)
	}
	bad, err := c.ValidateStateMachineDefinition(ctx, &sfn.ValidateStateMachineDefinitionInput{Definition: aws.String(`{"States":{}}`)})
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if bad.Result != types.ValidateStateMachineDefinitionResultCodeFail || len(bad.Diagnostics) == 0 ||
		bad.Diagnostics[0].Severity != types.ValidateStateMachineDefinitionSeverityError || aws.ToString(bad.Diagnostics[0].Code) != "SCHEMA_VALIDATION_FAILED" {
		t.Errorf("invalid definition: %+v", bad)
	}
	// Diagnostic codes are AWS's documented ones.
	for _, tt := range []struct{ def, code string }{
		{`{not json`, "INVALID_JSON_DESCRIPTION"},
		{``, "MISSING_DESCRIPTION"},
		{`{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"nope","End":true}}}`, "INVALID_RESOURCE"},
	} {
		out, err := c.ValidateStateMachineDefinition(ctx, &sfn.ValidateStateMachineDefinitionInput{Definition: aws.String(tt.def)})
		if err != nil {
			t.Fatalf("Validate %q: %v", tt.def, err)
		}
		var codes []string
		for _, d := range out.Diagnostics {
			codes = append(codes, aws.ToString(d.Code))
		}
		if out.Result != types.ValidateStateMachineDefinitionResultCodeFail || !slices.Contains(codes, tt.code) {
			t.Errorf("Validate %q: result %s codes %q, want FAIL with %s", tt.def, out.Result, codes, tt.code)
		}
	}
}

func TestValidateTruncates(t *testing.T) {
	c, _, _ := newClient(t, sfnapi.Options{})
	// Three states with a Next to nowhere: at least three problems.
	def := `{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"X"},"B":{"Type":"Pass","Next":"Y"},"C":{"Type":"Pass","Next":"Z"}}}`
	out, err := c.ValidateStateMachineDefinition(context.Background(), &sfn.ValidateStateMachineDefinitionInput{Definition: aws.String(def), MaxResults: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Diagnostics) != 2 || !aws.ToBool(out.Truncated) || out.Result != types.ValidateStateMachineDefinitionResultCodeFail {
		t.Errorf("maxResults 2: %d diagnostics, truncated %v, result %s; want 2, true, FAIL", len(out.Diagnostics), aws.ToBool(out.Truncated), out.Result)
	}
}

func TestListingsSurviveNewStarts(t *testing.T) {
	ctx := context.Background()
	c, _, _ := newClient(t, sfnapi.Options{})
	arn := createMachine(t, c, "dsr", holdDef)
	start := func(name string) {
		if _, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: &arn, Name: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
	}
	start("e1")
	start("e2")
	first, err := c.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: &arn, MaxResults: 1})
	if err != nil || len(first.Executions) != 1 || first.NextToken == nil {
		t.Fatalf("first page: %+v %v", first, err)
	}
	start("e3") // newest first: without a snapshot this would shift the pages
	second, err := c.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: &arn, MaxResults: 1, NextToken: first.NextToken})
	if err != nil || len(second.Executions) != 1 {
		t.Fatalf("second page: %+v %v", second, err)
	}
	if got := aws.ToString(first.Executions[0].Name) + "," + aws.ToString(second.Executions[0].Name); got != "e2,e1" {
		t.Errorf("pages = %s, want e2,e1", got)
	}
	_, err = c.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String("arn:aws:states:us-east-1:123456789012:execution:dsr:e1"), NextToken: first.NextToken})
	wantErr[*types.InvalidToken](t, "a ListExecutions token for GetExecutionHistory", err)
}

func TestProtocol(t *testing.T) {
	_, _, url := newClient(t, sfnapi.Options{})
	post := func(target, body string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("X-Amz-Target", target)
		req.Header.Set("Content-Type", "application/x-amz-json-1.0")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	status, body := post("AWSStepFunctions.DeleteStateMachine", `{}`)
	if status != 400 || body["__type"] != "com.amazonaws.states#UnknownOperationException" {
		t.Errorf("unsupported op: %d %v", status, body)
	}
	status, body = post("AWSStepFunctions.CreateStateMachine", `{"name":"n","definition":"{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Succeed\"}}}","roleArn":"r"}`)
	if status != 200 {
		t.Fatalf("CreateStateMachine: %d %v", status, body)
	}
	// creationDate is epoch seconds, a JSON number.
	if _, ok := body["creationDate"].(float64); !ok {
		t.Errorf("creationDate = %#v, want a number", body["creationDate"])
	}
	if d := time.Unix(int64(body["creationDate"].(float64)), 0); time.Since(d) > time.Hour {
		t.Errorf("creationDate %v is not now", d)
	}
	status, body = post("AWSStepFunctions.CreateStateMachine", `{"name":`)
	if status != 400 || body["__type"] != "com.amazonaws.states#SerializationException" {
		t.Errorf("malformed body: %d %v", status, body)
	}
}
