package asl

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
)

func TestCanonicalJSON(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{`{}`, true},
		{`[]`, true},
		{`{"a":1,"b":[true,false,null,"x"],"c":{"d":-0.5e+10}}`, true},
		{`[{"index":0,"ok":true},{"index":1,"ok":true}]`, true},
		{`{"é":"ü","名":"张三"}`, true},
		{`{"名":"张三","é":"ü"}`, false}, // keys sorted by bytes: "é" (C3 A9) before "名" (E5 90 8D)
		{`{"b":1,"a":2}`, false},      // keys not sorted: re-encoding sorts them
		{`{"a":1,"a":2}`, false},      // a key twice: decoding keeps the last
		{`{"a": 1}`, false},           // whitespace
		{`{"a":"\u0041"}`, false},     // an escape
		{`{"a":"x\"y"}`, false},       // an escape appendJSON would write the same, but not checked
		{"{\"a\":\"\u2028\"}", false}, // appendJSONString escapes U+2028
		{"{\"a\":\"\xff\"}", false},   // invalid UTF-8
		{`{"a":01}`, false},           // not a JSON number
		{`{"a":1.}`, false},           // not a JSON number
		{`{"a":-}`, false},            // not a JSON number
		{`"text"`, false},             // not an object or array
		{`12`, false},                 // not an object or array
		{`{"a":1}x`, false},           // trailing data
		{`{"a":1`, false},             // unterminated
		{`[1,]`, false},               // trailing comma
		{`{"a":tru}`, false},          // bad literal
	}
	for _, tt := range tests {
		if got := canonicalJSON([]byte(tt.in)); got != tt.want {
			t.Errorf("canonicalJSON(%s) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// FuzzCanonicalJSON: whatever canonicalJSON accepts decodes, and encodes
// back to the same bytes, so writing a raw value as it is changes nothing.
func FuzzCanonicalJSON(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `{"a":1,"b":[true,null]}`, `[{"index":0,"ok":true}]`, `{"a":{"b":{"c":[1.5e3,-0]}}}`, `{"名":"张"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !canonicalJSON(b) {
			return
		}
		v, err := decodeJSON(b)
		if err != nil {
			t.Fatalf("canonicalJSON accepted %q, which does not decode: %v", b, err)
		}
		out, err := encodeJSON(v)
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("canonicalJSON accepted %q, which encodes back as %q (%v)", b, out, err)
		}
		if n := jsonSize(&rawJSON{b: b}, 1<<20); n != len(b) {
			t.Fatalf("size of raw %q = %d, want %d", b, n, len(b))
		}
	})
}

// TestRawResultsAreReadThrough: a Task result kept raw is looked into by
// ResultSelector, Choice, intrinsic functions, ItemsPath and a nested
// ResultPath exactly as a decoded one would be.
func TestRawResultsAreReadThrough(t *testing.T) {
	def := `{"StartAt":"Call","States":{
	  "Call":{"Type":"Task","Resource":"` + fnArn + `data","ResultSelector":{"first.$":"$.items[0].name","n.$":"States.ArrayLength($.items)","all.$":"$"},"ResultPath":"$.r","Next":"Route"},
	  "Route":{"Type":"Choice","Choices":[{"Variable":"$.r.all.meta.kind","StringEquals":"list","Next":"Each"}],"Default":"Bad"},
	  "Each":{"Type":"Map","ItemsPath":"$.r.all.items","ItemProcessor":{"StartAt":"Echo","States":{"Echo":{"Type":"Task","Resource":"` + fnArn + `echo","End":true}}},"ResultPath":"$.echoed","Next":"Nest"},
	  "Nest":{"Type":"Task","Resource":"` + fnArn + `data","ResultPath":"$.raw","Next":"Deeper"},
	  "Deeper":{"Type":"Pass","Result":"added","ResultPath":"$.raw.meta.extra","Next":"Done"},
	  "Done":{"Type":"Pass","Parameters":{"first.$":"$.r.first","n.$":"$.r.n","echoed.$":"$.echoed","extra.$":"$.raw.meta.extra","kind.$":"$.raw.meta.kind","same.$":"States.ArrayContains($.raw.items, $.r.all.items[1])"},"End":true},
	  "Bad":{"Type":"Fail","Error":"NoMatch"}}}`
	h := Handlers{
		"data": rawHandler(func(context.Context, []byte) ([]byte, error) {
			return []byte(`{"items":[{"name":"a"},{"name":"b"}],"meta":{"kind":"list"}}` + "\n"), nil
		}),
		"echo": rawHandler(func(_ context.Context, in []byte) ([]byte, error) { return in, nil }),
	}
	sm, err := Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	e := NewEngine(Options{Clock: VirtualClock(testStart), Resolver: h})
	x, err := e.Start(context.Background(), sm, StartInput{Name: "raw", Input: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	res, err := x.Wait(context.Background())
	if err != nil || res.Status != StatusSucceeded {
		t.Fatalf("status %s %s %s (%v)", res.Status, res.Error, res.Cause, err)
	}
	want := `{"echoed":[{"name":"a"},{"name":"b"}],"extra":"added","first":"a","kind":"list","n":2,"same":true}`
	if string(res.Output) != want {
		t.Errorf("output %s\nwant   %s", res.Output, want)
	}
}
