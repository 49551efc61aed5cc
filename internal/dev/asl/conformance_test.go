package asl_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"dsrflow/internal/dev/asl"
	"dsrflow/internal/dev/aslmock"
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

// knownGaps are cases where the engine does not yet do what AWS's docs say.
// Each stays listed (and its test passes) only while the engine still
// differs; a fix makes the test fail until the entry is removed.
var knownGaps = map[string]string{}

// -conformance-report FILE writes what this engine did for every case, for
// the differential check in tools/aslconformance.
var conformanceReport = flag.String("conformance-report", "", "write this engine's result for every conformance case to this JSON file")

// caseReport is one case's result in the -conformance-report file.
type caseReport struct {
	Status   string          `json:"status,omitempty"`
	Output   json.RawMessage `json:"output,omitempty"`
	Error    string          `json:"error,omitempty"`
	Cause    string          `json:"cause,omitempty"`
	Valid    *bool           `json:"valid,omitempty"`
	Problems []asl.Problem   `json:"problems,omitempty"`
}

var (
	reportMu sync.Mutex
	reports  = map[string]caseReport{}
)

func record(name string, r caseReport) {
	reportMu.Lock()
	reports[name] = r
	reportMu.Unlock()
}

func TestConformance(t *testing.T) {
	if *conformanceReport != "" {
		t.Cleanup(func() {
			b, err := json.MarshalIndent(map[string]any{"implementation": "dsrflow internal/dev/asl", "cases": reports}, "", " ")
			if err == nil {
				err = os.WriteFile(*conformanceReport, b, 0o644)
			}
			if err != nil {
				t.Errorf("write -conformance-report: %v", err)
			}
		})
	}
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
			var diffs []string
			if c.Expected.Valid != nil {
				diffs = checkValidation(name, c)
			} else {
				diffs = checkExecution(t, name, c)
			}
			if reason, known := knownGaps[name]; known {
				if len(diffs) == 0 {
					t.Errorf("%s now conforms: remove it from knownGaps", name)
				} else {
					t.Logf("known gap (%s): %s", reason, strings.Join(diffs, "; "))
				}
				return
			}
			for _, d := range diffs {
				t.Errorf("%s\n%s", c.Description, d)
			}
		})
	}
}

// checkValidation validates a definition and lists how the problems found
// differ from the expected ones.
func checkValidation(name string, c conformanceCase) []string {
	problems := asl.Validate(c.Definition)
	valid := len(problems) == 0
	record(name, caseReport{Valid: &valid, Problems: problems})
	if *c.Expected.Valid {
		if len(problems) > 0 {
			return []string{fmt.Sprintf("got problems %+v, want a valid definition", problems)}
		}
		return nil
	}
	if len(problems) == 0 {
		return []string{fmt.Sprintf("got no problems, want problems at %+v", c.Expected.Problems)}
	}
	var diffs []string
	for _, want := range c.Expected.Problems {
		found := false
		for _, p := range problems {
			if within(p.Location, want.Location) {
				found = true
				break
			}
		}
		if !found {
			diffs = append(diffs, fmt.Sprintf("got problems %+v, want one at or inside %q", problems, want.Location))
		}
	}
	return diffs
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

// checkExecution runs a case on the engine and lists how the result differs
// from the expected one.
func checkExecution(t *testing.T, name string, c conformanceCase) []string {
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
	record(name, caseReport{Status: res.Status, Output: res.Output, Error: res.Error, Cause: aslmock.LambdaCause(res.Error, res.Cause)})
	want := c.Expected
	if res.Status != want.Status {
		return []string{fmt.Sprintf("status = %s (error %q, cause %q, output %s), want %s", res.Status, res.Error, res.Cause, res.Output, want.Status)}
	}
	var diffs []string
	switch res.Status {
	case "SUCCEEDED":
		if !sameJSON(t, res.Output, want.Output) {
			diffs = append(diffs, fmt.Sprintf("output = %s\nwant     %s", res.Output, want.Output))
		}
	case "FAILED", "TIMED_OUT":
		if res.Error != want.Error {
			diffs = append(diffs, fmt.Sprintf("error = %q (cause %q), want %q", res.Error, res.Cause, want.Error))
		}
		cause := aslmock.LambdaCause(res.Error, res.Cause)
		if want.Cause != nil && cause != *want.Cause {
			diffs = append(diffs, fmt.Sprintf("cause = %q, want %q", cause, *want.Cause))
		}
		if want.CausePattern != "" && !regexp.MustCompile(want.CausePattern).MatchString(cause) {
			diffs = append(diffs, fmt.Sprintf("cause = %q, want a match of %q", cause, want.CausePattern))
		}
	}
	return diffs
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
