package anchor

import (
	"fmt"
	"testing"
)

// benchChains is the size of the benchmarks' table: requests of 10 events.
const benchChains = 100

// newBenchFixture is a table of benchChains requests of 10 events each.
func newBenchFixture(b *testing.B) *fixture {
	b.Helper()
	f := newFixture(b)
	for i := range benchChains {
		f.request(fmt.Sprintf("r%03d", i), 10)
	}
	return f
}

// BenchmarkAnchor: the daily anchor of benchChains changed chains on
// dynalite (list, verify each, write one anchor, mark each).
func BenchmarkAnchor(b *testing.B) {
	for _, workers := range []int{1, 8} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			f := newBenchFixture(b)
			a := f.anchorer(Config{Workers: workers})
			for b.Loop() {
				b.StopTimer()
				for i := range benchChains {
					f.events(fmt.Sprintf("r%03d", i), 1)
				}
				b.StartTimer()
				res, err := a.Anchor(f.ctx)
				if err != nil || res.Chains != benchChains {
					b.Fatalf("Anchor = %+v, %v", res, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*benchChains), "µs/chain")
		})
	}
}

// BenchmarkVerify: dsr audit verify over benchChains anchored chains.
func BenchmarkVerify(b *testing.B) {
	for _, workers := range []int{1, 8} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			f := newBenchFixture(b)
			if _, err := f.anchorer(Config{}).Anchor(f.ctx); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				rep, err := Verify(f.ctx, VerifyConfig{Workers: workers}, f.dir, f.st)
				if err != nil || !rep.OK() || rep.Chains != benchChains {
					b.Fatalf("Verify = %+v, %v", rep, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*benchChains), "µs/chain")
		})
	}
}
