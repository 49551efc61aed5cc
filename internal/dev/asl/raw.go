package asl

import (
	"bytes"
	"sync"
	"unicode/utf8"
)

// rawJSON is a Task handler's output kept as its bytes, because they are
// already exactly what appendJSON would write for their decoding (see
// canonicalJSON): it is written out and measured as it is, and decoded only
// when a path, an intrinsic function or a Choice looks inside it. Most
// results are only passed on (ResultPath into the state output, a Map's
// output, the history), so most are never decoded.
//
// Only objects and arrays are kept raw; the values that reach Choice
// comparisons and type tests as they are (strings, numbers, booleans, null)
// are always decoded. Every place that looks inside an object or array
// calls resolve first.
type rawJSON struct {
	b    []byte
	once sync.Once
	v    any
}

// value is the decoded value, decoded on first use.
func (r *rawJSON) value() any {
	r.once.Do(func() {
		// canonicalJSON accepted b, so it decodes.
		r.v, _ = decodeJSON(r.b)
	})
	return r.v
}

// resolve is v, decoded if it is raw.
func resolve(v any) any {
	if r, ok := v.(*rawJSON); ok {
		return r.value()
	}
	return v
}

// maxRawDepth bounds the nesting canonicalJSON follows.
const maxRawDepth = 64

// canonicalJSON reports whether b is one JSON object or array written
// exactly as appendJSON writes its decoding: no whitespace, object keys in
// strictly increasing byte order (so none twice), strings without escapes
// (valid UTF-8, no U+2028 or U+2029: what appendJSONString copies as they
// are) and valid number literals (kept as they are written). aws-lambda-go
// writes a map or a struct with sorted fields this way.
func canonicalJSON(b []byte) bool {
	if len(b) < 2 || (b[0] != '{' && b[0] != '[') {
		return false
	}
	c := canonChecker{s: b}
	return c.value(0) && c.i == len(b)
}

type canonChecker struct {
	s []byte
	i int
}

func (c *canonChecker) value(depth int) bool {
	if c.i >= len(c.s) {
		return false
	}
	switch ch := c.s[c.i]; ch {
	case '{', '[':
		if depth >= maxRawDepth {
			return false
		}
		closer := byte('}')
		if ch == '[' {
			closer = ']'
		}
		c.i++
		if c.skip(closer) {
			return true
		}
		var prev []byte
		for first := true; ; first = false {
			if ch == '{' {
				k, ok := c.str()
				if !ok || (!first && bytes.Compare(prev, k) >= 0) || !c.skip(':') {
					return false
				}
				prev = k
			}
			if !c.value(depth + 1) {
				return false
			}
			if c.skip(closer) {
				return true
			}
			if !c.skip(',') {
				return false
			}
		}
	case '"':
		_, ok := c.str()
		return ok
	case 't':
		return c.literal("true")
	case 'f':
		return c.literal("false")
	case 'n':
		return c.literal("null")
	}
	return c.number()
}

// skip consumes b if it comes next.
func (c *canonChecker) skip(b byte) bool {
	if c.i < len(c.s) && c.s[c.i] == b {
		c.i++
		return true
	}
	return false
}

func (c *canonChecker) literal(lit string) bool {
	if !bytes.HasPrefix(c.s[c.i:], []byte(lit)) {
		return false
	}
	c.i += len(lit)
	return true
}

// str reads a string without escapes and returns its contents.
func (c *canonChecker) str() ([]byte, bool) {
	if c.i >= len(c.s) || c.s[c.i] != '"' {
		return nil, false
	}
	start := c.i + 1
	for j := start; j < len(c.s); {
		ch := c.s[j]
		switch {
		case ch == '"':
			c.i = j + 1
			return c.s[start:j], true
		case ch < 0x20 || ch == '\\':
			return nil, false
		case ch < utf8.RuneSelf:
			j++
			continue
		}
		r, size := utf8.DecodeRune(c.s[j:])
		if (r == utf8.RuneError && size == 1) || r == '\u2028' || r == '\u2029' {
			return nil, false
		}
		j += size
	}
	return nil, false
}

// number reads a number literal: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (c *canonChecker) number() bool {
	s, i := c.s, c.i
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	c.i = i
	return true
}
