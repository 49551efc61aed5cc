package console

import (
	"encoding/csv"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"dsrflow/internal/report"
)

func TestReportPage(t *testing.T) {
	s := newStack(t, stackOptions{})
	done := s.guardianErasure("report-done")
	refused := s.guardianErasure("report-refused")
	s.waitFor(done, "verification")
	s.waitFor(refused, "verification")
	// One after the other: the virtual clock is shared, and one
	// execution's waits (the follow-up period) would pass the others'
	// partner deadlines.
	redirected(t, s.post("/requests/"+done+"/decision", url.Values{"stage": {"verification"}, "decision": {"approve"}}), "/requests/"+done, "approved")
	if st := s.finished(done); st != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("%s: %s", done, st)
	}
	redirected(t, s.post("/requests/"+refused+"/decision", url.Values{"stage": {"verification"}, "decision": {"refuse"}, "reason": {"authority_not_proven"}}), "/requests/"+refused, "refused")
	if st := s.finished(refused); st != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("%s: %s", refused, st)
	}
	a := s.get("/report?lang=en&from=2026-03-01&to=2026-03-31")
	if a.Status != 200 {
		t.Fatalf("report %d: %s", a.Status, pageText(a.Body))
	}
	table := pageText(a.Body[strings.Index(a.Body, `<table id="report">`):])
	// Both received in March; one complied in whole, one refused.
	if !strings.Contains(table, "2026-03 Erasure 2 1 0 1") || !strings.Contains(table, "You did not prove that you may make this request on the person's behalf.: 1") {
		t.Errorf("report table: %s", table)
	}
	csvAnswer := s.get("/report?from=2026-03-01&to=2026-03-31&format=csv")
	if ct := csvAnswer.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" || !strings.Contains(csvAnswer.Header.Get("Content-Disposition"), "dsr-report-2026-03-01-2026-03-31.csv") {
		t.Errorf("CSV headers %v", csvAnswer.Header)
	}
	recs, err := csv.NewReader(strings.NewReader(csvAnswer.Body)).ReadAll()
	if err != nil || len(recs) != 3 || strings.Join(recs[0], ",") != strings.Join(report.CSVHeader(), ",") || recs[1][0] != "2026-03" || recs[1][1] != "erasure" || recs[1][2] != "2" {
		t.Errorf("CSV (%v): %v", err, recs)
	}
	var rep report.Report
	if err := json.Unmarshal([]byte(s.get("/report?from=2026-03-01&to=2026-03-31&format=json").Body), &rep); err != nil || rep.Total.Received != 2 || rep.Total.Refused != 1 || rep.Total.Whole != 1 {
		t.Errorf("JSON (%v): %+v", err, rep.Total)
	}
	for _, q := range []string{"from=2026-02-30", "from=2026-04-01&to=2026-03-01", "from=2020-01-01&to=2026-03-01", "to=soon"} {
		if a := s.get("/report?lang=en&" + q); a.Status != 400 || !strings.Contains(a.Body, "Enter valid dates") {
			t.Errorf("report %s: %d", q, a.Status)
		}
	}
	// Without dates: this month so far.
	if a := s.get("/report?lang=en"); a.Status != 200 || !strings.Contains(a.Body, `value="2026-`) {
		t.Errorf("default report: %d", a.Status)
	}
}
