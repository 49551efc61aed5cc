package partner_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dsrflow/internal/partner"
)

// FuzzParseConfig: the partner configuration (bundled with the functions,
// edited by people) is either accepted whole, valid, or refused with an
// error that does not quote a secret reference's target; never a panic,
// never slow.
func FuzzParseConfig(f *testing.F) {
	example, err := os.ReadFile(filepath.Join("..", "..", "config", "partners.example.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	for _, s := range []string{
		`{}`, `{"partners":[]}`, `{"partners":[{"id":"a"}]}`, `[]`, `null`, ``,
		`{"partners":[{"id":"a","endpoint":"http://x","secretRef":"env:X","identifiers":["email"]}]}`,
		`{"partners":[{"id":"a","endpoint":"https://x.example","secretRef":"env:X","identifiers":["email"],"backupRetention":"-1h"}]}`,
		strings.Repeat(`{"partners":[`, 200),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		start := time.Now()
		cfg, err := partner.ParseConfig(bytes.NewReader(b))
		if d := time.Since(start); d > time.Second {
			t.Errorf("ParseConfig took %s on %d bytes", d, len(b))
		}
		if err != nil {
			return
		}
		if cfg == nil {
			t.Fatal("ParseConfig = nil, nil")
		}
		if err := cfg.Validate(); err != nil {
			t.Errorf("ParseConfig accepted a configuration Validate refuses: %v", err)
		}
	})
}
