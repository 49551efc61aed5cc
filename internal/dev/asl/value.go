package asl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// Values flowing between states are plain decoded JSON: map[string]any, []any,
// string, bool, nil and json.Number (numbers keep their exact text, so integers
// stay integers). Values are never mutated in place once produced; every
// transformation builds new containers, so they can be shared with history.

// decodeJSON decodes one JSON value as encoding/json's Decoder does with
// UseNumber. Plain documents (no \u escapes, valid UTF-8, nothing after the
// value) are parsed directly; anything else, errors included, goes through
// encoding/json.
func decodeJSON(data []byte) (any, error) {
	p := fastParser{s: data}
	if v, ok := p.document(); ok {
		return v, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("unexpected data after JSON value")
	}
	return v, nil
}

// encodeJSON encodes v as encoding/json does with SetEscapeHTML(false)
// (object keys sorted), byte for byte. The values that flow between states
// are encoded directly, without reflection; any other type goes through
// encoding/json.
func encodeJSON(v any) ([]byte, error) {
	return encodeJSONHint(v, &shapeHint{}, 128)
}

// encodeJSONHint is encodeJSON with a shape hint (shared with earlier
// encodings of values like v) and the expected size.
func encodeJSONHint(v any, h *shapeHint, size int) ([]byte, error) {
	if size <= 0 {
		// Like the last value encoded, with room to spare.
		if size = int(h.size.Load()) * 5 / 4; size == 0 {
			size = 128
		}
	}
	b, err := appendJSON(make([]byte, 0, max(size, 16)), v, h, 0, "")
	if err == nil && int64(len(b)) != h.size.Load() {
		h.size.Store(int64(len(b)))
	}
	return b, err
}

// shapeHint remembers the sorted keys of objects met at each place of a
// value (its depth and the key it is under), so that the next object of
// the same shape there (the next item of an array, a Task's next input) is
// read by looking its keys up in that order rather than iterating over the
// map, which costs more (a random start, and sorting). A wrong guess costs
// the lookups only: every key must be there, and the counts must match.
// It is safe for concurrent use; the key lists it holds are not modified.
type shapeHint struct {
	slots [16]atomic.Pointer[[]string]
	// size is the length of the last encoding made with the hint, for
	// sizing the next one's buffer.
	size atomic.Int64
}

// stateShapes are a state's shape hints: for its output, its input after
// Parameters and a Task's payload, which it measures or encodes.
type stateShapes struct {
	out, param, payload shapeHint
}

// maxHintedKeys is the most keys an object may have to be remembered.
const maxHintedKeys = 16

// slot returns the hint for objects at depth under key.
func (h *shapeHint) slot(depth int, key string) *atomic.Pointer[[]string] {
	n := uint(depth) + uint(len(key))*7
	if key != "" {
		n += uint(key[0])*3 + uint(key[len(key)-1])
	}
	return &h.slots[n%uint(len(h.slots))]
}

// remember stores the sorted keys of kvs as the hint at p.
func (h *shapeHint) remember(p *atomic.Pointer[[]string], kvs []keyValue) {
	if len(kvs) == 0 || len(kvs) > maxHintedKeys {
		return
	}
	ks := make([]string, len(kvs))
	for i := range kvs {
		ks[i] = kvs[i].k
	}
	p.Store(&ks)
}

// appendJSON appends v's encoding; the object or array holding it (at
// depth, under key; "" for array items) finds shapes in h.
func appendJSON(b []byte, v any, h *shapeHint, depth int, key string) ([]byte, error) {
	var err error
	switch x := v.(type) {
	case *rawJSON:
		return append(b, x.b...), nil
	case nil:
		return append(b, "null"...), nil
	case bool:
		if x {
			return append(b, "true"...), nil
		}
		return append(b, "false"...), nil
	case string:
		return appendJSONString(b, x), nil
	case json.Number:
		s := string(x)
		if s == "" {
			s = "0" // as encoding/json encodes the zero Number
		}
		if !isValidNumber(s) {
			return nil, fmt.Errorf("json: invalid number literal %q", s)
		}
		return append(b, s...), nil
	case map[string]any:
		if x == nil {
			return append(b, "null"...), nil
		}
		p := h.slot(depth, key)
		if ks := p.Load(); ks != nil && len(*ks) == len(x) {
			start := len(b)
			b = append(b, '{')
			hit := true
			for i, k := range *ks {
				e, ok := x[k]
				if !ok {
					hit = false
					break
				}
				if i > 0 {
					b = append(b, ',')
				}
				b = appendJSONString(b, k)
				b = append(b, ':')
				if b, err = appendJSON(b, e, h, depth+1, k); err != nil {
					return nil, err
				}
			}
			if hit {
				return append(b, '}'), nil
			}
			b = b[:start]
		}
		// Keys and values are taken in one pass, so no value is looked
		// up again, and sorted by key.
		var arr [16]keyValue
		kvs := arr[:0]
		for k, e := range x {
			kvs = append(kvs, keyValue{k, e})
		}
		sortKeyValues(kvs)
		h.remember(p, kvs)
		b = append(b, '{')
		for i := range kvs {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, kvs[i].k)
			b = append(b, ':')
			if b, err = appendJSON(b, kvs[i].v, h, depth+1, kvs[i].k); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case []any:
		if x == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendJSON(b, e, h, depth+1, ""); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...), nil
}

// keyValue is one member of an object being encoded.
type keyValue struct {
	k string
	v any
}

// sortKeyValues sorts kvs by key (keys are distinct): by insertion for the
// few members most objects have.
func sortKeyValues(kvs []keyValue) {
	if len(kvs) > 12 {
		slices.SortFunc(kvs, func(a, b keyValue) int { return strings.Compare(a.k, b.k) })
		return
	}
	for i := 1; i < len(kvs); i++ {
		for j := i; j > 0 && kvs[j].k < kvs[j-1].k; j-- {
			kvs[j], kvs[j-1] = kvs[j-1], kvs[j]
		}
	}
}

const hexDigits = "0123456789abcdef"

// invalidUTF8 is how encoding/json writes a byte of invalid UTF-8: as the
// escape \ufffd up to Go 1.26, as U+FFFD itself from Go 1.27 on. Asked of
// encoding/json itself, so that the engine's encoding stays byte for byte
// what Step Functions' (and encoding/json's) would be.
var invalidUTF8 = func() string {
	b, _ := json.Marshal("\xff")
	return string(b[1 : len(b)-1])
}()

// appendJSONString is encoding/json's string encoding without HTML
// escaping: control characters, quote and backslash escaped, invalid UTF-8
// as invalidUTF8, U+2028 and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, invalidUTF8...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// isValidNumber reports whether s is a JSON number (RFC 8259).
func isValidNumber(s string) bool {
	if s != "" && s[0] == '-' {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	switch {
	case s[0] == '0':
		s = s[1:]
	case '1' <= s[0] && s[0] <= '9':
		s = s[1:]
		for s != "" && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	default:
		return false
	}
	if len(s) >= 2 && s[0] == '.' && '0' <= s[1] && s[1] <= '9' {
		s = s[2:]
		for s != "" && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	}
	if len(s) >= 2 && (s[0] == 'e' || s[0] == 'E') {
		s = s[1:]
		if s[0] == '+' || s[0] == '-' {
			s = s[1:]
			if s == "" {
				return false
			}
		}
		for s != "" && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	}
	return s == ""
}

func mustJSON(v any) string {
	b, err := encodeJSON(v)
	if err != nil {
		return "null"
	}
	return string(b)
}

// toFloat reports the value of a JSON number.
func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}

// toInt reports the value of a JSON number that is an integer.
func toInt(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return i, true
		}
		f, err := n.Float64()
		if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return 0, false
		}
		return int64(f), true
	case float64:
		if n != math.Trunc(n) {
			return 0, false
		}
		return int64(n), true
	case int:
		return int64(n), true
	case int64:
		return n, true
	}
	return 0, false
}

func isNumber(v any) bool {
	switch v.(type) {
	case json.Number, float64, int, int64:
		return true
	}
	return false
}

func intNumber(i int64) json.Number { return json.Number(strconv.FormatInt(i, 10)) }

// numSmall is how many small numbers smallNumbers holds.
const numSmall = 1024

// smallNumbers holds json.Number 0 to numSmall-1 already in interfaces, so
// small integers (indexes, counts) flow between states without an
// allocation each. Made on first use.
var smallNumbers = sync.OnceValue(func() *[numSmall]any {
	var a [numSmall]any
	for i := range a {
		a[i] = intNumber(int64(i))
	}
	return &a
})

// intValue is intNumber(i) in an interface.
func intValue(i int64) any {
	if 0 <= i && i < numSmall {
		return smallNumbers()[i]
	}
	return intNumber(i)
}

// jsonEqual compares two values by meaning (numbers by value).
func jsonEqual(a, b any) bool {
	a, b = resolve(a), resolve(b)
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !jsonEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	if fa, ok := toFloat(a); ok {
		fb, ok := toFloat(b)
		return ok && fa == fb
	}
	return false
}

// jsonSize returns the size of v encoded as JSON, stopping early once it
// exceeds limit (the returned value is then > limit but not exact).
func jsonSize(v any, limit int) int {
	return jsonSizeHint(v, limit, &shapeHint{})
}

// jsonSizeHint is jsonSize with a shape hint shared with earlier calls for
// values like v.
func jsonSizeHint(v any, limit int, h *shapeHint) int {
	m := sizer{limit: limit, h: h}
	m.walk(v, 0, "")
	return m.n
}

// sizer adds up the JSON size of a value; the shape hint tells which keys
// objects have, so they are read without iterating over them.
type sizer struct {
	n, limit int
	h        *shapeHint
}

// walk adds v's size and reports whether the total is still within the
// limit.
func (m *sizer) walk(v any, depth int, key string) bool {
	switch x := v.(type) {
	case *rawJSON:
		m.n += len(x.b)
	case nil:
		m.n += 4
	case bool:
		if x {
			m.n += 4
		} else {
			m.n += 5
		}
	case string:
		m.n += strSize(x)
	case json.Number:
		m.n += max(len(x), 1) // the empty Number encodes as 0
	case map[string]any:
		if x == nil {
			m.n += 4
			break
		}
		m.n += 2 + max(len(x)-1, 0) // brackets and commas
		p := m.h.slot(depth, key)
		if ks := p.Load(); ks != nil && len(*ks) == len(x) {
			start, hit := m.n, true
			for _, k := range *ks {
				e, ok := x[k]
				if !ok {
					hit = false
					break
				}
				m.n += strSize(k) + 1
				if !m.walk(e, depth+1, k) {
					return false
				}
			}
			if hit {
				break
			}
			m.n = start
		}
		var arr [16]keyValue
		kvs := arr[:0]
		for k, e := range x {
			if len(kvs) < maxHintedKeys {
				kvs = append(kvs, keyValue{k: k})
			}
			m.n += strSize(k) + 1
			if !m.walk(e, depth+1, k) {
				return false
			}
		}
		if len(kvs) == len(x) {
			sortKeyValues(kvs)
			m.h.remember(p, kvs)
		}
	case []any:
		if x == nil {
			m.n += 4
			break
		}
		m.n += 2 + max(len(x)-1, 0) // brackets and commas
		for _, e := range x {
			if !m.walk(e, depth+1, "") {
				return false
			}
		}
	default:
		b, _ := encodeJSON(x)
		m.n += len(b)
	}
	return m.n <= m.limit
}

func strSize(s string) int {
	n := 2
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f':
				n += 2
			case c < 0x20:
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == '\u2028' || r == '\u2029' {
			n += 6 // \u2028, \u2029
		} else if r == utf8.RuneError && size == 1 {
			n += len(invalidUTF8)
		} else {
			n += size
		}
		i += size
	}
	return n
}

func typeName(v any) string {
	v = resolve(v)
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	if isNumber(v) {
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// pointerEscape escapes one JSON Pointer reference token (RFC 6901).
func pointerEscape(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// fastParser parses the JSON that encoding/json accepts and decodes the
// same way, giving up (ok false) on what it does not handle itself: \u
// escapes, invalid UTF-8, deep nesting and every error.
type fastParser struct {
	s     []byte
	i     int
	depth int
}

const fastMaxDepth = 1000

func (p *fastParser) document() (any, bool) {
	p.space()
	v, ok := p.value()
	if !ok {
		return nil, false
	}
	p.space()
	return v, p.i == len(p.s)
}

func (p *fastParser) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *fastParser) value() (any, bool) {
	if p.i >= len(p.s) {
		return nil, false
	}
	switch c := p.s[p.i]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		return p.str()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	case c == '-' || ('0' <= c && c <= '9'):
		return p.number()
	}
	return nil, false
}

func (p *fastParser) literal(lit string) bool {
	if len(p.s)-p.i < len(lit) || string(p.s[p.i:p.i+len(lit)]) != lit {
		return false
	}
	p.i += len(lit)
	return true
}

func (p *fastParser) object() (any, bool) {
	if p.depth++; p.depth > fastMaxDepth {
		return nil, false
	}
	p.i++ // {
	m := make(map[string]any)
	p.space()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		p.depth--
		return m, true
	}
	for {
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			return nil, false
		}
		k, ok := p.key()
		if !ok {
			return nil, false
		}
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, false
		}
		p.i++
		p.space()
		v, ok := p.value()
		if !ok {
			return nil, false
		}
		m[k] = v
		p.space()
		if p.i >= len(p.s) {
			return nil, false
		}
		switch p.s[p.i] {
		case ',':
			p.i++
			p.space()
		case '}':
			p.i++
			p.depth--
			return m, true
		default:
			return nil, false
		}
	}
}

func (p *fastParser) array() (any, bool) {
	if p.depth++; p.depth > fastMaxDepth {
		return nil, false
	}
	p.i++ // [
	a := make([]any, 0)
	p.space()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		p.depth--
		return a, true
	}
	for {
		v, ok := p.value()
		if !ok {
			return nil, false
		}
		a = append(a, v)
		p.space()
		if p.i >= len(p.s) {
			return nil, false
		}
		switch p.s[p.i] {
		case ',':
			p.i++
			p.space()
		case ']':
			p.i++
			p.depth--
			return a, true
		default:
			return nil, false
		}
	}
}

// str reads a string without \u escapes in valid UTF-8.
func (p *fastParser) str() (any, bool) {
	p.i++ // "
	start := p.i
	simple, ascii := true, true
	for ; p.i < len(p.s); p.i++ {
		c := p.s[p.i]
		switch {
		case c == '"':
			raw := p.s[start:p.i]
			p.i++
			if !ascii && !utf8.Valid(raw) {
				return nil, false
			}
			if simple {
				return string(raw), true
			}
			return unescapeSimple(raw)
		case c == '\\':
			simple = false
			p.i++
			if p.i >= len(p.s) {
				return nil, false
			}
			switch p.s[p.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			default: // \u escapes and invalid ones
				return nil, false
			}
		case c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

// key reads an object key: str, returning the string itself and sharing
// short keys without escapes through keyCache.
func (p *fastParser) key() (string, bool) {
	start := p.i + 1
	for j := start; j < len(p.s) && j-start <= maxCachedKey; j++ {
		c := p.s[j]
		if c == '"' {
			p.i = j + 1
			return cachedKey(p.s[start:j]), true
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
	}
	v, ok := p.str()
	if !ok {
		return "", false
	}
	return v.(string), true
}

// maxCachedKey is the longest object key keyCache holds.
const maxCachedKey = 32

// keyCache holds recently decoded short ASCII object keys, so decoding
// the same keys again (every handler output, every item) does not allocate
// them again. Slots are picked by a hash of the key; a collision replaces
// the slot.
var keyCache [1024]atomic.Pointer[string]

// cachedKey returns raw (printable ASCII without escapes) as a string,
// shared with earlier calls for the same key when it is in keyCache.
func cachedKey(raw []byte) string {
	h := uint32(2166136261)
	for _, c := range raw {
		h = (h ^ uint32(c)) * 16777619
	}
	slot := &keyCache[h%uint32(len(keyCache))]
	if k := slot.Load(); k != nil && *k == string(raw) {
		return *k
	}
	k := string(raw)
	slot.Store(&k)
	return k
}

func unescapeSimple(raw []byte) (any, bool) {
	b := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			b = append(b, c)
			continue
		}
		i++
		switch raw[i] {
		case 'b':
			c = '\b'
		case 'f':
			c = '\f'
		case 'n':
			c = '\n'
		case 'r':
			c = '\r'
		case 't':
			c = '\t'
		default: // " \\ /
			c = raw[i]
		}
		b = append(b, c)
	}
	return string(b), true
}

// number reads a JSON number (RFC 8259) as a json.Number.
func (p *fastParser) number() (any, bool) {
	s, start := p.s, p.i
	i := p.i
	if s[i] == '-' {
		i++
	}
	digits := func() bool {
		n := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		return i > n
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		digits()
	default:
		return nil, false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if !digits() {
			return nil, false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !digits() {
			return nil, false
		}
	}
	p.i = i
	// Small integers written plainly (digits only) are shared.
	if n := i - start; n <= 4 {
		v := 0
		for _, c := range s[start:i] {
			if c < '0' || c > '9' {
				v = -1
				break
			}
			v = v*10 + int(c-'0')
		}
		if 0 <= v && v < numSmall && (n == 1 || s[start] != '0') {
			return smallNumbers()[v], true
		}
	}
	return json.Number(s[start:i]), true
}
