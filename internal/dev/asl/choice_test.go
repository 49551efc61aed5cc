package asl

import (
	"fmt"
	"testing"
)

func TestChoiceOperators(t *testing.T) {
	input := `{"s":"banana","n":10,"f":2.5,"b":true,"t":"2024-05-01T12:00:00Z","nul":null,
	  "s2":"cherry","n2":10,"t2":"2024-05-02T00:00:00+02:00","b2":true,"file":"log-2024.txt","star":"a*b","obj":{}}`
	tests := []struct {
		rule string
		want bool
	}{
		{`"Variable":"$.s","StringEquals":"banana"`, true},
		{`"Variable":"$.s","StringEquals":"apple"`, false},
		{`"Variable":"$.n","StringEquals":"10"`, false},
		{`"Variable":"$.s","StringLessThan":"cherry"`, true},
		{`"Variable":"$.s","StringGreaterThan":"apple"`, true},
		{`"Variable":"$.s","StringLessThanEquals":"banana"`, true},
		{`"Variable":"$.s","StringGreaterThanEquals":"bananas"`, false},
		{`"Variable":"$.s","StringEqualsPath":"$.s2"`, false},
		{`"Variable":"$.s","StringLessThanPath":"$.s2"`, true},
		{`"Variable":"$.s","StringGreaterThanPath":"$.s2"`, false},
		{`"Variable":"$.s","StringLessThanEqualsPath":"$.s"`, true},
		{`"Variable":"$.s","StringGreaterThanEqualsPath":"$.s2"`, false},
		{`"Variable":"$.file","StringMatches":"log-*.txt"`, true},
		{`"Variable":"$.file","StringMatches":"*.csv"`, false},
		{`"Variable":"$.file","StringMatches":"*"`, true},
		{`"Variable":"$.star","StringMatches":"a\\*b"`, true},
		{`"Variable":"$.file","StringMatches":"log\\*"`, false},
		{`"Variable":"$.n","NumericEquals":10`, true},
		{`"Variable":"$.n","NumericEquals":10.0`, true},
		{`"Variable":"$.s","NumericEquals":10`, false},
		{`"Variable":"$.f","NumericLessThan":3`, true},
		{`"Variable":"$.f","NumericGreaterThan":3`, false},
		{`"Variable":"$.n","NumericLessThanEquals":10`, true},
		{`"Variable":"$.n","NumericGreaterThanEquals":11`, false},
		{`"Variable":"$.n","NumericEqualsPath":"$.n2"`, true},
		{`"Variable":"$.f","NumericLessThanPath":"$.n"`, true},
		{`"Variable":"$.f","NumericGreaterThanPath":"$.n"`, false},
		{`"Variable":"$.n","NumericLessThanEqualsPath":"$.n2"`, true},
		{`"Variable":"$.n","NumericGreaterThanEqualsPath":"$.f"`, true},
		{`"Variable":"$.b","BooleanEquals":true`, true},
		{`"Variable":"$.b","BooleanEquals":false`, false},
		{`"Variable":"$.s","BooleanEquals":true`, false},
		{`"Variable":"$.b","BooleanEqualsPath":"$.b2"`, true},
		{`"Variable":"$.t","TimestampEquals":"2024-05-01T12:00:00Z"`, true},
		{`"Variable":"$.t","TimestampEquals":"2024-05-01T14:00:00+02:00"`, true},
		{`"Variable":"$.t","TimestampLessThan":"2024-05-01T12:00:01Z"`, true},
		{`"Variable":"$.t","TimestampGreaterThan":"2024-05-01T12:00:01Z"`, false},
		{`"Variable":"$.t","TimestampLessThanEquals":"2024-05-01T12:00:00Z"`, true},
		{`"Variable":"$.t","TimestampGreaterThanEquals":"2025-01-01T00:00:00Z"`, false},
		{`"Variable":"$.t","TimestampLessThanPath":"$.t2"`, true},
		{`"Variable":"$.t","TimestampEqualsPath":"$.t2"`, false},
		{`"Variable":"$.t","TimestampGreaterThanPath":"$.t2"`, false},
		{`"Variable":"$.t","TimestampLessThanEqualsPath":"$.t"`, true},
		{`"Variable":"$.t","TimestampGreaterThanEqualsPath":"$.t2"`, false},
		{`"Variable":"$.s","TimestampEquals":"2024-05-01T12:00:00Z"`, false},
		{`"Variable":"$.nul","IsNull":true`, true},
		{`"Variable":"$.s","IsNull":true`, false},
		{`"Variable":"$.s","IsNull":false`, true},
		{`"Variable":"$.s","IsPresent":true`, true},
		{`"Variable":"$.nope","IsPresent":true`, false},
		{`"Variable":"$.nope","IsPresent":false`, true},
		{`"Variable":"$.n","IsNumeric":true`, true},
		{`"Variable":"$.s","IsNumeric":true`, false},
		{`"Variable":"$.s","IsString":true`, true},
		{`"Variable":"$.n","IsString":false`, true},
		{`"Variable":"$.b","IsBoolean":true`, true},
		{`"Variable":"$.obj","IsBoolean":true`, false},
		{`"Variable":"$.t","IsTimestamp":true`, true},
		{`"Variable":"$.s","IsTimestamp":true`, false},
		{`"And":[{"Variable":"$.n","NumericEquals":10},{"Variable":"$.b","BooleanEquals":true}]`, true},
		{`"And":[{"Variable":"$.n","NumericEquals":10},{"Variable":"$.b","BooleanEquals":false}]`, false},
		{`"Or":[{"Variable":"$.n","NumericEquals":1},{"Variable":"$.b","BooleanEquals":true}]`, true},
		{`"Or":[{"Variable":"$.n","NumericEquals":1},{"Variable":"$.b","BooleanEquals":false}]`, false},
		{`"Not":{"Variable":"$.s","StringEquals":"banana"}`, false},
		{`"Not":{"Not":{"Variable":"$.s","StringEquals":"banana"}}`, true},
		{`"Variable":"$$.Execution.Name","StringEquals":"exec1"`, true},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			def := fmt.Sprintf(`{"StartAt":"C","States":{
			  "C":{"Type":"Choice","Choices":[{%s,"Next":"Yes"}],"Default":"No"},
			  "Yes":{"Type":"Pass","Result":true,"End":true},
			  "No":{"Type":"Pass","Result":false,"End":true}}}`, tt.rule)
			res, x := run(t, def, input, nil)
			wantSuccess(t, res, x, fmt.Sprint(tt.want))
		})
	}
}

func TestChoiceErrors(t *testing.T) {
	t.Run("no match, no default", func(t *testing.T) {
		def := `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.n","NumericEquals":1,"Next":"E"}]},"E":{"Type":"Succeed"}}}`
		res, x := run(t, def, `{"n":2}`, nil)
		wantFailure(t, res, x, ErrNoChoiceMatched)
	})
	t.Run("missing variable", func(t *testing.T) {
		def := `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.missing","NumericEquals":1,"Next":"E"}],"Default":"E"},"E":{"Type":"Succeed"}}}`
		res, x := run(t, def, `{"n":2}`, nil)
		wantFailure(t, res, x, ErrRuntime)
	})
	t.Run("output path applies to effective input", func(t *testing.T) {
		def := `{"StartAt":"C","States":{"C":{"Type":"Choice","InputPath":"$.in","OutputPath":"$.v","Choices":[{"Variable":"$.v","NumericEquals":1,"Next":"E"}]},"E":{"Type":"Succeed"}}}`
		res, x := run(t, def, `{"in":{"v":1}}`, nil)
		wantSuccess(t, res, x, `1`)
	})
}

func TestWildcardMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"a*", "abc", true},
		{"*c", "abc", true},
		{"a*c*e", "abcde", true},
		{"a*c*e", "abcdf", false},
		{`a\*`, "a*", true},
		{`a\*`, "ab", false},
		{`a\\`, `a\`, true},
		{"abc", "abc", true},
		{"abc", "abd", false},
		{"**x", "yyx", true},
	}
	for _, tt := range tests {
		if got := wildcardMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("wildcardMatch(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}
