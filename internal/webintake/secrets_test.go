package webintake

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"dsrflow/internal/secretstore"
)

// TestNewAWSReadsSecretsAtRunTime: the function's environment names its
// secrets; NewAWS reads them on every request (here from SECRETS_DIR, in
// AWS from Secrets Manager through secretstore's cache), builds the
// handler from them, and builds it again when one changed: a missing or
// broken secret answers the error page, a repaired one the form, without
// a new handler.
func TestNewAWSReadsSecretsAtRunTime(t *testing.T) {
	t.Setenv("AWS_REGION", "cn-north-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "local")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	dir := t.TempDir()
	write := func(name, value string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(value), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	code, _ := json.Marshal(map[string]string{"current": strings.Repeat("c", 32)})
	write("subject", strings.Repeat("s", 32))
	write("code", string(code))
	cfg := Config{
		TableName: "requests", StateMachineArn: "arn:aws:states:cn-north-1:123456789012:stateMachine:x",
		SubjectKeySecretID: "subject", StatusTokenSecretID: "status", VerificationCodeSecretID: "code",
		SecretsDir: dir, MailFrom: flowMailFrom, OutboxDir: t.TempDir(), MaxOpenPerSubject: 3,
	}
	if err := cfg.Check(); err != nil {
		t.Fatalf("Check: %v (a configuration naming its secrets needs no values)", err)
	}
	h := NewAWS(cfg, slog.New(slog.DiscardHandler))
	get := func() int {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
		return w.Code
	}
	steps := []struct {
		name   string
		status string // the status token secret's file; "" removes it
		want   int
	}{
		{"missing secret", "", http.StatusInternalServerError},
		{"secret created", strings.Repeat("t", 32), http.StatusOK},
		{"secret rotated", strings.Repeat("u", 40), http.StatusOK},
		{"secret broken", "short", http.StatusInternalServerError},
		{"secret repaired", strings.Repeat("v", 32), http.StatusOK},
	}
	for _, s := range steps {
		if s.status == "" {
			_ = os.Remove(filepath.Join(dir, "status"))
		} else {
			write("status", s.status)
		}
		if got := get(); got != s.want {
			t.Errorf("%s: GET / = %d, want %d", s.name, got, s.want)
		}
	}
}

// TestWithSecrets: the values of the named secrets, the previous code
// secret after a rotation, and errors that name the variable.
func TestWithSecrets(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"subject": strings.Repeat("s", 32), "status": strings.Repeat("t", 32),
		"code": `{"current":"` + strings.Repeat("c", 32) + `","previous":"` + strings.Repeat("p", 32) + `"}`,
	}
	for k, v := range files {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := Config{SubjectKeySecretID: "subject", StatusTokenSecretID: "status", VerificationCodeSecretID: "code"}
	got, err := cfg.WithSecrets(t.Context(), secretstoreDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	if got.SubjectKeySecret != files["subject"] || got.StatusTokenSecret != files["status"] ||
		got.VerificationCodeSecret != strings.Repeat("c", 32) || got.PreviousVerificationCodeSecret != strings.Repeat("p", 32) {
		t.Errorf("WithSecrets = %+v", got)
	}
	cfg.StatusTokenSecretID = "nope"
	if _, err := cfg.WithSecrets(t.Context(), secretstoreDir(dir)); err == nil || !strings.Contains(err.Error(), "STATUS_TOKEN_SECRET_ID") {
		t.Errorf("missing secret: %v, want an error naming STATUS_TOKEN_SECRET_ID", err)
	}
}

func secretstoreDir(dir string) secretstore.Dir { return secretstore.Dir{Path: dir} }

// TestPrime: Prime reads the secrets from Secrets Manager and builds the
// privacy center before any request, so the first person's request finds
// it ready and reads nothing more (the secrets are cached).
func TestPrime(t *testing.T) {
	values := map[string]string{
		"subject": strings.Repeat("s", 32), "status": strings.Repeat("t", 32),
		"code": `{"current":"` + strings.Repeat("c", 32) + `"}`,
	}
	var mu sync.Mutex
	var read []string
	sm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ SecretId string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		mu.Lock()
		read = append(read, in.SecretId)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_ = json.NewEncoder(w).Encode(map[string]string{"Name": in.SecretId, "SecretString": values[in.SecretId]})
	}))
	defer sm.Close()
	for k, v := range map[string]string{
		"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_SESSION_TOKEN": "",
		"AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_SECRETS_MANAGER": sm.URL, "AWS_MAX_ATTEMPTS": "1", "AWS_CA_BUNDLE": "",
	} {
		t.Setenv(k, v)
	}
	cfg := Config{
		TableName: "requests", StateMachineArn: "arn:aws:states:us-east-1:123456789012:stateMachine:x",
		SubjectKeySecretID: "subject", StatusTokenSecretID: "status", VerificationCodeSecretID: "code",
		MailFrom: flowMailFrom, OutboxDir: t.TempDir(), MaxOpenPerSubject: 3,
	}
	h := NewAWS(cfg, slog.New(slog.DiscardHandler))
	h.Prime(t.Context())
	mu.Lock()
	primed := slices.Sorted(slices.Values(read))
	mu.Unlock()
	if !slices.Equal(primed, []string{"code", "status", "subject"}) {
		t.Fatalf("Prime read %v, want the three secrets", primed)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("GET / after Prime = %d", w.Code)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(read) != 3 {
		t.Errorf("the first request read %d more secrets, want none (cached)", len(read)-3)
	}
}
