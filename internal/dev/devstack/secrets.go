package devstack

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
)

// Secrets every local function may need, beside the partners' signing keys.
var baseSecrets = []string{"SUBJECT_KEY_SECRET", "STATUS_TOKEN_SECRET", "VERIFICATION_CODE_SECRET"}

// loadSecrets reads KEY=VALUE lines from path, generates any of names that
// is missing (32 random bytes, hex) and writes the file back (mode 0600).
func loadSecrets(path string, names []string) (map[string]string, error) {
	out := map[string]string{}
	f, err := os.Open(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("read secrets: %w", err)
	default:
		sc := bufio.NewScanner(f)
		line := 0
		for sc.Scan() {
			line++
			text := strings.TrimSpace(sc.Text())
			if text == "" || strings.HasPrefix(text, "#") {
				continue
			}
			k, v, ok := strings.Cut(text, "=")
			if !ok || k == "" {
				f.Close()
				return nil, fmt.Errorf("%s line %d: want KEY=VALUE", path, line)
			}
			out[k] = v
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("read secrets: %w", err)
		}
	}
	changed := false
	for _, n := range names {
		if out[n] != "" {
			continue
		}
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		out[n] = hex.EncodeToString(b)
		changed = true
	}
	if !changed {
		return out, nil
	}
	keys := make([]string, 0, len(out))
	for k := range out {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# Secrets of the local stack, generated once. Delete this file to get new ones.\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, out[k])
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return nil, fmt.Errorf("write secrets: %w", err)
	}
	return out, nil
}
