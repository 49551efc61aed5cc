package store

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dsrflow/internal/dsr"
)

// listUnpurged pages through ListUnpurged and returns the IDs in order.
func listUnpurged(t *testing.T, st *Store, before time.Time, limit int) []string {
	t.Helper()
	var all []string
	cursor := ""
	for range 100 {
		page, err := st.ListUnpurged(context.Background(), before, limit, cursor)
		if err != nil {
			t.Fatalf("ListUnpurged: %v", err)
		}
		if len(page.Requests) > limit {
			t.Fatalf("page of %d, limit %d", len(page.Requests), limit)
		}
		all = append(all, ids(page.Requests)...)
		if page.Next == "" {
			return all
		}
		cursor = page.Next
	}
	t.Fatal("ListUnpurged does not end")
	return nil
}

// gsi2 returns the GSI2 keys of request id's item as stored.
func (f *fixture) gsi2(t *testing.T, id string) (pk, sk string) {
	t.Helper()
	var it requestItem
	if err := attributevalue.UnmarshalMap(f.rawItem(t, requestPK(id), skRequest), &it); err != nil {
		t.Fatal(err)
	}
	return it.GSI2PK, it.GSI2SK
}

// TestPurgeIndex: a request enters the purge index when it closes, sorted
// by its closing time, and leaves it when its personal data is purged.
func TestPurgeIndex(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	closeAt := map[string]time.Time{}
	refuse := func(id string) {
		t.Helper()
		if _, err := f.st.TransitionStatus(ctx, id, dsr.StatusReceived, dsr.StatusRefused, 1, nil); err != nil {
			t.Fatal(err)
		}
		r, err := f.st.GetRequest(ctx, id)
		if err != nil || r.ClosedAt == nil {
			t.Fatalf("GetRequest(%s) = %+v, %v; want ClosedAt", id, r, err)
		}
		closeAt[id] = *r.ClosedAt
	}
	for _, id := range []string{"c", "a", "open", "b"} {
		f.create(t, newRequest(id))
	}
	refuse("b")
	refuse("a")
	refuse("c")
	// Stored closed (no ClosedAt): sorted by its update time, which is its
	// creation time.
	stored := newRequest("z")
	stored.Status = dsr.StatusDuplicate
	stored.CreatedAt = t0.Add(-time.Hour)
	f.create(t, stored)

	if pk, sk := f.gsi2(t, "a"); pk != "PURGE" || sk != closeAt["a"].UTC().Format(keyTime)+"#a" {
		t.Errorf("closed a: GSI2 = %q %q, want PURGE <closedAt>#a", pk, sk)
	}
	if pk, _ := f.gsi2(t, "open"); pk != "OPEN" {
		t.Errorf("open request: GSI2PK = %q, want OPEN", pk)
	}
	far := t0.Add(24 * time.Hour)
	tests := []struct {
		name   string
		before time.Time
		limit  int
		want   []string
	}{
		{"all", far, 100, []string{"z", "b", "a", "c"}},
		{"pages of 1", far, 1, []string{"z", "b", "a", "c"}},
		{"pages of 3", far, 3, []string{"z", "b", "a", "c"}},
		{"closed strictly before a", closeAt["a"], 100, []string{"z", "b"}},
		{"none closed yet", t0.Add(-2 * time.Hour), 100, nil},
	}
	for _, tt := range tests {
		if got := listUnpurged(t, f.st, tt.before, tt.limit); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}

	if _, err := f.st.PurgePersonal(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if pk, sk := f.gsi2(t, "a"); pk != "" || sk != "" {
		t.Errorf("purged a: GSI2 = %q %q, want none", pk, sk)
	}
	if got, want := listUnpurged(t, f.st, far, 100), []string{"z", "b", "c"}; !slices.Equal(got, want) {
		t.Errorf("after purging a: %v, want %v", got, want)
	}
	// A purged request that is updated again stays out of the index.
	r, _ := f.st.GetRequest(ctx, "a")
	if _, err := f.st.UpdateRequest(ctx, "a", r.Version, func(r *dsr.Request) { r.Documents = 3 }); err != nil {
		t.Fatal(err)
	}
	if pk, _ := f.gsi2(t, "a"); pk != "" {
		t.Errorf("purged a after an update: GSI2PK = %q, want none", pk)
	}
}

// TestPurgeIndexLags: ListUnpurged re-reads what the index names, so a
// request whose index keys lag behind (its personal data purged by a
// writer that left the keys) is not listed.
func TestPurgeIndexLags(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.create(t, newRequest("a"))
	if _, err := f.st.TransitionStatus(ctx, "a", dsr.StatusReceived, dsr.StatusRefused, 1, nil); err != nil {
		t.Fatal(err)
	}
	item := f.rawItem(t, requestPK("a"), skRequest)
	purged, err := attributevalue.Marshal(t0)
	if err != nil {
		t.Fatal(err)
	}
	item["personalPurgedAt"] = purged // the GSI2 keys stay
	f.putRaw(t, item)
	page, err := f.st.ListUnpurged(ctx, t0.Add(time.Hour), 10, "")
	if err != nil || len(page.Requests) != 0 {
		t.Errorf("ListUnpurged = %v, %v; want nothing", ids(page.Requests), err)
	}
}

func TestListUnpurgedBadInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	for _, id := range []string{"a", "b"} {
		r := newRequest(id)
		due := t0.Add(time.Hour)
		r.DueAt = &due
		f.create(t, r)
	}
	open, err := f.st.ListOpenByDue(ctx, t0.Add(2*time.Hour), 1, "")
	if err != nil || open.Next == "" {
		t.Fatalf("ListOpenByDue = %+v, %v; want a next page", open, err)
	}
	tests := []struct {
		name   string
		limit  int
		cursor string
		want   error
	}{
		{"zero limit", 0, "", nil},
		{"not base64", 10, "!!", ErrBadCursor},
		{"an open-list cursor", 10, open.Next, ErrBadCursor},
	}
	for _, tt := range tests {
		_, err := f.st.ListUnpurged(ctx, t0, tt.limit, tt.cursor)
		if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}

// legacyRequest is a request item as written before the purge index and
// the personal item existed: closed requests carry no GSI2 keys and no
// closedAt, and the contact is on the request item.
func (f *fixture) legacyRequest(t *testing.T, id string, status dsr.Status, updated time.Time, extra map[string]any) {
	t.Helper()
	item := map[string]any{
		"PK": requestPK(id), "SK": skRequest, "id": id, "kind": "erasure", "status": string(status),
		"channel": "web", "role": "self", "locale": "zh-CN", "version": 4,
		"createdAt": updated.Add(-time.Hour), "updatedAt": updated, "executionStarted": true,
		"contact":   map[string]string{"email": "legacy@example.com", "phone": "+8613800138000"},
		"accountId": "10000001", "details": "please delete", "corrections": []string{"name=x"},
		"attachments": []string{"attachments/" + id + "/1.pdf"},
	}
	for k, v := range extra {
		item[k] = v
	}
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		t.Fatal(err)
	}
	f.putRaw(t, av)
}

// TestBackfillPurgeIndex: the one-time sweep puts the closed, unpurged
// requests stored before the index into it, a bounded page per step, and
// then stops for good.
func TestBackfillPurgeIndex(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	day := func(n int) time.Time { return t0.Add(-time.Duration(n) * 24 * time.Hour) }
	f.legacyRequest(t, "old-1", dsr.StatusCompleted, day(90), nil)
	f.legacyRequest(t, "old-2", dsr.StatusRefused, day(60), nil)
	f.legacyRequest(t, "old-3", dsr.StatusExpired, day(70), nil)
	f.legacyRequest(t, "old-purged", dsr.StatusCompleted, day(80), map[string]any{"personalPurgedAt": day(40)})
	f.legacyRequest(t, "old-open", dsr.StatusInProgress, day(1), map[string]any{"GSI2PK": "OPEN", "GSI2SK": "~x#old-open"})
	// Closed since the index exists: indexed already, left alone.
	f.create(t, newRequest("new"))
	if _, err := f.st.TransitionStatus(ctx, "new", dsr.StatusReceived, dsr.StatusRefused, 1, nil); err != nil {
		t.Fatal(err)
	}
	_, newSK := f.gsi2(t, "new")

	var steps, scanned, indexed int
	for {
		b, err := f.st.BackfillPurgeIndex(ctx, 3)
		if err != nil {
			t.Fatalf("BackfillPurgeIndex: %v", err)
		}
		if b.Scanned > 3 {
			t.Errorf("step %d read %d items, limit 3", steps, b.Scanned)
		}
		steps++
		scanned += b.Scanned
		indexed += b.Indexed
		if b.Done {
			break
		}
		if steps > 50 {
			t.Fatal("backfill does not end")
		}
	}
	if indexed != 3 {
		t.Errorf("indexed %d requests, want 3 (old-1, old-2, old-3)", indexed)
	}
	if scanned < 6 || steps < 2 {
		t.Errorf("%d steps read %d items; want at least 2 steps over 6 requests", steps, scanned)
	}
	if got, want := listUnpurged(t, f.st, t0.Add(time.Hour), 10), []string{"old-1", "old-3", "old-2", "new"}; !slices.Equal(got, want) {
		t.Errorf("after the backfill: %v, want %v (oldest closed first)", got, want)
	}
	if pk, sk := f.gsi2(t, "old-2"); pk != "PURGE" || sk != day(60).Format(keyTime)+"#old-2" {
		t.Errorf("old-2: GSI2 = %q %q, want PURGE <updatedAt>#old-2", pk, sk)
	}
	if _, sk := f.gsi2(t, "new"); sk != newSK {
		t.Errorf("new: GSI2SK %q changed to %q", newSK, sk)
	}
	if pk, _ := f.gsi2(t, "old-purged"); pk != "" {
		t.Errorf("old-purged: indexed (%q), want not", pk)
	}
	if pk, _ := f.gsi2(t, "old-open"); pk != "OPEN" {
		t.Errorf("old-open: GSI2PK = %q, want OPEN", pk)
	}
	// Done is remembered: the next step reads nothing.
	if b, err := f.st.BackfillPurgeIndex(ctx, 3); err != nil || !b.Done || b.Scanned != 0 {
		t.Errorf("after the sweep: %+v, %v; want done, nothing read", b, err)
	}
	if _, err := f.st.BackfillPurgeIndex(ctx, 0); err == nil {
		t.Error("read limit 0: no error")
	}
}

// TestPurgeRemovesLegacyPersonalData: a request item stored before the
// personal item existed loses its personal attributes at the purge; what
// proves the request was handled stays.
func TestPurgeRemovesLegacyPersonalData(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.legacyRequest(t, "old", dsr.StatusCompleted, t0.Add(-60*24*time.Hour), nil)
	r, err := f.st.PurgePersonal(ctx, "old")
	if err != nil || r.PersonalPurgedAt == nil {
		t.Fatalf("PurgePersonal = %+v, %v", r, err)
	}
	raw := f.rawItem(t, requestPK("old"), skRequest)
	for _, a := range legacyPersonalAttrs {
		if _, ok := raw[a]; ok {
			t.Errorf("%s still stored after the purge", a)
		}
	}
	for _, a := range []string{"id", "kind", "status", "createdAt", "personalPurgedAt", "attachments"} {
		if _, ok := raw[a]; !ok {
			t.Errorf("%s removed by the purge, want it kept", a)
		}
	}
	if _, ok := raw["status"].(*types.AttributeValueMemberS); !ok {
		t.Errorf("status = %T", raw["status"])
	}
	again, err := f.st.PurgePersonal(ctx, "old")
	if err != nil || !again.PersonalPurgedAt.Equal(*r.PersonalPurgedAt) {
		t.Errorf("second purge = %v, %v; want the first date", again.PersonalPurgedAt, err)
	}
}

// FuzzCursors: a cursor from outside is either refused as ErrBadCursor or
// is a key of the list it was issued for, never of another partition.
func FuzzCursors(f *testing.F) {
	open, _ := encodeCursor(map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: "REQ#a"}, "SK": &types.AttributeValueMemberS{Value: "REQUEST"},
		"GSI2PK": &types.AttributeValueMemberS{Value: "OPEN"}, "GSI2SK": &types.AttributeValueMemberS{Value: "2026#a"},
	})
	purge, _ := encodeCursor(map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: "REQ#a"}, "SK": &types.AttributeValueMemberS{Value: "REQUEST"},
		"GSI2PK": &types.AttributeValueMemberS{Value: "PURGE"}, "GSI2SK": &types.AttributeValueMemberS{Value: "2026#a"},
	})
	for _, seed := range []string{"", open, purge, "!!", "e30", purge + "x", "eyJwayI6IlJFUSNhIn0"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, c string) {
		for _, tc := range []struct {
			decode func(string) (map[string]types.AttributeValue, error)
			pk     string
		}{{decodeCursor, openPK}, {decodePurgeCursor, purgePK}} {
			key, err := tc.decode(c)
			switch {
			case err != nil:
				if !errors.Is(err, ErrBadCursor) {
					t.Fatalf("decode(%q) = %v, want ErrBadCursor", c, err)
				}
			case c == "":
				if key != nil {
					t.Fatalf("decode(\"\") = %v, want the first page", key)
				}
			default:
				var k cursorKey
				if err := attributevalue.UnmarshalMap(key, &k); err != nil || k.GSI2PK != tc.pk || k.SK != skRequest {
					t.Fatalf("decode(%q) = %+v, %v; want a %s request key", c, k, err, tc.pk)
				}
			}
		}
	})
}
