package workflow

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dsrflow/internal/secretstore"
)

// TestFromEnvReadsSecretsAtRunTime: a task function's environment names
// its secrets; FromEnv reads them when the handlers are first wanted (here
// from SECRETS_DIR; in AWS from Secrets Manager through secretstore's
// cache) and builds the handlers again when one changed, without a
// redeploy; a missing secret fails that invocation, not the function.
func TestFromEnvReadsSecretsAtRunTime(t *testing.T) {
	dir := t.TempDir()
	write := func(name, value string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(value), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	code, _ := json.Marshal(map[string]string{"current": codeSecret})
	write("code", string(code))
	for k, v := range map[string]string{
		"TABLE_NAME": "requests", "MAIL_FROM": "privacy@example.cn", "SECRETS_DIR": dir,
		"VERIFICATION_CODE_SECRET_ID": "code", "SUBJECT_KEY_SECRET_ID": "subject", "STATUS_TOKEN_SECRET_ID": "status",
		"AWS_REGION": "cn-north-1", "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
		"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_PROFILE": "",
	} {
		t.Setenv(k, v)
	}
	lazy, err := FromEnv(slog.New(slog.DiscardHandler), FunctionDeps{})
	if err != nil {
		t.Fatalf("FromEnv: %v (the environment names the secrets; their values are read later)", err)
	}
	if _, err := lazy.Get(t.Context()); err == nil || !strings.Contains(err.Error(), "SUBJECT_KEY_SECRET_ID") {
		t.Fatalf("Get with the subject key secret missing = %v, want an error naming SUBJECT_KEY_SECRET_ID", err)
	}
	write("subject", subjectSecret)
	write("status", statusSecret)
	first, err := lazy.Get(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if string(first.subjectSecret) != subjectSecret {
		t.Error("the handlers do not use the subject key secret read")
	}
	if again, _ := lazy.Get(t.Context()); again != first {
		t.Error("unchanged secrets: the handlers were built again")
	}
	rotated, _ := json.Marshal(map[string]string{"current": strings.Repeat("n", 40), "previous": codeSecret})
	write("code", string(rotated))
	second, err := lazy.Get(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if second == first {
		t.Fatal("a rotated code secret: the handlers were not built again")
	}
	if got := second.verification; got == nil {
		t.Fatal("no verification service")
	}
}

// TestConfigWithSecrets: only the secrets a function names are read;
// values given directly stay; errors name the variable, not the value.
func TestConfigWithSecrets(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "subject"), []byte(subjectSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	c := Config{SecretsDir: dir, SubjectKeySecretID: "subject", StatusTokenSecret: statusSecret}
	got, err := c.WithSecrets(t.Context(), secretsDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	if got.SubjectKeySecret != subjectSecret || got.StatusTokenSecret != statusSecret || got.CodeSecret != "" {
		t.Errorf("WithSecrets = subject %q, status %q, code %q", got.SubjectKeySecret, got.StatusTokenSecret, got.CodeSecret)
	}
	c.CodeSecretID = "missing"
	if _, err := c.WithSecrets(t.Context(), secretsDir(dir)); err == nil || !strings.Contains(err.Error(), "VERIFICATION_CODE_SECRET_ID") {
		t.Errorf("missing code secret: %v", err)
	}
}

func secretsDir(dir string) secretstore.Dir { return secretstore.Dir{Path: dir} }
