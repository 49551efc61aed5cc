package console

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/principal"
)

func TestLoadEnv(t *testing.T) {
	root, err := dynamotest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	full := map[string]string{
		"DSR_TABLE": "dsrflow-requests", "STATE_MACHINE_ARN": "arn:aws-cn:states:cn-north-1:123456789012:stateMachine:dsrflow-requests",
		"SUBJECT_KEY_SECRET": subjectSecret, "JURISDICTION": "gdpr", "MAIL_FROM": "privacy@example.cn", "OUTBOX_DIR": t.TempDir(),
		"PARTNERS_CONFIG": filepath.Join(root, "config", "partners.example.json"), "PUBLIC_BASE_URL": "https://privacy.example.cn",
	}
	e, err := LoadEnv(full)
	if err != nil {
		t.Fatal(err)
	}
	if e.TableName != "dsrflow-requests" || e.AttachmentPrefix != "attachments/" || e.DocumentLinkTTL.Minutes() != 5 {
		t.Errorf("env %+v", e)
	}
	awsCfg := aws.Config{Region: "cn-north-1", Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")}
	h, err := FromEnv(t.Context(), e, awsCfg, principal.Principal{ARN: "local:li.na"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if h.operations == nil || h.mail == nil || h.deadline.Allowance().MaxExtension != 2 || h.team.Email != "privacy@example.cn" {
		t.Errorf("console from env: operations %v, mail %v, allowance %+v", h.operations != nil, h.mail != nil, h.deadline.Allowance())
	}
	tests := []struct {
		name string
		edit func(map[string]string)
		want string
	}{
		{"no table", func(m map[string]string) { delete(m, "DSR_TABLE") }, "TABLE_NAME"},
		{"no secret", func(m map[string]string) { delete(m, "SUBJECT_KEY_SECRET") }, "SUBJECT_KEY_SECRET_ID"},
		{"no workflow", func(m map[string]string) { delete(m, "STATE_MACHINE_ARN") }, "STATE_MACHINE_ARN"},
		{"unknown jurisdiction", func(m map[string]string) { m["JURISDICTION"] = "EU" }, "JURISDICTION"},
		{"bad base URL", func(m map[string]string) { m["PUBLIC_BASE_URL"] = "ftp://x" }, "PUBLIC_BASE_URL"},
		{"long links", func(m map[string]string) { m["DOCUMENT_LINK_TTL"] = "1h" }, "DOCUMENT_LINK_TTL"},
	}
	for _, tt := range tests {
		m := map[string]string{}
		for k, v := range full {
			m[k] = v
		}
		tt.edit(m)
		_, err := LoadEnv(m)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error naming %s", tt.name, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), subjectSecret) {
			t.Errorf("%s: the error quotes the secret", tt.name)
		}
	}
}

// TestFromEnvReadsNamedSecrets: against AWS the console reads the subject
// key from the secret SUBJECT_KEY_SECRET_ID names (here SECRETS_DIR's
// files, as on the local stack), and a missing or short one stops it
// without quoting the value.
func TestFromEnvReadsNamedSecrets(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "SubjectKeySecret"), []byte(subjectSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Short"), []byte("short-secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	awsCfg := aws.Config{Region: "cn-north-1", Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")}
	tests := []struct {
		name, id, want string
	}{
		{"named secret", "SubjectKeySecret", ""},
		{"missing secret", "Nowhere", "SUBJECT_KEY_SECRET_ID"},
		{"short secret", "Short", "shorter than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := LoadEnv(map[string]string{
				"TABLE_NAME": "dsrflow-requests", "STATE_MACHINE_ARN": "arn:aws-cn:states:cn-north-1:123456789012:stateMachine:dsrflow-requests",
				"SUBJECT_KEY_SECRET_ID": tt.id, "SECRETS_DIR": dir,
			})
			if err != nil {
				t.Fatal(err)
			}
			h, err := FromEnv(t.Context(), e, awsCfg, principal.Principal{ARN: "local:li.na"}, nil)
			if tt.want == "" {
				if err != nil || string(h.secret) != subjectSecret {
					t.Fatalf("FromEnv: %v; the console's subject key is not the named secret", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "short-secret") {
				t.Errorf("FromEnv: %v, want an error with %q that does not quote the value", err, tt.want)
			}
		})
	}
}
