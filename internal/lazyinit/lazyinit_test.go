package lazyinit

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

func TestValueBuildsOnceOnFirstUse(t *testing.T) {
	var builds atomic.Int32
	l := New(func(context.Context) (int, error) { return int(builds.Add(1)) * 10, nil })
	if builds.Load() != 0 {
		t.Fatal("New built the value; want it built on first use")
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if v, err := l.Get(context.Background()); err != nil || v != 10 {
				t.Errorf("Get = %d, %v; want 10, nil", v, err)
			}
		})
	}
	wg.Wait()
	if n := builds.Load(); n != 1 {
		t.Errorf("built %d times; want 1", n)
	}
}

func TestValueRetriesAfterFailure(t *testing.T) {
	fail := errors.New("no credentials yet")
	calls := 0
	l := New(func(context.Context) (string, error) {
		calls++
		if calls == 1 {
			return "", fail
		}
		return "ok", nil
	})
	h := Handler(l, func(v string, _ context.Context, in int) (string, error) { return v + string(rune('0'+in)), nil })
	if _, err := h(context.Background(), 1); !errors.Is(err, fail) {
		t.Fatalf("first call: err = %v; want the build error", err)
	}
	if out, err := h(context.Background(), 2); err != nil || out != "ok2" {
		t.Fatalf("second call = %q, %v; want ok2, nil", out, err)
	}
	a := Action(l, func(v string, _ context.Context, in int) error {
		if v != "ok" || in != 3 {
			t.Errorf("Action called with %q, %d", v, in)
		}
		return nil
	})
	if err := a(context.Background(), 3); err != nil {
		t.Fatal(err)
	}
	if calls != 2 {
		t.Errorf("built %d times; want 2 (one failure, one success)", calls)
	}
}

func TestDerive(t *testing.T) {
	type pair struct{ a, b string }
	builds := 0
	l := New(func(context.Context) (pair, error) { builds++; return pair{"x", "y"}, nil })
	d := Derive(l, func(p pair) string { return p.b })
	if builds != 0 {
		t.Fatal("Derive built the value; want it built on first use")
	}
	if v, err := d.Get(context.Background()); err != nil || v != "y" {
		t.Fatalf("Get = %q, %v; want y", v, err)
	}
	if _, err := l.Get(context.Background()); err != nil || builds != 1 {
		t.Errorf("builds = %d, err = %v; want the value built once and shared", builds, err)
	}
}

// TestNewKeyedRebuildsWhenTheKeyChanges: the value is built once per key,
// served while the key stays, built again when it changes (a rotated
// secret), and a key error fails Get without serving the old value.
func TestNewKeyedRebuildsWhenTheKeyChanges(t *testing.T) {
	ctx := context.Background()
	key := "v1"
	var keyErr error
	builds := 0
	l := NewKeyed(func(context.Context) (string, error) { return key, keyErr },
		func(_ context.Context, k string) (string, error) {
			builds++
			return "built from " + k, nil
		})
	if builds != 0 {
		t.Fatal("NewKeyed built the value; want it built on first use")
	}
	steps := []struct {
		key        string
		keyErr     error
		want       string
		wantBuilds int
	}{
		{"v1", nil, "built from v1", 1},
		{"v1", nil, "built from v1", 1},
		{"v2", nil, "built from v2", 2},
		{"v2", errors.New("secrets unreachable"), "", 2},
		{"v2", nil, "built from v2", 2},
		{"v1", nil, "built from v1", 3},
	}
	for i, s := range steps {
		key, keyErr = s.key, s.keyErr
		got, err := l.Get(ctx)
		if (err != nil) != (s.keyErr != nil) || got != s.want || builds != s.wantBuilds {
			t.Errorf("step %d: Get = %q, %v after %d builds; want %q (error %v) after %d", i, got, err, builds, s.want, s.keyErr, s.wantBuilds)
		}
	}
}

// TestNewKeyedRetriesAFailedBuild: a failed build is not remembered as
// built for its key.
func TestNewKeyedRetriesAFailedBuild(t *testing.T) {
	fail := errors.New("no credentials yet")
	calls := 0
	l := NewKeyed(func(context.Context) (int, error) { return 7, nil }, func(_ context.Context, k int) (int, error) {
		calls++
		if calls == 1 {
			return 0, fail
		}
		return k * 10, nil
	})
	if _, err := l.Get(context.Background()); !errors.Is(err, fail) {
		t.Fatalf("first Get: err = %v; want the build error", err)
	}
	for range 2 {
		if v, err := l.Get(context.Background()); err != nil || v != 70 {
			t.Fatalf("Get = %d, %v; want 70, nil", v, err)
		}
	}
	if calls != 2 {
		t.Errorf("built %d times; want 2", calls)
	}
}
