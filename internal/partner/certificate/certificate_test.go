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

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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

// closedErasure is an erasure with three partners (two completed, one
// escalated), backup confirmations, and an audit trail.
func closedErasure(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	table := emu.NewTable(t)
	st := store.New(emu.Client(), table)
	st.Now = (&tick{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}).Now
	verified := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	req, _, err := st.CreateRequest(ctx, &dsr.Request{ID: "req-erasure-1", Kind: dsr.KindErasure, Status: dsr.StatusReceived, Channel: dsr.ChannelWeb, Role: dsr.RoleSelf,
		Locale: "zh-CN", Contact: dsr.Contact{Email: "person@example.com"}, VerifiedAt: &verified})
	if err != nil {
		t.Fatal(err)
	}
	done := time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC)
	confirmed := done.Add(40 * 24 * time.Hour)
	oldest := done.Add(24 * time.Hour)
	tasks := []store.PartnerTask{
		{PartnerID: "analytics", Action: "erase", Status: store.PartnerCompleted, Receipt: "AN-1", CompletedAt: &done, BackupConfirmedAt: &confirmed, OldestBackup: &oldest},
		{PartnerID: "music-account", Action: "erase", Status: store.PartnerCompleted, Receipt: "MA-1", CompletedAt: &done},
		{PartnerID: "sms-provider", Action: "erase", Status: store.PartnerEscalated, LastError: "http_400"},
	}
	for _, tk := range tasks {
		tk.RequestID = req.ID
		if _, _, err := st.PutPartnerTask(ctx, tk); err != nil {
			t.Fatal(err)
		}
	}
	for _, typ := range []string{"request.created", "partner.completed", "partner.completed", "partner.escalated", "backup.confirmed", "request.closed"} {
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

	// An edited audit event breaks the chain.
	ctx := context.Background()
	key := map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "REQ#" + f.req.ID}, "SK": &types.AttributeValueMemberS{Value: "EVT#0000000003"}}
	if _, err := emu.Client().UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(f.table), Key: key,
		UpdateExpression: aws.String("SET #t = :t"), ExpressionAttributeNames: map[string]string{"#t": "type"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberS{Value: "partner.failed"}}}); err != nil {
		t.Fatal(err)
	}
	broken, err := f.st.VerifyChain(ctx, f.req.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := certificate.Verify(c, broken); !errors.Is(err, certificate.ErrChainBroken) {
		t.Errorf("Verify(edited chain) = %v, want ErrChainBroken", err)
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

	unsettled := append([]store.PartnerTask(nil), tasks...)
	unsettled[0].Status = store.PartnerAwaitingCallback
	if _, err := certificate.Build(f.req, unsettled, chain, at); !errors.Is(err, certificate.ErrUnsettled) {
		t.Errorf("Build(unsettled) = %v, want ErrUnsettled", err)
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

func readEvent(t *testing.T, f *fixture, seq int) store.Event {
	t.Helper()
	key := map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "REQ#" + f.req.ID}, "SK": &types.AttributeValueMemberS{Value: eventSK(seq)}}
	out, err := emu.Client().GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(f.table), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil || out.Item == nil {
		t.Fatalf("read event %d: %v", seq, err)
	}
	var ev store.Event
	if err := attributevalue.UnmarshalMap(out.Item, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}
