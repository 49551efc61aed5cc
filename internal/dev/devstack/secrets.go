package devstack

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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

// secretsDir is the folder of the local copies of the template's Secrets
// Manager secrets, under the stack's folder.
const secretsDir = "secrets"

// Local copies of the template's Secrets Manager secrets (template.yaml,
// AWS::SecretsManager::Secret), one file each under <dir>/secrets, named by
// logical ID: what a function's *_SECRET_ID and PARTNER_SECRETS_ID resolve
// to locally. secretstore.Dir reads them as secretstore.Manager reads
// Secrets Manager in AWS. SmtpPasswordSecret has none: the local stack
// writes mail to its outbox.
const (
	subjectKeySecretFile = "SubjectKeySecret"
	statusTokenFile      = "StatusTokenSecret"
	codeSecretFile       = "VerificationCodeSecret"
	partnerSecretsFile   = "PartnerSecrets"
)

// writeSecretFiles writes the local copies of the template's secrets into
// dir from secrets (secrets.env, by variable name; partners are the
// partner secrets' names), in the shapes the template gives them: the code
// secret a JSON object {"current": ...}, the partners' one JSON object.
func writeSecretFiles(dir string, secrets map[string]string, partners []string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write secrets: %w", err)
	}
	code, err := json.Marshal(map[string]string{"current": secrets["VERIFICATION_CODE_SECRET"]})
	if err != nil {
		return err
	}
	ps := map[string]string{}
	for _, n := range partners {
		ps[n] = secrets[n]
	}
	partnerJSON, err := json.Marshal(ps)
	if err != nil {
		return err
	}
	files := map[string][]byte{
		subjectKeySecretFile: []byte(secrets["SUBJECT_KEY_SECRET"]),
		statusTokenFile:      []byte(secrets["STATUS_TOKEN_SECRET"]),
		codeSecretFile:       code,
		partnerSecretsFile:   partnerJSON,
	}
	for name, v := range files {
		if err := os.WriteFile(filepath.Join(dir, name), v, 0o600); err != nil {
			return fmt.Errorf("write secrets: %w", err)
		}
	}
	return nil
}
