package report

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dsr"
	"dsrflow/internal/store"
	"dsrflow/internal/workday"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

var emu *dynamotest.Emulator

func TestMain(m *testing.M) { os.Exit(dynamotest.Main(m, &emu)) }

// cst is a time in China.
func cst(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, workday.ChinaTime)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func ptr(t time.Time) *time.Time { return &t }

func date(t *testing.T, s string) workday.Date {
	t.Helper()
	d, err := workday.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func calendar(t *testing.T) *workday.Calendar {
	t.Helper()
	c, err := workday.Default()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestStats(t *testing.T) {
	tests := []struct {
		days      []int
		wantMed   float64
		wantP95   int
		wantEmpty bool
	}{
		{nil, 0, 0, true},
		{[]int{7}, 7, 7, false},
		{[]int{3, 1}, 2, 3, false},
		{[]int{5, 1, 3}, 3, 5, false},
		{[]int{1, 2, 3, 4}, 2.5, 4, false},
		// 20 values: rank ⌈19⌉ = 19th smallest.
		{[]int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 40}, 10.5, 19, false},
		// 21 values: rank ⌈19.95⌉ = 20th.
		{[]int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 40}, 11, 20, false},
	}
	for _, tt := range tests {
		med, p95 := stats(tt.days)
		if tt.wantEmpty {
			if med != nil || p95 != nil {
				t.Errorf("stats(%v) = %v, %v; want none", tt.days, med, p95)
			}
			continue
		}
		if med == nil || *med != tt.wantMed || p95 == nil || *p95 != tt.wantP95 {
			t.Errorf("stats(%v) = %v, %v; want %v, %v", tt.days, deref(med), derefInt(p95), tt.wantMed, tt.wantP95)
		}
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func derefInt(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

// sampleRows is a quarter's requests: received Monday 2026-03-02 09:00
// unless said otherwise.
func sampleRows() []Row {
	return []Row{
		// Answered in whole 15 working days later (2026-03-23).
		{ID: "a1", Kind: dsr.KindAccess, Outcome: OutcomeWhole, ReceivedAt: cst("2026-03-02 09:00"), RepliedAt: ptr(cst("2026-03-23 10:00"))},
		// Same day: 0.
		{ID: "a2", Kind: dsr.KindAccess, Outcome: OutcomeWhole, ReceivedAt: cst("2026-03-02 09:00"), RepliedAt: ptr(cst("2026-03-02 18:00"))},
		// Still open.
		{ID: "a3", Kind: dsr.KindAccess, Outcome: OutcomeOpen, ReceivedAt: cst("2026-03-31 23:30")},
		// Erasure in part (a partner never acted), answered in 4 days.
		{ID: "e1", Kind: dsr.KindErasure, Outcome: OutcomePart, ReceivedAt: cst("2026-03-02 09:00"), RepliedAt: ptr(cst("2026-03-06 12:00"))},
		// Refusals, one answered over the Qingming holiday (Apr 4–6 2026).
		{ID: "e2", Kind: dsr.KindErasure, Outcome: OutcomeRefused, Reason: dsr.RefusalLegalHold, ReceivedAt: cst("2026-04-03 09:00"), RepliedAt: ptr(cst("2026-04-07 09:00"))},
		{ID: "e3", Kind: dsr.KindErasure, Outcome: OutcomeRefused, Reason: dsr.RefusalIdentityNotVerified, ReceivedAt: cst("2026-04-08 09:00"), RepliedAt: ptr(cst("2026-04-09 09:00"))},
		{ID: "e4", Kind: dsr.KindErasure, Outcome: OutcomeRefused, Reason: dsr.RefusalLegalHold, ReceivedAt: cst("2026-04-08 09:00"), RepliedAt: ptr(cst("2026-04-10 09:00"))},
		// Duplicate: closed, no answer.
		{ID: "e5", Kind: dsr.KindErasure, Outcome: OutcomeClosed, ReceivedAt: cst("2026-04-09 09:00")},
		// 2026-04-01 00:30 in China is still March 31 in UTC: April.
		{ID: "c1", Kind: dsr.KindCorrection, Outcome: OutcomeWhole, ReceivedAt: cst("2026-04-01 00:30"), RepliedAt: ptr(cst("2026-04-02 00:30"))},
		// Outside the period.
		{ID: "x1", Kind: dsr.KindAccess, Outcome: OutcomeWhole, ReceivedAt: cst("2026-02-28 23:59"), RepliedAt: ptr(cst("2026-03-02 00:00"))},
		{ID: "x2", Kind: dsr.KindAccess, Outcome: OutcomeWhole, ReceivedAt: cst("2026-05-01 00:00")},
	}
}

func TestBuild(t *testing.T) {
	rep := Build(sampleRows(), date(t, "2026-03-01"), date(t, "2026-04-30"), calendar(t))
	type want struct {
		month, kind                                  string
		received, whole, part, refused, closed, open int
		replied                                      int
		med                                          any
		p95                                          any
		refusedBy                                    map[dsr.RefusalReason]int
	}
	wants := []want{
		{"2026-03", "access", 3, 2, 0, 0, 0, 1, 2, 7.5, 15, nil},
		{"2026-03", "erasure", 1, 0, 1, 0, 0, 0, 1, 4.0, 4, nil},
		{"2026-04", "correction", 1, 1, 0, 0, 0, 0, 1, 1.0, 1, nil},
		// Apr 3 (Fri) → Apr 7: Apr 4–6 are the Qingming holiday, so 1.
		{"2026-04", "erasure", 4, 0, 0, 3, 1, 0, 3, 1.0, 2, map[dsr.RefusalReason]int{dsr.RefusalLegalHold: 2, dsr.RefusalIdentityNotVerified: 1}},
	}
	if len(rep.Lines) != len(wants) {
		t.Fatalf("lines = %+v, want %d", rep.Lines, len(wants))
	}
	for i, w := range wants {
		l := rep.Lines[i]
		if l.Month != w.month || l.Kind != w.kind || l.Received != w.received || l.Whole != w.whole || l.Part != w.part ||
			l.Refused != w.refused || l.Closed != w.closed || l.Open != w.open || l.Replied != w.replied ||
			deref(l.MedianDays) != w.med || derefInt(l.P95Days) != w.p95 {
			t.Errorf("line %d = %+v (median %v, p95 %v); want %+v", i, l, deref(l.MedianDays), derefInt(l.P95Days), w)
		}
		for r, n := range w.refusedBy {
			if l.RefusedBy[r] != n {
				t.Errorf("line %d refused %s = %d, want %d", i, r, l.RefusedBy[r], n)
			}
		}
	}
	if tot := rep.Total; tot.Received != 9 || tot.Whole != 3 || tot.Part != 1 || tot.Refused != 3 || tot.Closed != 1 || tot.Open != 1 || tot.Replied != 7 || tot.Kind != KindAll {
		t.Errorf("total = %+v", tot)
	}
	// Days over all seven answers: 0 1 1 1 2 4 15 → median 1, p95 15.
	if deref(rep.Total.MedianDays) != 1.0 || derefInt(rep.Total.P95Days) != 15 {
		t.Errorf("total median %v p95 %v, want 1, 15", deref(rep.Total.MedianDays), derefInt(rep.Total.P95Days))
	}
	if empty := Build(nil, date(t, "2026-03-01"), date(t, "2026-03-31"), calendar(t)); len(empty.Lines) != 0 || empty.Total.Received != 0 || empty.Total.MedianDays != nil {
		t.Errorf("empty report = %+v", empty)
	}
}

func TestClassify(t *testing.T) {
	at := cst("2026-03-10 10:00")
	ev := func(typ string, data map[string]string, offset time.Duration) store.Event {
		return store.Event{Type: typ, At: at.Add(offset), Data: data}
	}
	closed := cst("2026-03-12 10:00")
	tests := []struct {
		name    string
		status  dsr.Status
		reason  dsr.RefusalReason
		events  []store.Event
		want    Outcome
		replied *time.Time
	}{
		{"whole", dsr.StatusCompleted, "", []store.Event{ev("replied", map[string]string{"acted": "3", "pending": "0"}, 0)}, OutcomeWhole, &at},
		{"erasure deferred by a hold", dsr.StatusCompleted, "", []store.Event{ev("replied", map[string]string{"deferred": "legal_hold"}, 0)}, OutcomePart, &at},
		{"partial, then whole: the first answer counts, the last says whole", dsr.StatusAwaitingBackupRotation, "", []store.Event{
			ev("replied_partially", map[string]string{"pending": "1"}, 0), ev("replied", map[string]string{"pending": "0"}, 48*time.Hour)}, OutcomeWhole, &at},
		{"partial, still escalated", dsr.StatusEscalated, "", []store.Event{ev("replied_partially", map[string]string{"pending": "1"}, 0)}, OutcomePart, &at},
		{"refused with its notice", dsr.StatusRefused, dsr.RefusalDuplicate, []store.Event{ev("notice_sent", map[string]string{"template": "refused"}, time.Hour)}, OutcomeRefused, ptr(at.Add(time.Hour))},
		{"refused, nobody to tell", dsr.StatusRefused, dsr.RefusalLegalHold, []store.Event{ev("notice_undeliverable", map[string]string{"template": "refused"}, 0)}, OutcomeRefused, &closed},
		{"escalated backups after a whole reply", dsr.StatusEscalated, "", []store.Event{ev("replied", map[string]string{"pending": "0"}, 0), ev("backup.escalated", nil, time.Hour)}, OutcomeWhole, &at},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &dsr.Request{ID: "r", Kind: dsr.KindErasure, Status: tt.status, RefusalReason: tt.reason, ClosedAt: &closed}
			got := classify(Row{ID: "r", Outcome: OutcomeOpen}, r, tt.events)
			if got.Outcome != tt.want || got.Reason != tt.reason {
				t.Errorf("outcome %s %s, want %s %s", got.Outcome, got.Reason, tt.want, tt.reason)
			}
			if (got.RepliedAt == nil) != (tt.replied == nil) || (got.RepliedAt != nil && !got.RepliedAt.Equal(*tt.replied)) {
				t.Errorf("replied at %v, want %v", got.RepliedAt, tt.replied)
			}
		})
	}
}

func TestFormats(t *testing.T) {
	rep := Build(sampleRows(), date(t, "2026-03-01"), date(t, "2026-04-30"), calendar(t))
	var csvOut, textOut, jsonOut bytes.Buffer
	if err := WriteCSV(&csvOut, rep); err != nil {
		t.Fatal(err)
	}
	if err := WriteText(&textOut, rep); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSON(&jsonOut, rep); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.csv", csvOut.String())
	golden(t, "report.txt", textOut.String())
	golden(t, "report.json", jsonOut.String())
	var back Report
	if err := json.Unmarshal(jsonOut.Bytes(), &back); err != nil || back.Total.Received != rep.Total.Received || back.From != rep.From {
		t.Errorf("JSON does not read back: %v %+v", err, back.Total)
	}
	if first := strings.SplitN(csvOut.String(), "\n", 2)[0]; first != strings.Join(CSVHeader(), ",") {
		t.Errorf("CSV header %q", first)
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n%s", name, got)
	}
}

// TestCollect reads requests and their audit trails from the table.
func TestCollect(t *testing.T) {
	ctx := context.Background()
	st := store.New(store.Config{Table: emu.NewTable(t)}, store.Deps{DB: emu.Client()})
	mk := func(id string, kind dsr.Kind, status dsr.Status, created time.Time, reason dsr.RefusalReason, evs ...store.Event) {
		t.Helper()
		r := &dsr.Request{ID: id, Kind: kind, Status: status, Channel: dsr.ChannelWeb, Role: dsr.RoleSelf, CreatedAt: created, RefusalReason: reason}
		if status.Terminal() {
			closed := created.Add(72 * time.Hour)
			r.ClosedAt = &closed
		}
		if _, _, err := st.CreateRequest(ctx, r, nil); err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			e.Actor = "workflow:reply"
			if _, err := st.AppendEvent(ctx, id, e); err != nil {
				t.Fatal(err)
			}
		}
	}
	mk("r-whole", dsr.KindAccess, dsr.StatusCompleted, cst("2026-03-02 09:00"), "", store.Event{Type: "replied", At: cst("2026-03-05 09:00"), Data: map[string]string{"pending": "0"}})
	mk("r-refused", dsr.KindErasure, dsr.StatusRefused, cst("2026-03-03 09:00"), dsr.RefusalLegalHold, store.Event{Type: "notice_sent", At: cst("2026-03-04 09:00"), Data: map[string]string{"template": "refused"}})
	mk("r-open", dsr.KindErasure, dsr.StatusInProgress, cst("2026-03-04 09:00"), "")
	mk("r-dup", dsr.KindErasure, dsr.StatusDuplicate, cst("2026-03-04 10:00"), "")
	mk("r-before", dsr.KindAccess, dsr.StatusCompleted, cst("2026-02-27 09:00"), "")
	rows, err := Collect(ctx, st, date(t, "2026-03-01"), date(t, "2026-03-31"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Row{}
	for _, r := range rows {
		got[r.ID] = r
	}
	if len(rows) != 4 {
		t.Errorf("rows = %+v, want 4 (r-before is outside)", rows)
	}
	if r := got["r-whole"]; r.Outcome != OutcomeWhole || r.RepliedAt == nil || !r.RepliedAt.Equal(cst("2026-03-05 09:00")) {
		t.Errorf("r-whole = %+v", r)
	}
	if r := got["r-refused"]; r.Outcome != OutcomeRefused || r.Reason != dsr.RefusalLegalHold || r.RepliedAt == nil {
		t.Errorf("r-refused = %+v", r)
	}
	if got["r-open"].Outcome != OutcomeOpen || got["r-dup"].Outcome != OutcomeClosed {
		t.Errorf("r-open %+v, r-dup %+v", got["r-open"], got["r-dup"])
	}
}
