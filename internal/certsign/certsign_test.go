package certsign_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"dsrflow/internal/certsign"
	"dsrflow/internal/dev/kmsfake"
	"dsrflow/internal/dsr"
	"dsrflow/internal/partner/certificate"
	"dsrflow/internal/store"
)

const testKeyARN = "arn:aws-cn:kms:cn-north-1:111122223333:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"

// testCertificate is an issued certificate whose strings need escaping
// (& and a Chinese receipt): the payload must survive any Go encoder.
func testCertificate(t testing.TB) certificate.Certificate {
	t.Helper()
	verified := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	done := time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC)
	confirmed := done.Add(40 * 24 * time.Hour)
	req := &dsr.Request{ID: "req-erasure-1", Kind: dsr.KindErasure, CreatedAt: verified.Add(-time.Hour), VerifiedAt: &verified}
	tasks := []store.PartnerTask{
		{PartnerID: "analytics", Action: "erase", Status: store.PartnerCompleted, Receipt: "AN-1 & <回执>", CompletedAt: &done, BackupConfirmedAt: &confirmed},
		{PartnerID: "sms-provider", Action: "erase", Status: store.PartnerSettledByOperator, LastError: "confirmed_offline"},
	}
	chain := store.ChainReport{RequestID: req.ID, Events: 6, HeadSeq: 6, HeadHash: strings.Repeat("ab", 32)}
	c, err := certificate.Build(req, tasks, chain, time.Date(2026, 4, 20, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// kmsSigner is a KMS signer talking through the real SDK client to the
// fake KMS over HTTP.
func kmsSigner(t testing.TB) (*certsign.KMS, *kmsfake.Server) {
	s, fake, _ := kmsSignerClient(t)
	return s, fake
}

func kmsSignerClient(t testing.TB) (*certsign.KMS, *kmsfake.Server, *kms.Client) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	fake := kmsfake.New(key, testKeyARN)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	client := kms.New(kms.Options{
		Region:       "cn-north-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  aws.AnonymousCredentials{},
	})
	s, err := certsign.NewKMS(client, testKeyARN)
	if err != nil {
		t.Fatal(err)
	}
	return s, fake, client
}

func localSigner(t testing.TB) *certsign.Local {
	t.Helper()
	l, err := certsign.OpenLocal(filepath.Join(t.TempDir(), "keys"))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func publicPEM(t testing.TB, s certsign.Signer) []byte {
	t.Helper()
	pub, err := s.PublicKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b, err := certsign.PublicKeyPEM(pub)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signedFile is c signed by s, as a file (certificate.Signed.File).
func signedFile(t testing.TB, s certsign.Signer, c certificate.Certificate) []byte {
	t.Helper()
	signed, err := certsign.SignCertificate(context.Background(), s, c)
	if err != nil {
		t.Fatal(err)
	}
	b, err := signed.File()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	kmsS, fake := kmsSigner(t)
	signers := map[string]certsign.Signer{"local": localSigner(t), "kms": kmsS}
	c := testCertificate(t)
	for name, s := range signers {
		t.Run(name, func(t *testing.T) {
			pem := publicPEM(t, s)
			file := signedFile(t, s, c)
			if err := certsign.Verify(file, pem); err != nil {
				t.Fatalf("Verify(indented) = %v", err)
			}
			// Any Go encoding of the envelope verifies: compact, HTML-escaping.
			signed, err := certsign.ParseSigned(file)
			if err != nil {
				t.Fatal(err)
			}
			compact, err := json.Marshal(signed)
			if err != nil {
				t.Fatal(err)
			}
			pub, err := certsign.ParsePublicKeyPEM(pem)
			if err != nil {
				t.Fatal(err)
			}
			got, err := certsign.VerifyKey(append(compact, '\n'), pub)
			if err != nil {
				t.Fatalf("VerifyKey(compact) = %v", err)
			}
			if got.Digest != c.Digest || got.Request.ID != c.Request.ID || got.Partners[0].Receipt != "AN-1 & <回执>" {
				t.Errorf("VerifyKey returned %+v, want the signed certificate", got)
			}
			if signed.Signature.KeyID != s.KeyID() || signed.Signature.Algorithm != "ECDSA_SHA_256" {
				t.Errorf("signature = %s %s, want ECDSA_SHA_256 %s", signed.Signature.Algorithm, signed.Signature.KeyID, s.KeyID())
			}
		})
	}
	if n := fake.Signs(); n != 1 {
		t.Errorf("fake KMS made %d signatures, want 1", n)
	}
}

// Changing any one byte of a certificate file makes it fail: each byte is
// either signed (payload, signature value) or compared with what is.
func TestTamperedByteFails(t *testing.T) {
	s := localSigner(t)
	file := signedFile(t, s, testCertificate(t))
	pub, err := s.PublicKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := certsign.VerifyKey(file, pub); err != nil {
		t.Fatal(err)
	}
	for i := range file {
		for _, flip := range []byte{0x01, 0x20} {
			bad := bytes.Clone(file)
			bad[i] ^= flip
			if isSpace(file[i]) && isSpace(bad[i]) {
				continue // white space for white space: the same JSON
			}
			if _, err := certsign.VerifyKey(bad, pub); err == nil {
				t.Fatalf("byte %d changed from %q to %q: VerifyKey passed", i, file[i], bad[i])
			}
		}
	}
}

func isSpace(b byte) bool { return b == ' ' || b == '\n' || b == '\t' || b == '\r' }

func TestVerifyFailures(t *testing.T) {
	s := localSigner(t)
	pem := publicPEM(t, s)
	c := testCertificate(t)
	file := signedFile(t, s, c)
	other := publicPEM(t, localSigner(t))
	kmsS, _ := kmsSigner(t)
	kmsFile := signedFile(t, kmsS, c)

	// edit changes the envelope and writes it back as dsr does.
	edit := func(f func(*certificate.Signed)) []byte {
		signed, err := certsign.ParseSigned(file)
		if err != nil {
			t.Fatal(err)
		}
		f(&signed)
		b, err := json.MarshalIndent(signed, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// forge re-signs a changed statement with the right key: a signature
	// that verifies over a payload that lies.
	forge := func(f func(*certificate.Statement)) []byte {
		signed, err := certsign.ParseSigned(file)
		if err != nil {
			t.Fatal(err)
		}
		var st certificate.Statement
		if err := json.Unmarshal(signed.Payload, &st); err != nil {
			t.Fatal(err)
		}
		f(&st)
		payload, err := st.Payload()
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(payload)
		sig, err := s.Sign(context.Background(), sum[:])
		if err != nil {
			t.Fatal(err)
		}
		cert, err := json.Marshal(st.Certificate)
		if err != nil {
			t.Fatal(err)
		}
		signed.Certificate, signed.Payload, signed.Signature.Value = cert, payload, sig
		b, err := json.Marshal(signed)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	readable := edit(func(s *certificate.Signed) {
		s.Certificate = bytes.Replace(s.Certificate, []byte(`"AN-1`), []byte(`"AN-2`), 1)
	})
	tests := []struct {
		name    string
		file    []byte
		pem     []byte
		wantIs  error
		wantMsg string
	}{
		{"wrong key", file, other, certsign.ErrSignature, "the certificate was signed by key sha256:"},
		{"kms certificate, wrong key", kmsFile, pem, certsign.ErrSignature, "or its key " + testKeyARN + " is not the one given"},
		{"readable certificate changed", readable, pem, certificate.ErrPayloadMismatch, "certificate differs from the signed payload"},
		{"readable key ID changed", edit(func(s *certificate.Signed) { s.Signature.KeyID = "local:sha256:00" }), pem, certificate.ErrPayloadMismatch, "signature algorithm or keyId"},
		{"payload changed", edit(func(s *certificate.Signed) { s.Payload[len(s.Payload)/2] ^= 1 }), pem, certsign.ErrSignature, "altered after it was signed"},
		{"signature changed", edit(func(s *certificate.Signed) { s.Signature.Value[10] ^= 1 }), pem, certsign.ErrSignature, ""},
		{"algorithm changed", edit(func(s *certificate.Signed) { s.Signature.Algorithm = "ECDSA_SHA_384" }), pem, certsign.ErrAlgorithm, `"ECDSA_SHA_384"`},
		{"no signature", edit(func(s *certificate.Signed) { s.Signature.Value = nil }), pem, certsign.ErrMalformed, "signature value of 0 bytes"},
		{"digest wrong, signed anyway", forge(func(st *certificate.Statement) { st.Certificate.Partners[0].Receipt = "AN-9" }), pem, certificate.ErrDigest, ""},
		{"future version", forge(func(st *certificate.Statement) { st.Certificate.Version = 2 }), pem, certificate.ErrPayload, "version 2"},
		{"unknown field", []byte(strings.Replace(string(file), `"payload"`, `"note": 1, "payload"`, 1)), pem, certsign.ErrMalformed, `unknown field "note"`},
		{"field in another case", []byte(strings.Replace(string(file), `"payload"`, `"Payload"`, 1)), pem, certsign.ErrMalformed, "not in canonical form"},
		{"field twice", []byte(strings.Replace(string(file), `"signature"`, `"payload": "", "signature"`, 1)), pem, certsign.ErrMalformed, "not in canonical form"},
		{"two objects", append(bytes.Clone(file), file...), pem, certsign.ErrMalformed, "data after the JSON object"},
		{"not JSON", []byte("certificate"), pem, certsign.ErrMalformed, ""},
		{"empty", nil, pem, certsign.ErrMalformed, ""},
		{"too large", append(bytes.Clone(file), bytes.Repeat([]byte(" "), certificate.MaxSignedBytes)...), pem, certsign.ErrMalformed, "more than 1048576"},
		{"public key not PEM", file, []byte("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE"), certsign.ErrPublicKey, "no PEM block"},
		{"private key given", file, []byte("-----BEGIN PRIVATE KEY-----\nMA==\n-----END PRIVATE KEY-----\n"), certsign.ErrPublicKey, `"PRIVATE KEY"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := certsign.Verify(tt.file, tt.pem)
			if !errors.Is(err, tt.wantIs) || !strings.Contains(fmtErr(err), tt.wantMsg) {
				t.Errorf("Verify = %v; want %v containing %q", err, tt.wantIs, tt.wantMsg)
			}
		})
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestSignCertificateRefusesBadDigest(t *testing.T) {
	c := testCertificate(t)
	c.Partners[0].Receipt = "changed"
	if _, err := certsign.SignCertificate(context.Background(), localSigner(t), c); !errors.Is(err, certificate.ErrDigest) {
		t.Errorf("SignCertificate(altered) = %v, want ErrDigest", err)
	}
}

// The openssl command documented on certificate.Signed checks a
// certificate; it refuses one with a changed payload.
func TestOpenSSLVerifies(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not installed")
	}
	kmsS, _ := kmsSigner(t)
	for name, s := range map[string]certsign.Signer{"local": localSigner(t), "kms": kmsS} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			write := func(name string, b []byte) string {
				p := filepath.Join(dir, name)
				if err := os.WriteFile(p, b, 0o600); err != nil {
					t.Fatal(err)
				}
				return p
			}
			signed, err := certsign.ParseSigned(signedFile(t, s, testCertificate(t)))
			if err != nil {
				t.Fatal(err)
			}
			key := write("key.pem", publicPEM(t, s))
			sig := write("signature.der", signed.Signature.Value)
			payload := write("payload.json", signed.Payload)
			out, err := exec.Command(openssl, "dgst", "-sha256", "-verify", key, "-signature", sig, payload).CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != "Verified OK" {
				t.Fatalf("openssl dgst -verify: %v: %s", err, out)
			}
			signed.Payload[5] ^= 1
			write("payload.json", signed.Payload)
			out, err = exec.Command(openssl, "dgst", "-sha256", "-verify", key, "-signature", sig, payload).CombinedOutput()
			if err == nil || !strings.Contains(string(out), "Verification failure") {
				t.Errorf("openssl accepted a changed payload: %v: %s", err, out)
			}
			// The key's fingerprint is what openssl computes.
			der, err := exec.Command(openssl, "pkey", "-pubin", "-in", key, "-outform", "DER").Output()
			if err != nil {
				t.Fatal(err)
			}
			pub, err := s.PublicKey(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			fp, err := certsign.Fingerprint(pub)
			if err != nil {
				t.Fatal(err)
			}
			if sum := sha256.Sum256(der); fp != "sha256:"+hex.EncodeToString(sum[:]) {
				t.Errorf("Fingerprint = %s, openssl's DER hashes to %x", fp, sum)
			}
		})
	}
}

// The documented jq | base64 -d pipeline yields the payload's exact bytes.
func TestDocumentedPipeline(t *testing.T) {
	for _, tool := range []string{"sh", "jq", "base64", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	s := localSigner(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cert.json"), signedFile(t, s, testCertificate(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), publicPEM(t, s), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-ec", `
jq -r .payload cert.json | base64 -d > payload.json
jq -r .signature.value cert.json | base64 -d > signature.der
openssl dgst -sha256 -verify key.pem -signature signature.der payload.json
jq -r .certificate.partners[0].receipt payload.json`)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "Verified OK\nAN-1 & <回执>\n" {
		t.Errorf("documented pipeline: %v:\n%s", err, out)
	}
}

func TestLocalKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	if _, err := certsign.LoadLocal(dir); !errors.Is(err, certsign.ErrNoLocalKey) {
		t.Fatalf("LoadLocal(missing) = %v, want ErrNoLocalKey", err)
	}
	// Concurrent first uses agree on one key.
	const n = 8
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			l, err := certsign.OpenLocal(dir)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = l.KeyID()
		})
	}
	wg.Wait()
	for _, id := range ids[1:] {
		if id != ids[0] {
			t.Fatalf("concurrent OpenLocal made different keys: %v", ids)
		}
	}
	if !strings.HasPrefix(ids[0], "local:sha256:") || len(ids[0]) != len("local:sha256:")+64 {
		t.Errorf("KeyID = %q, want local:sha256:<64 hex>", ids[0])
	}
	path := filepath.Join(dir, certsign.LocalKeyFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %04o, want 0600", fi.Mode().Perm())
	}
	if di, err := os.Stat(dir); err != nil || di.Mode().Perm()&0o077 != 0 {
		t.Errorf("key directory mode %v (%v), want no group or other access", di.Mode().Perm(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("key directory holds %d entries, want the key alone (temporary files removed)", len(entries))
	}
	b, err := os.ReadFile(path)
	if err != nil || !bytes.HasPrefix(b, []byte("-----BEGIN PRIVATE KEY-----\n")) {
		t.Errorf("key file is not a PKCS#8 PEM: %.40q, %v", b, err)
	}
	// Reloading gives the same key ID.
	l, err := certsign.LoadLocal(dir)
	if err != nil || l.KeyID() != ids[0] {
		t.Errorf("LoadLocal = %v, %v; want key %s", l, err, ids[0])
	}

	bad := []struct {
		name    string
		mode    os.FileMode
		body    string
		wantErr string
	}{
		{"readable by others", 0o644, string(b), "mode 0644 lets others read or write it"},
		{"not PEM", 0o600, "key", `want one PEM "PRIVATE KEY"`},
		{"trailing data", 0o600, string(b) + "x", "data after the PEM block"},
		{"public key", 0o600, string(publicPEM(t, l)), `want one PEM "PRIVATE KEY"`},
		{"too large", 0o600, strings.Repeat("x", 17<<10), "more than 16384 bytes"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			d := t.TempDir()
			p := filepath.Join(d, certsign.LocalKeyFile)
			if err := os.WriteFile(p, []byte(tt.body), tt.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, tt.mode); err != nil { // umask aside
				t.Fatal(err)
			}
			if _, err := certsign.OpenLocal(d); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("OpenLocal = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestKMSSigner(t *testing.T) {
	s, _, client := kmsSignerClient(t)
	ctx := context.Background()
	if _, err := s.Sign(ctx, []byte("not a digest")); err == nil {
		t.Error("Sign(12 bytes) succeeded, want an error")
	}
	sum := sha256.Sum256([]byte("payload"))
	sig, err := s.Sign(ctx, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	pub, err := s.PublicKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// DIGEST: KMS signed the digest itself, not its hash.
	if !ecdsa.VerifyASN1(pub, sum[:], sig) {
		t.Error("the KMS signature does not verify over the digest")
	}
	// A key the server does not hold: the SDK's NotFoundException, wrapped.
	missing, err := certsign.NewKMS(client, "arn:aws-cn:kms:cn-north-1:111122223333:key/missing")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := missing.Sign(ctx, sum[:]); err == nil || !strings.Contains(err.Error(), "NotFoundException") || !strings.Contains(err.Error(), "key/missing") {
		t.Errorf("Sign with an unknown key = %v, want NotFoundException naming the key", err)
	}
	if _, err := missing.PublicKey(ctx); err == nil || !strings.Contains(err.Error(), "NotFoundException") {
		t.Errorf("PublicKey of an unknown key = %v, want NotFoundException", err)
	}
	if _, err := certsign.NewKMS(client, ""); err == nil {
		t.Error("NewKMS with no key ID succeeded")
	}
	if _, err := certsign.NewKMS(nil, testKeyARN); err == nil {
		t.Error("NewKMS with no client succeeded")
	}
}

// fakeClient answers GetPublicKey with a fixed output, to check what the
// signer accepts from KMS.
type fakeClient struct {
	certsign.KMSClient
	out *kms.GetPublicKeyOutput
}

func (f fakeClient) GetPublicKey(context.Context, *kms.GetPublicKeyInput, ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error) {
	return f.out, nil
}

func (f fakeClient) Sign(context.Context, *kms.SignInput, ...func(*kms.Options)) (*kms.SignOutput, error) {
	return &kms.SignOutput{Signature: []byte{0x30}, SigningAlgorithm: "ECDSA_SHA_384"}, nil
}

func TestKMSSignerRefusesOtherKeys(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		out     *kms.GetPublicKeyOutput
		wantErr string
	}{
		{"RSA key", &kms.GetPublicKeyOutput{KeySpec: "RSA_2048", KeyUsage: "SIGN_VERIFY"}, `key spec "RSA_2048"`},
		{"encryption key", &kms.GetPublicKeyOutput{KeySpec: "ECC_NIST_P256", KeyUsage: "ENCRYPT_DECRYPT"}, `usage "ENCRYPT_DECRYPT"`},
		{"garbage key", &kms.GetPublicKeyOutput{KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY", PublicKey: []byte("x")}, "not an ECDSA P-256 public key"},
	}
	for _, tt := range tests {
		s, err := certsign.NewKMS(fakeClient{out: tt.out}, testKeyARN)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.PublicKey(ctx); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: PublicKey = %v, want an error containing %q", tt.name, err, tt.wantErr)
		}
	}
	s, _ := certsign.NewKMS(fakeClient{}, testKeyARN)
	sum := sha256.Sum256(nil)
	if _, err := s.Sign(ctx, sum[:]); err == nil || !strings.Contains(err.Error(), `signing algorithm "ECDSA_SHA_384"`) {
		t.Errorf("Sign answered with another algorithm = %v, want an error", err)
	}
}

func TestPublicKeyPEMRoundTrip(t *testing.T) {
	s := localSigner(t)
	pem := publicPEM(t, s)
	pub, err := certsign.ParsePublicKeyPEM(pem)
	if err != nil {
		t.Fatal(err)
	}
	if certsign.LocalKeyID(pub) != s.KeyID() {
		t.Errorf("LocalKeyID(parsed) = %s, want %s", certsign.LocalKeyID(pub), s.KeyID())
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := certsign.PublicKeyPEM(&p384.PublicKey); !errors.Is(err, certsign.ErrPublicKey) {
		t.Errorf("PublicKeyPEM(P-384) = %v, want ErrPublicKey", err)
	}
	if _, err := certsign.ParsePublicKeyPEM(append(bytes.Clone(pem), "junk"...)); !errors.Is(err, certsign.ErrPublicKey) {
		t.Errorf("ParsePublicKeyPEM(trailing junk) = %v, want ErrPublicKey", err)
	}
}

var update = flag.Bool("update", false, "rewrite the signed example in testdata")

// testdata/signed-certificate.json is a signed certificate and
// testdata/public-key.pem its key's public half: a fixed example (and the
// fuzz seed, the same in every fuzz process). -update signs a new one.
func TestExampleFile(t *testing.T) {
	file, pem := filepath.Join("testdata", "signed-certificate.json"), filepath.Join("testdata", "public-key.pem")
	if *update {
		s := localSigner(t)
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, signedFile(t, s, testCertificate(t)), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(pem, publicPEM(t, s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, k := readExample(t)
	if err := certsign.Verify(f, k); err != nil {
		t.Errorf("the example %s does not verify with %s: %v (run with -update to re-sign it)", file, pem, err)
	}
}

func readExample(t testing.TB) (file, pem []byte) {
	t.Helper()
	file, err := os.ReadFile(filepath.Join("testdata", "signed-certificate.json"))
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	pem, err = os.ReadFile(filepath.Join("testdata", "public-key.pem"))
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	return file, pem
}

// verifierSeeds are the example file and envelopes that fail at each stage.
func verifierSeeds(f *testing.F) (file, pem []byte, signed certificate.Signed) {
	file, pem = readExample(f)
	f.Add(file)
	compact, err := certsign.ParseSigned(file)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"certificate":{},"signature":{"algorithm":"ECDSA_SHA_256","keyId":"k","value":"MA=="},"payload":"e30="}`))
	f.Add([]byte(`{"certificate":null,"signature":null,"payload":null}`))
	f.Add([]byte(`[]`))
	// Well-formed envelopes that fail deeper: readable copy changed,
	// signature changed, payload changed.
	for _, change := range []func(*certificate.Signed){
		func(s *certificate.Signed) {
			s.Certificate = bytes.Replace(s.Certificate, []byte("AN-1"), []byte("AN-2"), 1)
		},
		func(s *certificate.Signed) {
			s.Signature.Value = bytes.Clone(s.Signature.Value)
			s.Signature.Value[8] ^= 1
		},
		func(s *certificate.Signed) { s.Payload = bytes.Replace(s.Payload, []byte("AN-1"), []byte("AN-2"), 1) },
	} {
		v := compact
		v.Certificate, v.Payload = bytes.Clone(compact.Certificate), bytes.Clone(compact.Payload)
		change(&v)
		// Indented: with compact seeds of this size the Go 1.27 fuzz
		// worker stops reporting progress (it keeps running).
		if b, err := json.MarshalIndent(v, "", " "); err == nil {
			f.Add(b)
		}
	}
	return file, pem, compact
}

// FuzzVerify: only the signed certificate itself passes Verify. (Fuzzing
// it for long is slow: the fuzzer instruments the P-256 arithmetic too;
// FuzzParseSigned covers the parsing without it.)
func FuzzVerify(f *testing.F) {
	_, pem, signed := verifierSeeds(f)
	payload := base64.StdEncoding.EncodeToString(signed.Payload)
	f.Fuzz(func(t *testing.T, data []byte) {
		err := certsign.Verify(data, pem)
		if err == nil {
			// Only the signed certificate itself can pass, in whatever
			// white space: its payload is the one signed.
			s, perr := certsign.ParseSigned(data)
			if perr != nil || base64.StdEncoding.EncodeToString(s.Payload) != payload {
				t.Fatalf("Verify passed a certificate whose payload was not signed: %q", data)
			}
		}
	})
}

// FuzzParseSigned: what ParseSigned accepts is bounded and canonical, and
// opening it (everything but the signature) never fails unexpectedly.
func FuzzParseSigned(f *testing.F) {
	verifierSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := certsign.ParseSigned(data)
		if err != nil {
			if !errors.Is(err, certsign.ErrMalformed) && !errors.Is(err, certsign.ErrAlgorithm) {
				t.Fatalf("ParseSigned error %v is neither ErrMalformed nor ErrAlgorithm", err)
			}
			return
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, data); err != nil {
			t.Fatalf("ParseSigned accepted invalid JSON: %v", err)
		}
		again, err := json.Marshal(s)
		if err != nil || !bytes.Equal(again, compact.Bytes()) || len(data) > certificate.MaxSignedBytes {
			t.Fatalf("ParseSigned accepted a non-canonical or oversized file: %q", data)
		}
		if s.Signature.Algorithm != certificate.SignatureAlgorithm || len(s.Signature.Value) == 0 || len(s.Payload) == 0 {
			t.Fatalf("ParseSigned accepted %+v", s.Signature)
		}
		if _, err := s.Open(); err != nil && !errors.Is(err, certificate.ErrPayload) && !errors.Is(err, certificate.ErrPayloadMismatch) && !errors.Is(err, certificate.ErrDigest) {
			t.Fatalf("Open error %v is not one of the certificate errors", err)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	file, pem := readExample(b)
	for b.Loop() {
		if err := certsign.Verify(file, pem); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignCertificateLocal(b *testing.B) {
	s := localSigner(b)
	c := testCertificate(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := certsign.SignCertificate(ctx, s, c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignCertificateKMSFake(b *testing.B) {
	s, _ := kmsSigner(b)
	c := testCertificate(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := certsign.SignCertificate(ctx, s, c); err != nil {
			b.Fatal(err)
		}
	}
}
