package workflow

import (
	"errors"
	"testing"
	"time"

	"dsrflow/internal/dev/partnersim"
	"dsrflow/internal/dsr"
	"dsrflow/internal/partner"
	"dsrflow/internal/store"
)

func (e *env) retrier() *Retrier {
	return &Retrier{Partners: e.h.Partners, Store: e.st, DB: e.h.DB, Table: e.table, SFN: e.sfn, Actor: "operator:li",
		Backoff: partner.Backoff{Attempts: 2, Initial: time.Millisecond, Max: time.Millisecond}}
}

// TestRetryEscalatedPartner: a partner that failed permanently is
// escalated and the request replies without it; once it recovers, a retry
// dispatches to it alone, and a second retry finds nothing to do.
func TestRetryEscalatedPartner(t *testing.T) {
	t.Parallel()
	e, f := newPartnerEnv(t, nil, nil,
		simSpec{id: "account", mode: partner.ModeSync},
		simSpec{id: "broken", mode: partner.ModeSync, b: partnersim.Behavior{Permanent: 400}},
	)
	id, token := e.submit(submission(dsr.KindCorrection, dsr.RoleSelf, dsr.LocaleZhCN), "retry-partner")
	e.verify(id, token)
	e.done(id)
	if st := e.tasks(id)["broken"].Status; st != store.PartnerEscalated {
		t.Fatalf("broken partner is %s, want escalated", st)
	}
	rt := e.retrier()
	f.sims["broken"].B.Permanent = 0
	got, err := rt.RetryPartners(e.ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].PartnerID != "broken" || got[0].Before != store.PartnerEscalated || got[0].Status != store.PartnerCompleted || got[0].Receipt == "" {
		t.Fatalf("retry = %+v, want broken escalated → completed with a receipt", got)
	}
	if n := f.calls(id)["account"]; n != 1 {
		t.Errorf("account received %d requests, want 1 (not retried)", n)
	}
	if _, err := rt.RetryPartners(e.ctx, id, ""); !errors.Is(err, ErrNothingToRetry) {
		t.Errorf("second retry: err = %v, want ErrNothingToRetry", err)
	}
	if _, err := rt.RetryPartners(e.ctx, id, "nobody"); !errors.Is(err, ErrUnknownPartner) {
		t.Errorf("unknown partner: err = %v, want ErrUnknownPartner", err)
	}
	// --partner P on a completed partner sends nothing again.
	got, err = rt.RetryPartners(e.ctx, id, "account")
	if err != nil || got[0].Status != store.PartnerCompleted || f.calls(id)["account"] != 1 {
		t.Errorf("retry of a completed partner: %+v, %v; account calls %d, want 1", got, err, f.calls(id)["account"])
	}
	e.chainOK(id)
}

// TestRetryEscalatedBackups: backups that do not rotate within the daily
// retries escalate the request and the execution waits; `dsr retry` asks
// again (not yet: still escalated), then, after rotation, moves the
// request back and answers the execution, which closes with a certificate.
func TestRetryEscalatedBackups(t *testing.T) {
	t.Parallel()
	e, _ := newPartnerEnv(t, nil, nil,
		simSpec{id: "account", mode: partner.ModeSync, b: partnersim.Behavior{BackupRetention: 100 * 24 * time.Hour}},
	)
	id, token := e.submit(submission(dsr.KindErasure, dsr.RoleSelf, dsr.LocaleEn), "retry-backups")
	e.verify(id, token)
	e.waitTask(id, "EscalateBackups")
	rt := e.retrier()
	if ok, err := rt.BackupsEscalated(e.ctx, id); !ok || err != nil {
		t.Fatalf("BackupsEscalated = %v, %v; want true", ok, err)
	}
	if r := e.request(id); r.Status != dsr.StatusEscalated {
		t.Fatalf("status %s, want escalated", r.Status)
	}
	var not *partner.BackupsNotYetRotated
	if _, err := rt.RetryBackups(e.ctx, id); !errors.As(err, &not) {
		t.Fatalf("retry before rotation: err = %v, want BackupsNotYetRotated", err)
	}
	e.clock.Advance(60 * 24 * time.Hour)
	out, err := rt.RetryBackups(e.ctx, id)
	if err != nil || len(out.Confirmed) != 1 {
		t.Fatalf("retry after rotation: %+v, %v", out, err)
	}
	e.done(id)
	if got := e.finalState(id); got != "Completed" {
		t.Fatalf("final state %s, want Completed", got)
	}
	e.checkCertificate(id, []string{"account"})
}
