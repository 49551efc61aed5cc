package certificate_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dsrflow/internal/partner/certificate"
)

func goldenCertificate(t *testing.T) certificate.Certificate {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "certificate.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c certificate.Certificate
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	if err := certificate.VerifyDigest(c); err != nil {
		t.Fatal(err)
	}
	return c
}

// The signed payload's bytes are a contract with every verifier (openssl
// included): this golden file pins them.
func TestStatementPayloadGolden(t *testing.T) {
	st := certificate.Statement{Algorithm: certificate.SignatureAlgorithm, KeyID: "local:sha256:" + strings.Repeat("0f", 32), Certificate: goldenCertificate(t)}
	got, err := st.Payload()
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "statement.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("payload differs from %s:\n got %s\nwant %s", golden, got, want)
	}
	if !bytes.HasPrefix(got, []byte(`{"algorithm":"ECDSA_SHA_256","keyId":"local:sha256:0f0f`)) || bytes.HasSuffix(got, []byte("\n")) {
		t.Errorf("payload %s: want compact JSON starting with algorithm and keyId, no trailing newline", got)
	}
}

func TestSignedOpen(t *testing.T) {
	c := goldenCertificate(t)
	st := certificate.Statement{Algorithm: certificate.SignatureAlgorithm, KeyID: "arn:aws:kms:us-east-1:111122223333:key/k", Certificate: c}
	s, err := certificate.NewSigned(st, []byte{0x30, 0x00})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Open()
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	if got.Digest != c.Digest || len(got.Partners) != len(c.Partners) {
		t.Errorf("Open = %+v, want the certificate", got)
	}
	// An indented readable copy is the same certificate.
	var indented bytes.Buffer
	if err := json.Indent(&indented, s.Certificate, "", "\t"); err != nil {
		t.Fatal(err)
	}
	s2 := s
	s2.Certificate = indented.Bytes()
	if _, err := s2.Open(); err != nil {
		t.Errorf("Open(indented certificate) = %v", err)
	}

	tests := []struct {
		name   string
		change func(*certificate.Signed)
		want   error
	}{
		{"readable certificate", func(s *certificate.Signed) {
			s.Certificate = bytes.Replace(s.Certificate, []byte(`"AN-1"`), []byte(`"AN-2"`), 1)
		}, certificate.ErrPayloadMismatch},
		{"readable key ID", func(s *certificate.Signed) { s.Signature.KeyID += "x" }, certificate.ErrPayloadMismatch},
		{"readable algorithm", func(s *certificate.Signed) { s.Signature.Algorithm = "ECDSA_SHA_512" }, certificate.ErrPayloadMismatch},
		{"readable certificate not JSON", func(s *certificate.Signed) { s.Certificate = []byte("{") }, certificate.ErrPayloadMismatch},
		{"payload empty", func(s *certificate.Signed) { s.Payload = nil }, certificate.ErrPayload},
		{"payload indented", func(s *certificate.Signed) {
			var b bytes.Buffer
			_ = json.Indent(&b, s.Payload, "", " ")
			s.Payload = b.Bytes()
		}, certificate.ErrPayload},
		{"payload with unknown field", func(s *certificate.Signed) {
			s.Payload = bytes.Replace(s.Payload, []byte(`{"algorithm"`), []byte(`{"x":1,"algorithm"`), 1)
		}, certificate.ErrPayload},
		{"payload with trailing newline", func(s *certificate.Signed) { s.Payload = append(s.Payload, '\n') }, certificate.ErrPayload},
		{"payload not escaped as Marshal does", func(s *certificate.Signed) {
			s.Payload = bytes.Replace(s.Payload, []byte(`"AN-1"`), []byte(`"AN\u002d1"`), 1)
		}, certificate.ErrPayload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s2 := s
			s2.Certificate = bytes.Clone(s.Certificate)
			s2.Payload = bytes.Clone(s.Payload)
			tt.change(&s2)
			if _, err := s2.Open(); !errors.Is(err, tt.want) {
				t.Errorf("Open = %v, want %v", err, tt.want)
			}
		})
	}
	// A changed digest, in payload and copy alike: ErrDigest.
	c.Partners[0].Receipt = "AN-9"
	bad, err := certificate.NewSigned(certificate.Statement{Algorithm: certificate.SignatureAlgorithm, KeyID: "k", Certificate: c}, []byte{1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Open(); !errors.Is(err, certificate.ErrDigest) {
		t.Errorf("Open(altered certificate) = %v, want ErrDigest", err)
	}
}

func TestSignedFile(t *testing.T) {
	c := goldenCertificate(t)
	c.Partners[0].Receipt = "AN-1 & co" // escaped in the payload, left so in the file
	s, err := certificate.NewSigned(certificate.Statement{Algorithm: certificate.SignatureAlgorithm, KeyID: "k", Certificate: c}, []byte{0x30, 0x01})
	if err != nil {
		t.Fatal(err)
	}
	file, err := s.File()
	if err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, file); err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(compact.Bytes(), want) || !bytes.HasPrefix(file, []byte("{\n  \"certificate\": {\n")) || !bytes.HasSuffix(file, []byte("}\n")) {
		t.Errorf("File() =\n%s\nwant the indented form of %s", file, want)
	}
	if !bytes.Contains(file, []byte(`"AN-1 \u0026 co"`)) {
		t.Errorf("File() does not keep the payload's escaping of &:\n%s", file)
	}
	if got := certificate.AttachmentName("r-1"); got != "deletion-certificate-r-1.json" {
		t.Errorf("AttachmentName = %q", got)
	}
	// The digest no longer matches (receipt changed): Open says so.
	if _, err := s.Open(); !errors.Is(err, certificate.ErrDigest) {
		t.Errorf("Open = %v, want ErrDigest", err)
	}
}
