package store

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dsr"
)

// scanAll reads every page of ScanByStatus and returns the sorted IDs found,
// the requests and the pages read.
func scanAll(t *testing.T, f *fixture, q StatusQuery) ([]string, []dsr.Request, int) {
	t.Helper()
	var all []dsr.Request
	for pages := 1; ; pages++ {
		if pages > 200 {
			t.Fatal("too many pages")
		}
		page, err := f.st.ScanByStatus(context.Background(), q)
		if err != nil {
			t.Fatalf("ScanByStatus(%v): %v", q.Statuses, err)
		}
		if page.Scanned == 0 && page.Next != "" {
			t.Fatalf("page read nothing but has a next page")
		}
		all = append(all, page.Requests...)
		if page.Next == "" {
			got := ids(all)
			slices.Sort(got)
			return got, all, pages
		}
		q.Cursor = page.Next
	}
}

func TestScanByStatus(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	due := t0.AddDate(0, 0, 20)
	seed := []struct {
		id     string
		status dsr.Status
	}{
		{"c1", dsr.StatusCompleted}, {"c2", dsr.StatusCompleted}, {"r1", dsr.StatusRefused},
		{"e1", dsr.StatusExpired}, {"p1", dsr.StatusInProgress}, {"v1", dsr.StatusAwaitingVerification},
		{"n1", dsr.StatusReceived},
	}
	for _, s := range seed {
		r := newRequest(s.id, "key-"+s.id, "other-"+s.id)
		r.Status = s.status
		if s.status != dsr.StatusReceived && s.status != dsr.StatusAwaitingVerification {
			r.DueAt = &due
		}
		f.create(t, r)
		// Audit events are items the scan reads and must leave out.
		if _, err := f.st.AppendEvent(ctx, s.id, Event{Type: "received", Actor: "test"}); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name      string
		statuses  []dsr.Status
		readLimit int
		want      []string
		minPages  int
	}{
		{"completed", []dsr.Status{dsr.StatusCompleted}, 0, []string{"c1", "c2"}, 1},
		{"closed ones", []dsr.Status{dsr.StatusCompleted, dsr.StatusRefused, dsr.StatusExpired}, 0, []string{"c1", "c2", "e1", "r1"}, 1},
		{"open without due date", []dsr.Status{dsr.StatusReceived, dsr.StatusAwaitingVerification}, 0, []string{"n1", "v1"}, 1},
		{"nothing in that status", []dsr.Status{dsr.StatusDuplicate}, 0, nil, 1},
		// 7 requests + 7 personal items + 14 subject items + 7 events = 35
		// items: pages of 3 read them all.
		{"completed, pages of 3 items", []dsr.Status{dsr.StatusCompleted}, 3, []string{"c1", "c2"}, 12},
		{"closed ones, pages of 1 item", []dsr.Status{dsr.StatusCompleted, dsr.StatusRefused, dsr.StatusExpired}, 1, []string{"c1", "c2", "e1", "r1"}, 35},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reqs, pages := scanAll(t, f, StatusQuery{Statuses: tt.statuses, ReadLimit: tt.readLimit})
			if !slices.Equal(got, tt.want) {
				t.Errorf("ids = %v, want %v", got, tt.want)
			}
			if pages < tt.minPages {
				t.Errorf("%d pages, want at least %d", pages, tt.minPages)
			}
			for _, r := range reqs {
				if !slices.Contains(tt.statuses, r.Status) {
					t.Errorf("%s has status %s, not asked for", r.ID, r.Status)
				}
				if r.Kind != dsr.KindErasure || r.Channel != dsr.ChannelWeb || r.CreatedAt.IsZero() || r.Version != 1 {
					t.Errorf("%s: summary not read: %+v", r.ID, r)
				}
				if r.SubjectKeys != nil || r.HintKeys != nil {
					t.Errorf("%s: subject keys read: %v %v", r.ID, r.SubjectKeys, r.HintKeys)
				}
			}
		})
	}

	t.Run("scanned and capacity reported", func(t *testing.T) {
		page, err := f.st.ScanByStatus(ctx, StatusQuery{Statuses: []dsr.Status{dsr.StatusCompleted}})
		if err != nil {
			t.Fatal(err)
		}
		if page.Scanned != 35 {
			t.Errorf("scanned %d items, want 35 (every item of the table)", page.Scanned)
		}
		if page.CapacityUnits < 0 {
			t.Errorf("capacity %v", page.CapacityUnits)
		}
	})
}

func TestScanByStatusBadInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	// A real ListOpenByDue cursor is not a scan cursor.
	due := t0.AddDate(0, 0, 3)
	for _, id := range []string{"a", "b"} {
		r := newRequest(id, "k"+id)
		r.Status, r.DueAt = dsr.StatusInProgress, &due
		f.create(t, r)
	}
	open, err := f.st.ListOpenByDue(ctx, t0.AddDate(1, 0, 0), 1, "")
	if err != nil || open.Next == "" {
		t.Fatalf("ListOpenByDue: next %q, err %v; want a next page", open.Next, err)
	}
	completed := []dsr.Status{dsr.StatusCompleted}
	tests := []struct {
		name string
		q    StatusQuery
		want string
	}{
		{"no status", StatusQuery{}, "no status given"},
		{"unknown status", StatusQuery{Statuses: []dsr.Status{"finished"}}, `unknown status "finished"`},
		{"negative read limit", StatusQuery{Statuses: completed, ReadLimit: -1}, "read limit -1"},
		{"cursor not base64", StatusQuery{Statuses: completed, Cursor: "%%%"}, "invalid cursor"},
		{"cursor of another shape", StatusQuery{Statuses: completed, Cursor: "eyJmb28iOjF9"}, "invalid cursor"},
		{"cursor of the open index", StatusQuery{Statuses: completed, Cursor: open.Next}, "invalid cursor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.st.ScanByStatus(ctx, tt.q)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestScanByStatusUnreachable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + l.Addr().String()
	l.Close()
	client := dynamotest.NewClient(endpoint, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	_, err = New(Config{Table: "table"}, Deps{DB: client}).ScanByStatus(context.Background(), StatusQuery{Statuses: []dsr.Status{dsr.StatusCompleted}})
	var ue *UnreachableError
	if !errors.As(err, &ue) || ue.Endpoint != endpoint || ue.Op != "Scan" {
		t.Fatalf("err = %v, want *UnreachableError for Scan at %s", err, endpoint)
	}
}
