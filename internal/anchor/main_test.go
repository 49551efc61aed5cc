package anchor

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dsr"
	"dsrflow/internal/store"
)

var emu *dynamotest.Emulator

func TestMain(m *testing.M) { os.Exit(dynamotest.Main(m, &emu)) }

// t0 is the test clock's start.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// clock ticks one second per reading.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

// jump moves the clock by d.
func (c *clock) jump(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	t     testing.TB
	ctx   context.Context
	table string
	st    *store.Store
	dir   Dir
	clock *clock
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	table := emu.NewTable(t)
	c := &clock{t: t0}
	return &fixture{
		t: t, ctx: context.Background(), table: table, clock: c,
		st:  store.New(store.Config{Table: table}, store.Deps{DB: emu.Client(), Clock: c.Now}),
		dir: Dir{Path: t.TempDir()},
	}
}

// anchorer returns an Anchorer over the fixture's store and folder.
func (f *fixture) anchorer(cfg Config) *Anchorer {
	f.t.Helper()
	return f.anchorerOver(cfg, f.st)
}

func (f *fixture) anchorerOver(cfg Config, st Store) *Anchorer {
	f.t.Helper()
	a, err := New(cfg, Deps{Store: st, Sink: f.dir, Clock: f.clock.Now, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		f.t.Fatal(err)
	}
	return a
}

// request creates request id with n audit events.
func (f *fixture) request(id string, n int) {
	f.t.Helper()
	r := &dsr.Request{ID: id, Kind: dsr.KindErasure, Status: dsr.StatusReceived, Channel: dsr.ChannelWeb, Role: dsr.RoleSelf, Locale: "zh-CN"}
	if _, dup, err := f.st.CreateRequest(f.ctx, r, &dsr.Personal{Contact: dsr.Contact{Email: "person@example.com"}}); err != nil || dup {
		f.t.Fatalf("CreateRequest(%s) = dup %v, %v", id, dup, err)
	}
	f.events(id, n)
}

// events appends n events to request id.
func (f *fixture) events(id string, n int) {
	f.t.Helper()
	for i := range n {
		if _, err := f.st.AppendEvent(f.ctx, id, store.Event{Type: fmt.Sprintf("step%d", i+1), Actor: "test", Data: map[string]string{"partner": "voice-store"}}); err != nil {
			f.t.Fatalf("append event to %s: %v", id, err)
		}
	}
}

// verify runs Verify over the fixture's folder and table.
func (f *fixture) verify(since time.Time) Report {
	f.t.Helper()
	rep, err := Verify(f.ctx, VerifyConfig{Since: since}, f.dir, f.st)
	if err != nil {
		f.t.Fatalf("Verify: %v", err)
	}
	return rep
}

// unanchored lists the chains changed since their last anchor.
func (f *fixture) unanchored() []string {
	f.t.Helper()
	page, err := f.st.UnanchoredChains(f.ctx, 1000, "")
	if err != nil || page.Next != "" {
		f.t.Fatalf("UnanchoredChains: %+v, %v", page, err)
	}
	return page.IDs
}

// edit rewrites, behind the store's back, the items whose attributes equal
// match; it fails the test unless exactly want items matched.
func (f *fixture) edit(match, set map[string]string, want int) {
	f.t.Helper()
	n, err := emu.EditItems(f.ctx, f.table, match, set)
	if err != nil || n != want {
		f.t.Fatalf("EditItems(%v) = %d, %v; want %d items", match, n, err, want)
	}
}

// remove deletes, behind the store's back, the items whose attributes
// equal match; it fails the test unless at least one matched.
func (f *fixture) remove(match map[string]string) {
	f.t.Helper()
	n, err := emu.DeleteItems(f.ctx, f.table, match)
	if err != nil || n == 0 {
		f.t.Fatalf("DeleteItems(%v) = %d, %v; want items deleted", match, n, err)
	}
}
