package certsign_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"dsrflow/internal/certsign"
	"dsrflow/internal/partner/certificate"
)

// TestDocumentsSignWhatCloseStores: the close step hands the marshalled
// certificate to Documents; the file it gets back verifies with the public
// key alone and still parses as the same certificate.
func TestDocumentsSignWhatCloseStores(t *testing.T) {
	ctx := context.Background()
	s := localSigner(t)
	c := testCertificate(t)
	doc, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := certsign.Documents{Signer: s}.SignCertificate(ctx, doc)
	if err != nil {
		t.Fatalf("SignCertificate: %v", err)
	}
	if err := certsign.Verify(signed, publicPEM(t, s)); err != nil {
		t.Errorf("Verify(signed document) = %v, want nil", err)
	}
	got, err := certificate.Parse(signed)
	if err != nil || got.Digest != c.Digest || got.Request.ID != c.Request.ID {
		t.Errorf("Parse(signed) = %s %s, %v; want %s %s", got.Request.ID, got.Digest, err, c.Request.ID, c.Digest)
	}

	for name, bad := range map[string][]byte{"not json": []byte("nope"), "empty object": []byte("{}")} {
		if _, err := (certsign.Documents{Signer: s}).SignCertificate(ctx, bad); !errors.Is(err, certsign.ErrMalformed) {
			t.Errorf("%s: SignCertificate = %v, want ErrMalformed", name, err)
		}
	}
	if _, err := (certsign.Documents{}).SignCertificate(ctx, doc); err == nil {
		t.Error("SignCertificate without a signer succeeded")
	}
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
