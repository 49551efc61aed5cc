package console

import (
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
	h, err := FromEnv(e, awsCfg, principal.Principal{ARN: "local:li.na"}, nil)
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
		{"no secret", func(m map[string]string) { delete(m, "SUBJECT_KEY_SECRET") }, "SUBJECT_KEY_SECRET"},
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
