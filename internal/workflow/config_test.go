package workflow

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/notify"
	"dsrflow/internal/notify/sesmail"
)

func TestConfigFromEnv(t *testing.T) {
	base := map[string]string{
		"TABLE_NAME":               "dsr-requests",
		"VERIFICATION_CODE_SECRET": strings.Repeat("c", 32),
		"MAIL_FROM":                "privacy@example.cn",
	}
	tests := []struct {
		name    string
		set     map[string]string
		wantErr string
	}{
		{name: "minimal"},
		{name: "short code secret", set: map[string]string{"VERIFICATION_CODE_SECRET": "short"}, wantErr: "VERIFICATION_CODE_SECRET must be at least 32 bytes"},
		{name: "short status secret", set: map[string]string{"STATUS_TOKEN_SECRET": "short"}, wantErr: "STATUS_TOKEN_SECRET must be at least 32 bytes"},
		{name: "bad base URL", set: map[string]string{"PUBLIC_BASE_URL": "privacy.example.cn"}, wantErr: "PUBLIC_BASE_URL"},
		{name: "bad duration", set: map[string]string{"BACKUP_ROTATION": "five weeks"}, wantErr: "BACKUP_ROTATION: not a valid time.Duration"},
		{name: "zero repeat limit", set: map[string]string{"REPEAT_LIMIT": "0"}, wantErr: "REPEAT_LIMIT must be at least 1"},
		{name: "bad retention", set: map[string]string{"RETENTION_JSON": `[{"kinds":["erasure"],"what":{"en":"x"}}]`}, wantErr: "RETENTION_JSON"},
		{name: "missing table", set: map[string]string{"TABLE_NAME": ""}, wantErr: "TABLE_NAME"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range base {
				t.Setenv(k, v)
			}
			for k, v := range tt.set {
				t.Setenv(k, v)
			}
			c, err := ConfigFromEnv()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ConfigFromEnv: %v", err)
				}
				if c.RepeatLimit != 3 || c.BackupRotation.Hours() != 840 {
					t.Errorf("defaults: repeat %d, rotation %s; want 3, 840h", c.RepeatLimit, c.BackupRotation)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ConfigFromEnv: %v, want an error containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "five weeks") || strings.Contains(err.Error(), "short") && tt.name != "short code secret" && tt.name != "short status secret" {
				t.Errorf("error quotes the value: %v", err)
			}
		})
	}
}

// TestNewUsesOutbox: OUTBOX_DIR selects the outbox for email and SMS; without
// it email goes to Clients.Email and SMS is absent.
func TestNewUsesOutbox(t *testing.T) {
	c := Config{TableName: "t", CodeSecret: strings.Repeat("c", 32), MailFrom: "privacy@example.cn", RepeatLimit: 3, BackupRotation: 1, OutboxDir: t.TempDir()}
	h, err := New(c, Clients{DynamoDB: emu.Client(), SFN: sfn.New(sfn.Options{Region: "cn-north-1"})}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := h.Sender.(*notify.Router)
	if _, ok := r.Email.(*notify.Outbox); !ok {
		t.Errorf("email sender %T, want *notify.Outbox", r.Email)
	}
	if _, ok := r.SMS.(*notify.Outbox); !ok {
		t.Errorf("SMS sender %T, want *notify.Outbox", r.SMS)
	}
	c.OutboxDir = ""
	ses := &sesmail.Sender{}
	h, err = New(c, Clients{DynamoDB: emu.Client(), SFN: sfn.New(sfn.Options{Region: "cn-north-1"}), Email: ses}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r = h.Sender.(*notify.Router)
	if r.Email != ses || r.SMS != nil {
		t.Errorf("senders %T / %v, want Clients.Email and no SMS", r.Email, r.SMS)
	}
}

// TestFromEnvReadsPartnersAtInit: a bad partner configuration file fails
// FromEnv (the function's init), not its first invocation; a good one is
// read then and the AWS clients wait for the first invocation.
func TestFromEnvReadsPartnersAtInit(t *testing.T) {
	t.Setenv("TABLE_NAME", "dsr-requests")
	t.Setenv("VERIFICATION_CODE_SECRET", strings.Repeat("c", 32))
	t.Setenv("MAIL_FROM", "privacy@example.cn")
	bad := filepath.Join(t.TempDir(), "partners.json")
	if err := os.WriteFile(bad, []byte(`{"partners":[{"id":"Not An ID"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{bad, filepath.Join(t.TempDir(), "missing.json")} {
		t.Setenv("PARTNERS_CONFIG", path)
		if _, err := FromEnv(slog.New(slog.DiscardHandler), Deps{}); err == nil || !strings.Contains(err.Error(), "PARTNERS_CONFIG") {
			t.Errorf("FromEnv with PARTNERS_CONFIG=%s: %v, want an error naming PARTNERS_CONFIG", filepath.Base(path), err)
		}
	}
	root, err := dynamotest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PARTNERS_CONFIG", filepath.Join(root, "config", "partners.example.json"))
	if _, err := FromEnv(slog.New(slog.DiscardHandler), Deps{}); err != nil {
		t.Fatalf("FromEnv with the example partners: %v", err)
	}
}
