package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"dsrflow/internal/certsign"
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
// read (loopback endpoints, the local principal "tester").
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
	cfg := partner.Config{AllowHTTPEndpoints: true, Partners: []partner.Partner{{
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
	setAWSEnv(t, emu.Endpoint, table)
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_SFN": "http://127.0.0.1:1", "PARTNERS_CONFIG": cfgPath, "PARTNER_VOICE_SECRET": secret, "EXPORT_BUCKET": "",
	} {
		t.Setenv(k, v)
	}
	st := store.New(store.Config{Table: table}, store.Deps{DB: emu.Client()})
	return &partnerCLIStack{t: t, emu: emu, table: table, st: st, sim: sim}
}

// request writes a request in status and a partner task for voice.
func (p *partnerCLIStack) request(id string, kind dsr.Kind, status dsr.Status, task store.PartnerStatus) {
	p.t.Helper()
	ctx := context.Background()
	verified := time.Now().Add(-50 * time.Minute).UTC()
	r := &dsr.Request{ID: id, Kind: kind, Status: status, Channel: dsr.ChannelWeb, Role: dsr.RoleSelf, Locale: "en",
		CreatedAt: time.Now().Add(-time.Hour), VerifiedAt: &verified}
	if _, _, err := p.st.CreateRequest(ctx, r, &dsr.Personal{Contact: dsr.Contact{Email: "li.na.cli@example.cn"}}); err != nil {
		p.t.Fatal(err)
	}
	// The identity the review resolved: what the partner is sent.
	if _, err := p.st.UpdateIdentity(ctx, id, func(x *dsr.Identity) error {
		x.Subject = dsr.Identifiers{Emails: []string{"li.na.cli@example.cn"}}
		x.Resolution = dsr.ResolutionResolved
		return nil
	}); err != nil {
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

// actors lists the actors of request id's audit events of type typ.
func (p *partnerCLIStack) actors(id, typ string) []string {
	p.t.Helper()
	events, err := p.st.ListEvents(context.Background(), id)
	if err != nil {
		p.t.Fatal(err)
	}
	var out []string
	for _, e := range events {
		if e.Type == typ {
			out = append(out, e.Actor)
		}
	}
	return out
}

// handlers are the workflow's handlers over the stack's table, signing
// certificates with signer (nil: unsigned).
func (p *partnerCLIStack) handlers(signer workflow.Signer) *workflow.Handlers {
	p.t.Helper()
	h, err := workflow.New(workflow.Config{
		TableName: p.table, CodeSecret: strings.Repeat("c", 32), SubjectKeySecret: stackSubjectSecret, OutboxDir: p.t.TempDir(), MailFrom: "privacy@example.cn",
		RepeatLimit: 3, BackupRotation: 840 * time.Hour, ContactRetention: 720 * time.Hour,
	}, workflow.Deps{Store: p.st, SFN: sfn.New(sfn.Options{Region: "us-east-1"}), Signer: signer})
	if err != nil {
		p.t.Fatal(err)
	}
	return h
}

// TestRetryAndSettleCommands runs dsr retry and dsr settle through cli.Run
// against dynalite and a simulated partner.
func TestRetryAndSettleCommands(t *testing.T) {
	p := newPartnerCLIStack(t)
	p.request("r-retry-1", dsr.KindCorrection, dsr.StatusCompleted, store.PartnerEscalated)
	p.request("r-done-1", dsr.KindCorrection, dsr.StatusCompleted, store.PartnerCompleted)
	p.request("r-settle-1", dsr.KindCorrection, dsr.StatusCompleted, store.PartnerEscalated)

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
			{"--operator is gone", []string{"retry", "r-retry-1", "--operator", "li"}, false, ExitUsage, nil, "--operator is gone"},
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
		// Two retries of r-retry-1 were recorded, each under the principal.
		if got := p.actors("r-retry-1", "operator_retry"); len(got) != 2 || got[0] != "operator:local:tester" || got[1] != "operator:local:tester" {
			t.Errorf("operator_retry actors %v, want operator:local:tester twice", got)
		}
	})

	t.Run("settle", func(t *testing.T) {
		tests := []struct {
			name     string
			args     []string
			wantCode int
			wantOut  string
			wantErr  string
		}{
			{"unknown settlement", []string{"settle", "r-settle-1", "--partner", "voice", "--settlement", "shrug"}, ExitUsage, "", `unknown --settlement "shrug"; use one of: confirmed_offline, confirmed_no_data, partner_terminated`},
			{"no settlement", []string{"settle", "r-settle-1", "--partner", "voice"}, ExitUsage, "", `required flag(s) "settlement"`},
			{"unknown request", []string{"settle", "r-nope", "--partner", "voice", "--settlement", "confirmed_offline"}, ExitFailure, "", "request r-nope not found"},
			{"no such task", []string{"settle", "r-settle-1", "--partner", "analytics", "--settlement", "confirmed_offline"}, ExitFailure, "", "request r-settle-1 has no task for partner analytics"},
			{"not escalated", []string{"settle", "r-done-1", "--partner", "voice", "--settlement", "confirmed_offline"}, ExitFailure, "", "is completed: the partner is not failed or escalated"},
			{"settled", []string{"settle", "r-settle-1", "--partner", "voice", "--settlement", "confirmed_offline"}, ExitOK, "partner voice of r-settle-1: settled_by_operator (confirmed_offline) by operator:local:tester", ""},
			{"settled once", []string{"settle", "r-settle-1", "--partner", "voice", "--settlement", "confirmed_no_data", "--json"}, ExitFailure, "", "is settled_by_operator"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				code, out, errOut := runDSR(t, tt.args...)
				if code != tt.wantCode || !strings.Contains(out, tt.wantOut) || !strings.Contains(errOut, tt.wantErr) {
					t.Errorf("dsr %v: exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q", tt.args, code, out, errOut, tt.wantCode, tt.wantOut, tt.wantErr)
				}
			})
		}
		task, err := p.st.GetPartnerTask(context.Background(), "r-settle-1", "voice")
		if err != nil || task.Status != store.PartnerSettledByOperator || task.OperatorReason != "confirmed_offline" || task.OperatorActor != "operator:local:tester" {
			t.Errorf("settled task %+v, %v; want settled_by_operator, confirmed_offline, by operator:local:tester", task, err)
		}
		if got := p.actors("r-settle-1", "partner.settled_by_operator"); len(got) != 1 || got[0] != "operator:local:tester" {
			t.Errorf("settlement actors %v, want [operator:local:tester]", got)
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
}

// fakeSTS answers GetCallerIdentity with arn, or with an AccessDenied
// error when arn is empty, and counts the calls.
type fakeSTS struct {
	arn   string
	calls atomic.Int32
}

func (f *fakeSTS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	w.Header().Set("Content-Type", "text/xml")
	if err := r.ParseForm(); err != nil || r.Form.Get("Action") != "GetCallerIdentity" {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if f.arn == "" {
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>denied</Message></Error><RequestId>r-1</RequestId></ErrorResponse>`))
		return
	}
	_, _ = w.Write([]byte(`<GetCallerIdentityResponse><GetCallerIdentityResult><Account>111122223333</Account><Arn>` + f.arn +
		`</Arn><UserId>AROAEXAMPLE:li.na</UserId></GetCallerIdentityResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></GetCallerIdentityResponse>`))
}

// TestOperatorPrincipal: a change is recorded under DSR_LOCAL_PRINCIPAL only
// when every AWS endpoint is on loopback; otherwise under the caller's IAM
// principal from STS, and without one nothing changes.
func TestOperatorPrincipal(t *testing.T) {
	p := newPartnerCLIStack(t)
	sts := &fakeSTS{arn: "arn:aws-cn:sts::111122223333:assumed-role/PrivacyOperator/li.na"}
	srv := httptest.NewServer(sts)
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ENDPOINT_URL_STS", srv.URL)
	t.Setenv("DSR_LOCAL_PRINCIPAL", "li.na")

	tests := []struct {
		name      string
		s3        string // AWS_ENDPOINT_URL_S3
		local     string // DSR_LOCAL_PRINCIPAL
		stsARN    string
		wantCode  int
		wantActor string
		wantCalls int32
		wantErr   string
	}{
		{"loopback endpoints: the local principal", "", "li.na", "unused", ExitOK, "operator:local:li.na", 0, ""},
		{"localhost counts as loopback", "http://localhost:9000", "li.na", "unused", ExitOK, "operator:local:li.na", 0, ""},
		{"an endpoint off loopback: STS, not the variable", "https://s3.cn-north-1.amazonaws.com.cn", "li.na", sts.arn, ExitOK, "operator:" + sts.arn, 1, ""},
		{"loopback, no local principal: STS", "", "", sts.arn, ExitOK, "operator:" + sts.arn, 1, ""},
		{"STS refuses: nothing changes", "https://s3.cn-north-1.amazonaws.com.cn", "li.na", "", ExitError, "", 1,
			"the operator's identity could not be established: sts GetCallerIdentity"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "r-principal-" + string(rune('a'+i))
			p.request(id, dsr.KindCorrection, dsr.StatusCompleted, store.PartnerEscalated)
			t.Setenv("AWS_ENDPOINT_URL_S3", tt.s3)
			t.Setenv("DSR_LOCAL_PRINCIPAL", tt.local)
			sts.arn = tt.stsARN
			sts.calls.Store(0)
			code, out, errOut := runDSR(t, "settle", id, "--partner", "voice", "--settlement", "confirmed_no_data")
			if code != tt.wantCode || !strings.Contains(errOut, tt.wantErr) {
				t.Fatalf("dsr settle: exit %d, stdout %q, stderr %q; want exit %d, stderr with %q", code, out, errOut, tt.wantCode, tt.wantErr)
			}
			if n := sts.calls.Load(); n != tt.wantCalls {
				t.Errorf("STS GetCallerIdentity called %d times, want %d", n, tt.wantCalls)
			}
			got := p.actors(id, "partner.settled_by_operator")
			task, err := p.st.GetPartnerTask(context.Background(), id, "voice")
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantActor == "" {
				if len(got) != 0 || task.Status != store.PartnerEscalated {
					t.Errorf("without a principal: settlement events %v, task %s; want none, still escalated", got, task.Status)
				}
				return
			}
			if len(got) != 1 || got[0] != tt.wantActor || task.OperatorActor != tt.wantActor {
				t.Errorf("recorded actor: events %v, task %q; want %s", got, task.OperatorActor, tt.wantActor)
			}
		})
	}
}

// TestCertificateCommands: dsr certificate prints the signed certificate
// the workflow stored; --verify checks its signature and audit chain, and
// fails, naming the request, when one byte of the certificate or one audit
// event changed.
func TestCertificateCommands(t *testing.T) {
	ctx := context.Background()
	p := newPartnerCLIStack(t)
	keyDir := filepath.Join(t.TempDir(), "keys")
	key, err := certsign.OpenLocal(keyDir)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := certsign.NewDocumentSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	otherDir := filepath.Join(t.TempDir(), "other")
	if _, err := certsign.OpenLocal(otherDir); err != nil {
		t.Fatal(err)
	}
	p.request("r-cert-1", dsr.KindErasure, dsr.StatusAwaitingBackupRotation, store.PartnerCompleted)
	p.request("r-cert-2", dsr.KindErasure, dsr.StatusAwaitingBackupRotation, store.PartnerCompleted)
	p.request("r-nocert-1", dsr.KindCorrection, dsr.StatusCompleted, store.PartnerCompleted)
	if _, err := p.handlers(signer).Close(ctx, workflow.CloseInput{RequestID: "r-cert-1", Outcome: workflow.OutcomeCompleted, Certificate: true}); err != nil {
		t.Fatal(err)
	}
	// r-cert-2 closed without a signing key: a bare certificate.
	if _, err := p.handlers(nil).Close(ctx, workflow.CloseInput{RequestID: "r-cert-2", Outcome: workflow.OutcomeCompleted, Certificate: true}); err != nil {
		t.Fatal(err)
	}
	pub, err := key.PublicKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := certsign.PublicKeyPEM(pub)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pemFile := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(pemFile, pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}

	// The signed certificate, as the table keeps it and the mail attaches it.
	code, out, errOut := runDSR(t, "certificate", "r-cert-1")
	if code != ExitOK || errOut != "" {
		t.Fatalf("dsr certificate: exit %d, stderr %q", code, errOut)
	}
	signed, err := certsign.ParseSigned([]byte(out))
	if err != nil {
		t.Fatalf("dsr certificate printed no signed certificate: %v\n%s", err, out)
	}
	c, err := certsign.VerifyKey([]byte(out), pub)
	if err != nil || c.Request.ID != "r-cert-1" || len(c.Partners) != 1 || c.Partners[0].Receipt != "rcpt-voice-1" || len(c.Backups) != 1 {
		t.Fatalf("printed certificate: %+v, %v", c, err)
	}
	if signed.Signature.KeyID != key.KeyID() || signed.Signature.Algorithm != certificate.SignatureAlgorithm {
		t.Errorf("signature key %q algorithm %q, want %s %s", signed.Signature.KeyID, signed.Signature.Algorithm, key.KeyID(), certificate.SignatureAlgorithm)
	}
	stored, err := p.st.GetCertificate(ctx, "r-cert-1")
	if err != nil || !bytes.Equal(stored, []byte(out)) {
		t.Errorf("dsr certificate printed other bytes than the table keeps (%v)", err)
	}
	// Offline, with the public key alone.
	certFile := filepath.Join(dir, "cert.json")
	if err := os.WriteFile(certFile, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, vout, verr := runDSR(t, "certificate", "verify", certFile, "--public-key", pemFile); code != ExitOK || !strings.Contains(vout, "verified: request r-cert-1 (erasure)") {
		t.Errorf("dsr certificate verify FILE: exit %d, %q, %q", code, vout, verr)
	}

	verified := "certificate of r-cert-1 verified: signature (key " + key.KeyID()
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"verify with the local key", []string{"certificate", "r-cert-1", "--verify", "--key-dir", keyDir}, ExitOK, verified},
		{"verify with a PEM file", []string{"certificate", "r-cert-1", "--verify", "--public-key", pemFile}, ExitOK, verified},
		{"verify with another key", []string{"certificate", "r-cert-1", "--verify", "--key-dir", otherDir}, ExitFailure,
			"certificate of r-cert-1 does not verify: the signature does not verify with this public key: the certificate was signed by key sha256:"},
		{"no key here", []string{"certificate", "r-cert-1", "--verify", "--key-dir", filepath.Join(dir, "none")}, ExitFailure,
			"no local certificate signing key in " + filepath.Join(dir, "none") + " (the local stack creates it on first use; in AWS pass --kms-key-id or set CERT_SIGNING_KEY_ID)"},
		{"key flag without --verify", []string{"certificate", "r-cert-1", "--key-dir", keyDir}, ExitUsage, "add --verify"},
		{"two keys", []string{"certificate", "r-cert-1", "--verify", "--key-dir", keyDir, "--public-key", pemFile}, ExitUsage, "if any flags in the group"},
		{"unsigned", []string{"certificate", "r-cert-2"}, ExitOK, "note: the certificate of r-cert-2 is not signed"},
		{"unsigned does not verify", []string{"certificate", "r-cert-2", "--verify", "--key-dir", keyDir}, ExitFailure,
			"certificate of r-cert-2 is not signed: its digest and audit chain verify"},
		{"no certificate", []string{"certificate", "r-nocert-1"}, ExitFailure, "request r-nocert-1 has no deletion certificate"},
		{"no request", []string{"certificate", "r-nope", "--verify"}, ExitFailure, "request r-nope not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runDSR(t, tt.args...)
			if code != tt.wantCode || !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("dsr %v: exit %d, stderr %q; want exit %d, stderr with %q", tt.args, code, errOut, tt.wantCode, tt.wantErr)
			}
		})
	}
	t.Run("unsigned prints the bare certificate", func(t *testing.T) {
		code, out, _ := runDSR(t, "certificate", "r-cert-2")
		var bare certificate.Certificate
		if code != ExitOK || json.Unmarshal([]byte(out), &bare) != nil || bare.Request.ID != "r-cert-2" || certificate.VerifyDigest(bare) != nil {
			t.Errorf("exit %d, stdout %s", code, out)
		}
	})

	// One byte of the stored certificate changed: in the readable copy, in
	// the signed payload, or in the signature.
	payloadAt := strings.Index(out, `"payload": "`) + len(`"payload": "`) + 40
	valueAt := strings.Index(out, `"value": "`) + len(`"value": "`) + 10
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	for _, tc := range []struct {
		name, doc, wantErr string
	}{
		{"readable receipt", strings.Replace(out, "rcpt-voice-1", "rcpt-voice-2", 1), "certificate of r-cert-1 does not verify: the certificate differs from the signed payload"},
		{"payload", flip(out, payloadAt), "certificate of r-cert-1 does not verify"},
		{"signature", flip(out, valueAt), "certificate of r-cert-1 does not verify"},
	} {
		t.Run("tampered "+tc.name, func(t *testing.T) {
			if tc.doc == out || len(tc.doc) != len(out) {
				t.Fatalf("the edit changed no byte or the length")
			}
			setCertificate(t, p, c.Digest, tc.doc)
			defer setCertificate(t, p, c.Digest, out)
			code, _, errOut := runDSR(t, "certificate", "r-cert-1", "--verify", "--key-dir", keyDir)
			if code != ExitFailure || !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("exit %d, stderr %q; want 1, %q", code, errOut, tc.wantErr)
			}
			// Offline too.
			tampered := filepath.Join(t.TempDir(), "cert.json")
			if err := os.WriteFile(tampered, []byte(tc.doc), 0o644); err != nil {
				t.Fatal(err)
			}
			if code, _, errOut := runDSR(t, "certificate", "verify", tampered, "--public-key", pemFile); code != ExitFailure || !strings.Contains(errOut, "does not verify") {
				t.Errorf("offline: exit %d, stderr %q; want 1, does not verify", code, errOut)
			}
		})
	}
	if code, _, errOut := runDSR(t, "certificate", "r-cert-1", "--verify", "--key-dir", keyDir); code != ExitOK {
		t.Fatalf("restored certificate: exit %d, %s", code, errOut)
	}

	// Signed in AWS: with the KMS key, checked through KMS GetPublicKey of
	// the key $CERT_SIGNING_KEY_ID names.
	t.Run("KMS", func(t *testing.T) {
		fake := kmsEnv(t)
		kmsKey, err := certsign.NewKMS(kmsClientFromEnv(t), certTestKeyARN)
		if err != nil {
			t.Fatal(err)
		}
		kmsSigner, err := certsign.NewDocumentSigner(kmsKey)
		if err != nil {
			t.Fatal(err)
		}
		p.request("r-cert-3", dsr.KindErasure, dsr.StatusAwaitingBackupRotation, store.PartnerCompleted)
		if _, err := p.handlers(kmsSigner).Close(ctx, workflow.CloseInput{RequestID: "r-cert-3", Outcome: workflow.OutcomeCompleted, Certificate: true}); err != nil {
			t.Fatal(err)
		}
		if fake.Signs() != 1 {
			t.Errorf("KMS signed %d times, want 1", fake.Signs())
		}
		t.Setenv(KeyIDVariable, certTestKeyARN)
		code, out, errOut := runDSR(t, "certificate", "r-cert-3", "--verify")
		if code != ExitOK || !strings.Contains(errOut, "certificate of r-cert-3 verified: signature (key "+certTestKeyARN) || !strings.Contains(out, `"keyId": "`+certTestKeyARN+`"`) {
			t.Errorf("--verify with the KMS key: exit %d, stdout %s, stderr %q", code, out, errOut)
		}
		// The local key did not sign it.
		if code, _, errOut := runDSR(t, "certificate", "r-cert-3", "--verify", "--key-dir", keyDir); code != ExitFailure || !strings.Contains(errOut, "or its key "+certTestKeyARN+" is not the one given") {
			t.Errorf("--verify with the local key: exit %d, stderr %q", code, errOut)
		}
	})

	// An audit event the certificate covers changed: the signature holds,
	// the chain does not.
	events, err := p.st.ListEvents(ctx, "r-cert-1")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := p.emu.EditItems(ctx, p.table, map[string]string{"hash": events[0].Hash}, map[string]string{"actor": "mallory"}); n != 1 || err != nil {
		t.Fatalf("EditItems = %d, %v", n, err)
	}
	if code, _, errOut := runDSR(t, "certificate", "r-cert-1", "--verify", "--key-dir", keyDir); code != ExitFailure ||
		!strings.Contains(errOut, "certificate of r-cert-1 does not verify against its audit chain: audit chain is not intact") {
		t.Errorf("tampered chain --verify: exit %d, stderr %q; want 1, does not verify against its audit chain", code, errOut)
	}
}

// setCertificate rewrites the stored certificate whose digest is digest,
// behind the store's back.
func setCertificate(t *testing.T, p *partnerCLIStack, digest, doc string) {
	t.Helper()
	if n, err := p.emu.EditItems(context.Background(), p.table, map[string]string{"digest": digest}, map[string]string{"certificate": doc}); n != 1 || err != nil {
		t.Fatalf("EditItems = %d, %v; want the certificate rewritten", n, err)
	}
}
