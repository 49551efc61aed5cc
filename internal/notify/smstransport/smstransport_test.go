package smstransport

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"dsrflow/internal/dsr"
	"dsrflow/internal/envconfig"
	"dsrflow/internal/notify"
	"dsrflow/internal/notify/smsaliyun"
	"dsrflow/internal/notify/smsaws"
)

const allTemplates = "verification_code=SMS_1, verification_locked=SMS_2,expired=SMS_3,refused=SMS_4,duplicate=SMS_5,reply=SMS_6,reply_partial=SMS_7,final_confirmation=SMS_8"

func TestCheck(t *testing.T) {
	aliyun := Config{Provider: "aliyun", AliyunSignName: "示例音乐", AliyunTemplates: allTemplates, AliyunCredentialsSecret: "dsr/aliyun-sms"}
	with := func(c Config, f func(*Config)) Config { f(&c); return c }
	tests := []struct {
		name    string
		c       Config
		wantErr string // a variable name the error must name; empty: no error
	}{
		{"empty is none", Config{}, ""},
		{"none", Config{Provider: "none"}, ""},
		{"aws, nothing optional", Config{Provider: "aws"}, ""},
		{"aws, all", Config{Provider: "aws", SenderName: "示例音乐", OriginationIdentity: "arn:aws:sms-voice:us-east-1:111122223333:pool/pool-1", ConfigurationSet: "dsr"}, ""},
		{"aliyun", aliyun, ""},
		{"aliyun with a local endpoint", with(aliyun, func(c *Config) { c.AliyunEndpoint = "http://127.0.0.1:9000" }), ""},
		{"unknown provider", Config{Provider: "twilio"}, "SMS_PROVIDER"},
		{"none with settings", Config{SenderName: "x"}, "SMS_PROVIDER"},
		{"aws with aliyun settings", Config{Provider: "aws", AliyunSignName: "x"}, "ALIYUN_SMS_"},
		{"aws sender name too long", Config{Provider: "aws", SenderName: strings.Repeat("名", 13)}, "SMS_SENDER_NAME"},
		{"aws sender name with brackets", Config{Provider: "aws", SenderName: "【x】"}, "SMS_SENDER_NAME"},
		{"aws identity with a space", Config{Provider: "aws", OriginationIdentity: "pool 1"}, "SMS_ORIGINATION_IDENTITY"},
		{"aliyun with aws settings", with(aliyun, func(c *Config) { c.ConfigurationSet = "dsr" }), "SMS_CONFIGURATION_SET"},
		{"aliyun without a signature", with(aliyun, func(c *Config) { c.AliyunSignName = "" }), "ALIYUN_SMS_SIGN_NAME"},
		{"aliyun without templates", with(aliyun, func(c *Config) { c.AliyunTemplates = "" }), "ALIYUN_SMS_TEMPLATES"},
		{"aliyun without a secret", with(aliyun, func(c *Config) { c.AliyunCredentialsSecret = "" }), "ALIYUN_SMS_CREDENTIALS_SECRET"},
		{"aliyun over plain http", with(aliyun, func(c *Config) { c.AliyunEndpoint = "http://dysmsapi.aliyuncs.com" }), "ALIYUN_SMS_ENDPOINT"},
		{"aliyun endpoint with a path", with(aliyun, func(c *Config) { c.AliyunEndpoint = "https://dysmsapi.aliyuncs.com/x" }), "ALIYUN_SMS_ENDPOINT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Check()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Check = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Check = %v, want an error naming %s", err, tt.wantErr)
			}
			// Values are never quoted.
			if err != nil {
				for _, v := range []string{tt.c.SenderName, tt.c.OriginationIdentity, tt.c.AliyunSignName, tt.c.AliyunCredentialsSecret, "twilio"} {
					if len(v) > 3 && strings.Contains(err.Error(), v) {
						t.Errorf("Check error %q quotes a value %q", err, v)
					}
				}
			}
		})
	}
}

func TestParseTemplates(t *testing.T) {
	got, err := ParseTemplates(allTemplates)
	if err != nil || len(got) != len(notify.SMSTemplates()) || got["verification_locked"] != "SMS_2" || got["reply"] != "SMS_6" {
		t.Fatalf("ParseTemplates = %v, %v", got, err)
	}
	for name, in := range map[string]string{
		"missing one":        "verification_code=SMS_1,verification_locked=SMS_2,expired=SMS_3,refused=SMS_4,duplicate=SMS_5",
		"unknown template":   allTemplates + ",welcome=SMS_7",
		"twice":              allTemplates + ",reply=SMS_8",
		"no equals sign":     allTemplates + ",SMS_9",
		"bad code":           strings.Replace(allTemplates, "SMS_6", "SMS 6", 1),
		"empty code":         strings.Replace(allTemplates, "SMS_6", "", 1),
		"too long":           allTemplates + strings.Repeat(",", maxTemplatesLen),
		"nothing":            "",
		"code with a quote ": strings.Replace(allTemplates, "SMS_6", `SMS_6"`, 1),
	} {
		if _, err := ParseTemplates(in); err == nil || !strings.Contains(err.Error(), "ALIYUN_SMS_TEMPLATES") {
			t.Errorf("%s: ParseTemplates error = %v, want one naming ALIYUN_SMS_TEMPLATES", name, err)
		}
	}
}

// FuzzParseTemplates: no panic, and what is accepted maps every template
// to a valid code.
func FuzzParseTemplates(f *testing.F) {
	f.Add(allTemplates)
	f.Add("reply=SMS_1")
	f.Add("=,=,")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseTemplates(s)
		if err != nil {
			return
		}
		if len(m) != len(notify.SMSTemplates()) {
			t.Errorf("accepted %d templates", len(m))
		}
		for k, v := range m {
			if !validTemplateCode(v) {
				t.Errorf("accepted code %q for %s", v, k)
			}
		}
	})
}

func TestFromEnvironment(t *testing.T) {
	c, err := envconfig.ParseFrom[Config](map[string]string{
		"SMS_PROVIDER": "aliyun", "ALIYUN_SMS_SIGN_NAME": "示例音乐", "ALIYUN_SMS_TEMPLATES": allTemplates,
		"ALIYUN_SMS_CREDENTIALS_SECRET": "dsr/aliyun-sms", "ALIYUN_SMS_ENDPOINT": "https://dysmsapi.aliyuncs.com",
	})
	if err != nil || c.Check() != nil || !c.Enabled() || c.AliyunSignName != "示例音乐" {
		t.Errorf("from the environment: %+v, %v, check %v", c, err, c.Check())
	}
}

func TestNew(t *testing.T) {
	// New makes no request: the server fails the test if it is called.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Errorf("New made a request: %s %s", r.Method, r.URL) }))
	defer srv.Close()
	awsCfg := func(region string) aws.Config {
		return aws.Config{Region: region, BaseEndpoint: aws.String(srv.URL), Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")}
	}
	creds := smsaliyun.CredentialsFunc(func(context.Context) (smsaliyun.Credentials, error) {
		t.Error("New asked for credentials")
		return smsaliyun.Credentials{}, errors.New("no")
	})
	aliyun := Config{Provider: "aliyun", AliyunSignName: "示例音乐", AliyunTemplates: allTemplates, AliyunCredentialsSecret: "s", AliyunEndpoint: srv.URL}

	if s, err := New(Config{}, Deps{}); s != nil || err != nil {
		t.Errorf("none: %v, %v; want nil, nil", s, err)
	}
	if s, err := New(Config{Provider: "aws"}, Deps{AWS: awsCfg("us-east-1")}); err != nil {
		t.Errorf("aws: %v", err)
	} else if _, ok := s.(*smsaws.Sender); !ok {
		t.Errorf("aws: %T, want *smsaws.Sender", s)
	}
	if _, err := New(Config{Provider: "aws"}, Deps{AWS: awsCfg("cn-northwest-1")}); !errors.Is(err, ErrNoSMSInChina) {
		t.Errorf("aws in cn-northwest-1: %v, want ErrNoSMSInChina", err)
	}
	if s, err := New(aliyun, Deps{AWS: awsCfg("cn-north-1"), AliyunCredentials: creds}); err != nil {
		t.Errorf("aliyun: %v", err)
	} else if _, ok := s.(*smsaliyun.Sender); !ok {
		t.Errorf("aliyun: %T, want *smsaliyun.Sender", s)
	}
	if s, err := New(aliyun, Deps{AWS: awsCfg("cn-north-1")}); err == nil || s != nil {
		t.Errorf("aliyun without credentials: %v, %v; want an error and no sender", s, err)
	}
	if s, err := New(Config{Provider: "twilio"}, Deps{}); err == nil || s != nil {
		t.Errorf("bad config: %v, %v; want an error and no sender", s, err)
	}
}

// TestFactoryReadsTheAccessKeyFromSecretsManager: the aliyun sender signs
// with the AccessKey the Secrets Manager secret holds, read when the first
// message goes (the real SDK client against a fake Secrets Manager).
func TestFactoryReadsTheAccessKeyFromSecretsManager(t *testing.T) {
	var smCalls, smsCalls int
	var gotAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Target") == "secretsmanager.GetSecretValue" {
			smCalls++
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			_, _ = w.Write([]byte(`{"Name":"dsr/aliyun-sms","SecretString":"{\"accessKeyId\":\"LTAIfromSecretsManager\",\"accessKeySecret\":\"s3cret\"}"}`))
			return
		}
		smsCalls++
		gotAuth = r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"Code":"OK","Message":"OK","BizId":"1","RequestId":"x"}`))
	}))
	defer srv.Close()
	c := Config{Provider: "aliyun", AliyunSignName: "示例音乐", AliyunTemplates: allTemplates, AliyunCredentialsSecret: "dsr/aliyun-sms", AliyunEndpoint: srv.URL}
	awsCfg := aws.Config{Region: "cn-north-1", BaseEndpoint: aws.String(srv.URL), Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")}
	s, err := c.Factory()(context.Background(), awsCfg)
	if err != nil || s == nil {
		t.Fatalf("Factory() = %v, %v", s, err)
	}
	if smCalls != 0 {
		t.Errorf("making the sender read the secret %d times, want 0", smCalls)
	}
	m := notify.VerificationCode("r-1", dsr.Contact{Phone: "+8613800138000"}, dsr.LocaleZhCN, "123456", time.Now().Add(time.Hour), "")
	for range 2 {
		if err := s.SendSMS(context.Background(), m); err != nil {
			t.Fatalf("SendSMS: %v", err)
		}
	}
	if smCalls != 1 || smsCalls != 2 {
		t.Errorf("Secrets Manager read %d times, SMS sent %d times; want 1 (cached) and 2", smCalls, smsCalls)
	}
	if !strings.Contains(gotAuth, "LTAIfromSecretsManager") {
		t.Errorf("Authorization %q does not name the AccessKey from Secrets Manager", gotAuth)
	}
	if none, err := (Config{}).Factory()(context.Background(), awsCfg); none != nil || err != nil {
		t.Errorf("no provider: %v, %v; want nil, nil", none, err)
	}
}

func TestFromEnvChecksAtStart(t *testing.T) {
	t.Setenv("SMS_PROVIDER", "aliyun")
	t.Setenv("ALIYUN_SMS_SIGN_NAME", "示例音乐")
	if _, err := FromEnv(); err == nil || !strings.Contains(err.Error(), "ALIYUN_SMS_TEMPLATES") {
		t.Errorf("FromEnv without templates = %v, want an error naming ALIYUN_SMS_TEMPLATES", err)
	}
}
