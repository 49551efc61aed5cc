package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"dsrflow/internal/certsign"
	"dsrflow/internal/dev/kmsfake"
	"dsrflow/internal/dsr"
	"dsrflow/internal/partner/certificate"
	"dsrflow/internal/store"
)

const certTestKeyARN = "arn:aws-cn:kms:cn-north-1:111122223333:key/5e6f7a8b-1111-2222-3333-444455556666"

// issuedCertificate is a deletion certificate as the workflow issues it.
func issuedCertificate(t testing.TB) certificate.Certificate {
	t.Helper()
	verified := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	done := verified.Add(22 * time.Hour)
	confirmed := done.Add(40 * 24 * time.Hour)
	req := &dsr.Request{ID: "r-cert-9", Kind: dsr.KindErasure, CreatedAt: verified.Add(-time.Hour), VerifiedAt: &verified}
	tasks := []store.PartnerTask{{PartnerID: "voice", Action: "erase", Status: store.PartnerCompleted, Receipt: "rcpt-voice-9", CompletedAt: &done, BackupConfirmedAt: &confirmed}}
	chain := store.ChainReport{RequestID: req.ID, Events: 4, HeadSeq: 4, HeadHash: strings.Repeat("c4", 32)}
	c, err := certificate.Build(req, tasks, chain, time.Date(2026, 4, 20, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// writeSigned signs c with s and writes it to dir/name as dsr prints JSON.
func writeSigned(t *testing.T, s certsign.Signer, c certificate.Certificate, dir, name string) string {
	t.Helper()
	signed, err := certsign.SignCertificate(context.Background(), s, c)
	if err != nil {
		t.Fatal(err)
	}
	b, err := signed.File()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// kmsEnv points the AWS SDK's default configuration at a fake KMS holding
// a new key, with no other AWS configuration in reach.
func kmsEnv(t *testing.T) *kmsfake.Server {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	fake := kmsfake.New(key, certTestKeyARN)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_KMS": srv.URL, "AWS_REGION": "cn-north-1", "AWS_ACCESS_KEY_ID": "AKIDLOCAL", "AWS_SECRET_ACCESS_KEY": "secret",
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"), "AWS_PROFILE": "",
		"AWS_MAX_ATTEMPTS": "1",
	} {
		t.Setenv(k, v)
	}
	return fake
}

func TestCertificatePublicKeyAndVerify(t *testing.T) {
	dir := t.TempDir()
	keyDir := filepath.Join(dir, "keys")
	local, err := certsign.OpenLocal(keyDir)
	if err != nil {
		t.Fatal(err)
	}
	c := issuedCertificate(t)
	good := writeSigned(t, local, c, dir, "cert.json")

	// public-key from the local key file.
	code, pemOut, errOut := runDSR(t, "certificate", "public-key", "--key-dir", keyDir)
	if code != ExitOK || !strings.HasPrefix(pemOut, "-----BEGIN PUBLIC KEY-----\n") || !strings.Contains(errOut, "key "+local.KeyID()+", fingerprint sha256:") {
		t.Fatalf("public-key: exit %d, stdout %q, stderr %q", code, pemOut, errOut)
	}
	localPEM := filepath.Join(dir, "local.pem")
	if err := os.WriteFile(localPEM, []byte(pemOut), 0o644); err != nil {
		t.Fatal(err)
	}

	// public-key from KMS (the fake, through the SDK's default configuration).
	fake := kmsEnv(t)
	code, kmsPEMOut, errOut := runDSR(t, "certificate", "public-key", "--kms-key-id", certTestKeyARN)
	if code != ExitOK || !strings.HasPrefix(kmsPEMOut, "-----BEGIN PUBLIC KEY-----\n") || !strings.Contains(errOut, "key "+certTestKeyARN) || kmsPEMOut == pemOut {
		t.Fatalf("public-key --kms-key-id: exit %d, stdout %q, stderr %q", code, kmsPEMOut, errOut)
	}
	// $CERT_SIGNING_KEY_ID picks the KMS key when no flag does; --key-dir
	// still picks the local one.
	t.Setenv(KeyIDVariable, certTestKeyARN)
	if code, out, errOut := runDSR(t, "certificate", "public-key"); code != ExitOK || out != kmsPEMOut || !strings.Contains(errOut, "key "+certTestKeyARN) {
		t.Errorf("public-key with $%s: exit %d, stdout %q, stderr %q; want the KMS key", KeyIDVariable, code, out, errOut)
	}
	if code, out, _ := runDSR(t, "certificate", "public-key", "--key-dir", keyDir); code != ExitOK || out != pemOut {
		t.Errorf("public-key --key-dir with $%s: exit %d, stdout %q; want the local key", KeyIDVariable, code, out)
	}
	kmsPEM := filepath.Join(dir, "kms.pem")
	if err := os.WriteFile(kmsPEM, []byte(kmsPEMOut), 0o644); err != nil {
		t.Fatal(err)
	}
	kmsSigner, err := certsign.NewKMS(kmsClientFromEnv(t), certTestKeyARN)
	if err != nil {
		t.Fatal(err)
	}
	kmsSigned := writeSigned(t, kmsSigner, c, dir, "cert-kms.json")
	if fake.Signs() != 1 {
		t.Fatalf("fake KMS signed %d times, want 1", fake.Signs())
	}

	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Replace(raw, []byte(`"rcpt-voice-9"`), []byte(`"rcpt-voice-8"`), 1)
	tamperedFile := filepath.Join(dir, "tampered.json")
	if err := os.WriteFile(tamperedFile, tampered, 0o644); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a key\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		args     []string
		stdin    string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"valid", []string{good, "--public-key", localPEM}, "", ExitOK, "certificate " + good + " verified: request r-cert-9 (erasure), issued 2026-04-20T00:00:00Z, digest " + c.Digest + ", signed with key sha256:", ""},
		{"valid, KMS-signed", []string{kmsSigned, "--public-key", kmsPEM}, "", ExitOK, "verified: request r-cert-9", ""},
		{"valid from stdin", []string{"-", "--public-key", localPEM}, string(raw), ExitOK, "certificate - verified", ""},
		{"one byte changed", []string{tamperedFile, "--public-key", localPEM}, "", ExitFailure, "", "certificate " + tamperedFile + " does not verify: the certificate differs from the signed payload"},
		{"wrong key", []string{good, "--public-key", kmsPEM}, "", ExitFailure, "", "does not verify: the signature does not verify with this public key: the certificate was signed by key sha256:"},
		{"KMS certificate, local key", []string{kmsSigned, "--public-key", localPEM}, "", ExitFailure, "", "or its key " + certTestKeyARN + " is not the one given"},
		{"not a certificate", []string{localPEM, "--public-key", localPEM}, "", ExitFailure, "", "does not verify: not a signed deletion certificate"},
		{"missing file", []string{filepath.Join(dir, "nope.json"), "--public-key", localPEM}, "", ExitUsage, "", "no such file"},
		{"missing key file", []string{good, "--public-key", filepath.Join(dir, "nope.pem")}, "", ExitUsage, "", "--public-key"},
		{"key not PEM", []string{good, "--public-key", notPEM}, "", ExitUsage, "", "not an ECDSA P-256 public key: no PEM block"},
		{"no --public-key", []string{good}, "", ExitUsage, "", `required flag(s) "public-key"`},
		{"no file", []string{"--public-key", localPEM}, "", ExitUsage, "", "accepts 1 arg(s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			args := append([]string{"certificate", "verify"}, tt.args...)
			code := Run(context.Background(), args, strings.NewReader(tt.stdin), &out, &errb)
			if code != tt.wantCode || !strings.Contains(out.String(), tt.wantOut) || !strings.Contains(errb.String(), tt.wantErr) {
				t.Errorf("dsr %v: exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q", args, code, out.String(), errb.String(), tt.wantCode, tt.wantOut, tt.wantErr)
			}
			if tt.wantCode == ExitOK && errb.Len() != 0 {
				t.Errorf("stderr = %q, want empty", errb.String())
			}
		})
	}
}

func TestCertificatePublicKeyErrors(t *testing.T) {
	kmsEnv(t)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no local key", []string{"--key-dir", t.TempDir()}, ExitFailure, "no local certificate signing key in"},
		{"both sources", []string{"--key-dir", t.TempDir(), "--kms-key-id", certTestKeyARN}, ExitUsage, "if any flags in the group"},
		{"unknown KMS key", []string{"--kms-key-id", "arn:aws-cn:kms:cn-north-1:111122223333:key/other"}, ExitError, "NotFoundException"},
		{"invalid KMS key ID", []string{"--kms-key-id", "key with spaces"}, ExitUsage, "invalid key ID"},
		{"arguments", []string{"extra"}, ExitUsage, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"certificate", "public-key"}, tt.args...)
			code, out, errOut := runDSR(t, args...)
			if code != tt.wantCode || out != "" || !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("dsr %v: exit %d, stdout %q, stderr %q; want exit %d, stderr with %q", args, code, out, errOut, tt.wantCode, tt.wantErr)
			}
		})
	}
}

// kmsClientFromEnv is the KMS client the default AWS configuration gives.
func kmsClientFromEnv(t *testing.T) *kms.Client {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return kms.NewFromConfig(cfg)
}
