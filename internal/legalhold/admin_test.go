package legalhold

import (
	"context"
	"slices"
	"testing"
	"time"

	"dsrflow/internal/dsr"
)

func TestReasons(t *testing.T) {
	tests := []struct {
		reason dsr.RefusalReason
		want   bool
	}{
		{dsr.RefusalLegalHold, true},
		{dsr.RefusalNationalSecurity, true},
		{dsr.RefusalCriminalProceedings, true},
		{dsr.RefusalSeriousHarm, true},
		{dsr.RefusalDuplicate, false},
		{dsr.RefusalIdentityNotVerified, false},
		{dsr.RefusalGroundlessRepetition, false},
		{"whim", false},
	}
	for _, tt := range tests {
		if got := ReasonFits(tt.reason); got != tt.want {
			t.Errorf("ReasonFits(%q) = %v, want %v", tt.reason, got, tt.want)
		}
	}
	if got := Reasons(); got[0] != dsr.RefusalLegalHold || len(got) != 6 {
		t.Errorf("Reasons() = %v, want legal_hold then the five legal grounds", got)
	}
}

func TestAllAndLift(t *testing.T) {
	ctx := context.Background()
	l := newList(t)

	got, err := l.All(ctx)
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("All on an empty table = %v, %v; want an empty list", got, err)
	}

	t0 := time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)
	holds := []Hold{
		{SubjectKey: "k-b", Action: ActionRefuse, Reason: dsr.RefusalCriminalProceedings, Reference: "CASE-2", CreatedAt: t0.Add(2 * time.Hour), CreatedBy: "li"},
		{SubjectKey: "k-a", Action: ActionDeferErasure, Reason: dsr.RefusalLegalHold, Reference: "CASE-1", CreatedAt: t0, CreatedBy: "wang"},
		{SubjectKey: "k-c", Action: ActionDeferErasure, Reason: dsr.RefusalLegalHold, CreatedAt: t0.Add(time.Hour), CreatedBy: "li"},
	}
	for _, h := range holds {
		if err := l.Put(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	got, err = l.All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, h := range got {
		keys = append(keys, h.SubjectKey)
	}
	if want := []string{"k-a", "k-c", "k-b"}; !slices.Equal(keys, want) {
		t.Fatalf("All = %v, want %v (oldest first, holds only)", keys, want)
	}
	if g := got[2]; g.Action != ActionRefuse || g.Reason != dsr.RefusalCriminalProceedings || g.Reference != "CASE-2" || g.CreatedBy != "li" || !g.CreatedAt.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("All()[2] = %+v, want the k-b hold as put", g)
	}

	tests := []struct {
		name       string
		key        string
		wantAction Action // "" when Lift finds nothing
	}{
		{"lift a hold", "k-b", ActionRefuse},
		{"lift it again", "k-b", ""},
		{"lift an unknown key", "k-none", ""},
	}
	for _, tt := range tests {
		h, err := l.Lift(ctx, tt.key)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var gotAction Action
		if h != nil {
			gotAction = h.Action
			if h.SubjectKey != tt.key {
				t.Errorf("%s: lifted %q, want %q", tt.name, h.SubjectKey, tt.key)
			}
		}
		if gotAction != tt.wantAction {
			t.Errorf("%s: lifted action %q, want %q", tt.name, gotAction, tt.wantAction)
		}
	}
	if h, err := l.Find(ctx, []string{"k-b"}); err != nil || h != nil {
		t.Errorf("Find after Lift = %+v, %v; want none", h, err)
	}
	if got, err := l.All(ctx); err != nil || len(got) != 2 {
		t.Errorf("All after Lift: %d holds, %v; want 2", len(got), err)
	}
}
