package certificate_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dsr"
	"dsrflow/internal/partner/certificate"
	"dsrflow/internal/store"
)

var update = flag.Bool("update", false, "rewrite golden files")

var emu *dynamotest.Emulator

func TestMain(m *testing.M) { os.Exit(dynamotest.Main(m, &emu)) }

type tick struct {
	mu sync.Mutex
	t  time.Time
}

func (c *tick) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

type fixture struct {
	st    *store.Store
	table string
	req   *dsr.Request
}

// closedErasure is an erasure with four partners: two completed (one with
// its backups' confirmation), one an operator settled after it was
// escalated, one holding no data for this person; and an audit trail, all
// written through the store.
func closedErasure(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	table := emu.NewTable(t)
	st := store.New(store.Config{Table: table}, store.Deps{DB: emu.Client(), Clock: (&tick{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}).Now})
	verified := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	req, _, err := st.CreateRequest(ctx, &dsr.Request{ID: "req-erasure-1", Kind: dsr.KindErasure, Status: dsr.StatusReceived, Channel: dsr.ChannelWeb, Role: dsr.RoleSelf,
		Locale: "zh-CN", VerifiedAt: &verified}, &dsr.Personal{Contact: dsr.Contact{Email: "person@example.com"}, Subject: dsr.Identifiers{Accounts: []string{"acct-42"}}})
	if err != nil {
		t.Fatal(err)
	}
	done := time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC)
	confirmed := done.Add(40 * 24 * time.Hour)
	oldest := done.Add(24 * time.Hour)
	tasks := []store.PartnerTask{
		{PartnerID: "analytics", Action: "erase", Status: store.PartnerCompleted, Receipt: "AN-1", CompletedAt: &done, BackupConfirmedAt: &confirmed, OldestBackup: &oldest},
		{PartnerID: "music-account", Action: "erase", Status: store.PartnerCompleted, Receipt: "MA-1", CompletedAt: &done},
		{PartnerID: "sms-provider", Action: "erase", Status: store.PartnerSettledByOperator, LastError: "http_400", OperatorReason: "confirmed_offline", OperatorActor: "operator:li"},
		{PartnerID: "voice-model-store", Action: "erase", Status: store.PartnerNoData},
	}
	for _, tk := range tasks {
		tk.RequestID = req.ID
		if _, _, err := st.PutPartnerTask(ctx, tk); err != nil {
			t.Fatal(err)
		}
	}
	for _, typ := range []string{"request.created", "partner.completed", "partner.completed", "partner.escalated", "partner.settled_by_operator", "backup.confirmed", "request.closed"} {
		if _, err := st.AppendEvent(ctx, req.ID, store.Event{Type: typ, Actor: "test", At: done}); err != nil {
			t.Fatal(err)
		}
	}
	return &fixture{st: st, table: table, req: req}
}

func (f *fixture) build(t *testing.T) (certificate.Certificate, store.ChainReport) {
	t.Helper()
	ctx := context.Background()
	tasks, err := f.st.ListPartnerTasks(ctx, f.req.ID)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := f.st.VerifyChain(ctx, f.req.ID)
	if err != nil {
		t.Fatal(err)
	}
	c, err := certificate.Build(f.req, tasks, chain, time.Date(2026, 4, 20, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return c, chain
}

func TestBuildAndVerify(t *testing.T) {
	f := closedErasure(t)
	c, chain := f.build(t)
	if err := certificate.Verify(c, chain); err != nil {
		t.Fatalf("Verify(fresh certificate) = %v", err)
	}
	got, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "certificate.json")
	if *update {
		if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	var g, w any
	_ = json.Unmarshal(got, &g)
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("certificate differs from %s:\n%s", golden, got)
	}
	if strings.Contains(string(got), "person@example.com") {
		t.Errorf("certificate carries personal data")
	}
}

func TestTamperingFails(t *testing.T) {
	f := closedErasure(t)
	c, chain := f.build(t)
	tests := []struct {
		name   string
		alter  func(*certificate.Certificate)
		wanted error
	}{
		{"receipt changed", func(c *certificate.Certificate) { c.Partners[0].Receipt = "FORGED" }, certificate.ErrDigest},
		{"partner dropped", func(c *certificate.Certificate) { c.Partners = c.Partners[1:] }, certificate.ErrDigest},
		{"backup date moved", func(c *certificate.Certificate) { c.Backups[0].ConfirmedAt = c.Backups[0].ConfirmedAt.Add(-time.Hour) }, certificate.ErrDigest},
		{"head quoted differently, digest recomputed", func(c *certificate.Certificate) {
			c.AuditHeadSeq--
			*c = redigest(t, *c)
		}, certificate.ErrHead},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := clone(t, c)
			tt.alter(&cc)
			if err := certificate.Verify(cc, chain); !errors.Is(err, tt.wanted) {
				t.Errorf("Verify = %v, want %v", err, tt.wanted)
			}
		})
	}

	// An audit event edited in the table breaks the chain.
	ctx := context.Background()
	ev := readEvent(t, f, 3)
	n, err := emu.EditItems(ctx, f.table, map[string]string{"hash": ev.Hash}, map[string]string{"type": "partner.failed"})
	if err != nil || n != 1 {
		t.Fatalf("EditItems = %d, %v; want the event edited", n, err)
	}
	broken, err := f.st.VerifyChain(ctx, f.req.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := certificate.Verify(c, broken); !errors.Is(err, certificate.ErrChainBroken) {
		t.Errorf("Verify(edited chain) = %v, want ErrChainBroken", err)
	}
	tasks, err := f.st.ListPartnerTasks(ctx, f.req.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := certificate.Build(f.req, tasks, broken, time.Now()); !errors.Is(err, certificate.ErrChainBroken) {
		t.Errorf("Build(edited chain) = %v, want ErrChainBroken", err)
	}
}

func TestChainGrewAfterIssuance(t *testing.T) {
	f := closedErasure(t)
	c, _ := f.build(t)
	ctx := context.Background()
	if _, err := f.st.AppendEvent(ctx, f.req.ID, store.Event{Type: "certificate.printed", Actor: "operator:1"}); err != nil {
		t.Fatal(err)
	}
	grown, err := f.st.VerifyChain(ctx, f.req.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := certificate.Verify(c, grown); !errors.Is(err, certificate.ErrHead) {
		t.Fatalf("Verify(grown chain) = %v, want ErrHead", err)
	}
	ev := readEvent(t, f, c.AuditHeadSeq)
	if err := certificate.VerifyEvent(c, ev); err != nil {
		t.Errorf("VerifyEvent(quoted event) = %v", err)
	}
	if err := certificate.VerifyEvent(c, readEvent(t, f, c.AuditHeadSeq-1)); !errors.Is(err, certificate.ErrHead) {
		t.Errorf("VerifyEvent(other event) = %v, want ErrHead", err)
	}
}

func TestBuildRefuses(t *testing.T) {
	f := closedErasure(t)
	ctx := context.Background()
	tasks, _ := f.st.ListPartnerTasks(ctx, f.req.ID)
	chain, _ := f.st.VerifyChain(ctx, f.req.ID)
	at := time.Now()

	// Nothing is certified on a promise: every partner must have settled
	// for good.
	for _, s := range []store.PartnerStatus{store.PartnerPending, store.PartnerDispatched, store.PartnerAwaitingCallback, store.PartnerFailed, store.PartnerEscalated} {
		unsettled := append([]store.PartnerTask(nil), tasks...)
		unsettled[1].Status = s
		_, err := certificate.Build(f.req, unsettled, chain, at)
		if !errors.Is(err, certificate.ErrUnsettled) {
			t.Errorf("Build(a partner %s) = %v, want ErrUnsettled", s, err)
		} else if !strings.Contains(err.Error(), unsettled[1].PartnerID) || !strings.Contains(err.Error(), string(s)) {
			t.Errorf("Build(a partner %s) = %v: the error does not name the partner and its status", s, err)
		}
	}
	access := *f.req
	access.Kind = dsr.KindAccess
	if _, err := certificate.Build(&access, tasks, chain, at); !errors.Is(err, certificate.ErrNotErasure) {
		t.Errorf("Build(access) = %v, want ErrNotErasure", err)
	}
	other := chain
	other.RequestID = "someone-else"
	if _, err := certificate.Build(f.req, tasks, other, at); !errors.Is(err, certificate.ErrWrongRequest) {
		t.Errorf("Build(other chain) = %v, want ErrWrongRequest", err)
	}
	bad := chain
	bad.Problems = []store.ChainProblem{{Seq: 2, Reason: store.ReasonEdited}}
	if _, err := certificate.Build(f.req, tasks, bad, at); !errors.Is(err, certificate.ErrChainBroken) {
		t.Errorf("Build(broken chain) = %v, want ErrChainBroken", err)
	}
}

func clone(t *testing.T, c certificate.Certificate) certificate.Certificate {
	t.Helper()
	b, _ := json.Marshal(c)
	var out certificate.Certificate
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// redigest recomputes the digest the way a forger would; the chain still
// catches it.
func redigest(t *testing.T, c certificate.Certificate) certificate.Certificate {
	t.Helper()
	c.Digest = certificateDigest(t, c)
	if err := certificate.VerifyDigest(c); err != nil {
		t.Fatalf("redigest: %v", err)
	}
	return c
}

// readEvent returns event seq of the fixture's request, read through the
// store.
func readEvent(t *testing.T, f *fixture, seq int) store.Event {
	t.Helper()
	evs, err := f.st.ListEvents(context.Background(), f.req.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Seq == seq {
			return ev
		}
	}
	t.Fatalf("request %s has no event %d", f.req.ID, seq)
	return store.Event{}
}

// TestBuildRecordsSettlements: each partner's outcome is certified as it
// is: an operator's settlement with its reason (not the partner's old
// error), a partner without data for this person as such, with no receipt.
func TestBuildRecordsSettlements(t *testing.T) {
	f := closedErasure(t)
	c, _ := f.build(t)
	byID := map[string]certificate.Partner{}
	for _, p := range c.Partners {
		byID[p.ID] = p
	}
	want := map[string]certificate.Partner{
		"sms-provider":      {ID: "sms-provider", Action: "erase", Status: store.PartnerSettledByOperator, Error: "confirmed_offline"},
		"voice-model-store": {ID: "voice-model-store", Action: "erase", Status: store.PartnerNoData},
	}
	for id, w := range want {
		if got := byID[id]; !reflect.DeepEqual(got, w) {
			t.Errorf("partner %s certified as %+v, want %+v", id, got, w)
		}
	}
	if got := byID["analytics"]; got.Status != store.PartnerCompleted || got.Receipt != "AN-1" || got.CompletedAt == nil {
		t.Errorf("analytics certified as %+v, want completed with its receipt", got)
	}
	if len(c.Partners) != 4 || len(c.Backups) != 1 || c.Backups[0].System != "analytics" {
		t.Errorf("certificate partners %d backups %+v, want 4 partners and analytics' backups", len(c.Partners), c.Backups)
	}
	b, _ := json.Marshal(c)
	if strings.Contains(string(b), "operator:li") || strings.Contains(string(b), "http_400") {
		t.Errorf("certificate carries the operator's identity or the old error: %s", b)
	}
}

// TestParse: a stored certificate is read back from plain JSON and from a
// signed envelope {"certificate": ..., "signature": ...}, through the
// store; what is not JSON is an error.
func TestParse(t *testing.T) {
	f := closedErasure(t)
	c, chain := f.build(t)
	plain, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	envelope, err := json.Marshal(map[string]any{"certificate": c, "signature": map[string]string{"alg": "RSASSA_PSS_SHA_256", "keyId": "alias/dsr-certificates", "value": "c2lnbmF0dXJl"}})
	if err != nil {
		t.Fatal(err)
	}
	for name, doc := range map[string][]byte{"plain": plain, "envelope": envelope} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := store.New(store.Config{Table: emu.NewTable(t)}, store.Deps{DB: emu.Client()})
			if _, _, err := st.CreateRequest(ctx, f.req, nil); err != nil {
				t.Fatal(err)
			}
			if created, err := st.PutCertificate(ctx, f.req.ID, doc, c.Digest); err != nil || !created {
				t.Fatalf("PutCertificate = %v, %v", created, err)
			}
			stored, err := st.GetCertificate(ctx, f.req.ID)
			if err != nil {
				t.Fatal(err)
			}
			got, err := certificate.Parse(stored)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(clone(t, got), clone(t, c)) {
				t.Errorf("Parse = %+v, want %+v", got, c)
			}
			if err := certificate.Verify(got, chain); err != nil {
				t.Errorf("Verify(parsed) = %v", err)
			}
		})
	}
	for _, doc := range []string{``, `not json`, `{"certificate":`, `[1,2]`, `{"version":"one"}`} {
		if _, err := certificate.Parse([]byte(doc)); err == nil {
			t.Errorf("Parse(%q) = nil error", doc)
		}
	}
	// A document that is not a certificate parses to one that does not
	// verify.
	if got, err := certificate.Parse([]byte(`{"certificate":null,"other":1}`)); err == nil && certificate.VerifyDigest(got) == nil {
		t.Errorf("Parse of an empty document gave a certificate with a valid digest")
	}
}
