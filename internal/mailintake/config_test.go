package mailintake_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dsr"
	"dsrflow/internal/intake"
	"dsrflow/internal/intake/intaketest"
	"dsrflow/internal/mailintake"
	"dsrflow/internal/notify"
	"dsrflow/internal/store"
)

func TestLoadConfig(t *testing.T) {
	base := map[string]string{
		"TABLE_NAME":            "requests",
		"STATE_MACHINE_ARN":     intaketest.StateMachineArn,
		"SUBJECT_KEY_SECRET_ID": "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:subject-AbCdEf",
	}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for a, b := range base {
			m[a] = b
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "<unset>" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	defaults := mailintake.Config{
		TableName: "requests", StateMachineArn: intaketest.StateMachineArn, SubjectKeySecretID: base["SUBJECT_KEY_SECRET_ID"],
		MaxOpenPerSubject: 3, AttachmentPrefix: "attachments/", MailFromName: "隐私团队 Privacy Team", AckWindow: 24 * time.Hour,
		MessageBudget: notify.BudgetLimits{PerMailbox: 5, MailboxWindow: 24 * time.Hour, Global: 500, GlobalWindow: time.Hour},
	}
	tests := []struct {
		name    string
		env     map[string]string
		want    mailintake.Config
		wantErr string
	}{
		{name: "defaults", env: base, want: defaults},
		{name: "everything set", env: with(
			"MAX_OPEN_PER_SUBJECT", "5", "ATTACHMENT_PREFIX", "docs/",
			"TRUSTED_AUTHSERV_IDS", "amazonses.com,mx.singer.example.cn", "S3_USE_PATH_STYLE", "true",
			"MAIL_FROM", mailFrom, "MAIL_FROM_NAME", "Privacy", "PRIVACY_CONTACT", "dpo@singer.example.cn",
			"MAIL_ACK_WINDOW", "72h", "OUTBOX_DIR", "/tmp/outbox", "SES_CONFIGURATION_SET", "dsrflow",
		), want: mailintake.Config{
			TableName: "requests", StateMachineArn: intaketest.StateMachineArn, SubjectKeySecretID: base["SUBJECT_KEY_SECRET_ID"],
			MaxOpenPerSubject: 5, AttachmentPrefix: "docs/",
			TrustedAuthServIDs: []string{"amazonses.com", "mx.singer.example.cn"}, S3UsePathStyle: true,
			MailFrom: mailFrom, MailFromName: "Privacy", PrivacyContact: "dpo@singer.example.cn",
			AckWindow: 72 * time.Hour, OutboxDir: "/tmp/outbox", Transport: notify.Transport{SESConfigurationSet: "dsrflow"},
			MessageBudget: defaults.MessageBudget,
		}},
		{name: "no acknowledgements", env: with("MAIL_FROM", mailFrom, "MAIL_ACK_WINDOW", "0s"), want: func() mailintake.Config {
			c := defaults
			c.MailFrom, c.AckWindow = mailFrom, 0
			return c
		}()},
		{name: "no table", env: with("TABLE_NAME", "<unset>"), wantErr: "TABLE_NAME"},
		{name: "empty state machine", env: with("STATE_MACHINE_ARN", ""), wantErr: "STATE_MACHINE_ARN"},
		{name: "no secret named", env: with("SUBJECT_KEY_SECRET_ID", ""), wantErr: "SUBJECT_KEY_SECRET_ID"},
		{name: "negative cap", env: with("MAX_OPEN_PER_SUBJECT", "-1"), wantErr: "MAX_OPEN_PER_SUBJECT"},
		{name: "cap not a number", env: with("MAX_OPEN_PER_SUBJECT", "three"), wantErr: "MAX_OPEN_PER_SUBJECT"},
		{name: "sender not an address", env: with("MAIL_FROM", "privacy team"), wantErr: "MAIL_FROM"},
		{name: "contact not an address", env: with("PRIVACY_CONTACT", "dpo"), wantErr: "PRIVACY_CONTACT"},
		{name: "window not a duration", env: with("MAIL_ACK_WINDOW", "a day"), wantErr: "MAIL_ACK_WINDOW"},
		{name: "negative window", env: with("MAIL_ACK_WINDOW", "-1h"), wantErr: "MAIL_ACK_WINDOW"},
		{name: "SMTP credentials without a relay", env: with("SMTP_USERNAME", "u", "SMTP_PASSWORD_SECRET_ID", "p"), wantErr: "SMTP_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mailintake.LoadConfig(tt.env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("LoadConfig error = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadConfig: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("LoadConfig = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestNewNeedsASender: acknowledgements configured with nowhere to send
// them is a wiring mistake New reports.
func TestNewNeedsASender(t *testing.T) {
	table := emu.NewTable(t)
	s3c, _ := fakeS3(t)
	cfg := baseConfig(t, table)
	cfg.OutboxDir = ""
	st := store.New(store.Config{Table: table}, store.Deps{DB: emu.Client()})
	_, err := mailintake.New(cfg, mailintake.Deps{Store: st, S3: s3c, SFN: intaketest.NewSFN(t).Client()})
	if err == nil || !strings.Contains(err.Error(), "MAIL_FROM") {
		t.Errorf("New without a sender = %v, want an error naming MAIL_FROM", err)
	}
}

// TestLambdaWiring runs the function's handler as main.go builds it: config
// from the environment, AWS clients from the default chain pointed at the
// local endpoints through AWS_ENDPOINT_URL_<SERVICE> (docs/ARCHITECTURE.md, rule 4).
func TestLambdaWiring(t *testing.T) {
	table := emu.NewTable(t)
	_, s3URL := fakeS3(t)
	sfnFake := intaketest.NewSFN(t)
	outbox := t.TempDir()
	// The subject key is read at run time from the secret the environment
	// names (here a file of SECRETS_DIR, as the local stack's tools do).
	secrets := t.TempDir()
	if err := os.WriteFile(filepath.Join(secrets, "SubjectKeySecret"), []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"TABLE_NAME": table, "STATE_MACHINE_ARN": intaketest.StateMachineArn,
		"SUBJECT_KEY_SECRET_ID": "SubjectKeySecret", "SECRETS_DIR": secrets, "S3_USE_PATH_STYLE": "true",
		"MAIL_FROM": mailFrom, "OUTBOX_DIR": outbox, "TRUSTED_AUTHSERV_IDS": sesID,
		"AWS_ENDPOINT_URL_DYNAMODB": emu.Endpoint, "AWS_ENDPOINT_URL_S3": s3URL,
		"AWS_ENDPOINT_URL_SFN": sfnFake.Server.URL,
		"AWS_REGION":           dynamotest.Region, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
		"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_PROFILE": "",
	} {
		t.Setenv(k, v)
	}
	cfg, err := mailintake.LoadConfig(nil)
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	handler := mailintake.Lambda(cfg, slog.New(slog.DiscardHandler))

	f := &fixture{s3: s3ClientFor(s3URL), outbox: outbox}
	ev := readEvent(t, "intake-mail.json")
	key := ev.Records[0].S3.Object.URLDecodedKey
	raw := passed(t, "ses_pass_consent.eml")
	f.put(t, key, raw)
	if err := handler(context.Background(), ev); err != nil {
		t.Fatalf("handler: %v", err)
	}
	id := intake.RequestID(dsr.ChannelMail, dedupeKey(raw, key))
	st := store.New(store.Config{Table: table}, store.Deps{DB: emu.Client()})
	r, err := st.GetRequest(context.Background(), id)
	if err != nil {
		t.Fatalf("GetRequest: %v", err)
	}
	if r.Kind != dsr.KindConsentWithdrawal || !r.ExecutionStarted {
		t.Errorf("request = %s, started %v; want consent_withdrawal, started", r.Kind, r.ExecutionStarted)
	}
	if calls := sfnFake.Calls(); len(calls) != 1 || calls[0].Name != id {
		t.Errorf("StartExecution calls = %+v, want one named %s", calls, id)
	}

	// A question from an authenticated sender: triaged and acknowledged
	// through the outbox the environment names.
	question := testMail{From: "heidi@example.com", Subject: "A question", MessageID: "wq@example.com", DMARC: "pass", Body: "Is my data safe?\n"}.bytes()
	ev = withKey(t, "intake-mail.json", "inbox/question", len(question))
	f.put(t, "inbox/question", question)
	if err := handler(context.Background(), ev); err != nil {
		t.Fatalf("handler: %v", err)
	}
	if to := f.ackRecipients(t); len(to) != 1 || to[0] != "heidi@example.com" {
		t.Errorf("acknowledgements to %v, want one to the sender", to)
	}
}
