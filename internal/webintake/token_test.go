package webintake

import (
	"regexp"
	"strings"
	"testing"
)

// TestTokenShapes checks the hand-written shape checks against the regular
// expressions they replaced, on edge cases and on every single byte.
func TestTokenShapes(t *testing.T) {
	checks := []struct {
		name string
		fn   func(string) bool
		re   *regexp.Regexp
	}{
		{"nonce", validNonce, regexp.MustCompile(`^[A-Za-z0-9_-]{54}$`)},
		{"request ID", validRequestID, regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)},
	}
	n := newEnv(t, 3).h.newNonce()
	inputs := []string{"", "r-abc", n, n + "A", n[1:], strings.Repeat("a", 64), strings.Repeat("a", 65),
		strings.Repeat("~", 255), strings.Repeat("~", 256), "a b", "a\n", "键", "0f8fad5b-d9cb-469f-a165-70867728950e", "abc=", "a/b"}
	for c := 0; c < 256; c++ {
		inputs = append(inputs, string([]byte{byte(c)}), strings.Repeat("A", 53)+string([]byte{byte(c)}))
	}
	for _, c := range checks {
		for _, in := range inputs {
			if got, want := c.fn(in), c.re.MatchString(in); got != want {
				t.Errorf("%s(%q) = %v, want %v", c.name, in, got, want)
			}
		}
	}
}
