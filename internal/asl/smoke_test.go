package asl

import "testing"

func TestSmokePassTask(t *testing.T) {
	def := `{"StartAt":"A","States":{
	  "A":{"Type":"Pass","Result":{"x":1},"ResultPath":"$.a","Next":"B"},
	  "B":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:add","ResultPath":"$.sum","End":true}}}`
	h := Handlers{"add": handler(func(in map[string]any) (int, error) { return 41 + int(in["a"].(map[string]any)["x"].(float64)), nil })}
	res, x := run(t, def, `{"in":true}`, h)
	wantSuccess(t, res, x, `{"in":true,"a":{"x":1},"sum":42}`)
	t.Log(historyTypes(x))
}
