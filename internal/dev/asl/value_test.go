package asl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// stdJSON is what encodeJSON must produce: encoding/json without HTML
// escaping.
func stdJSON(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

func TestEncodeJSONMatchesEncodingJSON(t *testing.T) {
	tricky := []string{"", "plain", `q"b\s`, "\b\f\n\r\t\x00\x01\x1f\x7f", "<a href='x'>&amp;</a>", "隐私 数据",
		"bad\xffutf8\xc3", "\u2028\u2029", "emoji 😀", "\xed\xa0\x80 surrogate", strings.Repeat("x", 300)}
	fixed := []any{
		nil, true, false, json.Number("0"), json.Number("-12.5e+3"), json.Number(""), json.Number("12345678901234567890"),
		map[string]any(nil), []any(nil), map[string]any{}, []any{},
		map[string]any{"b": 1.5, "a": []any{"x", nil, map[string]any{"z": true, "y": json.Number("1")}}, "<k>": "&"},
		// Types other than decoded JSON go through encoding/json.
		float64(1e21), 3, int64(-7), map[string]string{"k": "v"}, []string{"a"}, struct{ A int }{1},
	}
	for _, s := range tricky {
		fixed = append(fixed, s, map[string]any{s: s}, []any{s})
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	var gen func(depth int) any
	gen = func(depth int) any {
		switch n := rnd.IntN(8); {
		case depth > 3 || n < 4:
			switch rnd.IntN(5) {
			case 0:
				return nil
			case 1:
				return rnd.IntN(2) == 0
			case 2:
				return json.Number(fmt.Sprint(rnd.IntN(1000) - 500))
			default:
				return tricky[rnd.IntN(len(tricky))]
			}
		case n < 6:
			m := map[string]any{}
			for range rnd.IntN(20) {
				m[tricky[rnd.IntN(len(tricky))]+fmt.Sprint(rnd.IntN(30))] = gen(depth + 1)
			}
			return m
		default:
			a := []any{}
			for range rnd.IntN(6) {
				a = append(a, gen(depth+1))
			}
			return a
		}
	}
	for range 300 {
		fixed = append(fixed, gen(0))
	}
	// Shape hints shared by all the values, as a state's are by its
	// outputs, must not change a byte.
	encShapes, sizeShapes := &shapeHint{}, &shapeHint{}
	for i, v := range fixed {
		want, werr := stdJSON(v)
		got, gerr := encodeJSON(v)
		if werr != nil || gerr != nil || string(got) != want {
			t.Errorf("value %d: encodeJSON = %s, %v; encoding/json = %s, %v", i, got, gerr, want, werr)
		}
		if got, gerr := encodeJSONHint(v, encShapes, 0); werr != nil || gerr != nil || string(got) != want {
			t.Errorf("value %d: encodeJSONHint = %s, %v; encoding/json = %s, %v", i, got, gerr, want, werr)
		}
		if n := jsonSize(v, math.MaxInt); werr == nil && n != len(want) {
			t.Errorf("value %d: jsonSize = %d, encoded length %d (%s)", i, n, len(want), want)
		}
		if n := jsonSizeHint(v, math.MaxInt, sizeShapes); werr == nil && n != len(want) {
			t.Errorf("value %d: jsonSizeHint = %d, encoded length %d (%s)", i, n, len(want), want)
		}
	}
	for _, bad := range []any{json.Number("1x"), json.Number("-"), json.Number("01"), json.Number(".5"), map[string]any{"a": []any{json.Number("1e")}}, math.NaN()} {
		_, werr := stdJSON(bad)
		_, gerr := encodeJSON(bad)
		// Both refuse it (the texts differ between Go releases: Go 1.27's
		// encoding/json is built on encoding/json/v2).
		if werr == nil || gerr == nil {
			t.Errorf("%v: encodeJSON error %v, encoding/json error %v", bad, gerr, werr)
		}
	}
}

// refDecode is decodeJSON without its fast path.
func refDecode(data []byte) (any, error) {
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

func TestDecodeJSONMatchesEncodingJSON(t *testing.T) {
	inputs := []string{
		`{}`, `[]`, ` {"a" : [1, -0.5e+10, 2E3, true, false, null, "x"] , "b":{}} `, `"\"\\\/\b\f\n\r\t"`, `"隐私"`, `"\u00e9\ud83d\ude00"`,
		`"\ud800"`, `{"a":1,"a":2}`, `0`, `-0`, `12345678901234567890123`, `"` + "\xff" + `"`, `"` + "\u2028" + `"`,
		// Small integers come from a shared table; others around them do not.
		`[0,7,10,99,100,999,1000,1023,1024,9999,10000,-1,-0,0.0,1.5,1e2,5E1]`, `[00]`, `[1023]`, `[007]`,
		// Invalid, or accepted by encoding/json's Decoder in ways the fast
		// path leaves to it.
		``, ` `, `{`, `[1,]`, `{"a":1,}`, `{"a"}`, `{1:2}`, `01`, `1.`, `.5`, `1e`, `-`, `+1`, `tru`, `nul`, `"a`, `"\x"`, "\"\x01\"",
		`1 2`, `1 ]`, `{} x`, `[1}`, `"\u12"`, strings.Repeat("[", 2000) + strings.Repeat("]", 2000),
	}
	rnd := rand.New(rand.NewPCG(3, 4))
	for range 300 {
		v := map[string]any{"s": fmt.Sprint(rnd.Int()), "n": json.Number(fmt.Sprint(rnd.Float64())), "a": []any{rnd.IntN(2) == 0, nil, "x\ny"}}
		b, _ := json.Marshal(v)
		inputs = append(inputs, string(b))
	}
	for _, in := range inputs {
		got, gerr := decodeJSON([]byte(in))
		want, werr := refDecode([]byte(in))
		if (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
			t.Errorf("decodeJSON(%.60q) error %v, encoding/json %v", in, gerr, werr)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("decodeJSON(%.60q) = %#v, encoding/json %#v", in, got, want)
		}
	}
}

func TestFastParserTakesPlainDocuments(t *testing.T) {
	for _, in := range []string{`{"a":[1,-2.5e3,true,false,null,"x\ny \"q\""],"隐私":{}}`, ` [] `, `"s"`, `0`, `[7,1023,1024,-1,0.5]`} {
		p := fastParser{s: []byte(in)}
		if _, ok := p.document(); !ok {
			t.Errorf("fast path gave up on %s", in)
		}
	}
}

// TestDecodeJSONKeys checks object keys, which the decoder shares through a
// cache when they are short ASCII without escapes: every kind of key, and
// thousands of distinct keys (so cache slots collide and get replaced),
// decode as encoding/json decodes them.
func TestDecodeJSONKeys(t *testing.T) {
	docs := []string{
		`{"a":1,"ok":true,"a\"b":2,"\u00e9t\u00e9":3,"été":4,"":5,"` + strings.Repeat("k", 32) + `":6,"` + strings.Repeat("k", 33) + `":7,"a\\":8}`,
		`{"ok":{"ok":{"ok":"ok"}},"index":[{"index":0},{"index":1}]}`,
	}
	var sb strings.Builder
	sb.WriteString("{")
	for i := range 5000 {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, `"key%d":{"k%d":%d}`, i, i%7, i)
	}
	sb.WriteString("}")
	docs = append(docs, sb.String(), sb.String())
	for i, doc := range docs {
		for range 2 {
			got, err := decodeJSON([]byte(doc))
			if err != nil {
				t.Fatalf("doc %d: decodeJSON: %v", i, err)
			}
			var want any
			d := json.NewDecoder(strings.NewReader(doc))
			d.UseNumber()
			if err := d.Decode(&want); err != nil {
				t.Fatalf("doc %d: encoding/json: %v", i, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("doc %d: decodeJSON = %v, want %v", i, got, want)
			}
		}
	}
	for _, bad := range []string{`{"a` + "\x01" + `":1}`, `{"a":1,"b`, `{"ab}`} {
		if _, err := decodeJSON([]byte(bad)); err == nil {
			t.Errorf("decodeJSON(%q): no error", bad)
		}
	}
}

// TestShapeHints encodes and measures sequences of values through one
// shape hint, so later values meet the shapes earlier ones left: the same
// keys, as many keys but others, fewer or more keys, other nested shapes.
func TestShapeHints(t *testing.T) {
	obj := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	n := func(s string) json.Number { return json.Number(s) }
	for _, tc := range []struct {
		name string
		seq  []any
	}{
		{"same keys", []any{obj("b", n("1"), "a", "x"), obj("a", "y", "b", n("2")), obj("b", true, "a", nil)}},
		{"as many keys, others", []any{obj("a", n("1"), "b", n("2")), obj("a", n("1"), "c", n("3")), obj("c", n("3"), "d", n("4"))}},
		{"fewer and more keys", []any{obj("a", n("1"), "b", n("2")), obj("a", n("1")), obj("a", n("1"), "b", n("2"), "c", n("3")), obj()}},
		{"nested", []any{
			obj("result", obj("ok", true, "index", n("1")), "partner", "p1"),
			obj("result", obj("ok", true, "index", n("2")), "partner", "p2"),
			obj("result", obj("ok", true, "other", n("2")), "partner", "p3"),
			obj("result", []any{obj("ok", false)}, "partner", obj("ok", true, "index", n("3"))),
		}},
		{"arrays of objects", []any{
			[]any{obj("i", n("0"), "v", "a"), obj("i", n("1"), "v", "b"), obj("i", n("2"), "w", "c"), obj("v", "d"), "s", nil},
			[]any{[]any{obj("i", n("0"))}, obj("i", n("1"), "v", obj("i", n("2"), "v", "x"))},
		}},
		{"escaped keys", []any{obj("a\"b", n("1"), "\u2028", n("2")), obj("a\"b", n("3"), "\u2028", "<&>")}},
		{"more keys than are remembered", []any{
			obj("a", n("1"), "b", n("2"), "c", n("3"), "d", n("4"), "e", n("5"), "f", n("6"), "g", n("7"), "h", n("8"), "i", n("9"),
				"j", n("10"), "k", n("11"), "l", n("12"), "m", n("13"), "n", n("14"), "o", n("15"), "p", n("16"), "q", n("17")),
			obj("a", n("1"), "b", n("2"), "c", n("3"), "d", n("4"), "e", n("5"), "f", n("6"), "g", n("7"), "h", n("8"), "i", n("9"),
				"j", n("10"), "k", n("11"), "l", n("12"), "m", n("13"), "n", n("14"), "o", n("15"), "p", n("16"), "r", n("17")),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc, size := &shapeHint{}, &shapeHint{}
			for round := range 2 {
				for i, v := range tc.seq {
					want, err := stdJSON(v)
					if err != nil {
						t.Fatal(err)
					}
					got, err := encodeJSONHint(v, enc, 0)
					if err != nil || string(got) != want {
						t.Errorf("round %d, value %d: encodeJSONHint = %s, %v; want %s", round, i, got, err, want)
					}
					if n := jsonSizeHint(v, math.MaxInt, size); n != len(want) {
						t.Errorf("round %d, value %d: jsonSizeHint = %d, want %d (%s)", round, i, n, len(want), want)
					}
				}
			}
		})
	}
}
