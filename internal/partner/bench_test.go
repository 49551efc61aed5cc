package partner_test

import (
	"fmt"
	"net/http/httptest"
	"testing"

	"dsrflow/internal/dev/partnersim"
	"dsrflow/internal/dsr"
	"dsrflow/internal/partner"
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

// BenchmarkDispatcherDispatch: one FanOut iteration for a sync partner:
// load the request and the partner task from DynamoDB (dynalite), mark it
// dispatched, call the partner, record the receipt, two audit events.
func BenchmarkDispatcherDispatch(b *testing.B) {
	f := newBenchFixture(b)
	i := 0
	for b.Loop() {
		i++
		id := fmt.Sprintf("bench-%d", i)
		if _, _, err := f.st.CreateRequest(b.Context(), &dsr.Request{ID: id, Kind: dsr.KindErasure, Status: dsr.StatusInProgress, Channel: dsr.ChannelWeb, Role: dsr.RoleSelf, Locale: "zh-CN", AccountID: "acct-1"}); err != nil {
			b.Fatal(err)
		}
		if _, err := f.d.Dispatch(b.Context(), partner.DispatchInput{RequestID: id, PartnerID: "acct"}); err != nil {
			b.Fatal(err)
		}
	}
}
