package console

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"dsrflow/internal/dsr"
	"dsrflow/internal/principal"
	"dsrflow/internal/store"
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

// BenchmarkQueueOverDynalite builds the queue of 100 open requests (50
// waiting for an operator) and 10 triaged mails from dynalite: the index
// queries and the per-request reads the queue makes.
func BenchmarkQueueOverDynalite(b *testing.B) {
	ctx := context.Background()
	st := store.New(store.Config{Table: emu.NewTable(b)}, store.Deps{DB: emu.Client()})
	now := time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)
	for i := range 100 {
		due := now.Add(time.Duration(i) * 24 * time.Hour)
		status := dsr.StatusInProgress
		if i%2 == 0 {
			status = dsr.StatusInReview
		}
		r := &dsr.Request{ID: fmt.Sprintf("r-%026d", i), Kind: dsr.KindErasure, Status: status, Channel: dsr.ChannelWeb, Role: dsr.RoleSelf, CreatedAt: now, DueAt: &due}
		if _, _, err := st.CreateRequest(ctx, r, nil); err != nil {
			b.Fatal(err)
		}
		if status == dsr.StatusInReview {
			if err := st.PutOperatorWait(ctx, &store.OperatorWait{RequestID: r.ID, Stage: "review", Cause: "repeat_limit", TaskToken: "t", RequestedAt: now}); err != nil {
				b.Fatal(err)
			}
		}
	}
	for i := range 10 {
		if _, err := st.PutMailRecord(ctx, store.MailRecord{DedupeKey: fmt.Sprintf("%064x", i), Action: "triage", Reason: "triage: unclear", Object: "s3://m/inbox/x", ReceivedAt: now}); err != nil {
			b.Fatal(err)
		}
	}
	h, err := New(Config{SubjectKeySecret: subjectSecret, StateMachineArn: "arn:aws:states:us-east-1:0:stateMachine:x"},
		Deps{Store: st, SFN: nullSFN{}, Principal: principal.Principal{ARN: operatorARN}, Clock: func() time.Time { return now }, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		v, err := h.queue(ctx)
		if err != nil || len(v.Items) != 60 {
			b.Fatalf("queue: %d items, %v", len(v.Items), err)
		}
	}
}

// nullSFN is never called by the queue.
type nullSFN struct{ SFN }
