package asl

import (
	"errors"
	"regexp"
	"testing"
)

func evalIntrinsic(t *testing.T, expr, input string) (any, error) {
	t.Helper()
	call, err := parseIntrinsic(expr)
	if err != nil {
		t.Fatalf("parseIntrinsic(%q): %v", expr, err)
	}
	ctx := map[string]any{"Execution": map[string]any{"Name": "exec1"}}
	return call.eval(mustDecode(t, input), ctx)
}

func TestIntrinsics(t *testing.T) {
	in := `{"name":"Arnav","someString":"{\"number\": 20}","someJson":{"name":"Foo","year":2020},
	  "inputArray":[1,2,3,4,5,6,7,8,9],"lookingFor":5,"index":5,"dupes":[1,2,3,3,3,3,3,3,4],
	  "json1":{"a":{"a1":1,"a2":2},"b":2},"json2":{"a":{"a3":1,"a4":2},"c":3},"value1":111,"step":-1,
	  "inputString":"1,2,3,4,5","s2":"This.is+a,test=string"}`
	tests := []struct {
		expr, want string
	}{
		// Examples from the Step Functions intrinsic functions documentation.
		{"States.Format('Hello, my name is {}.', $.name)", `"Hello, my name is Arnav."`},
		{"States.StringToJson($.someString)", `{"number":20}`},
		{"States.JsonToString($.someJson)", `"{\"name\":\"Foo\",\"year\":2020}"`},
		{"States.Array('Foo', 2020, $.someJson, null)", `["Foo",2020,{"name":"Foo","year":2020},null]`},
		{"States.ArrayPartition($.inputArray,4)", `[[1,2,3,4],[5,6,7,8],[9]]`},
		{"States.ArrayContains($.inputArray, $.lookingFor)", `true`},
		{"States.ArrayRange(1, 9, 2)", `[1,3,5,7,9]`},
		{"States.ArrayGetItem($.inputArray, $.index)", `6`},
		{"States.ArrayLength($.inputArray)", `9`},
		{"States.ArrayUnique($.dupes)", `[1,2,3,4]`},
		{"States.Base64Encode('Data to encode')", `"RGF0YSB0byBlbmNvZGU="`},
		{"States.Base64Decode('RGVjb2RlZCBkYXRh')", `"Decoded data"`},
		{"States.Hash('input data', 'SHA-1')", `"aaff4a450a104cd177d28d18d74485e8cae074b7"`},
		{"States.JsonMerge($.json1, $.json2, false)", `{"a":{"a3":1,"a4":2},"b":2,"c":3}`},
		{"States.MathAdd($.value1, $.step)", `110`},
		{"States.StringSplit($.inputString, ',')", `["1","2","3","4","5"]`},
		{"States.StringSplit($.s2, '.+,=')", `["This","is","a","test","string"]`},
		// More.
		{"States.Format('{} is {} ({})', $.name, 3, true)", `"Arnav is 3 (true)"`},
		{`States.Format('\{\} literal \'q\' \\ {}', 'x')`, `"{} literal 'q' \\ x"`},
		{"States.Format('exec {}', $$.Execution.Name)", `"exec exec1"`},
		{"States.Format('{}', null)", `"null"`},
		{"States.ArrayLength(States.Array(1, 2))", `2`},
		{"States.ArrayRange(5, 1, -2)", `[5,3,1]`},
		{"States.ArrayContains($.inputArray, 42)", `false`},
		{"States.Hash('abc', 'MD5')", `"900150983cd24fb0d6963f7d28e17f72"`},
		{"States.Hash('abc', 'SHA-256')", `"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"`},
		{"States.Hash('abc', 'SHA-384')", `"cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"`},
		{"States.Hash('abc', 'SHA-512')", `"ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"`},
		{"States.MathAdd(1.0, 2)", `3`},
		{"States.ArrayPartition(States.Array(), 2)", `[]`},
		{"States.StringToJson('[1, 2.5, \"x\"]')", `[1,2.5,"x"]`},
		{"States.MathRandom(7, 8)", `7`},
		// Non-integers are rounded, as documented.
		{"States.MathAdd(1.5, 1)", `3`},
		{"States.MathAdd(-2.4, 0)", `-2`},
		{"States.ArrayRange(1, 9.4, 2)", `[1,3,5,7,9]`},
		{"States.ArrayPartition($.inputArray, 4.2)", `[[1,2,3,4],[5,6,7,8],[9]]`},
		{"States.MathRandom(6.6, 7.6)", `7`},
		{"States.Format('{}', $.someJson.['name'])", `"Foo"`},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got, err := evalIntrinsic(t, tt.expr, in)
			if err != nil {
				t.Fatalf("eval: %v", err)
			}
			b, _ := encodeJSON(got)
			if !jsonEq(t, b, tt.want) {
				t.Errorf("got %s, want %s", b, tt.want)
			}
		})
	}
}

func TestIntrinsicIntegersStayIntegers(t *testing.T) {
	got, err := evalIntrinsic(t, "States.MathAdd($.a, 1)", `{"a":2147483646}`)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := encodeJSON(got); string(b) != "2147483647" {
		t.Errorf("got %s, want 2147483647", b)
	}
	got, _ = evalIntrinsic(t, "States.ArrayLength($.a)", `{"a":[1,2,3]}`)
	if b, _ := encodeJSON(got); string(b) != "3" {
		t.Errorf("ArrayLength got %s, want 3", b)
	}
}

func TestIntrinsicRandomAndUUID(t *testing.T) {
	for range 50 {
		v, err := evalIntrinsic(t, "States.MathRandom(1, 999)", `{}`)
		if err != nil {
			t.Fatal(err)
		}
		n, ok := toInt(v)
		if !ok || n < 1 || n >= 999 {
			t.Fatalf("MathRandom(1, 999) = %v, want an integer in [1, 999)", v)
		}
	}
	a, _ := evalIntrinsic(t, "States.MathRandom(1, 1000000, 42)", `{}`)
	b, _ := evalIntrinsic(t, "States.MathRandom(1, 1000000, 42)", `{}`)
	if !jsonEqual(a, b) {
		t.Errorf("seeded MathRandom differs: %v vs %v", a, b)
	}
	u, _ := evalIntrinsic(t, "States.UUID()", `{}`)
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	if s, _ := u.(string); !re.MatchString(s) {
		t.Errorf("UUID() = %v, not a v4 UUID", u)
	}
}

func TestIntrinsicRuntimeErrors(t *testing.T) {
	in := `{"arr":[1,2],"s":"x","obj":{"a":1},"big":2147483648}`
	for _, expr := range []string{
		"States.Format('{} {}', 'one')",
		"States.Format('{}', $.obj)",
		"States.Format($.arr)",
		"States.StringToJson('{nope')",
		"States.StringToJson($.arr)",
		"States.ArrayPartition($.arr, 0)",
		"States.ArrayPartition($.s, 1)",
		"States.ArrayRange(1, 2000, 1)",
		"States.ArrayRange(1, 5, 0)",
		"States.ArrayGetItem($.arr, 2)",
		"States.ArrayGetItem($.arr, -1)",
		"States.ArrayGetItem($.arr, 0.5)",
		"States.ArrayLength($.s)",
		"States.ArrayUnique($.obj)",
		"States.Base64Decode('***')",
		"States.Hash('x', 'SHA-999')",
		"States.JsonMerge($.obj, $.obj, true)",
		"States.JsonMerge($.obj, $.arr, false)",
		"States.MathRandom(5, 5)",
		"States.MathAdd($.big, 1)",
		"States.MathAdd($.s, 1)",
		"States.StringSplit($.arr, ',')",
		"States.ArrayLength($.missing)",
	} {
		t.Run(expr, func(t *testing.T) {
			_, err := evalIntrinsic(t, expr, in)
			var se *stateError
			if !errors.As(err, &se) || se.Name != ErrIntrinsicFailure {
				t.Errorf("err = %v, want States.IntrinsicFailure", err)
			}
		})
	}
}

func TestIntrinsicSyntaxErrors(t *testing.T) {
	for _, expr := range []string{
		"States.Nope(1)",
		"States.Format(",
		"States.Format('x'",
		"States.ArrayLength()",
		"States.ArrayLength(1, 2)",
		"States.UUID(1)",
		"States.Format('{', 1)",
		"States.Format('a}', 1)",
		"States.Format('unterminated)",
		"States.Format('bad \\n escape')",
		"States.Array(1) trailing",
		"States.Array(1 2)",
		"States.Array(nope)",
		"States.ArrayLength($.a[)",
		"States.ArrayLength(States.Array(States.Array(States.Array(States.Array(States.Array(States.Array(States.Array(States.Array(States.Array(States.Array(1)))))))))))",
	} {
		if _, err := parseIntrinsic(expr); err == nil {
			t.Errorf("parseIntrinsic(%q) succeeded, want a syntax error", expr)
		}
	}
}

func TestUUIDGenerators(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	for _, tc := range []struct {
		name string
		gen  func() string
	}{{"newUUID", newUUID}, {"newFastUUID", newFastUUID}} {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[string]bool{}
			for range 100 {
				u := tc.gen()
				if !re.MatchString(u) {
					t.Fatalf("%s() = %q, not a v4 UUID", tc.name, u)
				}
				if seen[u] {
					t.Fatalf("%s() repeated %q", tc.name, u)
				}
				seen[u] = true
			}
		})
	}
}
