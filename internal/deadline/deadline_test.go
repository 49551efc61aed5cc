package deadline

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"dsrflow/internal/dev/asl"
	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dsr"
	"dsrflow/internal/store"
	"dsrflow/internal/workday"
)

var emu *dynamotest.Emulator

func TestMain(m *testing.M) { os.Exit(dynamotest.Main(m, &emu)) }

// start is 2026-03-02 09:00 in China.
var start = time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)

const actor = "operator:arn:aws:sts::123456789012:assumed-role/Ops/li.na"

type fixture struct {
	st    *store.Store
	svc   *Service
	clock *asl.Virtual
}

func newFixture(t *testing.T, j workday.Jurisdiction) *fixture {
	t.Helper()
	clock := asl.VirtualClock(start).(*asl.Virtual)
	st := store.New(store.Config{Table: emu.NewTable(t)}, store.Deps{DB: emu.Client(), Clock: clock.Now})
	svc, err := New(Config{Jurisdiction: j}, Deps{Store: st, Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{st: st, svc: svc, clock: clock}
}

// request stores an open request due on due (a China date; "" for none).
func (f *fixture) request(t *testing.T, id, due string, status dsr.Status) {
	t.Helper()
	r := &dsr.Request{ID: id, Kind: dsr.KindAccess, Status: status, Channel: dsr.ChannelWeb, Role: dsr.RoleSelf, Locale: "en"}
	if due != "" {
		d, err := workday.ParseDate(due)
		if err != nil {
			t.Fatal(err)
		}
		at := workday.Deadline{Date: d}.At().UTC()
		r.DueAt = &at
	}
	if _, _, err := f.st.CreateRequest(context.Background(), r, nil); err != nil {
		t.Fatal(err)
	}
}

func dueDate(r *dsr.Request) string {
	if r.DueAt == nil {
		return ""
	}
	return workday.DateOf(r.DueAt.In(workday.ChinaTime)).String()
}

func TestAllowance(t *testing.T) {
	tests := []struct {
		j         workday.Jurisdiction
		unit      workday.Unit
		max       int
		pause     bool
		canExtend bool
	}{
		{workday.CN, workday.WorkingDays, 0, false, false},
		{workday.GDPR, workday.Months, 2, true, true},
		{workday.CCPA, workday.CalendarDays, 45, false, true},
	}
	for _, tt := range tests {
		a, err := AllowanceFor(tt.j)
		if err != nil {
			t.Fatal(err)
		}
		if a.Unit != tt.unit || a.MaxExtension != tt.max || a.Pause != tt.pause || a.CanExtend() != tt.canExtend {
			t.Errorf("AllowanceFor(%s) = %+v, want unit %s, max %d, pause %v", tt.j, a, tt.unit, tt.max, tt.pause)
		}
	}
	if _, err := AllowanceFor("EU"); err == nil {
		t.Error("unknown jurisdiction accepted")
	}
}

func TestExtend(t *testing.T) {
	tests := []struct {
		name    string
		j       workday.Jurisdiction
		due     string
		status  dsr.Status
		units   []int // successive extensions
		wantDue string
		wantErr error // of the last extension
	}{
		{"GDPR two months", workday.GDPR, "2026-04-02", dsr.StatusInProgress, []int{2}, "2026-06-02", nil},
		{"GDPR month end clamps", workday.GDPR, "2026-03-31", dsr.StatusInProgress, []int{1}, "2026-04-30", nil},
		{"GDPR one then one", workday.GDPR, "2026-04-02", dsr.StatusInReview, []int{1, 1}, "2026-06-02", nil},
		{"GDPR beyond two months in all", workday.GDPR, "2026-04-02", dsr.StatusInProgress, []int{2, 1}, "2026-06-02", ErrNotAllowed},
		{"GDPR three months at once", workday.GDPR, "2026-04-02", dsr.StatusInProgress, []int{3}, "2026-04-02", ErrInvalid},
		{"CCPA 45 days", workday.CCPA, "2026-04-16", dsr.StatusInProgress, []int{45}, "2026-05-31", nil},
		{"CCPA once only", workday.CCPA, "2026-04-16", dsr.StatusInProgress, []int{45, 1}, "2026-05-31", ErrNotAllowed},
		{"CN has none", workday.CN, "2026-03-20", dsr.StatusInProgress, []int{1}, "2026-03-20", ErrNotAllowed},
		{"no due date yet", workday.GDPR, "", dsr.StatusAwaitingVerification, []int{1}, "", ErrNoDueDate},
		{"closed", workday.GDPR, "2026-04-02", dsr.StatusCompleted, []int{1}, "2026-04-02", ErrClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.j)
			ctx := context.Background()
			f.request(t, "r1", tt.due, tt.status)
			var err error
			for i, u := range tt.units {
				_, err = f.svc.Extend(ctx, "r1", u, ReasonComplexity, actor)
				if i < len(tt.units)-1 && err != nil {
					t.Fatalf("extension %d: %v", i+1, err)
				}
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Extend: %v, want %v", err, tt.wantErr)
			}
			r, gerr := f.st.GetRequest(ctx, "r1")
			if gerr != nil {
				t.Fatal(gerr)
			}
			if got := dueDate(r); got != tt.wantDue {
				t.Errorf("due = %s, want %s", got, tt.wantDue)
			}
			evs, _ := f.st.ListEvents(ctx, "r1")
			n := 0
			for _, e := range evs {
				if e.Type == EventExtended {
					n++
					if e.Actor != actor || e.Data["reason"] != string(ReasonComplexity) || e.Data["jurisdiction"] != string(tt.j) {
						t.Errorf("audit event = %+v", e)
					}
				}
			}
			if want := r.DueExtension; (want > 0) != (n > 0) {
				t.Errorf("%d extension events for an extension of %d", n, want)
			}
		})
	}
}

func TestExtendBadInput(t *testing.T) {
	f := newFixture(t, workday.GDPR)
	f.request(t, "r1", "2026-04-02", dsr.StatusInProgress)
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"zero units":     func() error { _, err := f.svc.Extend(ctx, "r1", 0, ReasonNumber, actor); return err },
		"unknown reason": func() error { _, err := f.svc.Extend(ctx, "r1", 1, "busy", actor); return err },
		"no actor":       func() error { _, err := f.svc.Extend(ctx, "r1", 1, ReasonNumber, ""); return err },
	} {
		if err := call(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := f.svc.Extend(ctx, "missing", 1, ReasonNumber, actor); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing request: %v, want ErrNotFound", err)
	}
}

func TestPauseAndResume(t *testing.T) {
	f := newFixture(t, workday.GDPR)
	ctx := context.Background()
	f.request(t, "r1", "2026-04-02", dsr.StatusInReview)
	if _, paused, err := f.svc.Pause(ctx, "r1", "identity_document", actor); err != nil || !paused {
		t.Fatalf("Pause: %v, %v", paused, err)
	}
	if _, _, err := f.svc.Pause(ctx, "r1", "identity_document", actor); !errors.Is(err, ErrPaused) {
		t.Errorf("second pause: %v, want ErrPaused", err)
	}
	// Five days later (in China) the requester answered.
	f.clock.Advance(5 * 24 * time.Hour)
	r, err := f.svc.Resume(ctx, "r1", actor)
	if err != nil {
		t.Fatal(err)
	}
	if got := dueDate(r); got != "2026-04-07" || r.PausedAt != nil {
		t.Errorf("after resume: due %s, paused %v; want 2026-04-07, not paused", got, r.PausedAt)
	}
	if _, err := f.svc.Resume(ctx, "r1", actor); !errors.Is(err, ErrNotPaused) {
		t.Errorf("second resume: %v, want ErrNotPaused", err)
	}
	evs, _ := f.st.ListEvents(ctx, "r1")
	var types []string
	for _, e := range evs {
		types = append(types, e.Type+":"+e.Data["days"])
	}
	if len(evs) != 2 || evs[0].Type != EventPaused || evs[1].Type != EventResumed || evs[1].Data["days"] != "5" || evs[1].Actor != actor {
		t.Errorf("audit = %v", types)
	}

	// No due date yet: nothing to pause, nothing changes.
	f.request(t, "r2", "", dsr.StatusAwaitingVerification)
	if r, paused, err := f.svc.Pause(ctx, "r2", "identity_document", actor); err != nil || paused || r.PausedAt != nil {
		t.Errorf("pause without a due date: %v, %v", paused, err)
	}
}

func TestPauseNotAllowed(t *testing.T) {
	for _, j := range []workday.Jurisdiction{workday.CN, workday.CCPA} {
		f := newFixture(t, j)
		f.request(t, "r1", "2026-04-02", dsr.StatusInReview)
		if _, _, err := f.svc.Pause(context.Background(), "r1", "identity_document", actor); !errors.Is(err, ErrNotAllowed) {
			t.Errorf("%s pause: %v, want ErrNotAllowed", j, err)
		}
		if r, _ := f.st.GetRequest(context.Background(), "r1"); r.PausedAt != nil {
			t.Errorf("%s: the request was paused", j)
		}
	}
}
