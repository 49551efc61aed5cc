package mailintake_test

import (
	"context"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dsr"
	"dsrflow/internal/intake"
	"dsrflow/internal/intake/intaketest"
	"dsrflow/internal/mailintake"
	"dsrflow/internal/store"
)

func TestLoadConfig(t *testing.T) {
	base := map[string]string{
		"TABLE_NAME":         "requests",
		"STATE_MACHINE_ARN":  intaketest.StateMachineArn,
		"SUBJECT_KEY_SECRET": secret,
	}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range base {
			m[a] = b
		}
		if v == "<unset>" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name    string
		env     map[string]string
		want    mailintake.Config
		wantErr string
	}{
		{name: "defaults", env: base, want: mailintake.Config{
			TableName: "requests", StateMachineArn: intaketest.StateMachineArn, SubjectKeySecret: secret,
			MaxOpenPerSubject: 3, AttachmentPrefix: "attachments/",
		}},
		{name: "everything set", env: func() map[string]string {
			m := with("MAX_OPEN_PER_SUBJECT", "5")
			m["ATTACHMENT_PREFIX"] = "docs/"
			m["TRUSTED_AUTHSERV_IDS"] = "amazonses.com,mx.singer.example.cn"
			m["S3_USE_PATH_STYLE"] = "true"
			return m
		}(), want: mailintake.Config{
			TableName: "requests", StateMachineArn: intaketest.StateMachineArn, SubjectKeySecret: secret,
			MaxOpenPerSubject: 5, AttachmentPrefix: "docs/",
			TrustedAuthServIDs: []string{"amazonses.com", "mx.singer.example.cn"}, S3UsePathStyle: true,
		}},
		{name: "no table", env: with("TABLE_NAME", "<unset>"), wantErr: "TABLE_NAME"},
		{name: "empty state machine", env: with("STATE_MACHINE_ARN", ""), wantErr: "STATE_MACHINE_ARN"},
		{name: "short secret", env: with("SUBJECT_KEY_SECRET", "short"), wantErr: "SUBJECT_KEY_SECRET"},
		{name: "negative cap", env: with("MAX_OPEN_PER_SUBJECT", "-1"), wantErr: "MAX_OPEN_PER_SUBJECT"},
		{name: "cap not a number", env: with("MAX_OPEN_PER_SUBJECT", "three"), wantErr: "MAX_OPEN_PER_SUBJECT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mailintake.LoadConfig(tt.env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("LoadConfig error = %v, want one naming %s", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "short") && tt.name == "short secret" {
					t.Errorf("error quotes the secret: %v", err)
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

// TestLambdaWiring runs the function's handler as main.go builds it: config
// from the environment, AWS clients from the default chain pointed at the
// local endpoints through AWS_ENDPOINT_URL_<SERVICE> (docs/ARCHITECTURE.md, rule 4).
func TestLambdaWiring(t *testing.T) {
	table := emu.NewTable(t)
	_, s3URL := fakeS3(t)
	sfnFake := intaketest.NewSFN(t)
	for k, v := range map[string]string{
		"TABLE_NAME": table, "STATE_MACHINE_ARN": intaketest.StateMachineArn,
		"SUBJECT_KEY_SECRET": secret, "S3_USE_PATH_STYLE": "true",
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

	f := &fixture{s3: s3ClientFor(s3URL)}
	ev := readEvent(t, "intake-mail.json")
	key := ev.Records[0].S3.Object.URLDecodedKey
	raw := corpus(t, "ses_pass_consent.eml")
	f.put(t, key, raw)

	if err := handler(context.Background(), ev); err != nil {
		t.Fatalf("handler: %v", err)
	}
	id := intake.RequestID(dsr.ChannelMail, dedupeKey(raw, key))
	r, err := store.New(emu.Client(), table).GetRequest(context.Background(), id)
	if err != nil {
		t.Fatalf("GetRequest: %v", err)
	}
	if r.Kind != dsr.KindConsentWithdrawal || !r.ExecutionStarted {
		t.Errorf("request = %s, started %v; want consent_withdrawal, started", r.Kind, r.ExecutionStarted)
	}
	if calls := sfnFake.Calls(); len(calls) != 1 || calls[0].Name != id {
		t.Errorf("StartExecution calls = %+v, want one named %s", calls, id)
	}
}
