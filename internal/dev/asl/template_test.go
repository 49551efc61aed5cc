package asl

import "testing"

// TestItemSelectorContext checks the context object an ItemSelector sees:
// $$.Map.Item with the rest of the context.
func TestItemSelectorContext(t *testing.T) {
	tests := []struct {
		name, selector, want string
	}{
		{"Map paths only", `{"v.$":"$$.Map.Item.Value","i.$":"$$.Map.Item.Index","f.$":"States.Format('{}-{}', $$.Map.Item.Index, $.k)"}`,
			`[{"v":"a","i":0,"f":"0-K"},{"v":"b","i":1,"f":"1-K"}]`},
		{"no context", `{"k.$":"$.k"}`, `[{"k":"K"},{"k":"K"}]`},
		{"whole Map", `{"m.$":"$$.Map"}`, `[{"m":{"Item":{"Index":0,"Value":"a"}}},{"m":{"Item":{"Index":1,"Value":"b"}}}]`},
		{"Execution too", `{"v.$":"$$.Map.Item.Value","n.$":"$$.Execution.Name"}`, `[{"v":"a","n":"exec1"},{"v":"b","n":"exec1"}]`},
		{"Execution in an intrinsic", `{"f.$":"States.Format('{}/{}', $$.StateMachine.Name, $$.Map.Item.Index)"}`, `[{"f":"test/0"},{"f":"test/1"}]`},
		{"State", `{"c.$":"$$.State.Name"}`, `[{"c":"M"},{"c":"M"}]`},
		{"indefinite path", `{"i.$":"$$.Map..Index"}`, `[{"i":[0]},{"i":[1]}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			def := `{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.items","ItemSelector":` + tt.selector + `,
			  "ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},"End":true}}}`
			res, x := run(t, def, `{"items":["a","b"],"k":"K"}`, nil)
			wantSuccess(t, res, x, tt.want)
		})
	}
}

// TestItemSelectorContextOneWorker runs three items on one worker, whose
// iterations may share a context object: each item must still see its own
// $$.Map.Item, whether the selector takes parts of it or the whole.
func TestItemSelectorContextOneWorker(t *testing.T) {
	tests := []struct {
		name, selector, want string
	}{
		{"Value and Index", `{"v.$":"$$.Map.Item.Value","x.$":"$$.Map.Item.Value.x","i.$":"$$.Map.Item.Index"}`,
			`[{"v":{"x":1},"x":1,"i":0},{"v":{"x":2},"x":2,"i":1},{"v":{"x":3},"x":3,"i":2}]`},
		{"whole Item", `{"it.$":"$$.Map.Item"}`,
			`[{"it":{"Index":0,"Value":{"x":1}}},{"it":{"Index":1,"Value":{"x":2}}},{"it":{"Index":2,"Value":{"x":3}}}]`},
		{"whole Map in an array", `{"a":[{"m.$":"$$.Map"}]}`,
			`[{"a":[{"m":{"Item":{"Index":0,"Value":{"x":1}}}}]},{"a":[{"m":{"Item":{"Index":1,"Value":{"x":2}}}}]},{"a":[{"m":{"Item":{"Index":2,"Value":{"x":3}}}}]}]`},
		{"intrinsic", `{"a.$":"States.Array($$.Map.Item.Value)"}`, `[{"a":[{"x":1}]},{"a":[{"x":2}]},{"a":[{"x":3}]}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			def := `{"StartAt":"M","States":{"M":{"Type":"Map","MaxConcurrency":1,"ItemsPath":"$.items","ItemSelector":` + tt.selector + `,
			  "ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},"End":true}}}`
			res, x := run(t, def, `{"items":[{"x":1},{"x":2},{"x":3}]}`, nil)
			wantSuccess(t, res, x, tt.want)
		})
	}
}
