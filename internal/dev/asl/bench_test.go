package asl

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

func benchRun(b *testing.B, def, input string, h Handlers) {
	b.Helper()
	sm, err := Parse([]byte(def))
	if err != nil {
		b.Fatal(err)
	}
	e := NewEngine(Options{Clock: VirtualClock(testStart), Resolver: h})
	var transitions int64
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		x, err := e.Start(context.Background(), sm, StartInput{Name: "b", Input: json.RawMessage(input)})
		if err != nil {
			b.Fatal(err)
		}
		res, err := x.Wait(context.Background())
		if err != nil || res.Status != StatusSucceeded {
			b.Fatalf("status %s %s %s", res.Status, res.Error, res.Cause)
		}
		transitions += x.StateTransitions()
	}
	b.ReportMetric(float64(transitions)/time.Since(start).Seconds(), "transitions/s")
}

// BenchmarkPassChain runs 1,000 Pass states in a row.
func BenchmarkPassChain(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"StartAt":"S0","States":{`)
	for i := range 1000 {
		if i > 0 {
			sb.WriteString(",")
		}
		if i == 999 {
			fmt.Fprintf(&sb, `"S%d":{"Type":"Pass","End":true}`, i)
		} else {
			fmt.Fprintf(&sb, `"S%d":{"Type":"Pass","Next":"S%d"}`, i, i+1)
		}
	}
	sb.WriteString(`}}`)
	benchRun(b, sb.String(), `{"request":{"id":"r-1","kind":"erasure"},"count":0}`, nil)
}

// BenchmarkChoiceLoop counts to 500 with a Choice, a Pass using
// States.MathAdd and a loop back: 1,000 transitions plus the exit.
func BenchmarkChoiceLoop(b *testing.B) {
	def := `{"StartAt":"Check","States":{
	  "Check":{"Type":"Choice","Choices":[{"And":[{"Variable":"$.i","IsNumeric":true},{"Variable":"$.i","NumericLessThan":500}],"Next":"Inc"}],"Default":"Done"},
	  "Inc":{"Type":"Pass","Parameters":{"i.$":"States.MathAdd($.i, 1)","kind.$":"$.kind"},"Next":"Check"},
	  "Done":{"Type":"Succeed"}}}`
	benchRun(b, def, `{"i":0,"kind":"erasure"}`, nil)
}

// BenchmarkMap1000Tasks maps 1,000 items through a Lambda Task each; the
// handler is made by lambda.NewHandler, so its invocations run one at a time.
func BenchmarkMap1000Tasks(b *testing.B) {
	benchMap1000(b, handler)
}

// BenchmarkMap1000TasksPooled is BenchmarkMap1000Tasks with the handler
// made by asl.NewHandler, whose invocations run at once.
func BenchmarkMap1000TasksPooled(b *testing.B) {
	benchMap1000(b, func(f any) lambda.Handler { return NewHandler(f) })
}

func benchMap1000(b *testing.B, newHandler func(any) lambda.Handler) {
	items := make([]string, 1000)
	for i := range items {
		items[i] = fmt.Sprintf(`{"partner":"p%d"}`, i)
	}
	def := `{"StartAt":"Fan","States":{"Fan":{"Type":"Map","ItemsPath":"$.items","MaxConcurrency":10,
	  "ItemSelector":{"partner.$":"$$.Map.Item.Value.partner","index.$":"$$.Map.Item.Index"},
	  "ItemProcessor":{"StartAt":"Call","States":{"Call":{"Type":"Task","Resource":"` + fnArn + `notify","ResultPath":"$.result","End":true}}},"End":true}}}`
	h := Handlers{"notify": newHandler(func(in struct {
		Partner string `json:"partner"`
		Index   int    `json:"index"`
	}) (map[string]any, error) {
		return map[string]any{"ok": true, "index": in.Index}, nil
	})}
	benchRun(b, def, `{"items":[`+strings.Join(items, ",")+`]}`, h)
}
