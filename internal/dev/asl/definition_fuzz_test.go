package asl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzParse: an ASL definition (what CreateStateMachine takes from a
// caller of the local Step Functions API) is parsed or refused, never a
// panic, never slow.
func FuzzParse(f *testing.F) {
	def, err := os.ReadFile(filepath.Join("..", "..", "..", "statemachines", "dsr.asl.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(def)
	for _, s := range []string{
		`{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}`,
		`{"StartAt":"A","States":{"A":{"Type":"Choice","Choices":[{"Variable":"$.x","NumericEquals":1,"Next":"A"}],"Default":"A"}}}`,
		`{"StartAt":"M","States":{"M":{"Type":"Map","ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},"End":true}}}`,
		`{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":-1,"End":true}}}`,
		`{}`, `[]`, `null`, ``,
		strings.Repeat(`{"StartAt":"A","States":{"A":{"Type":"Parallel","Branches":[`, 100),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		start := time.Now()
		sm, err := Parse(b)
		if d := time.Since(start); d > time.Second {
			t.Errorf("Parse took %s on %d bytes", d, len(b))
		}
		if err == nil && sm == nil {
			t.Fatal("Parse = nil, nil")
		}
	})
}
