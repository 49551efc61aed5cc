package workflow

import (
	"context"
	"fmt"
	"testing"
	"time"

	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"dsrflow/internal/dsr"
	"dsrflow/internal/partner"
)

// noBackoff retries a partner once, without waiting.
var noBackoff = partner.Backoff{Attempts: 1, Sleep: func(context.Context, time.Duration) error { return nil }}

// historyLimit is Step Functions' limit of events in one execution's
// history (Standard workflows).
const historyLimit = 25000

// pricePerTransition is the Step Functions Standard price, $0.025 per
// 1,000 state transitions.
const pricePerTransition = 0.025 / 1000

// manyPartners is a configuration of n partners keyed by account, a
// quarter of them asynchronous, with the example's account system first.
func manyPartners(t testing.TB, n int) *partner.Config {
	t.Helper()
	base := examplePartners(t)
	acct, _ := base.Partner(base.AccountSystem)
	cfg := &partner.Config{AccountSystem: acct.ID, Partners: []partner.Partner{acct}}
	for i := 1; i < n; i++ {
		p := partner.Partner{
			ID: fmt.Sprintf("p%03d", i), Name: dsr.Text{ZhCN: fmt.Sprintf("合作方%03d", i), En: fmt.Sprintf("Partner %03d", i)},
			Endpoint: "https://partners.example.cn/p", Actions: []partner.Action{partner.ActionErase, partner.ActionExport},
			IdentityTypes: []dsr.IdentifierType{dsr.IdentifierAccount}, Mode: partner.ModeSync,
			CompletionDeadline: partner.Duration(time.Hour), SecretRef: fmt.Sprintf("env:PARTNER_P%03d_SECRET", i),
			BackupRetention: partner.Duration(30 * 24 * time.Hour),
		}
		if i%4 == 3 {
			p.Mode = partner.ModeAsync
		}
		cfg.Partners = append(cfg.Partners, p)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestErasureHistorySize runs a whole erasure (code verification, identity
// resolution, review, fan-out, reply, backup wait and confirmation,
// certificate, follow-up and purge) with 5 and with 200 partners, a quarter
// of them asynchronous. An erasure with P partners enters at most 12 + P
// states: the definition's budget (docs/ARCHITECTURE.md). It logs the
// history's events, its state transitions (what AWS bills) and the cost.
func TestErasureHistorySize(t *testing.T) {
	t.Parallel()
	for _, n := range []int{5, 200} {
		t.Run(fmt.Sprintf("partners=%d", n), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{partners: manyPartners(t, n)})
			start := time.Now()
			id, token := e.submit(sub(dsr.KindErasure, dsr.RoleSelf, "zhang.wei@example.cn", "", ""), fmt.Sprintf("history-%d", n), nil)
			e.verify(id, token)
			if d := e.done(id); d.Status != sfntypes.ExecutionStatusSucceeded {
				t.Fatalf("execution ended %s:\n%s", d.Status, e.describeHistory(id))
			}
			events := e.history(id)
			transitions := len(e.states(id))
			t.Logf("erasure with %d partners: %d history events, %d state transitions, $%.6f per request ($0.025 per 1,000 transitions); ran in %s",
				n, len(events), transitions, float64(transitions)*pricePerTransition, time.Since(start).Round(time.Millisecond))
			if transitions > 12+n {
				t.Errorf("%d state transitions for %d partners, want at most %d: %v", transitions, n, 12+n, e.states(id))
			}
			if len(events) >= historyLimit {
				t.Errorf("%d history events, at or above the %d limit", len(events), historyLimit)
			}
		})
	}
}
