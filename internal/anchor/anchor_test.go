package anchor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"dsrflow/internal/store"
)

// readAnchor parses the anchor name of the fixture's folder.
func (f *fixture) readAnchor(name string) Document {
	f.t.Helper()
	body, err := f.dir.Read(f.ctx, name, MaxDocumentBytes)
	if err != nil {
		f.t.Fatal(err)
	}
	doc, err := Parse(name, body)
	if err != nil {
		f.t.Fatalf("Parse(%s): %v", name, err)
	}
	return doc
}

// head returns request id's chain head as the store reports it.
func (f *fixture) head(id string) Head {
	f.t.Helper()
	rep, err := f.st.VerifyChain(f.ctx, id)
	if err != nil || !rep.OK() {
		f.t.Fatalf("VerifyChain(%s) = %+v, %v", id, rep, err)
	}
	return Head{RequestID: id, Seq: rep.HeadSeq, Hash: rep.HeadHash}
}

// TestAnchorWritesChangedChains: the daily anchor holds the head of every
// chain changed since its last anchor, and only those.
func TestAnchorWritesChangedChains(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.request("r1", 3)
	f.request("r2", 1)
	f.request("r3", 2)
	f.request("r4", 0) // no events: nothing to anchor
	a := f.anchorer(Config{})

	res, err := a.Anchor(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Anchors) != 1 || res.Chains != 3 || len(res.Broken) != 0 {
		t.Fatalf("first Anchor = %+v; want one anchor of 3 chains", res)
	}
	doc := f.readAnchor(res.Anchors[0])
	want := []Head{f.head("r1"), f.head("r2"), f.head("r3")}
	if doc.Reason != ReasonDaily || !slices.Equal(doc.Chains, want) || !doc.At.After(t0) {
		t.Errorf("anchor = %+v; want daily, heads %v", doc, want)
	}
	if got := f.unanchored(); len(got) != 0 {
		t.Errorf("after anchoring, unanchored = %v; want none", got)
	}

	// Nothing changed: nothing written.
	if res, err := a.Anchor(f.ctx); err != nil || len(res.Anchors) != 0 || res.Chains != 0 {
		t.Errorf("Anchor with no change = %+v, %v; want nothing written", res, err)
	}

	// One chain grows: the next anchor holds it alone.
	f.events("r2", 2)
	res, err = a.Anchor(f.ctx)
	if err != nil || len(res.Anchors) != 1 || res.Chains != 1 {
		t.Fatalf("Anchor after r2 grew = %+v, %v; want one anchor of one chain", res, err)
	}
	if doc := f.readAnchor(res.Anchors[0]); !slices.Equal(doc.Chains, []Head{f.head("r2")}) || doc.Chains[0].Seq != 3 {
		t.Errorf("second anchor holds %v; want r2 at event 3", doc.Chains)
	}
	names, err := f.dir.List(f.ctx, "")
	if err != nil || len(names) != 2 {
		t.Errorf("folder holds %v, %v; want 2 anchors", names, err)
	}

	if rep := f.verify(time.Time{}); !rep.OK() || rep.Anchors != 2 || rep.Chains != 3 {
		t.Errorf("Verify = %+v; want OK over 2 anchors and 3 chains", rep)
	}
}

// TestAnchorPages: more changed chains than MaxChains make several anchors.
func TestAnchorPages(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for i := range 5 {
		f.request(fmt.Sprintf("r%d", i), 1)
	}
	res, err := f.anchorer(Config{MaxChains: 2, Workers: 3}).Anchor(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Anchors) != 3 || res.Chains != 5 {
		t.Fatalf("Anchor = %+v; want 3 anchors (2+2+1) of 5 chains", res)
	}
	var ids []string
	for _, name := range res.Anchors {
		for _, h := range f.readAnchor(name).Chains {
			ids = append(ids, h.RequestID)
		}
	}
	if want := []string{"r0", "r1", "r2", "r3", "r4"}; !slices.Equal(ids, want) {
		t.Errorf("anchored %v, want %v once each", ids, want)
	}
}

// growing is a store whose chain r1 grows while it is being anchored: after
// VerifyChain read it, another event is appended.
type growing struct {
	*store.Store
	once bool
}

func (g *growing) VerifyChain(ctx context.Context, id string) (store.ChainReport, error) {
	rep, err := g.Store.VerifyChain(ctx, id)
	if id == "r1" && !g.once {
		g.once = true
		if _, err := g.AppendEvent(ctx, id, store.Event{Type: "late", Actor: "test"}); err != nil {
			return rep, err
		}
	}
	return rep, err
}

// TestAnchorKeepsChainsThatGrow: an event appended while its chain is being
// anchored is not lost: the chain stays in the index for the next anchor.
func TestAnchorKeepsChainsThatGrow(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.request("r1", 2)
	f.request("r2", 1)
	res, err := f.anchorerOver(Config{Workers: 1}, &growing{Store: f.st}).Anchor(f.ctx)
	if err != nil || res.Chains != 2 {
		t.Fatalf("Anchor = %+v, %v", res, err)
	}
	if doc := f.readAnchor(res.Anchors[0]); doc.Chains[0].Seq != 2 {
		t.Errorf("r1 anchored at %d; want 2, its head when read", doc.Chains[0].Seq)
	}
	if got := f.unanchored(); !slices.Equal(got, []string{"r1"}) {
		t.Fatalf("unanchored = %v; want r1, which grew", got)
	}
	res, err = f.anchorer(Config{}).Anchor(f.ctx)
	if err != nil || res.Chains != 1 {
		t.Fatalf("second Anchor = %+v, %v", res, err)
	}
	if doc := f.readAnchor(res.Anchors[0]); !slices.Equal(doc.Chains, []Head{f.head("r1")}) || doc.Chains[0].Seq != 3 {
		t.Errorf("second anchor holds %v; want r1 at event 3", doc.Chains)
	}
}

// TestAnchorLeavesBrokenChains: a chain that no longer verifies is not
// anchored (that would vouch for the damage), is reported on every run, and
// does not keep the others from being anchored.
func TestAnchorLeavesBrokenChains(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.request("r1", 3)
	f.request("r2", 2)
	f.edit(map[string]string{"requestId": "r1", "seq": "2"}, map[string]string{"type": "forged"}, 1)
	a := f.anchorer(Config{})
	for run := 1; run <= 2; run++ {
		res, err := a.Anchor(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		wantChains := 1
		if run == 2 {
			wantChains = 0
		}
		if res.Chains != wantChains || !slices.Equal(res.Broken, []string{"r1"}) {
			t.Errorf("run %d: Anchor = %+v; want %d chain(s) anchored and r1 broken", run, res, wantChains)
		}
	}
	names, _ := f.dir.List(f.ctx, "")
	if len(names) != 1 {
		t.Fatalf("anchors %v; want one", names)
	}
	if doc := f.readAnchor(names[0]); len(doc.Chains) != 1 || doc.Chains[0].RequestID != "r2" {
		t.Errorf("anchor holds %v; want r2 alone", doc.Chains)
	}
	if got := f.unanchored(); !slices.Equal(got, []string{"r1"}) {
		t.Errorf("unanchored = %v; want r1 still waiting", got)
	}
}

func TestAnchorRequest(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.request("r1", 4)
	f.request("r2", 2)
	f.request("empty", 0)
	f.request("bad", 2)
	f.edit(map[string]string{"requestId": "bad", "seq": "1"}, map[string]string{"actor": "someone else"}, 1)
	a := f.anchorer(Config{})

	res, err := a.AnchorRequest(f.ctx, "r1")
	if err != nil || len(res.Anchors) != 1 || res.Chains != 1 {
		t.Fatalf("AnchorRequest(r1) = %+v, %v; want one anchor", res, err)
	}
	doc := f.readAnchor(res.Anchors[0])
	if doc.Reason != ReasonClosed || !slices.Equal(doc.Chains, []Head{f.head("r1")}) {
		t.Errorf("anchor = %+v; want closed, r1's head", doc)
	}
	if !strings.Contains(res.Anchors[0], "-closed-") {
		t.Errorf("name %s does not say closed", res.Anchors[0])
	}
	if got := f.unanchored(); slices.Contains(got, "r1") || !slices.Contains(got, "r2") {
		t.Errorf("unanchored = %v; want r2 and not r1", got)
	}

	if res, err := a.AnchorRequest(f.ctx, "empty"); err != nil || len(res.Anchors) != 0 {
		t.Errorf("AnchorRequest(empty) = %+v, %v; want nothing written", res, err)
	}
	var broken *ChainBrokenError
	if _, err := a.AnchorRequest(f.ctx, "bad"); !errors.As(err, &broken) || broken.RequestID != "bad" || broken.Problems[0].Seq != 1 {
		t.Errorf("AnchorRequest(bad) = %v; want a *ChainBrokenError at event 1", err)
	}
	if _, err := a.AnchorRequest(f.ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AnchorRequest(missing) = %v; want ErrNotFound", err)
	}
	for _, id := range []string{"", "r/1", strings.Repeat("r", 129)} {
		if _, err := a.AnchorRequest(f.ctx, id); err == nil {
			t.Errorf("AnchorRequest(%q): no error", id)
		}
	}
	if names, _ := f.dir.List(f.ctx, ""); len(names) != 1 {
		t.Errorf("anchors %v; want r1's alone", names)
	}
}

// fullRewrite rewrites request id's n events with another type each,
// recomputes every hash and link and the head recorded on the request:
// a forgery the chain alone cannot show.
func (f *fixture) fullRewrite(id string) {
	f.t.Helper()
	events, err := f.st.ListEvents(f.ctx, id)
	if err != nil {
		f.t.Fatal(err)
	}
	prev := ""
	for _, ev := range events {
		ev.Type = "forged-" + ev.Type
		ev.PrevHash = prev
		ev.Hash = store.EventHash(id, ev)
		prev = ev.Hash
		f.edit(map[string]string{"requestId": id, "seq": fmt.Sprint(ev.Seq)}, map[string]string{"type": ev.Type, "prevHash": ev.PrevHash, "hash": ev.Hash}, 1)
	}
	f.edit(map[string]string{"id": id, "auditSeq": fmt.Sprint(len(events))}, map[string]string{"auditHead": prev}, 1)
	if rep, err := f.st.VerifyChain(f.ctx, id); err != nil || !rep.OK() {
		f.t.Fatalf("the forged chain does not verify by itself: %+v, %v", rep, err)
	}
}

// TestVerifyNamesTampering: after anchoring, each kind of tampering with one
// request's chain makes Verify name that request, and only it.
func TestVerifyNamesTampering(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tamper func(f *fixture)
		kind   Kind
		seq    int // the anchored event the finding names
		head   int // the chain's head after tampering
	}{
		{"event edited", func(f *fixture) {
			f.edit(map[string]string{"requestId": "victim", "seq": "2"}, map[string]string{"type": "forged"}, 1)
		}, KindRewritten, 4, 4},
		{"last event edited", func(f *fixture) {
			f.edit(map[string]string{"requestId": "victim", "seq": "4"}, map[string]string{"actor": "forged"}, 1)
		}, KindRewritten, 4, 4},
		{"chain rewritten in full, hashes and recorded head recomputed", func(f *fixture) {
			f.fullRewrite("victim")
		}, KindRewritten, 4, 4},
		{"event in the middle deleted", func(f *fixture) {
			f.remove(map[string]string{"requestId": "victim", "seq": "2"})
		}, KindRewritten, 4, 4},
		{"last two events deleted", func(f *fixture) {
			f.remove(map[string]string{"requestId": "victim", "seq": "4"})
			f.remove(map[string]string{"requestId": "victim", "seq": "3"})
		}, KindTruncated, 4, 2},
		{"every event deleted", func(f *fixture) {
			f.remove(map[string]string{"requestId": "victim"})
		}, KindDeleted, 4, 0},
		{"request deleted", func(f *fixture) {
			f.remove(map[string]string{"requestId": "victim"})
			f.remove(map[string]string{"id": "victim"})
		}, KindDeleted, 4, 0},
		{"event after the anchor edited", func(f *fixture) {
			f.events("victim", 1)
			f.edit(map[string]string{"requestId": "victim", "seq": "5"}, map[string]string{"type": "forged"}, 1)
		}, KindBroken, 4, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.request("victim", 4)
			f.request("bystander", 3)
			if _, err := f.anchorer(Config{}).Anchor(f.ctx); err != nil {
				t.Fatal(err)
			}
			if rep := f.verify(time.Time{}); !rep.OK() || rep.Chains != 2 {
				t.Fatalf("before tampering: %+v; want OK over 2 chains", rep)
			}
			tc.tamper(f)
			rep := f.verify(time.Time{})
			if rep.OK() || len(rep.Findings) != 1 || len(rep.BadAnchors) != 0 {
				t.Fatalf("Verify = %+v; want one finding", rep)
			}
			got := rep.Findings[0]
			if got.RequestID != "victim" || got.Kind != tc.kind || got.AnchoredSeq != tc.seq || got.HeadSeq != tc.head || got.Anchor == "" || len(got.AnchoredHash) != 64 || got.Detail == "" {
				t.Errorf("finding = %+v; want victim %s at anchored event %d, head %d", got, tc.kind, tc.seq, tc.head)
			}
		})
	}
}

// TestVerifyChecksEveryAnchoredHead: an anchor written after a rewrite
// (holding the forged head) does not hide it: the earlier anchor still
// names the request.
func TestVerifyChecksEveryAnchoredHead(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.request("r1", 3)
	a := f.anchorer(Config{})
	first, err := a.AnchorRequest(f.ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	f.fullRewrite("r1")
	if _, err := a.AnchorRequest(f.ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	rep := f.verify(time.Time{})
	if len(rep.Findings) != 1 || rep.Findings[0].Kind != KindRewritten || rep.Findings[0].Anchor != first.Anchors[0] || rep.Anchors != 2 {
		t.Errorf("Verify = %+v; want r1 rewritten against the first anchor %s", rep, first.Anchors[0])
	}
}

// TestVerifySince: --since reads only the anchors written from then on.
func TestVerifySince(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.request("old", 2)
	a := f.anchorer(Config{})
	if _, err := a.Anchor(f.ctx); err != nil {
		t.Fatal(err)
	}
	f.clock.jump(48 * time.Hour)
	f.request("new", 2)
	if _, err := a.Anchor(f.ctx); err != nil {
		t.Fatal(err)
	}
	f.remove(map[string]string{"requestId": "old"})

	if rep := f.verify(time.Time{}); len(rep.Findings) != 1 || rep.Findings[0].RequestID != "old" {
		t.Errorf("Verify(all) = %+v; want old deleted", rep)
	}
	since := t0.Add(24 * time.Hour)
	rep := f.verify(since)
	if !rep.OK() || rep.Anchors != 1 || rep.Chains != 1 || rep.Since == nil || !rep.Since.Equal(since) {
		t.Errorf("Verify(since %s) = %+v; want OK over the later anchor only", since, rep)
	}
}

// TestVerifyNamesBadAnchors: an anchor changed, renamed or cut short in the
// folder, and a stray file, are reported; the rest is still checked.
func TestVerifyNamesBadAnchors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		damage func(t *testing.T, path string) string // returns the bad name
	}{
		{"content changed", func(t *testing.T, path string) string {
			rewrite(t, path, func(b []byte) []byte { return []byte(strings.Replace(string(b), `"seq":3`, `"seq":2`, 1)) })
			return filepath.Base(path)
		}},
		{"cut short", func(t *testing.T, path string) string {
			rewrite(t, path, func(b []byte) []byte { return b[:len(b)/2] })
			return filepath.Base(path)
		}},
		{"renamed", func(t *testing.T, path string) string {
			to := filepath.Join(filepath.Dir(path), strings.Replace(filepath.Base(path), "-daily-", "-closed-", 1))
			if err := os.Rename(path, to); err != nil {
				t.Fatal(err)
			}
			return filepath.Base(to)
		}},
		{"stray file", func(t *testing.T, path string) string {
			if err := os.WriteFile(filepath.Join(filepath.Dir(path), "notes.txt"), []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			return "notes.txt"
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.request("r1", 3)
			res, err := f.anchorer(Config{}).Anchor(f.ctx)
			if err != nil {
				t.Fatal(err)
			}
			bad := tc.damage(t, filepath.Join(f.dir.Path, res.Anchors[0]))
			rep := f.verify(time.Time{})
			if rep.OK() || len(rep.BadAnchors) != 1 || rep.BadAnchors[0].Name != bad || rep.BadAnchors[0].Problem == "" {
				t.Errorf("Verify = %+v; want %s reported", rep, bad)
			}
		})
	}
}

func rewrite(t *testing.T, path string, change func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, change(b), 0o600); err != nil {
		t.Fatal(err)
	}
}

// failingSink fails every Put.
type failingSink struct{}

func (failingSink) Put(context.Context, string, []byte) error {
	return errors.New("bucket unreachable")
}

// TestAnchorFailureKeepsChains: when the anchor cannot be written, no chain
// is marked anchored.
func TestAnchorFailureKeepsChains(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.request("r1", 1)
	a, err := New(Config{}, Deps{Store: f.st, Sink: failingSink{}, Clock: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Anchor(f.ctx); err == nil || !strings.Contains(err.Error(), "bucket unreachable") {
		t.Errorf("Anchor = %v; want the sink's error", err)
	}
	if got := f.unanchored(); !slices.Equal(got, []string{"r1"}) {
		t.Errorf("unanchored = %v; want r1 kept for the next run", got)
	}
}

func TestNewChecksDeps(t *testing.T) {
	t.Parallel()
	if _, err := New(Config{}, Deps{Sink: Dir{}}); err == nil {
		t.Error("New without a store: no error")
	}
	if _, err := New(Config{}, Deps{Store: &store.Store{}}); err == nil {
		t.Error("New without a sink: no error")
	}
	if _, err := New(Config{MaxChains: MaxHeads + 1}, Deps{Store: &store.Store{}, Sink: Dir{}}); err == nil {
		t.Error("New with MaxChains over MaxHeads: no error")
	}
}
