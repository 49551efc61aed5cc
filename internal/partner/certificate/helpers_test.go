package certificate_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"

	"dsrflow/internal/partner/certificate"
)

// certificateDigest recomputes a digest as documented: SHA-256 of the JSON
// without the digest, HTML not escaped, with a trailing newline (json.Encoder).
func certificateDigest(t *testing.T, c certificate.Certificate) string {
	t.Helper()
	c.Digest = ""
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return hex.EncodeToString(sum[:])
}
