package mail

import (
	"sort"
	"testing"
)

// BenchmarkParseClassify parses and classifies the whole corpus once per
// iteration and reports messages per second.
func BenchmarkParseClassify(b *testing.B) {
	c := corpus(b)
	names := make([]string, 0, len(c))
	total := 0
	for n, raw := range c {
		names = append(names, n)
		total += len(raw)
	}
	sort.Strings(names)
	b.SetBytes(int64(total))
	b.ReportAllocs()
	for b.Loop() {
		for _, n := range names {
			msg, _ := Parse(c[n])
			_ = Classify(msg, VerdictsFromHeaders(msg))
		}
	}
	b.ReportMetric(float64(b.N*len(names))/b.Elapsed().Seconds(), "msgs/s")
}
