package workflow

import (
	"fmt"
	"testing"
	"time"

	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"dsrflow/internal/dev/partnersim"
	"dsrflow/internal/dsr"
	"dsrflow/internal/partner"
)

// historyLimit is Step Functions' limit of events in one execution's
// history (Standard workflows).
const historyLimit = 25000

// pricePerTransition is the Step Functions Standard price, $0.025 per
// 1,000 state transitions.
const pricePerTransition = 0.025 / 1000

// TestErasureHistorySize runs a whole erasure (code verification, review,
// fan-out, reply, backup wait and confirmation, certificate) with 5 and
// with 200 partners, a quarter of them asynchronous, and logs its history
// event count, its state transitions (states entered, what the local
// engine's Execution.StateTransitions counts and AWS bills) and the Step
// Functions cost. It asserts only the hard limit: the history stays below
// 25,000 events.
func TestErasureHistorySize(t *testing.T) {
	t.Parallel()
	for _, n := range []int{5, 200} {
		t.Run(fmt.Sprintf("partners=%d", n), func(t *testing.T) {
			t.Parallel()
			specs := make([]simSpec, n)
			for i := range specs {
				specs[i] = simSpec{id: fmt.Sprintf("p%03d", i), mode: partner.ModeSync, actions: []partner.Action{partner.ActionErase}}
				if i%4 == 3 {
					specs[i].mode = partner.ModeAsync
					specs[i].b = partnersim.Behavior{CallbackDelay: 5 * time.Millisecond}
				}
			}
			e, _ := newPartnerEnv(t, nil, nil, specs...)
			start := time.Now()
			id, token := e.submit(submission(dsr.KindErasure, dsr.RoleSelf, dsr.LocaleZhCN), fmt.Sprintf("history-%d", n))
			e.verify(id, token)
			if d := e.done(id); d.Status != sfntypes.ExecutionStatusSucceeded || e.finalState(id) != "Completed" {
				t.Fatalf("execution ended %s in %s", d.Status, e.finalState(id))
			}
			events := e.history(id)
			transitions := 0
			for _, ev := range events {
				if ev.StateEnteredEventDetails != nil {
					transitions++
				}
			}
			t.Logf("erasure with %d partners: %d history events, %d state transitions, $%.6f per request ($0.025 per 1,000 transitions); ran in %s",
				n, len(events), transitions, float64(transitions)*pricePerTransition, time.Since(start).Round(time.Millisecond))
			if len(events) >= historyLimit {
				t.Errorf("%d history events, at or above the %d limit", len(events), historyLimit)
			}
		})
	}
}
