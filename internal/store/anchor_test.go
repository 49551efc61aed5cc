package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// unanchored reads every page of UnanchoredChains, limit IDs per page.
func unanchored(t *testing.T, st *Store, limit int) (ids []string, pages int) {
	t.Helper()
	cursor := ""
	for pages = 1; ; pages++ {
		if pages > 100 {
			t.Fatal("too many pages")
		}
		page, err := st.UnanchoredChains(context.Background(), limit, cursor)
		if err != nil {
			t.Fatalf("UnanchoredChains(%d, %q): %v", limit, cursor, err)
		}
		if len(page.IDs) > limit {
			t.Fatalf("page of %d IDs, limit %d", len(page.IDs), limit)
		}
		ids = append(ids, page.IDs...)
		if page.Next == "" {
			return ids, pages
		}
		cursor = page.Next
	}
}

// TestUnanchoredChains: a chain joins the index with its first event, leaves
// it when anchored at its head, comes back when it grows again, and stays
// when the anchor holds an older head than the one recorded.
func TestUnanchoredChains(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	for _, id := range []string{"r1", "r2", "r3", "r4"} {
		f.create(t, newRequest(id, "k-"+id))
	}
	if got, _ := unanchored(t, f.st, 10); len(got) != 0 {
		t.Fatalf("before any event: unanchored %v, want none (a request without events has nothing to anchor)", got)
	}
	appendN(t, f.st, "r1", 3)
	appendN(t, f.st, "r2", 1)
	appendN(t, f.st, "r3", 2)

	steps := []struct {
		name string
		do   func() error
		want []string
	}{
		{"events appended", func() error { return nil }, []string{"r1", "r2", "r3"}},
		{"r1 anchored at its head", func() error { return f.st.MarkAnchored(ctx, "r1", 3) }, []string{"r2", "r3"}},
		{"r3 anchored behind its head", func() error { return f.st.MarkAnchored(ctx, "r3", 1) }, []string{"r2", "r3"}},
		{"r2 anchored past its recorded head (events written, head not yet recorded)", func() error { return f.st.MarkAnchored(ctx, "r2", 2) }, []string{"r3"}},
		{"r1 grows", func() error { _, err := f.st.AppendEvent(ctx, "r1", Event{Type: "closed", Actor: "test"}); return err }, []string{"r1", "r3"}},
		{"a missing request is anchored", func() error { return f.st.MarkAnchored(ctx, "gone", 5) }, []string{"r1", "r3"}},
		{"r1 anchored again", func() error { return f.st.MarkAnchored(ctx, "r1", 4) }, []string{"r3"}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		got, _ := unanchored(t, f.st, 10)
		if !slices.Equal(got, s.want) {
			t.Errorf("after %s: unanchored = %v, want %v", s.name, got, s.want)
		}
	}

	// Anchoring touches neither the chain nor the request.
	rep, err := f.st.VerifyChain(ctx, "r1")
	if err != nil || !rep.OK() || rep.HeadSeq != 4 || rep.RecordedSeq != 4 {
		t.Errorf("r1 chain after anchoring: %+v, %v; want OK with head and recorded head 4", rep, err)
	}
	if got, err := f.st.FindBySubject(ctx, "k-r1"); err != nil || len(got) != 1 || got[0].ID != "r1" {
		t.Errorf("FindBySubject(k-r1) = %v, %v; want r1 alone (the anchor index shares GSI1)", ids(got), err)
	}
}

func TestUnanchoredChainsPages(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var want []string
	for i := range 7 {
		id := fmt.Sprintf("r%02d", i)
		f.create(t, newRequest(id, "k"+id))
		appendN(t, f.st, id, 1)
		want = append(want, id)
	}
	for _, limit := range []int{1, 3, 7, 100} {
		got, pages := unanchored(t, f.st, limit)
		if !slices.Equal(got, want) {
			t.Errorf("limit %d: unanchored = %v, want %v", limit, got, want)
		}
		if min := (len(want) + limit - 1) / limit; pages < min {
			t.Errorf("limit %d: %d pages, want at least %d", limit, pages, min)
		}
	}
	ctx := context.Background()
	if _, err := f.st.UnanchoredChains(ctx, 0, ""); err == nil {
		t.Error("limit 0: no error")
	}
	// A cursor of another listing, or garbage, is refused.
	other := base64.RawURLEncoding.EncodeToString([]byte(`{"pk":"` + requestPK("r00") + `","sk":"` + skRequest + `","gpk":"` + openPK + `","gsk":"x"}`))
	for _, c := range []string{"%%", "e30", other} {
		if _, err := f.st.UnanchoredChains(ctx, 5, c); !errors.Is(err, ErrBadCursor) {
			t.Errorf("cursor %q: err %v, want ErrBadCursor", c, err)
		}
	}
}

// TestBackfillUnanchored: chains written before anchors existed (no index
// keys, never anchored) are put into the index; anchored chains and
// requests without events are not.
func TestBackfillUnanchored(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	for i := range 6 {
		id := fmt.Sprintf("r%d", i)
		f.create(t, newRequest(id, "k"+id))
		if i < 5 {
			appendN(t, f.st, id, 2)
		}
	}
	// r0 and r1 were anchored; r2, r3 and r4 predate anchors: their request
	// items never got the index keys.
	for _, id := range []string{"r0", "r1"} {
		if err := f.st.MarkAnchored(ctx, id, 2); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"r2", "r3", "r4"} {
		key, err := keyOf(requestPK(id), skRequest)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(f.table), Key: key, UpdateExpression: aws.String("REMOVE GSI1PK, GSI1SK"),
		}); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := unanchored(t, f.st, 10); len(got) != 0 {
		t.Fatalf("before the backfill: unanchored %v, want none", got)
	}
	backfill := func() (marked, pages int) {
		t.Helper()
		cursor := ""
		for pages = 1; ; pages++ {
			if pages > 200 {
				t.Fatal("too many pages")
			}
			page, err := f.st.BackfillUnanchored(ctx, cursor, 4)
			if err != nil {
				t.Fatal(err)
			}
			marked += page.Marked
			if page.Next == "" {
				return marked, pages
			}
			cursor = page.Next
		}
	}
	marked, pages := backfill()
	if got, _ := unanchored(t, f.st, 10); marked != 3 || !slices.Equal(got, []string{"r2", "r3", "r4"}) || pages < 2 {
		t.Errorf("backfill marked %d in %d pages, unanchored %v; want r2, r3, r4 over several pages", marked, pages, got)
	}
	if marked, _ := backfill(); marked != 0 {
		t.Errorf("second backfill marked %d, want 0", marked)
	}
	if _, err := f.st.BackfillUnanchored(ctx, "garbage", 0); !errors.Is(err, ErrBadCursor) {
		t.Errorf("bad cursor: %v, want ErrBadCursor", err)
	}
}
