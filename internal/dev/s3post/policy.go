package s3post

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Limits of a policy document (decoded JSON).
const (
	MaxPolicyBytes = 20 << 10
	MaxConditions  = 64
)

// Condition operators.
const (
	OpEq         = "eq"
	OpStartsWith = "starts-with"
	OpRange      = "content-length-range"
)

// Condition is one condition of a POST policy: a form field (lower case,
// without "$") equal to or starting with Value, or the file's size within
// Min and Max.
type Condition struct {
	Op       string
	Field    string
	Value    string
	Min, Max int64
}

// Policy is a POST policy document.
type Policy struct {
	Expiration time.Time
	Conditions []Condition
}

// ErrPolicy is returned (wrapped) for a policy document S3 would refuse as
// malformed.
var ErrPolicy = errors.New("malformed POST policy")

// ParsePolicy reads a POST policy document (the base64-decoded JSON):
//
//	{"expiration": "2026-03-02T10:00:00Z",
//	 "conditions": [{"bucket": "b"}, ["eq", "$key", "k"],
//	                ["starts-with", "$Content-Type", "image/"],
//	                ["content-length-range", 1, 10485760]]}
//
// Field names are compared without regard to case, as S3 does. Documents
// over MaxPolicyBytes or with more than MaxConditions conditions are
// refused.
func ParsePolicy(doc []byte) (Policy, error) {
	if len(doc) > MaxPolicyBytes {
		return Policy{}, fmt.Errorf("%w: over %d bytes", ErrPolicy, MaxPolicyBytes)
	}
	var raw struct {
		Expiration *string           `json:"expiration"`
		Conditions []json.RawMessage `json:"conditions"`
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return Policy{}, fmt.Errorf("%w: %v", ErrPolicy, err)
	}
	if dec.More() {
		return Policy{}, fmt.Errorf("%w: data after the document", ErrPolicy)
	}
	if raw.Expiration == nil {
		return Policy{}, fmt.Errorf("%w: no expiration", ErrPolicy)
	}
	exp, err := time.Parse(time.RFC3339Nano, *raw.Expiration)
	if err != nil {
		return Policy{}, fmt.Errorf("%w: expiration is not an ISO 8601 time", ErrPolicy)
	}
	if len(raw.Conditions) > MaxConditions {
		return Policy{}, fmt.Errorf("%w: more than %d conditions", ErrPolicy, MaxConditions)
	}
	p := Policy{Expiration: exp}
	for i, rc := range raw.Conditions {
		c, err := parseCondition(rc)
		if err != nil {
			return Policy{}, fmt.Errorf("%w: condition %d: %v", ErrPolicy, i, err)
		}
		p.Conditions = append(p.Conditions, c...)
	}
	return p, nil
}

// parseCondition reads one condition: an object of exact matches or an
// array [op, "$field", value] / ["content-length-range", min, max].
func parseCondition(rc json.RawMessage) ([]Condition, error) {
	switch b := bytes.TrimSpace(rc); {
	case len(b) > 0 && b[0] == '{':
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, errors.New("an exact-match condition must map field names to strings")
		}
		if len(m) != 1 {
			return nil, errors.New("an exact-match condition must name one field")
		}
		var out []Condition
		for k, v := range m {
			if k == "" {
				return nil, errors.New("an exact-match condition must name a field")
			}
			out = append(out, Condition{Op: OpEq, Field: strings.ToLower(k), Value: v})
		}
		return out, nil
	case len(b) > 0 && b[0] == '[':
		var arr []json.RawMessage
		if err := json.Unmarshal(b, &arr); err != nil || len(arr) != 3 {
			return nil, errors.New("an array condition must have three elements")
		}
		var op string
		if err := json.Unmarshal(arr[0], &op); err != nil {
			return nil, errors.New("the operator must be a string")
		}
		switch op = strings.ToLower(op); op {
		case OpRange:
			var lo, hi int64
			if json.Unmarshal(arr[1], &lo) != nil || json.Unmarshal(arr[2], &hi) != nil || lo < 0 || hi < lo {
				return nil, errors.New("content-length-range needs 0 <= min <= max")
			}
			return []Condition{{Op: OpRange, Min: lo, Max: hi}}, nil
		case OpEq, OpStartsWith:
			var field, value string
			if json.Unmarshal(arr[1], &field) != nil || json.Unmarshal(arr[2], &value) != nil {
				return nil, errors.New("field and value must be strings")
			}
			name, ok := strings.CutPrefix(field, "$")
			if !ok || name == "" {
				return nil, errors.New(`the field must be "$" and its name`)
			}
			return []Condition{{Op: op, Field: strings.ToLower(name), Value: value}}, nil
		}
		return nil, fmt.Errorf("unknown operator %q", op)
	}
	return nil, errors.New("a condition must be an object or an array")
}
