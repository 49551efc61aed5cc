package report

import (
	"testing"
	"time"

	"dsrflow/internal/dsr"
	"dsrflow/internal/workday"
)

// BenchmarkBuild counts a year of 10,000 requests.
func BenchmarkBuild(b *testing.B) {
	cal, err := workday.Default()
	if err != nil {
		b.Fatal(err)
	}
	start := time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC)
	outcomes := []Outcome{OutcomeWhole, OutcomePart, OutcomeRefused, OutcomeClosed, OutcomeOpen}
	rows := make([]Row, 10000)
	for i := range rows {
		at := start.Add(time.Duration(i) * 52 * time.Minute)
		replied := at.Add(time.Duration(i%20) * 24 * time.Hour)
		rows[i] = Row{ID: "r", Kind: dsr.Kinds()[i%6], Outcome: outcomes[i%5], Reason: dsr.RefusalLegalHold, ReceivedAt: at, RepliedAt: &replied}
	}
	from, to := workday.Date{Year: 2026, Month: 1, Day: 1}, workday.Date{Year: 2026, Month: 12, Day: 31}
	b.ReportAllocs()
	for b.Loop() {
		Build(rows, from, to, cal)
	}
}
