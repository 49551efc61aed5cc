package store

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dsr"
)

func TestCreateRequest(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()

	in := newRequest("r1", "kA", "kB")
	verified := t0.Add(-time.Hour)
	in.VerifiedAt = &verified
	in.Purposes = []string{"analytics"}
	got, dup, err := f.st.CreateRequest(ctx, in, nil)
	if err != nil || dup {
		t.Fatalf("first CreateRequest = dup %v, err %v; want new", dup, err)
	}
	if got.Version != 1 || !got.CreatedAt.Equal(t0.Add(time.Second)) || !got.UpdatedAt.Equal(got.CreatedAt) {
		t.Errorf("created version %d createdAt %v updatedAt %v; want 1, %v, same", got.Version, got.CreatedAt, got.UpdatedAt, t0.Add(time.Second))
	}
	read, err := f.st.GetRequest(ctx, "r1")
	if err != nil {
		t.Fatalf("GetRequest: %v", err)
	}
	if !same(t, read, got) {
		t.Errorf("GetRequest = %+v\nwant %+v", read, got)
	}

	// The same ID again is the same request: the stored one comes back.
	again := newRequest("r1", "kC")
	again.Kind = dsr.KindAccess
	got2, dup, err := f.st.CreateRequest(ctx, again, nil)
	if err != nil || !dup {
		t.Fatalf("second CreateRequest = dup %v, err %v; want duplicate", dup, err)
	}
	if !same(t, got2, got) {
		t.Errorf("duplicate returned %+v\nwant the stored %+v", got2, got)
	}
}

func TestCreateRequestRejectsBadInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tests := []struct {
		name string
		r    *dsr.Request
		want string
	}{
		{"nil", nil, "empty request ID"},
		{"no id", newRequest(""), "empty request ID"},
		{"unknown status", func() *dsr.Request { r := newRequest("x"); r.Status = "lost"; return r }(), `unknown status "lost"`},
		{"no kind", func() *dsr.Request { r := newRequest("x"); r.Kind = ""; return r }(), "empty kind"},
		{"empty subject key", newRequest("x", "k", ""), "empty subject or hint key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := f.st.CreateRequest(context.Background(), tt.r, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := f.st.GetRequest(context.Background(), "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a rejected request was stored: GetRequest err = %v", err)
	}
}

func TestGetRequestNotFound(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, err := f.st.GetRequest(context.Background(), "nope")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	if !strings.Contains(err.Error(), "nope") {
		t.Errorf("err = %v, want it to name the request", err)
	}
}

func TestTransitionStatus(t *testing.T) {
	t.Parallel()
	setRefusal := func(r *dsr.Request) { r.LinkedRequestID = "other" }
	tests := []struct {
		name     string
		from, to dsr.Status
		version  int
		mutate   func(*dsr.Request)
		// check the error; nil means success is wanted.
		wantErr func(error) bool
		errName string
	}{
		{name: "allowed", from: dsr.StatusReceived, to: dsr.StatusAwaitingVerification, version: 1},
		{name: "allowed with mutate", from: dsr.StatusReceived, to: dsr.StatusDuplicate, version: 1, mutate: setRefusal},
		{
			name: "wrong current status", from: dsr.StatusInReview, to: dsr.StatusInProgress, version: 1,
			wantErr: func(err error) bool {
				var c *ConflictError
				return errors.As(err, &c) && c.Status == dsr.StatusReceived && c.Version == 1 && c.WantStatus == dsr.StatusInReview
			},
			errName: "*ConflictError with status received, version 1",
		},
		{
			name: "stale version", from: dsr.StatusReceived, to: dsr.StatusInReview, version: 7,
			wantErr: func(err error) bool {
				var c *ConflictError
				return errors.As(err, &c) && c.Version == 1 && c.WantVersion == 7
			},
			errName: "*ConflictError with version 1",
		},
		{
			name: "forbidden", from: dsr.StatusReceived, to: dsr.StatusCompleted, version: 1,
			wantErr: func(err error) bool {
				var te *dsr.TransitionError
				return errors.As(err, &te) && te.From == dsr.StatusReceived && te.To == dsr.StatusCompleted
			},
			errName: "*dsr.TransitionError",
		},
		{
			name: "id changed", from: dsr.StatusReceived, to: dsr.StatusInReview, version: 1,
			mutate:  func(r *dsr.Request) { r.ID = "other" },
			wantErr: func(err error) bool { return errors.Is(err, ErrImmutable) },
			errName: "ErrImmutable",
		},
		{
			name: "subject keys changed", from: dsr.StatusReceived, to: dsr.StatusInReview, version: 1,
			mutate:  func(r *dsr.Request) { r.SubjectKeys[0] = "kZ" },
			wantErr: func(err error) bool { return errors.Is(err, ErrImmutable) },
			errName: "ErrImmutable",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			ctx := context.Background()
			before := f.create(t, newRequest("r1", "kA"))
			got, err := f.st.TransitionStatus(ctx, "r1", tt.from, tt.to, tt.version, tt.mutate)
			after, gerr := f.st.GetRequest(ctx, "r1")
			if gerr != nil {
				t.Fatal(gerr)
			}
			if tt.wantErr != nil {
				if err == nil || !tt.wantErr(err) {
					t.Fatalf("err = %v, want %s", err, tt.errName)
				}
				if !same(t, after, before) {
					t.Errorf("a refused transition changed the request:\n got %+v\nwant %+v", after, before)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v, want success", err)
			}
			want := *before
			want.Status = tt.to
			want.Version = 2
			want.UpdatedAt = got.UpdatedAt
			if tt.to.Terminal() {
				want.ClosedAt = &got.UpdatedAt
			}
			if tt.mutate != nil {
				tt.mutate(&want)
			}
			if !got.UpdatedAt.After(before.UpdatedAt) {
				t.Errorf("UpdatedAt = %v, want after %v", got.UpdatedAt, before.UpdatedAt)
			}
			if !same(t, got, &want) || !same(t, after, &want) {
				t.Errorf("after transition:\nreturned %+v\n  stored %+v\n    want %+v", got, after, &want)
			}
		})
	}
}

func TestTransitionNotFound(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, err := f.st.TransitionStatus(context.Background(), "nope", dsr.StatusReceived, dsr.StatusInReview, 1, nil)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
}

// barrierDB holds every UpdateItem call until n of them are waiting, so that
// n writers race on the condition, not on the read before it.
type barrierDB struct {
	DB
	n    int
	mu   sync.Mutex
	wait chan struct{}
	seen int
	op   string
}

func newBarrierDB(db DB, n int, op string) *barrierDB {
	return &barrierDB{DB: db, n: n, wait: make(chan struct{}), op: op}
}

func (b *barrierDB) arrive() {
	b.mu.Lock()
	b.seen++
	if b.seen == b.n {
		close(b.wait)
	}
	b.mu.Unlock()
	<-b.wait
}

func (b *barrierDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if b.op == "UpdateItem" {
		b.arrive()
	}
	return b.DB.UpdateItem(ctx, in, optFns...)
}

func (b *barrierDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if b.op == "PutItem" {
		b.arrive()
	}
	return b.DB.PutItem(ctx, in, optFns...)
}

// Of concurrent transitions from the same version, exactly one wins; the
// others get a *ConflictError naming the winner's status and version.
func TestConcurrentTransitions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.create(t, newRequest("r1", "kA"))
	targets := []dsr.Status{dsr.StatusAwaitingVerification, dsr.StatusInReview, dsr.StatusRefused, dsr.StatusDuplicate}
	st := f.with(Config{}, newBarrierDB(f.db, len(targets), "UpdateItem"))
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, to := range targets {
		wg.Go(func() {
			_, errs[i] = st.TransitionStatus(context.Background(), "r1", dsr.StatusReceived, to, 1, nil)
		})
	}
	wg.Wait()
	final, err := f.st.GetRequest(context.Background(), "r1")
	if err != nil {
		t.Fatal(err)
	}
	wins := 0
	for i, err := range errs {
		var c *ConflictError
		switch {
		case err == nil:
			wins++
			if final.Status != targets[i] {
				t.Errorf("winner moved to %s, stored status is %s", targets[i], final.Status)
			}
		case errors.As(err, &c):
			if c.Status != final.Status || c.Version != 2 {
				t.Errorf("loser %s: conflict reports %s v%d, want %s v2", targets[i], c.Status, c.Version, final.Status)
			}
		default:
			t.Errorf("transition to %s: err = %v, want nil or *ConflictError", targets[i], err)
		}
	}
	if wins != 1 || final.Version != 2 {
		t.Errorf("%d winners, final version %d; want exactly 1 winner and version 2", wins, final.Version)
	}
}

func TestUpdateRequest(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.create(t, newRequest("r1", "kA"))
	due := t0.AddDate(0, 0, 21)
	got, err := f.st.UpdateRequest(ctx, "r1", 1, func(r *dsr.Request) {
		r.DueAt = &due
		r.ExecutionStarted = true
	})
	if err != nil {
		t.Fatalf("UpdateRequest: %v", err)
	}
	if got.Version != 2 || !got.ExecutionStarted || got.DueAt == nil || !got.DueAt.Equal(due) {
		t.Errorf("updated = version %d started %v due %v; want 2 true %v", got.Version, got.ExecutionStarted, got.DueAt, due)
	}
	stored, err := f.st.GetRequest(ctx, "r1")
	if err != nil || !same(t, stored, got) {
		t.Errorf("stored = %+v (err %v), want %+v", stored, err, got)
	}

	// A change made in place, through a pointer the request shares, is stored too.
	later := due.AddDate(0, 0, 1)
	if _, err := f.st.UpdateRequest(ctx, "r1", 2, func(r *dsr.Request) { *r.DueAt = later }); err != nil {
		t.Fatalf("UpdateRequest in place: %v", err)
	}
	if stored, err := f.st.GetRequest(ctx, "r1"); err != nil || stored.DueAt == nil || !stored.DueAt.Equal(later) {
		t.Fatalf("after an in-place change DueAt = %v (err %v), want %v", stored.DueAt, err, later)
	}

	// Clearing a field removes it.
	got, err = f.st.UpdateRequest(ctx, "r1", 3, func(r *dsr.Request) { r.DueAt = nil })
	if err != nil || got.DueAt != nil {
		t.Fatalf("clear DueAt: %+v, %v", got, err)
	}
	if item := f.rawItem(t, "REQ#r1", "REQUEST"); item["dueAt"] != nil {
		t.Errorf("dueAt still stored after clearing: %v", item["dueAt"])
	}

	tests := []struct {
		name    string
		version int
		mutate  func(*dsr.Request)
		want    func(error) bool
	}{
		{"stale version", 1, func(r *dsr.Request) { r.ExecutionStarted = false }, func(err error) bool {
			var c *ConflictError
			return errors.As(err, &c) && c.Version == 4 && c.WantVersion == 1
		}},
		{"status change", 4, func(r *dsr.Request) { r.Status = dsr.StatusCompleted }, func(err error) bool { return errors.Is(err, ErrImmutable) }},
		{"createdAt change", 4, func(r *dsr.Request) { r.CreatedAt = r.CreatedAt.Add(time.Hour) }, func(err error) bool { return errors.Is(err, ErrImmutable) }},
		{"nothing", 4, nil, func(err error) bool { return err != nil && strings.Contains(err.Error(), "nothing to change") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := f.st.UpdateRequest(ctx, "r1", tt.version, tt.mutate); !tt.want(err) {
				t.Errorf("err = %v", err)
			}
		})
	}
}

// The audit chain head recorded on the request is not part of its version:
// appending events does not make a transition stale.
func TestAppendDoesNotBumpVersion(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.create(t, newRequest("r1", "kA"))
	if _, err := f.st.AppendEvent(ctx, "r1", Event{Type: "received", Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.TransitionStatus(ctx, "r1", dsr.StatusReceived, dsr.StatusInReview, 1, nil); err != nil {
		t.Fatalf("transition after append: %v", err)
	}
	if item := f.rawItem(t, "REQ#r1", "REQUEST"); item["auditSeq"] == nil {
		t.Errorf("transition removed the recorded chain head")
	}
}

func ids(rs []dsr.Request) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func TestFindBySubject(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.create(t, newRequest("r1", "kA", "kB"))
	f.create(t, newRequest("r2", "kB"))
	f.create(t, newRequest("r3", "kC"))
	if _, err := f.st.TransitionStatus(ctx, "r1", dsr.StatusReceived, dsr.StatusRefused, 1, nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key  string
		want []string
	}{
		{"kA", []string{"r1"}},
		{"kB", []string{"r1", "r2"}},
		{"kC", []string{"r3"}},
		{"kZ", []string{}},
	}
	for _, tt := range tests {
		got, err := f.st.FindBySubject(ctx, tt.key)
		if err != nil {
			t.Fatalf("FindBySubject(%s): %v", tt.key, err)
		}
		if !slices.Equal(ids(got), tt.want) {
			t.Errorf("FindBySubject(%s) = %v, want %v", tt.key, ids(got), tt.want)
		}
		for _, r := range got {
			if r.ID == "r1" && (r.Status != dsr.StatusRefused || r.Version != 2) {
				t.Errorf("FindBySubject(%s) shows r1 %s v%d, want its current state refused v2", tt.key, r.Status, r.Version)
			}
		}
	}
	if _, err := f.st.FindBySubject(ctx, ""); err == nil {
		t.Error("FindBySubject(\"\") succeeded, want an error")
	}
}

// Lookups tolerate an index that disagrees with the requests, and creating a
// request again repairs its index items.
func TestFindBySubjectLaggingIndex(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.create(t, newRequest("r1", "kA"))

	// An index item whose request is gone, and one whose request does not carry the key.
	for _, it := range []subjectItem{
		{PK: "REQ#ghost", SK: "SUBJ#kA", GSI1PK: "SUBJ#kA", GSI1SK: "2026-01-01T00:00:00.000000000Z#ghost", RequestID: "ghost"},
		{PK: "REQ#r2", SK: "SUBJ#kA", GSI1PK: "SUBJ#kA", GSI1SK: "2026-01-01T00:00:01.000000000Z#r2", RequestID: "r2"},
	} {
		item, err := attributevalue.MarshalMap(it)
		if err != nil {
			t.Fatal(err)
		}
		f.putRaw(t, item)
	}
	f.create(t, newRequest("r2", "kOther"))
	got, err := f.st.FindBySubject(ctx, "kA")
	if err != nil || !slices.Equal(ids(got), []string{"r1"}) {
		t.Fatalf("FindBySubject(kA) = %v, %v; want [r1]", ids(got), err)
	}

	// The index write of r1 was lost (a crash after the request's put).
	f.deleteRaw(t, "REQ#r1", "SUBJ#kA")
	if got, _ := f.st.FindBySubject(ctx, "kA"); len(got) != 0 {
		t.Fatalf("FindBySubject(kA) = %v after deleting the index item, want none", ids(got))
	}
	if _, dup, err := f.st.CreateRequest(ctx, newRequest("r1", "kA"), nil); err != nil || !dup {
		t.Fatalf("create again = dup %v err %v", dup, err)
	}
	if got, err := f.st.FindBySubject(ctx, "kA"); err != nil || !slices.Equal(ids(got), []string{"r1"}) {
		t.Errorf("FindBySubject(kA) after repair = %v, %v; want [r1]", ids(got), err)
	}
}

func TestListOpenByDue(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	day := func(n int) time.Time { return t0.AddDate(0, 0, n) }
	// id → due day (0: no due date)
	dues := []struct {
		id  string
		day int
	}{{"a", 5}, {"b", 2}, {"c", 9}, {"d", 2}, {"e", 0}, {"f", 30}}
	for _, d := range dues {
		f.create(t, newRequest(d.id, "k"+d.id))
		if d.day == 0 {
			continue
		}
		due := day(d.day)
		if _, err := f.st.UpdateRequest(ctx, d.id, 1, func(r *dsr.Request) { r.DueAt = &due }); err != nil {
			t.Fatal(err)
		}
	}
	list := func(before time.Time, limit int) []string {
		t.Helper()
		var all []string
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 20 {
				t.Fatal("too many pages")
			}
			page, err := f.st.ListOpenByDue(ctx, before, limit, cursor)
			if err != nil {
				t.Fatalf("ListOpenByDue: %v", err)
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
	}
	tests := []struct {
		name   string
		before time.Time
		limit  int
		want   []string
	}{
		{"all, one page", day(31), 100, []string{"b", "d", "a", "c", "f"}},
		{"all, pages of 2", day(31), 2, []string{"b", "d", "a", "c", "f"}},
		{"all, pages of 1", day(31), 1, []string{"b", "d", "a", "c", "f"}},
		{"due before day 9 (strictly)", day(9), 100, []string{"b", "d", "a"}},
		{"nothing due yet", day(2), 100, nil},
	}
	for _, tt := range tests {
		if got := list(tt.before, tt.limit); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}

	// A request that closes leaves the index; one whose due date moves, moves.
	if _, err := f.st.TransitionStatus(ctx, "a", dsr.StatusReceived, dsr.StatusInReview, 2, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.TransitionStatus(ctx, "a", dsr.StatusInReview, dsr.StatusRefused, 3, nil); err != nil {
		t.Fatal(err)
	}
	later := day(20)
	if _, err := f.st.UpdateRequest(ctx, "b", 2, func(r *dsr.Request) { r.DueAt = &later }); err != nil {
		t.Fatal(err)
	}
	if got, want := list(day(31), 2), []string{"d", "c", "b", "f"}; !slices.Equal(got, want) {
		t.Errorf("after closing a and moving b: %v, want %v", got, want)
	}
	var a requestItem
	if err := attributevalue.UnmarshalMap(f.rawItem(t, "REQ#a", "REQUEST"), &a); err != nil {
		t.Fatal(err)
	}
	if a.GSI2PK != "PURGE" || a.ClosedAt == nil || a.GSI2SK != a.ClosedAt.Format(keyTime)+"#a" {
		t.Errorf("closed request's GSI2 keys = %q %q, want the purge index's PURGE <closedAt>#a", a.GSI2PK, a.GSI2SK)
	}
	var b requestItem
	if err := attributevalue.UnmarshalMap(f.rawItem(t, "REQ#b", "REQUEST"), &b); err != nil {
		t.Fatal(err)
	}
	if want := later.Format(keyTime) + "#b"; b.GSI2PK != "OPEN" || b.GSI2SK != want {
		t.Errorf("b GSI2 keys = %q %q, want OPEN %q", b.GSI2PK, b.GSI2SK, want)
	}
}

func TestListOpenByDueBadInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	tests := []struct {
		name   string
		limit  int
		cursor string
		want   string
	}{
		{"zero limit", 0, "", "limit 0"},
		{"negative limit", -3, "", "limit -3"},
		{"cursor not base64", 10, "%%%", "invalid cursor"},
		{"cursor of another shape", 10, "eyJmb28iOjF9", "invalid cursor"}, // {"foo":1}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.st.ListOpenByDue(ctx, t0, tt.limit, tt.cursor)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// With DynamoDB unreachable, every operation fails with an error that names
// the endpoint.
func TestUnreachable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + l.Addr().String()
	l.Close() // nothing listens there now
	client := dynamotest.NewClient(endpoint, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	st := New(Config{Table: "table"}, Deps{DB: client})
	ctx := context.Background()
	ops := []struct {
		name string
		call func() error
	}{
		{"CreateRequest", func() error { _, _, err := st.CreateRequest(ctx, newRequest("r1", "k"), nil); return err }},
		{"GetRequest", func() error { _, err := st.GetRequest(ctx, "r1"); return err }},
		{"TransitionStatus", func() error {
			_, err := st.TransitionStatus(ctx, "r1", dsr.StatusReceived, dsr.StatusInReview, 1, nil)
			return err
		}},
		{"UpdateRequest", func() error { _, err := st.UpdateRequest(ctx, "r1", 1, func(*dsr.Request) {}); return err }},
		{"AppendEvent", func() error { _, err := st.AppendEvent(ctx, "r1", Event{Type: "x", Actor: "y"}); return err }},
		{"VerifyChain", func() error { _, err := st.VerifyChain(ctx, "r1"); return err }},
		{"FindBySubject", func() error { _, err := st.FindBySubject(ctx, "k"); return err }},
		{"ListOpenByDue", func() error { _, err := st.ListOpenByDue(ctx, t0, 10, ""); return err }},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			err := op.call()
			var ue *UnreachableError
			if !errors.As(err, &ue) {
				t.Fatalf("err = %v, want *UnreachableError", err)
			}
			t.Logf("%s: %v", op.name, err)
			if ue.Endpoint != endpoint {
				t.Errorf("endpoint = %q, want %q", ue.Endpoint, endpoint)
			}
			if want := "dynamodb at " + endpoint + " unreachable"; !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "connection refused") {
				t.Errorf("err = %q, want it to contain %q and the cause", err, want)
			}
		})
	}
}
