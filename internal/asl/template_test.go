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
