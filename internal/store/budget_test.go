package store

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestTakeBudget: a window gives limit takes, then refuses without
// counting; the next window starts again; the counter's TTL is a Number
// just after its window ends.
func TestTakeBudget(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	day := 24 * time.Hour
	now := time.Date(2026, 3, 2, 23, 30, 0, 0, time.UTC)
	for i := 1; i <= 5; i++ {
		ok, err := f.st.TakeBudget(ctx, "email:abc", 3, day, now)
		if err != nil {
			t.Fatalf("take %d: %v", i, err)
		}
		if want := i <= 3; ok != want {
			t.Errorf("take %d: ok = %v, want %v", i, ok, want)
		}
	}
	if n, err := f.st.BudgetTaken(ctx, "email:abc", day, now); err != nil || n != 3 {
		t.Errorf("BudgetTaken = %d, %v; want 3 (refused takes count nothing)", n, err)
	}
	// Another key has its own counter.
	if ok, err := f.st.TakeBudget(ctx, "email:other", 3, day, now); err != nil || !ok {
		t.Errorf("take on another key: %v, %v; want ok", ok, err)
	}
	// The next day's window is fresh.
	if ok, err := f.st.TakeBudget(ctx, "email:abc", 3, day, now.Add(time.Hour)); err != nil || !ok {
		t.Errorf("take in the next window: %v, %v; want ok", ok, err)
	}
	item := f.rawItem(t, "BUDGET#email:abc", "WINDOW#2026-03-02T00:00:00.000000000Z")
	n, isNum := item["expiresAt"].(*types.AttributeValueMemberN)
	if want := formatInt(time.Date(2026, 3, 3, 1, 0, 0, 0, time.UTC).Unix()); !isNum || n.Value != want {
		t.Errorf("expiresAt = %#v, want the Number %s (window end + %s)", item["expiresAt"], want, BudgetTTLSlack)
	}
	for attr := range item {
		switch attr {
		case "PK", "SK", "taken", "expiresAt":
		default:
			t.Errorf("budget counter holds %q; want PK, SK, taken and expiresAt only", attr)
		}
	}
}

// TestTakeBudgetConcurrent: many takes at once never exceed the limit.
func TestTakeBudgetConcurrent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	const limit, tries = 5, 40
	var got atomic.Int32
	var wg sync.WaitGroup
	for range tries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := f.st.TakeBudget(ctx, "global", limit, time.Hour, t0)
			if err != nil {
				t.Error(err)
			}
			if ok {
				got.Add(1)
			}
		}()
	}
	wg.Wait()
	if got.Load() != limit {
		t.Errorf("%d of %d concurrent takes succeeded, want exactly %d", got.Load(), tries, limit)
	}
	if n, err := f.st.BudgetTaken(ctx, "global", time.Hour, t0); err != nil || n != limit {
		t.Errorf("BudgetTaken = %d, %v; want %d", n, err, limit)
	}
}

// TestReturnBudget: a return gives one back and never goes below zero.
func TestReturnBudget(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	// No counter yet: nothing to give back, no counter created.
	if err := f.st.ReturnBudget(ctx, "phone:x", time.Hour, t0); err != nil {
		t.Fatal(err)
	}
	if item := f.rawItem(t, "BUDGET#phone:x", "WINDOW#"+t0.Format(keyTime)); item != nil {
		t.Errorf("ReturnBudget created a counter: %v", item)
	}
	for range 2 {
		if ok, err := f.st.TakeBudget(ctx, "phone:x", 2, time.Hour, t0); err != nil || !ok {
			t.Fatalf("take: %v, %v", ok, err)
		}
	}
	if ok, _ := f.st.TakeBudget(ctx, "phone:x", 2, time.Hour, t0); ok {
		t.Fatal("take over the limit succeeded")
	}
	for range 3 {
		if err := f.st.ReturnBudget(ctx, "phone:x", time.Hour, t0); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := f.st.BudgetTaken(ctx, "phone:x", time.Hour, t0); err != nil || n != 0 {
		t.Errorf("after three returns of two takes: %d, %v; want 0", n, err)
	}
	if ok, err := f.st.TakeBudget(ctx, "phone:x", 2, time.Hour, t0); err != nil || !ok {
		t.Errorf("take after returns: %v, %v; want ok", ok, err)
	}
}

// TestTakeBudgetRefusesBadArguments: keys are short opaque names; limits
// and windows are positive. Errors do not quote the key.
func TestTakeBudgetRefusesBadArguments(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tests := []struct {
		name   string
		key    string
		limit  int
		window time.Duration
	}{
		{"empty key", "", 1, time.Hour},
		{"an address as key", "li.lei@example.cn", 1, time.Hour},
		{"key with #", "a#b", 1, time.Hour},
		{"long key", strings.Repeat("k", maxBudgetKeyLen+1), 1, time.Hour},
		{"zero limit", "kq9", 0, time.Hour},
		{"zero window", "kq9", 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := f.st.TakeBudget(context.Background(), tt.key, tt.limit, tt.window, t0)
			if err == nil || ok {
				t.Fatalf("TakeBudget = %v, %v; want an error", ok, err)
			}
			if tt.key != "" && strings.Contains(err.Error(), tt.key) {
				t.Errorf("error %q quotes the key", err)
			}
		})
	}
}
