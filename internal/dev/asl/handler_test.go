package asl

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNewHandlerRunsInvocationsAtOnce(t *testing.T) {
	// Five iterations must be inside the handler at the same time; a
	// handler serialized like lambda.NewHandler's would never get there.
	const n = 5
	var (
		mu      sync.Mutex
		inside  int
		allIn   = make(chan struct{})
		release sync.Once
	)
	h := Handlers{"wait": NewHandler(func(in struct{ I int }) (map[string]any, error) {
		mu.Lock()
		inside++
		if inside == n {
			release.Do(func() { close(allIn) })
		}
		mu.Unlock()
		select {
		case <-allIn:
		case <-time.After(5 * time.Second):
			return nil, errors.New("the other invocations did not run at the same time")
		}
		return map[string]any{"i": in.I, "pad": strings.Repeat("p", in.I)}, nil
	})}
	def := `{"StartAt":"M","States":{"M":{"Type":"Map","MaxConcurrency":5,"ItemSelector":{"I.$":"$$.Map.Item.Value"},
	  "ItemProcessor":{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnArn + `wait","End":true}}},"End":true}}}`
	items, want := make([]string, n), make([]string, n)
	for i := range n {
		items[i] = fmt.Sprint(i)
		want[i] = fmt.Sprintf(`{"i":%d,"pad":%q}`, i, strings.Repeat("p", i))
	}
	res, x := run(t, def, `[`+strings.Join(items, ",")+`]`, h)
	wantSuccess(t, res, x, `[`+strings.Join(want, ",")+`]`)
}

func TestNewHandlerOutputsStayApart(t *testing.T) {
	// Each instance reuses its output buffer; 200 concurrent iterations
	// must still each get their own result.
	h := Handlers{"echo": NewHandler(func(in struct{ I int }) (map[string]any, error) {
		return map[string]any{"i": in.I, "pad": strings.Repeat("p", in.I%7)}, nil
	})}
	items := make([]string, 200)
	want := make([]string, 200)
	for i := range items {
		items[i] = fmt.Sprint(i)
		want[i] = fmt.Sprintf(`{"i":%d,"pad":%q}`, i, strings.Repeat("p", i%7))
	}
	def := `{"StartAt":"M","States":{"M":{"Type":"Map","MaxConcurrency":10,"ItemSelector":{"I.$":"$$.Map.Item.Value"},
	  "ItemProcessor":{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnArn + `echo","End":true}}},"End":true}}}`
	res, x := run(t, def, `[`+strings.Join(items, ",")+`]`, h)
	wantSuccess(t, res, x, `[`+strings.Join(want, ",")+`]`)
}

func TestNewHandlerErrorsAndPanics(t *testing.T) {
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnArn + `f","End":true}}}`
	res, x := run(t, def, `{}`, Handlers{"f": NewHandler(func() error { return &PartnerUnavailable{Partner: "p1"} })})
	wantFailure(t, res, x, "PartnerUnavailable")
	res, x = run(t, def, `{}`, Handlers{"f": NewHandler(func() error { panic("oops") })})
	wantFailure(t, res, x, "string")
}
