package partner_test

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"dsrflow/internal/dev/partnersim"
	"dsrflow/internal/dsr"
	"dsrflow/internal/partner"
)

var closeActions = []partner.Action{partner.ActionCloseAccount, partner.ActionErase, partner.ActionExport}

func TestPrecheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		b       partnersim.Behavior
		want    partner.PrecheckOutput
		wantErr string
	}{
		{"clear", partnersim.Behavior{}, partner.PrecheckOutput{Clear: true, Obligations: []string{}}, ""},
		{"obligations", partnersim.Behavior{Obligations: []partner.Obligation{{Code: partner.ObligationUnpaidSubscription}, {Code: partner.ObligationPendingWithdrawal}}},
			partner.PrecheckOutput{Clear: false, Obligations: []string{"unpaid_subscription", "pending_withdrawal"}}, ""},
		{"account system down", partnersim.Behavior{Permanent: 503}, partner.PrecheckOutput{}, "PartnerRetryable"},
		{"account system refuses", partnersim.Behavior{Permanent: 403}, partner.PrecheckOutput{}, "PartnerRejected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixtureOpts(t, fixtureOpts{accountSystem: "account"}, simSpec{id: "account", mode: partner.ModeSync, ids: acctOnly, actions: closeActions, b: tt.b})
			req := f.request(t, dsr.KindAccountClosure, nil)
			got, err := f.d.Precheck(t.Context(), partner.PrecheckInput{RequestID: req.ID})
			name, _, _ := classify(err)
			if name != tt.wantErr {
				t.Fatalf("Precheck err = %v, want %q", err, tt.wantErr)
			}
			if err == nil && (got.Clear != tt.want.Clear || !slices.Equal(got.Obligations, tt.want.Obligations)) {
				t.Errorf("Precheck = %+v, want %+v", got, tt.want)
			}
		})
	}
	f := newFixtureOpts(t, fixtureOpts{accountSystem: "account"}, simSpec{id: "account", mode: partner.ModeSync, ids: acctOnly, actions: closeActions})
	erasure := f.request(t, dsr.KindErasure, nil)
	if _, err := f.d.Precheck(t.Context(), partner.PrecheckInput{RequestID: erasure.ID}); !isNamed[*partner.InvalidInput](err) {
		t.Errorf("Precheck(erasure) = %v, want InvalidInput", err)
	}
	// An identity without an account: the account system holds nothing to
	// check.
	noAccount := f.request(t, dsr.KindAccountClosure, func(r *newRequest) { r.Identity.Subject.Accounts = nil })
	if _, err := f.d.Precheck(t.Context(), partner.PrecheckInput{RequestID: noAccount.ID}); !isNamed[*partner.InvalidInput](err) {
		t.Errorf("Precheck(no account) = %v, want InvalidInput", err)
	}
	if f.sims["account"].Calls() != 0 {
		t.Errorf("refused prechecks called the account system")
	}
	if _, err := f.d.Precheck(t.Context(), partner.PrecheckInput{}); !isNamed[*partner.InvalidInput](err) {
		t.Errorf("Precheck(no request) = %v, want InvalidInput", err)
	}
	if _, err := f.d.Precheck(t.Context(), partner.PrecheckInput{RequestID: "nope"}); !isNamed[*partner.RequestNotFound](err) {
		t.Errorf("Precheck(unknown request) = %v, want RequestNotFound", err)
	}
	none := newFixture(t, simSpec{id: "account", mode: partner.ModeSync, ids: acctOnly, actions: closeActions})
	closure := none.request(t, dsr.KindAccountClosure, nil)
	if _, err := none.d.Precheck(t.Context(), partner.PrecheckInput{RequestID: closure.ID}); !isNamed[*partner.InvalidInput](err) {
		t.Errorf("Precheck without an account system = %v, want InvalidInput", err)
	}
}

func TestObligationText(t *testing.T) {
	if got := partner.ObligationText(partner.ObligationOpenDispute, dsr.LocaleEn); got == partner.ObligationText("mystery", dsr.LocaleEn) || got == "" {
		t.Errorf("known code explained generically: %q", got)
	}
	if got := partner.ObligationText("mystery", dsr.LocaleZhCN); got == "" {
		t.Errorf("unknown code has no text")
	}
}

// clock is a settable clock shared by the dispatcher, its client and the
// simulated partners.
type clock struct {
	mu sync.Mutex
	at time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.at }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = c.at.Add(d)
}

func TestBackupWindowAndConfirmation(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	clk := &clock{at: time.Now().UTC().Truncate(time.Second)}
	// The business clocks jump ahead; signatures keep wall time.
	f := newFixtureOpts(t, fixtureOpts{clock: clk.Now},
		simSpec{id: "voice", mode: partner.ModeSync, ids: allIDs, b: partnersim.Behavior{BackupRetention: 30 * day}},
		simSpec{id: "analytics", mode: partner.ModeSync, ids: allIDs, b: partnersim.Behavior{BackupRetention: 30 * day}},
		simSpec{id: "sms", mode: partner.ModeSync, ids: allIDs},
	)
	f.cfg.Partners[2].BackupRetention = 0
	f.cfg.Partners[1].BackupRetention = partner.Duration(40 * day) // configured longer than the partner's real rotation
	for _, s := range f.sims {
		s.Now = clk.Now
	}
	ctx := t.Context()
	req := f.request(t, dsr.KindErasure, nil)
	for _, id := range []string{"voice", "analytics", "sms"} {
		if it := f.run(t, req.ID, id); it.Err != nil {
			t.Fatal(it.Err)
		}
	}
	deleted := clk.Now()
	win, err := f.d.BackupWindow(ctx, partner.BackupWindowInput{RequestID: req.ID})
	if err != nil {
		t.Fatal(err)
	}
	if !win.DeletedAt.Equal(deleted) || !win.PurgeAfter.Equal(deleted.Add(40*day)) || !slices.Equal(win.Systems, []string{"analytics", "voice"}) {
		t.Errorf("BackupWindow = %+v, want deleted %v, purgeAfter +40d, systems [analytics voice]", win, deleted)
	}

	// Too early: both still hold backups from before the deletion.
	clk.Add(10 * day)
	_, err = f.d.ConfirmBackupPurge(ctx, partner.BackupWindowInput{RequestID: req.ID})
	var nr *partner.BackupsNotYetRotated
	if !errors.As(err, &nr) || !slices.Equal(nr.Partners, []string{"analytics", "voice"}) {
		t.Fatalf("early ConfirmBackupPurge = %v, want BackupsNotYetRotated [analytics voice]", err)
	}

	// After rotation: confirmed and recorded.
	clk.Add(25 * day)
	out, err := f.d.ConfirmBackupPurge(ctx, partner.BackupWindowInput{RequestID: req.ID})
	if err != nil || !slices.Equal(out.Confirmed, []string{"analytics", "voice"}) {
		t.Fatalf("ConfirmBackupPurge = %+v, %v; want both confirmed", out, err)
	}
	for _, id := range []string{"analytics", "voice"} {
		tk := f.task(t, req.ID, id)
		if tk.BackupConfirmedAt == nil || tk.OldestBackup == nil || tk.OldestBackup.Before(deleted) {
			t.Errorf("%s: confirmation %v oldest %v, want recorded and after the deletion", id, tk.BackupConfirmedAt, tk.OldestBackup)
		}
	}
	if tk := f.task(t, req.ID, "sms"); tk.BackupConfirmedAt != nil {
		t.Errorf("sms has no backups but was asked")
	}
	// Asking again does not call the partners again.
	calls := f.sims["voice"].Calls()
	if _, err := f.d.ConfirmBackupPurge(ctx, partner.BackupWindowInput{RequestID: req.ID}); err != nil {
		t.Fatal(err)
	}
	if f.sims["voice"].Calls() != calls {
		t.Errorf("a confirmed backup system was asked again")
	}
}
