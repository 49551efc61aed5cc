package asl

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"math"
	mrand "math/rand/v2"
	"strings"
	"unicode/utf8"
)

type argKind uint8

const (
	argString argKind = iota
	argNumber
	argBool
	argNull
	argPath
	argCall
)

type intrinsicArg struct {
	kind argKind
	str  string // decoded string literal
	raw  string // string literal as written (escapes kept), for States.Format
	num  json.Number
	b    bool
	path *Path
	call *intrinsicCall
}

type intrinsicCall struct {
	name string
	args []intrinsicArg
	fn   func(args []any, lits []intrinsicArg) (any, error)
}

type intrinsicSpec struct {
	min, max int // max -1 = variadic
	fn       func(args []any, lits []intrinsicArg) (any, error)
}

var intrinsics = map[string]intrinsicSpec{
	"States.Format":         {1, -1, fnFormat},
	"States.StringToJson":   {1, 1, fnStringToJSON},
	"States.JsonToString":   {1, 1, fnJSONToString},
	"States.Array":          {0, -1, fnArray},
	"States.ArrayPartition": {2, 2, fnArrayPartition},
	"States.ArrayContains":  {2, 2, fnArrayContains},
	"States.ArrayRange":     {3, 3, fnArrayRange},
	"States.ArrayGetItem":   {2, 2, fnArrayGetItem},
	"States.ArrayLength":    {1, 1, fnArrayLength},
	"States.ArrayUnique":    {1, 1, fnArrayUnique},
	"States.Base64Encode":   {1, 1, fnBase64Encode},
	"States.Base64Decode":   {1, 1, fnBase64Decode},
	"States.Hash":           {2, 2, fnHash},
	"States.JsonMerge":      {3, 3, fnJSONMerge},
	"States.MathRandom":     {2, 3, fnMathRandom},
	"States.MathAdd":        {2, 2, fnMathAdd},
	"States.StringSplit":    {2, 2, fnStringSplit},
	"States.UUID":           {0, 0, fnUUID},
}

func isIntrinsic(s string) bool {
	return strings.HasPrefix(strings.TrimSpace(s), "States.")
}

// parseIntrinsic parses a whole intrinsic function call expression.
func parseIntrinsic(s string) (*intrinsicCall, error) {
	p := &intrinsicParser{s: s}
	p.skip()
	call, err := p.parseCall()
	if err != nil {
		return nil, fmt.Errorf("invalid intrinsic function %q: %w", s, err)
	}
	p.skip()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("invalid intrinsic function %q: unexpected %q after the call", s, p.s[p.i:])
	}
	if d := callDepth(call); d > maxIntrinsicNesting {
		return nil, fmt.Errorf("invalid intrinsic function %q: %d nested calls, at most %d are allowed", s, d, maxIntrinsicNesting)
	}
	return call, nil
}

const maxIntrinsicNesting = 10

func callDepth(c *intrinsicCall) int {
	d := 0
	for _, a := range c.args {
		if a.kind == argCall {
			d = max(d, callDepth(a.call))
		}
	}
	return d + 1
}

type intrinsicParser struct {
	s string
	i int
}

func (p *intrinsicParser) skip() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n') {
		p.i++
	}
}

func (p *intrinsicParser) parseCall() (*intrinsicCall, error) {
	open := strings.IndexByte(p.s[p.i:], '(')
	if open < 0 {
		return nil, fmt.Errorf("missing '('")
	}
	name := strings.TrimSpace(p.s[p.i : p.i+open])
	spec, ok := intrinsics[name]
	if !ok {
		return nil, fmt.Errorf("unknown function %q", name)
	}
	p.i += open + 1
	call := &intrinsicCall{name: name, fn: spec.fn}
	p.skip()
	if p.i < len(p.s) && p.s[p.i] == ')' {
		p.i++
	} else {
		for {
			p.skip()
			arg, err := p.parseArg()
			if err != nil {
				return nil, err
			}
			call.args = append(call.args, arg)
			p.skip()
			if p.i >= len(p.s) {
				return nil, fmt.Errorf("missing ')' in %s", name)
			}
			if p.s[p.i] == ',' {
				p.i++
				continue
			}
			if p.s[p.i] == ')' {
				p.i++
				break
			}
			return nil, fmt.Errorf("unexpected %q in arguments of %s", p.s[p.i], name)
		}
	}
	if len(call.args) < spec.min || (spec.max >= 0 && len(call.args) > spec.max) {
		want := fmt.Sprint(spec.min)
		switch {
		case spec.max < 0:
			want = fmt.Sprintf("at least %d", spec.min)
		case spec.max != spec.min:
			want = fmt.Sprintf("%d to %d", spec.min, spec.max)
		}
		return nil, fmt.Errorf("%s takes %s arguments, got %d", name, want, len(call.args))
	}
	if name == "States.Format" && call.args[0].kind == argString {
		if _, err := formatParts(call.args[0].raw); err != nil {
			return nil, err
		}
	}
	return call, nil
}

func (p *intrinsicParser) parseArg() (intrinsicArg, error) {
	if p.i >= len(p.s) {
		return intrinsicArg{}, fmt.Errorf("missing argument")
	}
	c := p.s[p.i]
	switch {
	case c == '\'':
		var dec, raw strings.Builder
		for j := p.i + 1; j < len(p.s); j++ {
			ch := p.s[j]
			if ch == '\\' {
				if j+1 >= len(p.s) {
					return intrinsicArg{}, fmt.Errorf("unterminated string literal")
				}
				next := p.s[j+1]
				switch next {
				case '\'', '{', '}', '\\':
				default:
					return intrinsicArg{}, fmt.Errorf("invalid escape \\%c in string literal", next)
				}
				dec.WriteByte(next)
				raw.WriteByte('\\')
				raw.WriteByte(next)
				j++
				continue
			}
			if ch == '\'' {
				p.i = j + 1
				return intrinsicArg{kind: argString, str: dec.String(), raw: raw.String()}, nil
			}
			dec.WriteByte(ch)
			raw.WriteByte(ch)
		}
		return intrinsicArg{}, fmt.Errorf("unterminated string literal")
	case c == '$':
		j := p.i
		depth := 0
		var quote byte
		for ; j < len(p.s); j++ {
			ch := p.s[j]
			if quote != 0 {
				if ch == '\\' {
					j++
				} else if ch == quote {
					quote = 0
				}
				continue
			}
			if depth > 0 && (ch == '\'' || ch == '"') {
				quote = ch
				continue
			}
			if ch == '[' || ch == '(' {
				depth++
			} else if ch == ']' || (ch == ')' && depth > 0) {
				depth--
			} else if depth == 0 && (ch == ',' || ch == ')' || ch == ' ') {
				break
			}
		}
		path, err := parsePath(p.s[p.i:j])
		if err != nil {
			return intrinsicArg{}, err
		}
		p.i = j
		return intrinsicArg{kind: argPath, path: path}, nil
	case strings.HasPrefix(p.s[p.i:], "States."):
		call, err := p.parseCall()
		if err != nil {
			return intrinsicArg{}, err
		}
		return intrinsicArg{kind: argCall, call: call}, nil
	}
	j := p.i
	for j < len(p.s) && p.s[j] != ',' && p.s[j] != ')' && p.s[j] != ' ' {
		j++
	}
	tok := p.s[p.i:j]
	p.i = j
	switch tok {
	case "true", "false":
		return intrinsicArg{kind: argBool, b: tok == "true"}, nil
	case "null":
		return intrinsicArg{kind: argNull}, nil
	}
	v, err := decodeJSON([]byte(tok))
	if n, ok := v.(json.Number); err == nil && ok {
		return intrinsicArg{kind: argNumber, num: n}, nil
	}
	return intrinsicArg{}, fmt.Errorf("invalid argument %q", tok)
}

func intrinsicFailure(format string, args ...any) error {
	return &stateError{Name: ErrIntrinsicFailure, Cause: fmt.Sprintf(format, args...)}
}

func (c *intrinsicCall) eval(input, ctx any) (any, error) {
	vals := make([]any, len(c.args))
	for i := range c.args {
		a := &c.args[i]
		switch a.kind {
		case argString:
			vals[i] = a.str
		case argNumber:
			vals[i] = a.num
		case argBool:
			vals[i] = a.b
		case argNull:
			vals[i] = nil
		case argPath:
			root := input
			if a.path.context {
				root = ctx
			}
			v, ok := a.path.eval(root)
			if !ok {
				return nil, intrinsicFailure("The JsonPath argument for the field '%s' could not be found in the input in %s", a.path.raw, c.name)
			}
			vals[i] = resolve(v)
		case argCall:
			v, err := a.call.eval(input, ctx)
			if err != nil {
				return nil, err
			}
			vals[i] = v
		}
	}
	return c.fn(vals, c.args)
}

// formatParts splits a States.Format template (escapes kept) into literal
// text and placeholders; a nil entry marks a "{}".
func formatParts(raw string) ([]*string, error) {
	var parts []*string
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			s := b.String()
			parts = append(parts, &s)
			b.Reset()
		}
	}
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '\\' && i+1 < len(raw):
			i++
			b.WriteByte(raw[i])
		case c == '{':
			if i+1 >= len(raw) || raw[i+1] != '}' {
				return nil, fmt.Errorf("States.Format: '{' must be followed by '}' (escape it as \\{)")
			}
			flush()
			parts = append(parts, nil)
			i++
		case c == '}':
			return nil, fmt.Errorf("States.Format: unmatched '}' (escape it as \\})")
		default:
			b.WriteByte(c)
		}
	}
	flush()
	return parts, nil
}

func fnFormat(args []any, lits []intrinsicArg) (any, error) {
	tmpl, ok := args[0].(string)
	if !ok {
		return nil, intrinsicFailure("States.Format: the template must be a string, got %s", typeName(args[0]))
	}
	raw := tmpl
	if lits[0].kind == argString {
		raw = lits[0].raw
	}
	parts, err := formatParts(raw)
	if err != nil {
		return nil, intrinsicFailure("%s", err.Error())
	}
	n := 0
	for _, p := range parts {
		if p == nil {
			n++
		}
	}
	if n != len(args)-1 {
		return nil, intrinsicFailure("States.Format: the template has %d placeholders but %d arguments were given", n, len(args)-1)
	}
	var b strings.Builder
	k := 1
	for _, p := range parts {
		if p != nil {
			b.WriteString(*p)
			continue
		}
		v := args[k]
		k++
		switch x := v.(type) {
		case string:
			b.WriteString(x)
		case nil:
			b.WriteString("null")
		case bool, json.Number:
			b.WriteString(mustJSON(x))
		default:
			if isNumber(x) {
				b.WriteString(mustJSON(x))
			} else {
				return nil, intrinsicFailure("States.Format: argument %d is a %s; only strings, numbers, booleans and null can be formatted", k-1, typeName(v))
			}
		}
	}
	return b.String(), nil
}

func fnStringToJSON(args []any, _ []intrinsicArg) (any, error) {
	s, ok := args[0].(string)
	if !ok {
		return nil, intrinsicFailure("States.StringToJson: the argument must be a string, got %s", typeName(args[0]))
	}
	v, err := decodeJSON([]byte(s))
	if err != nil {
		return nil, intrinsicFailure("States.StringToJson: the argument is not valid JSON: %v", err)
	}
	return v, nil
}

func fnJSONToString(args []any, _ []intrinsicArg) (any, error) {
	b, err := encodeJSON(args[0])
	if err != nil {
		return nil, intrinsicFailure("States.JsonToString: %v", err)
	}
	return string(b), nil
}

func fnArray(args []any, _ []intrinsicArg) (any, error) {
	out := make([]any, len(args))
	copy(out, args)
	return out, nil
}

func argArray(fn string, v any) ([]any, error) {
	a, ok := v.([]any)
	if !ok {
		return nil, intrinsicFailure("%s: expected an array, got %s", fn, typeName(v))
	}
	return a, nil
}

func argInt(fn, what string, v any) (int64, error) {
	i, ok := toInt(v)
	if !ok {
		return 0, intrinsicFailure("%s: %s must be an integer, got %s", fn, what, mustJSON(v))
	}
	return i, nil
}

// roundedInt reads an integer argument; as documented for ArrayPartition,
// ArrayRange, MathRandom and MathAdd, a non-integer is rounded to the nearest
// integer.
func roundedInt(fn, what string, v any) (int64, error) {
	f, ok := toFloat(v)
	if !ok || math.IsInf(f, 0) || math.IsNaN(f) || math.Abs(f) > 1<<62 {
		return 0, intrinsicFailure("%s: %s must be a number, got %s", fn, what, mustJSON(v))
	}
	if i, ok := toInt(v); ok {
		return i, nil
	}
	return int64(math.Floor(f + 0.5)), nil
}

func fnArrayPartition(args []any, _ []intrinsicArg) (any, error) {
	a, err := argArray("States.ArrayPartition", args[0])
	if err != nil {
		return nil, err
	}
	size, err := roundedInt("States.ArrayPartition", "the chunk size", args[1])
	if err != nil {
		return nil, err
	}
	if size <= 0 {
		return nil, intrinsicFailure("States.ArrayPartition: the chunk size must be positive, got %d", size)
	}
	out := []any{}
	for i := 0; i < len(a); i += int(size) {
		end := min(i+int(size), len(a))
		chunk := make([]any, end-i)
		copy(chunk, a[i:end])
		out = append(out, chunk)
	}
	return out, nil
}

func fnArrayContains(args []any, _ []intrinsicArg) (any, error) {
	a, err := argArray("States.ArrayContains", args[0])
	if err != nil {
		return nil, err
	}
	for _, e := range a {
		if jsonEqual(e, args[1]) {
			return true, nil
		}
	}
	return false, nil
}

func fnArrayRange(args []any, _ []intrinsicArg) (any, error) {
	const fn = "States.ArrayRange"
	start, err := roundedInt(fn, "the start", args[0])
	if err != nil {
		return nil, err
	}
	end, err := roundedInt(fn, "the end", args[1])
	if err != nil {
		return nil, err
	}
	step, err := roundedInt(fn, "the step", args[2])
	if err != nil {
		return nil, err
	}
	if step == 0 {
		return nil, intrinsicFailure("%s: the step must not be 0", fn)
	}
	out := []any{}
	for i := start; (step > 0 && i <= end) || (step < 0 && i >= end); i += step {
		if len(out) == 1000 {
			return nil, intrinsicFailure("%s: the result would have more than 1000 items", fn)
		}
		out = append(out, intNumber(i))
	}
	return out, nil
}

func fnArrayGetItem(args []any, _ []intrinsicArg) (any, error) {
	const fn = "States.ArrayGetItem"
	a, err := argArray(fn, args[0])
	if err != nil {
		return nil, err
	}
	i, err := argInt(fn, "the index", args[1])
	if err != nil {
		return nil, err
	}
	if i < 0 || i >= int64(len(a)) {
		return nil, intrinsicFailure("%s: index %d is out of bounds for an array of length %d", fn, i, len(a))
	}
	return a[i], nil
}

func fnArrayLength(args []any, _ []intrinsicArg) (any, error) {
	a, err := argArray("States.ArrayLength", args[0])
	if err != nil {
		return nil, err
	}
	return intNumber(int64(len(a))), nil
}

func fnArrayUnique(args []any, _ []intrinsicArg) (any, error) {
	a, err := argArray("States.ArrayUnique", args[0])
	if err != nil {
		return nil, err
	}
	out := []any{}
outer:
	for _, e := range a {
		for _, o := range out {
			if jsonEqual(e, o) {
				continue outer
			}
		}
		out = append(out, e)
	}
	return out, nil
}

const intrinsicStringLimit = 10000

func stringArg(fn string, v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", intrinsicFailure("%s: expected a string, got %s", fn, typeName(v))
	}
	return s, nil
}

func fnBase64Encode(args []any, _ []intrinsicArg) (any, error) {
	s, err := stringArg("States.Base64Encode", args[0])
	if err != nil {
		return nil, err
	}
	if utf8.RuneCountInString(s) > intrinsicStringLimit {
		return nil, intrinsicFailure("States.Base64Encode: the input is longer than %d characters", intrinsicStringLimit)
	}
	return base64.StdEncoding.EncodeToString([]byte(s)), nil
}

func fnBase64Decode(args []any, _ []intrinsicArg) (any, error) {
	s, err := stringArg("States.Base64Decode", args[0])
	if err != nil {
		return nil, err
	}
	if len(s) > intrinsicStringLimit {
		return nil, intrinsicFailure("States.Base64Decode: the input is longer than %d characters", intrinsicStringLimit)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, intrinsicFailure("States.Base64Decode: the input is not valid base64")
	}
	return string(b), nil
}

func fnHash(args []any, _ []intrinsicArg) (any, error) {
	const fn = "States.Hash"
	if args[0] == nil {
		return nil, intrinsicFailure("%s: the data must not be null", fn)
	}
	data, ok := args[0].(string)
	if !ok {
		data = mustJSON(args[0])
	}
	if utf8.RuneCountInString(data) > intrinsicStringLimit {
		return nil, intrinsicFailure("%s: the data is longer than %d characters", fn, intrinsicStringLimit)
	}
	alg, err := stringArg(fn, args[1])
	if err != nil {
		return nil, err
	}
	var h hash.Hash
	switch alg {
	case "MD5":
		h = md5.New()
	case "SHA-1":
		h = sha1.New()
	case "SHA-256":
		h = sha256.New()
	case "SHA-384":
		h = sha512.New384()
	case "SHA-512":
		h = sha512.New()
	default:
		return nil, intrinsicFailure("%s: unknown algorithm %q (use MD5, SHA-1, SHA-256, SHA-384 or SHA-512)", fn, alg)
	}
	h.Write([]byte(data))
	return hex.EncodeToString(h.Sum(nil)), nil
}

func fnJSONMerge(args []any, _ []intrinsicArg) (any, error) {
	const fn = "States.JsonMerge"
	a, ok1 := args[0].(map[string]any)
	b, ok2 := args[1].(map[string]any)
	if !ok1 || !ok2 {
		return nil, intrinsicFailure("%s: both inputs must be objects", fn)
	}
	deep, ok := args[2].(bool)
	if !ok {
		return nil, intrinsicFailure("%s: the third argument must be a boolean", fn)
	}
	if deep {
		return nil, intrinsicFailure("%s: deep merging is not supported; set the third argument to false", fn)
	}
	out := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out, nil
}

func fnMathRandom(args []any, _ []intrinsicArg) (any, error) {
	const fn = "States.MathRandom"
	start, err := roundedInt(fn, "the start", args[0])
	if err != nil {
		return nil, err
	}
	end, err := roundedInt(fn, "the end", args[1])
	if err != nil {
		return nil, err
	}
	if end <= start {
		return nil, intrinsicFailure("%s: the end (%d) must be greater than the start (%d)", fn, end, start)
	}
	var r *mrand.Rand
	if len(args) == 3 {
		seed, err := roundedInt(fn, "the seed", args[2])
		if err != nil {
			return nil, err
		}
		r = mrand.New(mrand.NewPCG(uint64(seed), 0))
	} else {
		r = mrand.New(mrand.NewPCG(mrand.Uint64(), mrand.Uint64()))
	}
	return intNumber(start + r.Int64N(end-start)), nil
}

func fnMathAdd(args []any, _ []intrinsicArg) (any, error) {
	const fn = "States.MathAdd"
	a, err := roundedInt(fn, "the first value", args[0])
	if err != nil {
		return nil, err
	}
	b, err := roundedInt(fn, "the second value", args[1])
	if err != nil {
		return nil, err
	}
	for _, v := range []int64{a, b} {
		if v < math.MinInt32 || v > math.MaxInt32 {
			return nil, intrinsicFailure("%s: %d is outside the 32-bit integer range", fn, v)
		}
	}
	return intNumber(a + b), nil
}

func fnStringSplit(args []any, _ []intrinsicArg) (any, error) {
	const fn = "States.StringSplit"
	s, err := stringArg(fn, args[0])
	if err != nil {
		return nil, err
	}
	delims, err := stringArg(fn, args[1])
	if err != nil {
		return nil, err
	}
	fields := strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(delims, r) })
	out := make([]any, len(fields))
	for i, f := range fields {
		out[i] = f
	}
	return out, nil
}

func fnUUID([]any, []intrinsicArg) (any, error) { return newUUID(), nil }

// newUUID returns a random v4 UUID from crypto/rand (States.UUID).
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return formatUUID(b)
}

// newFastUUID returns a random v4 UUID from math/rand/v2's generator
// (ChaCha8, seeded by the runtime from the OS): the engine's default
// NewID, called for every Lambda request ID, where crypto/rand's read
// would cost more than the rest of the ID.
func newFastUUID() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], mrand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], mrand.Uint64())
	return formatUUID(b)
}

// formatUUID sets b's version (4) and variant bits and formats it.
func formatUUID(b [16]byte) string {
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return string(out[:])
}
