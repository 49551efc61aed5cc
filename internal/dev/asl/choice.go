package asl

import (
	"strings"
	"time"
)

type choiceOp uint8

const (
	opNone choiceOp = iota
	opStringEquals
	opStringLessThan
	opStringGreaterThan
	opStringLessThanEquals
	opStringGreaterThanEquals
	opStringMatches
	opNumericEquals
	opNumericLessThan
	opNumericGreaterThan
	opNumericLessThanEquals
	opNumericGreaterThanEquals
	opBooleanEquals
	opTimestampEquals
	opTimestampLessThan
	opTimestampGreaterThan
	opTimestampLessThanEquals
	opTimestampGreaterThanEquals
	opIsNull
	opIsPresent
	opIsNumeric
	opIsString
	opIsBoolean
	opIsTimestamp
)

type operandType uint8

const (
	operandString operandType = iota
	operandNumber
	operandBool
	operandTimestamp
)

type opInfo struct {
	op      choiceOp
	typ     operandType
	isPath  bool
	pattern bool
}

var choiceOps = func() map[string]opInfo {
	m := map[string]opInfo{}
	add := func(name string, op choiceOp, typ operandType, withPath bool) {
		m[name] = opInfo{op: op, typ: typ}
		if withPath {
			m[name+"Path"] = opInfo{op: op, typ: typ, isPath: true}
		}
	}
	add("StringEquals", opStringEquals, operandString, true)
	add("StringLessThan", opStringLessThan, operandString, true)
	add("StringGreaterThan", opStringGreaterThan, operandString, true)
	add("StringLessThanEquals", opStringLessThanEquals, operandString, true)
	add("StringGreaterThanEquals", opStringGreaterThanEquals, operandString, true)
	add("NumericEquals", opNumericEquals, operandNumber, true)
	add("NumericLessThan", opNumericLessThan, operandNumber, true)
	add("NumericGreaterThan", opNumericGreaterThan, operandNumber, true)
	add("NumericLessThanEquals", opNumericLessThanEquals, operandNumber, true)
	add("NumericGreaterThanEquals", opNumericGreaterThanEquals, operandNumber, true)
	add("BooleanEquals", opBooleanEquals, operandBool, true)
	add("TimestampEquals", opTimestampEquals, operandTimestamp, true)
	add("TimestampLessThan", opTimestampLessThan, operandTimestamp, true)
	add("TimestampGreaterThan", opTimestampGreaterThan, operandTimestamp, true)
	add("TimestampLessThanEquals", opTimestampLessThanEquals, operandTimestamp, true)
	add("TimestampGreaterThanEquals", opTimestampGreaterThanEquals, operandTimestamp, true)
	add("IsNull", opIsNull, operandBool, false)
	add("IsPresent", opIsPresent, operandBool, false)
	add("IsNumeric", opIsNumeric, operandBool, false)
	add("IsString", opIsString, operandBool, false)
	add("IsBoolean", opIsBoolean, operandBool, false)
	add("IsTimestamp", opIsTimestamp, operandBool, false)
	m["StringMatches"] = opInfo{op: opStringMatches, typ: operandString, pattern: true}
	return m
}()

type choiceRule struct {
	next      string
	nextState *state

	variable    *Path
	op          choiceOp
	operand     any // string, float64, bool, time.Time
	operandPath *Path

	and []*choiceRule
	or  []*choiceRule
	not *choiceRule
}

// eval reports whether the rule matches input; a missing Variable is a
// States.Runtime error except for IsPresent.
func (r *choiceRule) eval(input, ctx any) (bool, error) {
	switch {
	case r.and != nil:
		for _, c := range r.and {
			ok, err := c.eval(input, ctx)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case r.or != nil:
		for _, c := range r.or {
			ok, err := c.eval(input, ctx)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case r.not != nil:
		ok, err := r.not.eval(input, ctx)
		return !ok, err
	}
	root := input
	if r.variable.context {
		root = ctx
	}
	v, found := r.variable.eval(root)
	if r.op == opIsPresent {
		return found == r.operand.(bool), nil
	}
	if !found {
		return false, newStateError(ErrRuntime, "Invalid path '%s': The choice state's condition path references an invalid value.", r.variable.raw)
	}
	operand := r.operand
	if r.operandPath != nil {
		proot := input
		if r.operandPath.context {
			proot = ctx
		}
		ov, ok := r.operandPath.eval(proot)
		if !ok {
			return false, newStateError(ErrRuntime, "Invalid path '%s': The choice state's condition path references an invalid value.", r.operandPath.raw)
		}
		operand = ov
	}
	switch r.op {
	case opIsNull:
		return (v == nil) == operand.(bool), nil
	case opIsNumeric:
		return isNumber(v) == operand.(bool), nil
	case opIsString:
		_, ok := v.(string)
		return ok == operand.(bool), nil
	case opIsBoolean:
		_, ok := v.(bool)
		return ok == operand.(bool), nil
	case opIsTimestamp:
		s, ok := v.(string)
		if ok {
			_, err := parseTimestamp(s)
			ok = err == nil
		}
		return ok == operand.(bool), nil
	case opStringEquals, opStringLessThan, opStringGreaterThan, opStringLessThanEquals, opStringGreaterThanEquals:
		a, ok1 := v.(string)
		b, ok2 := operand.(string)
		if !ok1 || !ok2 {
			return false, nil
		}
		return compareOrdered(r.op-opStringEquals, strings.Compare(a, b)), nil
	case opStringMatches:
		a, ok := v.(string)
		return ok && wildcardMatch(operand.(string), a), nil
	case opNumericEquals, opNumericLessThan, opNumericGreaterThan, opNumericLessThanEquals, opNumericGreaterThanEquals:
		a, ok1 := toFloat(v)
		b, ok2 := toFloat(operand)
		if !ok1 || !ok2 {
			return false, nil
		}
		c := 0
		if a < b {
			c = -1
		} else if a > b {
			c = 1
		}
		return compareOrdered(r.op-opNumericEquals, c), nil
	case opBooleanEquals:
		a, ok1 := v.(bool)
		b, ok2 := operand.(bool)
		return ok1 && ok2 && a == b, nil
	case opTimestampEquals, opTimestampLessThan, opTimestampGreaterThan, opTimestampLessThanEquals, opTimestampGreaterThanEquals:
		s, ok := v.(string)
		if !ok {
			return false, nil
		}
		a, err := parseTimestamp(s)
		if err != nil {
			return false, nil
		}
		var b time.Time
		switch o := operand.(type) {
		case time.Time:
			b = o
		case string:
			if b, err = parseTimestamp(o); err != nil {
				return false, nil
			}
		default:
			return false, nil
		}
		return compareOrdered(r.op-opTimestampEquals, a.Compare(b)), nil
	}
	return false, nil
}

// compareOrdered maps an offset (0 Equals, 1 LessThan, 2 GreaterThan,
// 3 LessThanEquals, 4 GreaterThanEquals) and a comparison result to a match.
func compareOrdered(kind choiceOp, c int) bool {
	switch kind {
	case 0:
		return c == 0
	case 1:
		return c < 0
	case 2:
		return c > 0
	case 3:
		return c <= 0
	case 4:
		return c >= 0
	}
	return false
}

func parseTimestamp(s string) (time.Time, error) {
	return time.Parse(time.RFC3339Nano, s)
}

// wildcardMatch implements StringMatches: '*' matches any run of characters,
// "\*" a literal star and "\\" a literal backslash.
func wildcardMatch(pattern, s string) bool {
	type tok struct {
		star bool
		c    rune
	}
	var toks []tok
	rs := []rune(pattern)
	for i := 0; i < len(rs); i++ {
		if rs[i] == '\\' && i+1 < len(rs) {
			i++
			toks = append(toks, tok{c: rs[i]})
			continue
		}
		toks = append(toks, tok{star: rs[i] == '*', c: rs[i]})
	}
	str := []rune(s)
	// Classic greedy wildcard matching with backtracking to the last star.
	ti, si, star, mark := 0, 0, -1, 0
	for si < len(str) {
		switch {
		case ti < len(toks) && !toks[ti].star && toks[ti].c == str[si]:
			ti++
			si++
		case ti < len(toks) && toks[ti].star:
			star, mark = ti, si
			ti++
		case star >= 0:
			ti = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for ti < len(toks) && toks[ti].star {
		ti++
	}
	return ti == len(toks)
}
