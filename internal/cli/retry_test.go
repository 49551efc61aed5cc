package cli

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dev/partnersim"
	"dsrflow/internal/dsr"
	"dsrflow/internal/partner"
	"dsrflow/internal/partner/certificate"
	"dsrflow/internal/store"
	"dsrflow/internal/workflow"
)

// partnerCLIStack is dynalite with a table, a simulated partner and a
// partner configuration file naming it, and the environment the commands
// read.
type partnerCLIStack struct {
	t     *testing.T
	emu   *dynamotest.Emulator
	table string
	st    *store.Store
	sim   *partnersim.Partner
}

func newPartnerCLIStack(t *testing.T) *partnerCLIStack {
	t.Helper()
	emu, err := dynamotest.StartEmulator(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Stop)
	table := emu.NewTable(t)
	secret := "secret-of-voice-0123456789abcdef"
	sim := partnersim.New("voice", []byte(secret), partnersim.Behavior{Mode: partner.ModeSync, Permanent: 400})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	cfg := partner.Config{Partners: []partner.Partner{{
		ID: "voice", Name: dsr.Text{ZhCN: "声音模型库", En: "Voice model store"}, Endpoint: srv.URL,
		Actions: []partner.Action{partner.ActionErase, partner.ActionExport, partner.ActionCorrect}, IdentityTypes: []dsr.IdentifierType{dsr.IdentifierEmail},
		Mode: partner.ModeSync, CompletionDeadline: partner.Duration(time.Hour), SecretRef: "env:PARTNER_VOICE_SECRET", BackupRetention: partner.Duration(30 * 24 * time.Hour),
	}}}
	dir := t.TempDir()
	b, _ := json.Marshal(cfg)
	cfgPath := filepath.Join(dir, "partners.json")
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_DYNAMODB": emu.Endpoint, "AWS_ENDPOINT_URL_SFN": "http://127.0.0.1:1", "AWS_REGION": "us-east-1",
		"AWS_ACCESS_KEY_ID": "AKIDLOCAL", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_CONFIG_FILE": filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"), "DSR_TABLE": table, "USER": "tester",
		"PARTNERS_CONFIG": cfgPath, "PARTNER_VOICE_SECRET": secret, "EXPORT_BUCKET": "",
	} {
		t.Setenv(k, v)
	}
	return &partnerCLIStack{t: t, emu: emu, table: table, st: store.New(emu.Client(), table), sim: sim}
}

// request writes a request in status and a partner task for voice.
func (p *partnerCLIStack) request(id string, kind dsr.Kind, status dsr.Status, task store.PartnerStatus) {
	p.t.Helper()
	ctx := context.Background()
	r := &dsr.Request{ID: id, Kind: kind, Status: status, Channel: dsr.ChannelWeb, Role: dsr.RoleSelf, Locale: "en",
		Contact: dsr.Contact{Email: "li.na.cli@example.cn"}, CreatedAt: time.Now().Add(-time.Hour)}
	if _, _, err := p.st.CreateRequest(ctx, r); err != nil {
		p.t.Fatal(err)
	}
	action := "correct"
	if kind.ErasesData() {
		action = "erase"
	}
	t, _, err := p.st.PutPartnerTask(ctx, store.PartnerTask{RequestID: id, PartnerID: "voice", Action: action, Status: store.PartnerPending})
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.st.UpdatePartnerTask(ctx, id, "voice", t.Version, func(x *store.PartnerTask) {
		x.Status, x.LastError = task, "http_400"
		if task == store.PartnerCompleted {
			now := time.Now().Add(-time.Minute)
			x.Receipt, x.LastError, x.CompletedAt, x.BackupConfirmedAt = "rcpt-voice-1", "", &now, &now
		}
	}); err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.st.AppendEvent(ctx, id, store.Event{Type: "received", Actor: "test"}); err != nil {
		p.t.Fatal(err)
	}
}

// TestRetryAndCertificateCommands runs dsr retry and dsr certificate
// through cli.Run against dynalite and a simulated partner.
func TestRetryAndCertificateCommands(t *testing.T) {
	p := newPartnerCLIStack(t)
	p.request("r-retry-1", dsr.KindCorrection, dsr.StatusCompleted, store.PartnerEscalated)
	p.request("r-done-1", dsr.KindCorrection, dsr.StatusCompleted, store.PartnerCompleted)

	t.Run("retry", func(t *testing.T) {
		tests := []struct {
			name     string
			args     []string
			recover  bool
			wantCode int
			wantOut  []string
			wantErr  string
		}{
			{"unknown partner", []string{"retry", "r-retry-1", "--partner", "nobody"}, false, ExitUsage, nil, `unknown partner "nobody"`},
			{"unknown request", []string{"retry", "r-nope"}, false, ExitFailure, nil, "request r-nope not found"},
			{"bad attempts", []string{"retry", "r-retry-1", "--attempts", "0"}, false, ExitUsage, nil, "--attempts must be at least 1"},
			{"still failing", []string{"retry", "r-retry-1", "--partner", "voice", "--attempts", "1"}, false, ExitFailure, []string{"PARTNER", "voice", "escalated", "http_400"}, "still failing: [voice]"},
			{"recovered", []string{"retry", "r-retry-1"}, true, ExitOK, []string{"voice", "correct", "escalated", "completed", "voice-"}, ""},
			{"nothing left", []string{"retry", "r-retry-1"}, true, ExitFailure, nil, "no failed or escalated partner"},
			{"completed partner not resent", []string{"retry", "r-done-1", "--partner", "voice", "--json"}, true, ExitOK, []string{`"status": "completed"`, `"receipt": "rcpt-voice-1"`}, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if tt.recover {
					p.sim.B.Permanent = 0
				}
				code, out, errOut := runDSR(t, tt.args...)
				ok := code == tt.wantCode && strings.Contains(errOut, tt.wantErr)
				for _, w := range tt.wantOut {
					ok = ok && strings.Contains(out, w)
				}
				if !ok {
					t.Errorf("dsr %v: exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q", tt.args, code, out, errOut, tt.wantCode, tt.wantOut, tt.wantErr)
				}
			})
		}
		for _, r := range p.sim.Received() {
			if r.SubjectRequestID == "r-done-1" {
				t.Errorf("the completed partner of r-done-1 was sent the request again")
			}
		}
	})

	t.Run("show lists partners", func(t *testing.T) {
		code, out, errOut := runDSR(t, "show", "r-done-1")
		if code != ExitOK {
			t.Fatalf("dsr show: exit %d, %s", code, errOut)
		}
		for _, want := range []string{"partners:", "PARTNER", "voice", "correct", "completed", "rcpt-voice-1"} {
			if !strings.Contains(out, want) {
				t.Errorf("dsr show output lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "li.na.cli") {
			t.Errorf("dsr show prints personal data:\n%s", out)
		}
		code, out, errOut = runDSR(t, "show", "r-done-1", "--json")
		if code != ExitOK {
			t.Fatalf("dsr show --json: exit %d, %s", code, errOut)
		}
		var got showOutput
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		if len(got.Partners) != 1 || got.Partners[0].PartnerID != "voice" || got.Partners[0].Status != store.PartnerCompleted || got.Partners[0].Receipt != "rcpt-voice-1" {
			t.Errorf("show --json partners = %+v, want voice completed with receipt rcpt-voice-1", got.Partners)
		}
	})
	t.Run("certificate", func(t *testing.T) {
		ctx := context.Background()
		p.request("r-cert-1", dsr.KindErasure, dsr.StatusAwaitingBackupRotation, store.PartnerCompleted)
		h, err := workflow.New(workflow.Config{
			TableName: p.table, CodeSecret: strings.Repeat("c", 32), OutboxDir: t.TempDir(), MailFrom: "privacy@example.cn",
			RepeatLimit: 3, BackupRotation: 840 * time.Hour,
		}, workflow.Clients{DynamoDB: p.emu.Client(), SFN: sfn.New(sfn.Options{Region: "us-east-1"})}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.Close(ctx, workflow.CloseInput{RequestID: "r-cert-1", Outcome: workflow.OutcomeCompleted, Certificate: true}); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runDSR(t, "certificate", "r-cert-1")
		var c certificate.Certificate
		if code != ExitOK || json.Unmarshal([]byte(out), &c) != nil || c.Request.ID != "r-cert-1" || len(c.Partners) != 1 || c.Partners[0].Receipt != "rcpt-voice-1" || len(c.Backups) != 1 {
			t.Fatalf("dsr certificate: exit %d, stdout %s, stderr %s", code, out, errOut)
		}
		if code, _, errOut := runDSR(t, "certificate", "r-cert-1", "--verify"); code != ExitOK || !strings.Contains(errOut, "verified") {
			t.Errorf("--verify: exit %d, stderr %q; want 0, verified", code, errOut)
		}
		if code, _, errOut := runDSR(t, "certificate", "r-retry-1"); code != ExitFailure || !strings.Contains(errOut, "no deletion certificate") {
			t.Errorf("no certificate: exit %d, stderr %q", code, errOut)
		}
		// Alter the audit event the certificate quotes: it no longer verifies.
		key := map[string]dbtypes.AttributeValue{
			"PK": &dbtypes.AttributeValueMemberS{Value: "REQ#r-cert-1"},
			"SK": &dbtypes.AttributeValueMemberS{Value: "EVT#0000000001"},
		}
		if _, err := p.emu.Client().UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(p.table), Key: key,
			UpdateExpression:          aws.String("SET actor = :a"),
			ExpressionAttributeValues: map[string]dbtypes.AttributeValue{":a": &dbtypes.AttributeValueMemberS{Value: "mallory"}},
		}); err != nil {
			t.Fatal(err)
		}
		if code, _, errOut := runDSR(t, "certificate", "r-cert-1", "--verify"); code != ExitFailure || !strings.Contains(errOut, "does not verify") {
			t.Errorf("tampered chain --verify: exit %d, stderr %q; want 1, does not verify", code, errOut)
		}
	})
}
