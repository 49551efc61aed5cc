package certsign_test

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"dsrflow/internal/certsign"
	"dsrflow/internal/partner/certificate"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// The workflow's signer turns the certificate's JSON into a signed file
// that the public key alone verifies, equal to the certificate given.
func TestDocumentSigner(t *testing.T) {
	ctx := context.Background()
	key := localSigner(t)
	d, err := certsign.NewDocumentSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	c := testCertificate(t)
	doc, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	file, err := d.SignCertificate(ctx, doc)
	if err != nil {
		t.Fatalf("SignCertificate: %v", err)
	}
	got, err := certsign.VerifyKey(file, mustPublicKey(t, key))
	if err != nil {
		t.Fatalf("VerifyKey(signed document): %v", err)
	}
	if got.Digest != c.Digest || got.Request.ID != c.Request.ID {
		t.Errorf("verified certificate %s/%s, want %s/%s", got.Request.ID, got.Digest, c.Request.ID, c.Digest)
	}
	s, err := certsign.ParseSigned(file)
	if err != nil || s.Signature.KeyID != key.KeyID() {
		t.Errorf("ParseSigned: key %q, %v; want key %s", s.Signature.KeyID, err, key.KeyID())
	}
	// The same certificate from the store round trip (Parse) signs alike.
	if back, err := certificate.Parse(file); err != nil || back.Digest != c.Digest {
		t.Errorf("certificate.Parse(signed file) = %s, %v; want digest %s", back.Digest, err, c.Digest)
	}

	altered := c
	altered.Partners = append([]certificate.Partner(nil), c.Partners...)
	altered.Partners[0].Receipt = "changed"
	alteredDoc, _ := json.Marshal(altered)
	tests := []struct {
		name    string
		doc     []byte
		wantErr string
		wantIs  error
	}{
		{"digest does not match", alteredDoc, "", certificate.ErrDigest},
		{"unknown field", []byte(strings.Replace(string(doc), `"version":`, `"extra":1,"version":`, 1)), "unknown field", nil},
		{"two documents", append(append([]byte{}, doc...), doc...), "data after the certificate", nil},
		{"not JSON", []byte("certificate"), "not a certificate", nil},
		{"too large", make([]byte, certificate.MaxSignedBytes+1), "more than", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := d.SignCertificate(ctx, tt.doc)
			if err == nil || out != nil {
				t.Fatalf("SignCertificate = %d bytes, %v; want an error", len(out), err)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v, want %v", err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
	if _, err := certsign.NewDocumentSigner(nil); err == nil {
		t.Error("NewDocumentSigner(nil) = nil error, want one")
	}
}

func mustPublicKey(t *testing.T, s certsign.Signer) *ecdsa.PublicKey {
	t.Helper()
	pub, err := s.PublicKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func TestConfigOpen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	tests := []struct {
		name     string
		cfg      certsign.Config
		wantNil  bool
		wantErr  bool
		wantKind string
	}{
		{name: "none", wantNil: true},
		{name: "local", cfg: certsign.Config{LocalKeyDir: dir}, wantKind: "local:"},
		{name: "kms", cfg: certsign.Config{KeyID: "arn:aws-cn:kms:cn-north-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}, wantKind: "arn:aws-cn:kms:"},
		{name: "both", cfg: certsign.Config{KeyID: "arn:aws:kms:us-east-1:1:key/x", LocalKeyDir: dir}, wantErr: true},
		{name: "bad key id", cfg: certsign.Config{KeyID: "key\x1b[31m"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tt.cfg.Open(aws.Config{Region: "cn-north-1"})
			switch {
			case tt.wantErr:
				if err == nil {
					t.Fatal("Open succeeded, want an error")
				}
				return
			case err != nil:
				t.Fatalf("Open: %v", err)
			case tt.wantNil:
				if s != nil {
					t.Fatalf("Open = %T, want nil", s)
				}
				return
			}
			if got := s.KeyID(); len(got) < len(tt.wantKind) || got[:len(tt.wantKind)] != tt.wantKind {
				t.Errorf("KeyID = %q, want prefix %q", got, tt.wantKind)
			}
		})
	}
}
