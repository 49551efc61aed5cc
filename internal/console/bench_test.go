package console

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"dsrflow/internal/dsr"
	"dsrflow/internal/principal"
	"dsrflow/internal/workday"
)

// BenchmarkRenderQueue renders a queue page of 500 items.
func BenchmarkRenderQueue(b *testing.B) {
	cal, err := workday.Default()
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)
	h := &Handler{csrfKey: bytes.Repeat([]byte{1}, 32), clock: func() time.Time { return now }, wall: func() time.Time { return now }, cal: cal,
		principal: principal.Principal{ARN: operatorARN}, logger: slog.New(slog.DiscardHandler)}
	rule, _ := workday.RuleFor(workday.CN)
	h.rule = rule
	v := &queueView{Open: 500}
	for i := range 500 {
		due := now.Add(time.Duration(i-100) * 24 * time.Hour)
		r := &dsr.Request{ID: fmt.Sprintf("r-%026d", i), DueAt: &due, CreatedAt: now}
		v.Items = append(v.Items, queueItem{What: itemReview, Cause: "repeat_limit", RequestID: r.ID, Kind: dsr.KindErasure, Status: dsr.StatusInReview, Since: now, due: h.dueOf(r, now)})
	}
	req := httptest.NewRequest("GET", "/?lang=en", nil)
	b.ReportAllocs()
	for b.Loop() {
		p := h.newPage(req, dsr.LocaleEn, "queue.title")
		p.Queue = v
		rec := httptest.NewRecorder()
		h.render(rec, 200, p, queueMain(p))
		_, _ = io.Copy(io.Discard, rec.Body)
	}
}
