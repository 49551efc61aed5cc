package asl

import (
	"encoding/json"
	"testing"
)

func mustDecode(t *testing.T, s string) any {
	t.Helper()
	v, err := decodeJSON([]byte(s))
	if err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return v
}

func TestPathEval(t *testing.T) {
	doc := `{"a":{"b":[10,20,30],"c d":"space","e":null},
	  "items":[{"id":1,"price":5,"tag":"x"},{"id":2,"price":15,"tag":"y"},{"id":3,"price":25}],
	  "n":7}`
	tests := []struct {
		path  string
		want  string
		found bool
	}{
		{"$", doc, true},
		{"$.n", `7`, true},
		{"$.a.b[1]", `20`, true},
		{"$.a.b[-1]", `30`, true},
		{"$['a']['c d']", `"space"`, true},
		{`$["a"].e`, `null`, true},
		{"$.missing", ``, false},
		{"$.a.b[5]", ``, false},
		{"$.n.x", ``, false},
		{"$.items[*].id", `[1,2,3]`, true},
		{"$.items[0,2].id", `[1,3]`, true},
		{"$.items[1:].id", `[2,3]`, true},
		{"$.items[:2].id", `[1,2]`, true},
		{"$.items[::2].id", `[1,3]`, true},
		{"$.items[?(@.price > 10)].id", `[2,3]`, true},
		{"$.items[?(@.price >= 5 && @.tag == 'x')].id", `[1]`, true},
		{"$.items[?(@.tag)].id", `[1,2]`, true},
		{"$.items[?(!(@.price < 20))].id", `[3]`, true},
		{"$..id", `[1,2,3]`, true},
		{"$.items[*].nothing", `[]`, true},
	}
	root := mustDecode(t, doc)
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			p, err := parsePath(tt.path)
			if err != nil {
				t.Fatalf("parsePath: %v", err)
			}
			got, found := p.eval(root)
			if found != tt.found {
				t.Fatalf("found = %v, want %v", found, tt.found)
			}
			if !found {
				return
			}
			b, _ := json.Marshal(got)
			if !jsonEq(t, b, tt.want) {
				t.Errorf("got %s, want %s", b, tt.want)
			}
		})
	}
}

func TestPathParseErrors(t *testing.T) {
	for _, p := range []string{"", "a.b", "$.", "$[", "$['a'", "$.a[x]", "$.a[1:2:0]", "$..", "$.a[?(@.x == )]"} {
		if _, err := parsePath(p); err == nil {
			t.Errorf("parsePath(%q) succeeded, want error", p)
		}
	}
}

func TestReferencePathKinds(t *testing.T) {
	tests := []struct {
		path          string
		definite, ref bool
	}{
		{"$", true, true},
		{"$.a.b[0]", true, true},
		{"$['a b'].c", true, true},
		{"$.a[-1]", true, false},
		{"$.a[*]", false, false},
		{"$..a", false, false},
		{"$.a[0,1]", false, false},
	}
	for _, tt := range tests {
		p, err := parsePath(tt.path)
		if err != nil {
			t.Fatalf("%s: %v", tt.path, err)
		}
		if p.definite != tt.definite || p.refPath != tt.ref {
			t.Errorf("%s: definite=%v ref=%v, want %v %v", tt.path, p.definite, p.refPath, tt.definite, tt.ref)
		}
	}
}

func TestPathSet(t *testing.T) {
	tests := []struct {
		name, input, path, value, want string
		wantErr                        bool
	}{
		{"root", `{"a":1}`, "$", `{"r":2}`, `{"r":2}`, false},
		{"new field", `{"a":1}`, "$.b", `2`, `{"a":1,"b":2}`, false},
		{"replace", `{"a":1}`, "$.a", `{"x":true}`, `{"a":{"x":true}}`, false},
		{"nested creation", `{"a":1}`, "$.x.y.z", `"v"`, `{"a":1,"x":{"y":{"z":"v"}}}`, false},
		{"into array", `{"a":[1,2]}`, "$.a[1]", `9`, `{"a":[1,9]}`, false},
		{"not an object", `"text"`, "$.a", `1`, ``, true},
		{"through a number", `{"a":5}`, "$.a.b", `1`, ``, true},
		{"index out of range", `{"a":[1]}`, "$.a[3]", `1`, ``, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parsePath(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			in := mustDecode(t, tt.input)
			before, _ := encodeJSON(in)
			got, err := p.set(in, mustDecode(t, tt.value))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			after, _ := encodeJSON(in)
			if string(before) != string(after) {
				t.Errorf("set modified its input: %s -> %s", before, after)
			}
			if err != nil {
				return
			}
			b, _ := encodeJSON(got)
			if !jsonEq(t, b, tt.want) {
				t.Errorf("got %s, want %s", b, tt.want)
			}
		})
	}
}
