package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// Speed against dynalite (a Node.js emulator on localhost): these measure the
// number of round trips and the encoding work, not DynamoDB's latency.

func BenchmarkCreateRequest(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		if _, _, err := f.st.CreateRequest(ctx, newRequest(fmt.Sprintf("r%d", i), "kA", "kB"), nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendEvent(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	f.create(b, newRequest("r1", "kA"))
	ev := Event{Type: "partner_done", Actor: "partner-dispatch", Data: map[string]string{"partner": "analytics", "status": "done"}}
	for b.Loop() {
		if _, err := f.st.AppendEvent(ctx, "r1", ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyChain100(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	f.create(b, newRequest("r1", "kA"))
	appendN(b, f.st, "r1", 100)
	for b.Loop() {
		rep, err := f.st.VerifyChain(ctx, "r1")
		if err != nil || !rep.OK() {
			b.Fatalf("%+v %v", rep, err)
		}
	}
}

func BenchmarkEventHash(b *testing.B) {
	ev := Event{Seq: 42, Type: "partner_done", Actor: "partner-dispatch", At: t0, Data: map[string]string{"partner": "analytics", "status": "done"}, PrevHash: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
	for b.Loop() {
		_ = EventHash("r1", ev)
	}
}

// BenchmarkTakeBudget is one conditional UpdateItem ADD: with a limit of
// one and a new window every two takes, half are taken and half refused.
func BenchmarkTakeBudget(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		if _, err := f.st.TakeBudget(ctx, "email:bench", 1, time.Second, t0.Add(time.Duration(i/2)*time.Second)); err != nil {
			b.Fatal(err)
		}
	}
}
