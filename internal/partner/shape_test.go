package partner

import (
	"regexp"
	"strings"
	"testing"
)

// TestShapeChecks holds the hand-written checks to the regular expressions
// they replaced, on edge cases and on every single byte in each position.
func TestShapeChecks(t *testing.T) {
	checks := []struct {
		name string
		fn   func(string) bool
		re   *regexp.Regexp
	}{
		{"partner ID", validID, regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)},
		{"secret reference", validSecretRef, regexp.MustCompile(`^[a-z][a-z0-9]*:.+$`)},
	}
	inputs := []string{"", "a", "crm", "crm-1_x", "-crm", "_crm", "9lives", strings.Repeat("a", 63), strings.Repeat("a", 64), "Crm",
		"env:NAME", "env:", ":x", "e:x", "e1:x", "1e:x", "env:a:b", "env:a\nb", "env:\n", "env:\r", "e-v:x", "env:名字", "env:\xff"}
	for c := 0; c < 256; c++ {
		b := string([]byte{byte(c)})
		inputs = append(inputs, b, "a"+b, b+"a", "e"+b+":x", "env:"+b)
	}
	for _, c := range checks {
		for _, in := range inputs {
			if got, want := c.fn(in), c.re.MatchString(in); got != want {
				t.Errorf("%s(%q) = %v, want %v", c.name, in, got, want)
			}
		}
	}
}
