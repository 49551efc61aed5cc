package operator

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"dsrflow/internal/dsr"
	"dsrflow/internal/store"
)

var amendSecret = []byte("subject-secret-for-tests-0123456789abcdef")

func TestAmend(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st := store.New(store.Config{Table: emu.NewTable(t)}, store.Deps{DB: emu.Client(), Clock: clock})
	waits := New(Deps{Store: st, SFN: &fakeSFN{outputs: map[string]string{}}, Clock: clock})
	am := NewAmender(AmenderDeps{Store: st, Clock: clock})

	typed := dsr.Identifiers{Accounts: []string{"u-typo"}}
	mk := func(id string, status dsr.Status) {
		t.Helper()
		r := &dsr.Request{ID: id, Kind: dsr.KindErasure, Status: status, HintKeys: typed.Keys(amendSecret)}
		if _, _, err := st.CreateRequest(ctx, r, &dsr.Personal{Contact: dsr.Contact{Email: "mother@example.cn"}, Subject: typed}); err != nil {
			t.Fatal(err)
		}
	}
	mk("r-mismatch", dsr.StatusInReview)
	if _, err := waits.Await(ctx, "r-mismatch", StageIdentity, "identity_mismatch", "tok"); err != nil {
		t.Fatal(err)
	}
	// The identity step had found a mismatch, and an operator had vouched.
	if _, err := st.UpdateIdentity(ctx, "r-mismatch", func(x *dsr.Identity) error {
		x.Proved = []dsr.Proof{{Type: dsr.IdentifierEmail, Value: "mother@example.cn", Method: dsr.ProofCode, At: now}, {Type: dsr.IdentifierAccount, Value: "u-typo", Method: dsr.ProofOperator, At: now}}
		x.Subject, x.Resolution, x.Mismatched = dsr.Identifiers{Emails: []string{"mother@example.cn"}}, dsr.ResolutionMismatch, 1
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	amended := dsr.Identifiers{Accounts: []string{"u-child"}, Emails: []string{"child@example.cn"}}
	a := Amendment{RequestID: "r-mismatch", Subject: amended, HintKeys: amended.Keys(amendSecret), Actor: "arn:aws:sts::1:assumed-role/Ops/li"}
	if err := am.Amend(ctx, a); err != nil {
		t.Fatal(err)
	}
	p, _ := st.GetPersonal(ctx, "r-mismatch")
	if !slices.Equal(p.Subject.Accounts, amended.Accounts) || !slices.Equal(p.Subject.Emails, amended.Emails) || p.Contact.Email != "mother@example.cn" {
		t.Errorf("personal after amendment = %+v", p)
	}
	for _, k := range amended.Keys(amendSecret) {
		if found, err := st.FindByHint(ctx, k); err != nil || len(found) != 1 {
			t.Errorf("FindByHint(amended key) = %v, %v", found, err)
		}
	}
	idn, _ := st.GetIdentity(ctx, "r-mismatch")
	if idn.Resolution != "" || len(idn.Proved) != 1 || idn.Proved[0].Method != dsr.ProofCode || !idn.Subject.Empty() {
		t.Errorf("identity after amendment = %+v; want the code proof only, unresolved", idn)
	}
	evs, _ := st.ListEvents(ctx, "r-mismatch")
	last := evs[len(evs)-1]
	if last.Type != EventAmended || last.Actor != "operator:"+a.Actor || last.Data["accounts"] != "1" || last.Data["emails"] != "1" || last.Data["resolutionReset"] != "true" {
		t.Errorf("audit = %+v", last)
	}
	for _, v := range last.Data {
		if v == "u-child" || v == "child@example.cn" {
			t.Errorf("the audit event holds an identifier: %v", last.Data)
		}
	}

	// In review with no wait: Review is running.
	mk("r-running", dsr.StatusInReview)
	if err := am.Amend(ctx, Amendment{RequestID: "r-running", Subject: amended, HintKeys: amended.Keys(amendSecret), Actor: "li"}); !errors.Is(err, ErrNotAwaiting) {
		t.Errorf("in review, no wait: %v, want ErrNotAwaiting", err)
	}
	// Past review.
	mk("r-late", dsr.StatusInProgress)
	if err := am.Amend(ctx, Amendment{RequestID: "r-late", Subject: amended, HintKeys: amended.Keys(amendSecret), Actor: "li"}); !errors.Is(err, ErrTooLate) {
		t.Errorf("in progress: %v, want ErrTooLate", err)
	}
	if p, _ := st.GetPersonal(ctx, "r-late"); !slices.Equal(p.Subject.Accounts, typed.Accounts) {
		t.Errorf("a refused amendment changed the personal data: %+v", p)
	}
	// Received: before verification, nothing resolved to reset.
	mk("r-new", dsr.StatusReceived)
	if err := am.Amend(ctx, Amendment{RequestID: "r-new", Subject: amended, HintKeys: amended.Keys(amendSecret), Actor: "li"}); err != nil {
		t.Errorf("received: %v", err)
	}

	for name, bad := range map[string]Amendment{
		"no actor":      {RequestID: "r-new", Subject: amended, HintKeys: amended.Keys(amendSecret)},
		"nothing":       {RequestID: "r-new", Actor: "li"},
		"keys missing":  {RequestID: "r-new", Subject: amended, HintKeys: amended.Keys(amendSecret)[:1], Actor: "li"},
		"empty value":   {RequestID: "r-new", Subject: dsr.Identifiers{Emails: []string{""}}, HintKeys: []string{"k"}, Actor: "li"},
		"too many":      {RequestID: "r-new", Subject: dsr.Identifiers{Phones: make([]string, MaxIdentifiers+1)}, HintKeys: make([]string, MaxIdentifiers+1), Actor: "li"},
		"no request ID": {Subject: amended, HintKeys: amended.Keys(amendSecret), Actor: "li"},
	} {
		if err := am.Amend(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}
