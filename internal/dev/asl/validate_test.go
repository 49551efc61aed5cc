package asl

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
)

func problemKeys(ps []Problem) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Code+" "+p.Location)
	}
	sort.Strings(out)
	return out
}

func TestValidateReportsEveryProblem(t *testing.T) {
	def := `{
	  "StartAt": "Route",
	  "Bogus": 1,
	  "States": {
	    "Route": {"Type": "Choice", "Choices": [
	        {"Variable": "$.x", "StringEquals": "a", "NumericEquals": 1, "Next": "Done"},
	        {"Variable": "$.x", "Next": "Done"},
	        {"And": [], "Next": "Done"},
	        {"Not": {"Variable": "$.y", "IsPresent": true, "Next": "Done"}, "Next": "Done"},
	        {"Variable": "$.t", "TimestampEquals": "yesterday", "Next": "Done"},
	        {"Variable": "$.x", "StringEquals": "b"}
	      ], "Default": "Nowhere"},
	    "Work": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f", "Next": "Done", "End": true,
	      "TimeoutSeconds": 10, "HeartbeatSeconds": 10, "Result": 1,
	      "Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"], "BackoffRate": 0.5, "IntervalSeconds": 0, "MaxAttempts": -1, "JitterStrategy": "SOME"}],
	      "Catch": [{"ErrorEquals": ["States.ALL", "X"], "Next": "Done"}, {"ErrorEquals": [], "Next": "Done"}]},
	    "NoNext": {"Type": "Pass"},
	    "BadPaths": {"Type": "Pass", "InputPath": "x", "ResultPath": "$.a[*]", "Parameters": {"a.$": "$.[", "b.$": "States.Nope()"}, "End": true},
	    "Done": {"Type": "Succeed", "Next": "Route"},
	    "Typo": {"Type": "Pas", "End": true}
	  }
	}`
	got := problemKeys(Validate([]byte(def)))
	want := []string{
		"UNKNOWN_FIELD /Bogus",
		"INVALID_CHOICE_RULE /States/Route/Choices/0",
		"INVALID_CHOICE_RULE /States/Route/Choices/1",
		"INVALID_CHOICE_RULE /States/Route/Choices/2/And",
		"INVALID_CHOICE_RULE /States/Route/Choices/3/Not/Next",
		"INVALID_TIMESTAMP /States/Route/Choices/4/TimestampEquals",
		"INVALID_CHOICE_RULE /States/Route/Choices/5",
		"MISSING_TRANSITION_TARGET /States/Route/Default",
		"NEXT_AND_END /States/Work",
		"UNKNOWN_FIELD /States/Work/Result",
		"INVALID_VALUE /States/Work/HeartbeatSeconds",
		"INVALID_ERROR_NAME /States/Work/Retry/0/ErrorEquals",
		"INVALID_VALUE /States/Work/Retry/1/BackoffRate",
		"INVALID_VALUE /States/Work/Retry/1/IntervalSeconds",
		"INVALID_VALUE /States/Work/Retry/1/MaxAttempts",
		"INVALID_VALUE /States/Work/Retry/1/JitterStrategy",
		"INVALID_ERROR_NAME /States/Work/Catch/0/ErrorEquals",
		"INVALID_ERROR_NAME /States/Work/Catch/0/ErrorEquals",
		"INVALID_VALUE /States/Work/Catch/1/ErrorEquals",
		"MISSING_NEXT /States/NoNext",
		"INVALID_PATH /States/BadPaths/InputPath",
		"INVALID_REFERENCE_PATH /States/BadPaths/ResultPath",
		"INVALID_PATH /States/BadPaths/Parameters/a.$",
		"INVALID_INTRINSIC /States/BadPaths/Parameters/b.$",
		"UNKNOWN_FIELD /States/Done/Next",
		"INVALID_VALUE /States/Typo/Type",
		"UNREACHABLE_STATE /States/Work",
		"UNREACHABLE_STATE /States/NoNext",
		"UNREACHABLE_STATE /States/BadPaths",
		"UNREACHABLE_STATE /States/Typo",
	}
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\n\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestValidateCases(t *testing.T) {
	wrap := func(states string) string { return `{"StartAt":"A","States":{` + states + `}}` }
	tests := []struct {
		name, def, want string // want: "CODE location" of one expected problem, "" for valid
	}{
		{"valid minimal", wrap(`"A":{"Type":"Pass","End":true}`), ""},
		{"not JSON", `{"StartAt":`, "INVALID_JSON "},
		{"not an object", `[1]`, "INVALID_TYPE "},
		{"missing StartAt", `{"States":{"A":{"Type":"Succeed"}}}`, "MISSING_FIELD "},
		{"StartAt target", `{"StartAt":"Z","States":{"A":{"Type":"Succeed"}}}`, "MISSING_TRANSITION_TARGET /StartAt"},
		{"missing Type", wrap(`"A":{"End":true}`), "MISSING_FIELD /States/A"},
		{"Next target", wrap(`"A":{"Type":"Pass","Next":"B"}`), "MISSING_TRANSITION_TARGET /States/A/Next"},
		{"Catch target", wrap(`"A":{"Type":"Task","Resource":"arn:aws:lambda:x:1:function:f","Catch":[{"ErrorEquals":["States.ALL"],"Next":"Q"}],"End":true}`), "MISSING_TRANSITION_TARGET /States/A/Catch/0/Next"},
		{"lambda:invoke without FunctionName", wrap(`"A":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"Payload.$":"$"},"End":true}`), "MISSING_FIELD /States/A/Parameters"},
		{"lambda:invoke without Parameters", wrap(`"A":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken","End":true}`), "MISSING_FIELD /States/A"},
		{"lambda:invoke FunctionName.$", wrap(`"A":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName.$":"$.fn"},"End":true}`), ""},
		{"duplicate state name", `{"StartAt":"A","States":{"A":{"Type":"Succeed"},"A":{"Type":"Pass","End":true}}}`, "DUPLICATE_KEY /States/A"},
		{"Task without Resource", wrap(`"A":{"Type":"Task","End":true}`), "MISSING_FIELD /States/A"},
		{"Resource not an ARN", wrap(`"A":{"Type":"Task","Resource":"f","End":true}`), "INVALID_VALUE /States/A/Resource"},
		{"Timeout and TimeoutPath", wrap(`"A":{"Type":"Task","Resource":"arn:aws:lambda:x:1:function:f","TimeoutSeconds":5,"TimeoutSecondsPath":"$.t","End":true}`), "CONFLICTING_FIELDS /States/A"},
		{"Wait two fields", wrap(`"A":{"Type":"Wait","Seconds":5,"SecondsPath":"$.s","End":true}`), "CONFLICTING_FIELDS /States/A"},
		{"Wait bad timestamp", wrap(`"A":{"Type":"Wait","Timestamp":"tomorrow","End":true}`), "INVALID_TIMESTAMP /States/A/Timestamp"},
		{"Fail with End", wrap(`"A":{"Type":"Fail","End":true}`), "UNKNOWN_FIELD /States/A/End"},
		{"Fail Error and ErrorPath", wrap(`"A":{"Type":"Fail","Error":"x","ErrorPath":"$.e"}`), "CONFLICTING_FIELDS /States/A"},
		{"Choice without Choices", wrap(`"A":{"Type":"Choice"}`), "MISSING_FIELD /States/A"},
		{"Choice unknown operator", wrap(`"A":{"Type":"Choice","Choices":[{"Variable":"$.x","StringEqual":"a","Next":"A"}]}`), "UNKNOWN_FIELD /States/A/Choices/0/StringEqual"},
		{"Choice operand type", wrap(`"A":{"Type":"Choice","Choices":[{"Variable":"$.x","NumericEquals":"1","Next":"A"}]}`), "INVALID_TYPE /States/A/Choices/0/NumericEquals"},
		{"Not with array", wrap(`"A":{"Type":"Choice","Choices":[{"Not":[{"Variable":"$.x","IsNull":true}],"Next":"A"}]}`), "INVALID_CHOICE_RULE /States/A/Choices/0/Not"},
		{"Parallel branch problems", wrap(`"A":{"Type":"Parallel","End":true,"Branches":[{"StartAt":"B","States":{"B":{"Type":"Pass","Next":"Z"}}}]}`), "MISSING_TRANSITION_TARGET /States/A/Branches/0/States/B/Next"},
		{"Parallel no Branches", wrap(`"A":{"Type":"Parallel","End":true}`), "MISSING_FIELD /States/A"},
		{"Map processor problems", wrap(`"A":{"Type":"Map","End":true,"ItemProcessor":{"StartAt":"Call","States":{"Call":{"Type":"Task","Resource":"arn:aws:lambda:x:1:function:f"}}}}`), "MISSING_NEXT /States/A/ItemProcessor/States/Call"},
		{"Map no processor", wrap(`"A":{"Type":"Map","End":true}`), "MISSING_FIELD /States/A"},
		{"Map both selectors", wrap(`"A":{"Type":"Map","End":true,"ItemSelector":{},"Parameters":{},"Iterator":{"StartAt":"B","States":{"B":{"Type":"Succeed"}}}}`), "CONFLICTING_FIELDS /States/A"},
		{"escaped pointer", wrap(`"A":{"Type":"Pass","Next":"a/b~c"}`), "MISSING_TRANSITION_TARGET /States/A/Next"},
		{"pointer escaping of names", `{"StartAt":"a/b~c","States":{"a/b~c":{"Type":"Pass"}}}`, "MISSING_NEXT /States/a~1b~0c"},
		{"long state name", `{"StartAt":"` + strings.Repeat("n", 81) + `","States":{"` + strings.Repeat("n", 81) + `":{"Type":"Succeed"}}}`, "INVALID_STATE_NAME /States/" + strings.Repeat("n", 81)},
		// Not supported yet.
		{"JSONata", `{"QueryLanguage":"JSONata","StartAt":"A","States":{"A":{"Type":"Succeed"}}}`, "UNSUPPORTED /QueryLanguage"},
		{"JSONata in a state", wrap(`"A":{"Type":"Pass","QueryLanguage":"JSONata","Output":"{% 1 %}","End":true}`), "UNSUPPORTED /States/A/QueryLanguage"},
		{"JSONata Output", wrap(`"A":{"Type":"Pass","Output":"{% 1 %}","End":true}`), "UNSUPPORTED /States/A/Output"},
		{"Assign", wrap(`"A":{"Type":"Pass","Assign":{"x":1},"End":true}`), "UNSUPPORTED /States/A/Assign"},
		{"Distributed Map", wrap(`"A":{"Type":"Map","End":true,"ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},"StartAt":"B","States":{"B":{"Type":"Succeed"}}}}`), "UNSUPPORTED /States/A/ItemProcessor/ProcessorConfig/Mode"},
		{"ItemReader", wrap(`"A":{"Type":"Map","End":true,"ItemReader":{},"ItemProcessor":{"StartAt":"B","States":{"B":{"Type":"Succeed"}}}}`), "UNSUPPORTED /States/A/ItemReader"},
		{"ToleratedFailureCount", wrap(`"A":{"Type":"Map","End":true,"ToleratedFailureCount":1,"ItemProcessor":{"StartAt":"B","States":{"B":{"Type":"Succeed"}}}}`), "UNSUPPORTED /States/A/ToleratedFailureCount"},
		{"activity", wrap(`"A":{"Type":"Task","Resource":"arn:aws:states:us-east-1:1:activity:x","End":true}`), "UNSUPPORTED /States/A/Resource"},
		{"valid full", wrap(`"A":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken","Parameters":{"FunctionName":"f","Payload":{"t.$":"$$.Task.Token"}},
		  "HeartbeatSecondsPath":"$.hb","TimeoutSeconds":100,"ResultSelector":{"a.$":"$.x"},"Retry":[{"ErrorEquals":["X"],"MaxDelaySeconds":10,"JitterStrategy":"FULL"},{"ErrorEquals":["States.ALL"]}],
		  "Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$.e","Next":"B"}],"Next":"B"},
		  "B":{"Type":"Map","ItemsPath":"$.items","MaxConcurrencyPath":"$.c","ItemSelector":{"v.$":"$$.Map.Item.Value"},"ItemProcessor":{"ProcessorConfig":{"Mode":"INLINE"},"StartAt":"C","States":{"C":{"Type":"Succeed"}}},"Next":"D"},
		  "D":{"Type":"Wait","TimestampPath":"$.t","Next":"E"},"E":{"Type":"Fail","ErrorPath":"$.e","CausePath":"States.Format('{}', $.c)"}`), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := problemKeys(Validate([]byte(tt.def)))
			if tt.want == "" {
				if len(got) != 0 {
					t.Errorf("problems %v, want none", got)
				}
				return
			}
			for _, g := range got {
				if g == tt.want {
					return
				}
			}
			t.Errorf("problems %v, want one %q", got, tt.want)
		})
	}
}

func TestParseReturnsValidationError(t *testing.T) {
	_, err := Parse([]byte(`{"StartAt":"A","States":{"A":{"Type":"Pass"}}}`))
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 1 || ve.Problems[0].Code != CodeMissingNext {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "/States/A") {
		t.Errorf("message %q lacks the location", err.Error())
	}
	for _, p := range ve.Problems {
		if p.Message == "" {
			t.Errorf("problem without message: %+v", p)
		}
	}
	_ = fmt.Sprint(ve)
}

func TestValidateDuplicateStateNamesAcrossTheMachine(t *testing.T) {
	def := `{"StartAt":"P","States":{
	  "P":{"Type":"Parallel","Next":"M","Branches":[
	    {"StartAt":"X","States":{"X":{"Type":"Pass","Next":"Done"},"Done":{"Type":"Succeed"}}},
	    {"StartAt":"X","States":{"X":{"Type":"Map","End":true,
	      "ItemProcessor":{"StartAt":"M","States":{"M":{"Type":"Pass","End":true}}}}}}]},
	  "M":{"Type":"Pass","Next":"Done"},
	  "Done":{"Type":"Succeed"}}}`
	var got []string
	for _, p := range Validate([]byte(def)) {
		got = append(got, p.Code+" "+p.Location)
		if p.Code == CodeDuplicateStateName && !strings.Contains(p.Message, "/States/") {
			t.Errorf("message %q does not say where the name was first used", p.Message)
		}
	}
	want := []string{
		"DUPLICATE_STATE_NAME /States/P/Branches/1/States/X",
		"DUPLICATE_STATE_NAME /States/M",
		"DUPLICATE_STATE_NAME /States/Done",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\n\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
