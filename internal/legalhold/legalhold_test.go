package legalhold

import (
	"context"
	"os"
	"testing"

	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dsr"
	"dsrflow/internal/store"
)

var emu *dynamotest.Emulator

func TestMain(m *testing.M) { os.Exit(dynamotest.Main(m, &emu)) }

func newList(t *testing.T) *List {
	t.Helper()
	return New(store.New(store.Config{Table: emu.NewTable(t)}, store.Deps{DB: emu.Client()}))
}

func TestFind(t *testing.T) {
	ctx := context.Background()
	l := newList(t)
	if err := l.Put(ctx, Hold{SubjectKey: "k-defer", Action: ActionDeferErasure}); err != nil {
		t.Fatal(err)
	}
	if err := l.Put(ctx, Hold{SubjectKey: "k-refuse", Action: ActionRefuse, Reason: dsr.RefusalNationalSecurity}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		keys       []string
		wantAction Action
		wantReason dsr.RefusalReason
	}{
		{[]string{"k-none"}, "", ""},
		{[]string{"k-defer"}, ActionDeferErasure, dsr.RefusalLegalHold},
		{[]string{"k-defer", "k-refuse"}, ActionRefuse, dsr.RefusalNationalSecurity},
		{[]string{"k-refuse", "k-defer"}, ActionRefuse, dsr.RefusalNationalSecurity},
	}
	for _, tt := range tests {
		h, err := l.Find(ctx, tt.keys)
		if err != nil {
			t.Fatal(err)
		}
		var gotA Action
		var gotR dsr.RefusalReason
		if h != nil {
			gotA, gotR = h.Action, h.Reason
		}
		if gotA != tt.wantAction || gotR != tt.wantReason {
			t.Errorf("Find(%v) = %q %q, want %q %q", tt.keys, gotA, gotR, tt.wantAction, tt.wantReason)
		}
	}
	if _, err := l.Lift(ctx, "k-refuse"); err != nil {
		t.Fatal(err)
	}
	if h, _ := l.Find(ctx, []string{"k-refuse"}); h != nil {
		t.Errorf("hold still found after Lift: %+v", h)
	}
	for _, bad := range []Hold{{Action: ActionRefuse}, {SubjectKey: "k", Action: "pause"}, {SubjectKey: "k", Action: ActionRefuse, Reason: "whim"}} {
		if err := l.Put(ctx, bad); err == nil {
			t.Errorf("Put(%+v) accepted", bad)
		}
	}
}
