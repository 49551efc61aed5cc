package asl_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"dsrflow/internal/asl"
	"dsrflow/internal/aslmock"
)

// conformanceCase is one file of testdata/conformance/<section>/<case>.json:
// a definition, its input and scripted task outcomes (by Task state name),
// and the result the AWS documentation prescribes.
type conformanceCase struct {
	Description string          `json:"description"`
	Definition  json.RawMessage `json:"definition"`
	Input       json.RawMessage `json:"input"`
	Tasks       json.RawMessage `json:"tasks"`
	Expected    struct {
		// Execution cases.
		Status       string          `json:"status"`
		Output       json.RawMessage `json:"output"`
		Error        string          `json:"error"`
		Cause        *string         `json:"cause"`
		CausePattern string          `json:"causePattern"`
		// Validation cases.
		Valid    *bool `json:"valid"`
		Problems []struct {
			Location string `json:"location"`
		} `json:"problems"`
	} `json:"expected"`
}

// The names every execution case runs under (its context object).
const (
	confStateMachineArn = "arn:aws:states:us-east-1:123456789012:stateMachine:conformance"
	confExecutionArn    = "arn:aws:states:us-east-1:123456789012:execution:conformance:case"
	confRoleArn         = "arn:aws:iam::123456789012:role/conformance"
)

func loadConformance(t *testing.T) map[string]conformanceCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "conformance", "*", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no conformance cases found: %v", err)
	}
	cases := make(map[string]conformanceCase, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var c conformanceCase
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		name := filepath.Base(filepath.Dir(f)) + "/" + strings.TrimSuffix(filepath.Base(f), ".json")
		cases[name] = c
	}
	return cases
}

func TestConformance(t *testing.T) {
	cases := loadConformance(t)
	names := make([]string, 0, len(cases))
	for n := range cases {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		c := cases[name]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if c.Expected.Valid != nil {
				checkValidation(t, c)
				return
			}
			checkExecution(t, c)
		})
	}
}

func checkValidation(t *testing.T, c conformanceCase) {
	problems := asl.Validate(c.Definition)
	if *c.Expected.Valid {
		if len(problems) > 0 {
			t.Errorf("%s\ngot problems %+v, want a valid definition", c.Description, problems)
		}
		return
	}
	if len(problems) == 0 {
		t.Fatalf("%s\ngot no problems, want problems at %+v", c.Description, c.Expected.Problems)
	}
	for _, want := range c.Expected.Problems {
		found := false
		for _, p := range problems {
			if within(p.Location, want.Location) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("%s\ngot problems %+v, want one at or inside %q", c.Description, problems, want.Location)
		}
	}
}

// within reports whether the JSON Pointer loc names node or a place inside
// it; "" and "/" both name the whole definition.
func within(loc, node string) bool {
	if loc == "/" {
		loc = ""
	}
	if node == "/" {
		node = ""
	}
	return loc == node || strings.HasPrefix(loc, node+"/")
}

func checkExecution(t *testing.T, c conformanceCase) {
	if problems := asl.Validate(c.Definition); len(problems) > 0 {
		t.Fatalf("%s\nthe definition is invalid: %+v", c.Description, problems)
	}
	script := aslmock.Script{RepeatLast: true}
	if len(c.Tasks) > 0 {
		var err error
		if script, err = aslmock.ParseTasks(c.Tasks); err != nil {
			t.Fatalf("tasks: %v", err)
		}
	}
	mock, err := aslmock.Instrument(c.Definition, script)
	if err != nil {
		t.Fatal(err)
	}
	sm, err := asl.Parse(mock.Definition())
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	engine := asl.NewEngine(asl.Options{Clock: asl.VirtualClock(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)), Resolver: mock})
	mock.SetTokenSender(engine)
	input := c.Input
	if len(input) == 0 {
		input = json.RawMessage(`{}`)
	}
	x, err := engine.Start(context.Background(), sm, asl.StartInput{
		StateMachineArn: confStateMachineArn, StateMachineName: "conformance",
		ExecutionArn: confExecutionArn, Name: "case", Input: input, RoleArn: confRoleArn,
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := x.Wait(ctx)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	want := c.Expected
	if res.Status != want.Status {
		t.Fatalf("%s\nstatus = %s (error %q, cause %q, output %s), want %s", c.Description, res.Status, res.Error, res.Cause, res.Output, want.Status)
	}
	switch res.Status {
	case "SUCCEEDED":
		if !sameJSON(t, res.Output, want.Output) {
			t.Errorf("%s\noutput = %s\nwant     %s", c.Description, res.Output, want.Output)
		}
	case "FAILED":
		if res.Error != want.Error {
			t.Errorf("%s\nerror = %q (cause %q), want %q", c.Description, res.Error, res.Cause, want.Error)
		}
		cause := aslmock.LambdaCause(res.Error, res.Cause)
		if want.Cause != nil && cause != *want.Cause {
			t.Errorf("%s\ncause = %q, want %q", c.Description, cause, *want.Cause)
		}
		if want.CausePattern != "" && !regexp.MustCompile(want.CausePattern).MatchString(cause) {
			t.Errorf("%s\ncause = %q, want a match of %q", c.Description, cause, want.CausePattern)
		}
	}
}

// sameJSON compares JSON by meaning. A caught error's {"Error", "Cause"}
// whose Cause is a Lambda error JSON is compared by its errorMessage (see
// aslmock.LambdaCause).
func sameJSON(t *testing.T, got, want json.RawMessage) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Errorf("output is not JSON: %v", err)
		return false
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("expected output is not JSON: %v", err)
	}
	return reflect.DeepEqual(lambdaCauses(g), w)
}

func lambdaCauses(v any) any {
	switch t := v.(type) {
	case []any:
		for i := range t {
			t[i] = lambdaCauses(t[i])
		}
	case map[string]any:
		if len(t) == 2 {
			e, ok1 := t["Error"].(string)
			c, ok2 := t["Cause"].(string)
			if ok1 && ok2 {
				t["Cause"] = aslmock.LambdaCause(e, c)
				return t
			}
		}
		for k := range t {
			t[k] = lambdaCauses(t[k])
		}
	}
	return v
}
