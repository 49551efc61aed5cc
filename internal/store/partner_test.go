package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestPartnerTasks(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.create(t, newRequest("r-partner"))

	got, created, err := f.st.PutPartnerTask(ctx, PartnerTask{RequestID: "r-partner", PartnerID: "analytics", Action: "erase"})
	if err != nil || !created {
		t.Fatalf("PutPartnerTask = created %v, err %v; want created", created, err)
	}
	if got.Status != PartnerPending || got.Version != 1 {
		t.Errorf("new task status %q version %d, want pending 1", got.Status, got.Version)
	}

	// A second put keeps the first.
	again, created, err := f.st.PutPartnerTask(ctx, PartnerTask{RequestID: "r-partner", PartnerID: "analytics", Action: "export"})
	if err != nil || created {
		t.Fatalf("second PutPartnerTask = created %v, err %v; want existing", created, err)
	}
	if again.Action != "erase" {
		t.Errorf("second put returned action %q, want the stored erase", again.Action)
	}

	upd, err := f.st.UpdatePartnerTask(ctx, "r-partner", "analytics", 1, func(p *PartnerTask) {
		p.Status = PartnerCompleted
		p.Receipt = "rcpt-1"
		p.TaskToken = "tok"
	})
	if err != nil {
		t.Fatalf("UpdatePartnerTask: %v", err)
	}
	if upd.Version != 2 || upd.Receipt != "rcpt-1" {
		t.Errorf("updated = version %d receipt %q, want 2 rcpt-1", upd.Version, upd.Receipt)
	}
	read, err := f.st.GetPartnerTask(ctx, "r-partner", "analytics")
	if err != nil {
		t.Fatal(err)
	}
	if read.Status != PartnerCompleted || read.TaskToken != "tok" || read.Version != 2 {
		t.Errorf("read back %+v, want completed with token at version 2", read)
	}

	// A stale version loses and changes nothing.
	_, err = f.st.UpdatePartnerTask(ctx, "r-partner", "analytics", 1, func(p *PartnerTask) { p.Status = PartnerFailed })
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.Version != 2 {
		t.Fatalf("stale update err = %v, want *ConflictError at version 2", err)
	}
	read, _ = f.st.GetPartnerTask(ctx, "r-partner", "analytics")
	if read.Status != PartnerCompleted {
		t.Errorf("after stale update status %q, want completed", read.Status)
	}

	// Immutable fields.
	if _, err := f.st.UpdatePartnerTask(ctx, "r-partner", "analytics", 2, func(p *PartnerTask) { p.PartnerID = "x" }); !errors.Is(err, ErrImmutable) {
		t.Errorf("changing the partner ID: err = %v, want ErrImmutable", err)
	}

	if _, err := f.st.GetPartnerTask(ctx, "r-partner", "nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing task: err = %v, want ErrNotFound", err)
	}
}

func TestListPartnerTasks(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.create(t, newRequest("r-list"))
	f.create(t, newRequest("r-other"))
	if _, err := f.st.AppendEvent(ctx, "r-list", Event{Type: "x", Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 3 {
		id := fmt.Sprintf("p%d", i)
		want = append(want, id)
		if _, _, err := f.st.PutPartnerTask(ctx, PartnerTask{RequestID: "r-list", PartnerID: id, Action: "erase"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := f.st.PutPartnerTask(ctx, PartnerTask{RequestID: "r-other", PartnerID: "p9", Action: "erase"}); err != nil {
		t.Fatal(err)
	}
	got, err := f.st.ListPartnerTasks(ctx, "r-list")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range got {
		ids = append(ids, p.PartnerID)
	}
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Errorf("ListPartnerTasks = %v, want %v (no events, no other request's tasks)", ids, want)
	}
	none, err := f.st.ListPartnerTasks(ctx, "r-none")
	if err != nil || len(none) != 0 {
		t.Errorf("ListPartnerTasks(no tasks) = %v, %v; want empty", none, err)
	}
}

func TestPartnerStatusSettled(t *testing.T) {
	settled := map[PartnerStatus]bool{PartnerCompleted: true, PartnerFailed: true, PartnerEscalated: true, PartnerNoData: true, PartnerSettledByOperator: true}
	for _, s := range PartnerStatuses() {
		if got := s.Settled(); got != settled[s] {
			t.Errorf("%s.Settled() = %v, want %v", s, got, settled[s])
		}
	}
}
