package partner_test

import (
	"fmt"
	"net/http/httptest"
	"testing"

	"dsrflow/internal/dev/partnersim"
	"dsrflow/internal/dsr"
	"dsrflow/internal/partner"
	"dsrflow/internal/store"
)

// BenchmarkClientDispatch: one signed request to a synchronous simulated
// partner over loopback HTTP, its signature verified there, and the answer
// checked here.
func BenchmarkClientDispatch(b *testing.B) {
	sim := partnersim.New("p", secret, partnersim.Behavior{Mode: partner.ModeSync})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	c := &partner.Client{}
	p := testPartner("p", srv.URL, partner.ModeSync)
	req := wireRequest("r1")
	for b.Loop() {
		if _, err := c.Dispatch(b.Context(), p, secret, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDispatcherRun: one Map iteration for a sync partner: load the
// request, store the task token on the partner task, load the identity,
// mark the task dispatched, call the partner (signed, over loopback HTTP),
// record the receipt with two audit events, and answer the token; all on
// DynamoDB (dynalite). The request and its identity are written outside
// the timed part.
func BenchmarkDispatcherRun(b *testing.B) {
	f := newBenchFixture(b)
	i := 0
	for b.Loop() {
		i++
		b.StopTimer()
		req := f.request(b, dsr.KindErasure, nil)
		b.StartTimer()
		out, err := f.d.Run(b.Context(), partner.RunInput{RequestID: req.ID, PartnerID: "acct", TaskToken: fmt.Sprintf("tok-%d", i)})
		if err != nil || out.Status != store.PartnerCompleted {
			b.Fatal(out, err)
		}
	}
}
