package notify

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestTransportSMTPEndpoint(t *testing.T) {
	tests := []struct {
		url      string
		addr     string
		implicit bool
	}{
		{"smtps://smtpdm.aliyun.com", "smtpdm.aliyun.com:465", true},
		{"smtps://smtp.qcloudmail.com:465", "smtp.qcloudmail.com:465", true},
		{"smtp://mail.example.cn", "mail.example.cn:587", false},
		{"smtp://mail.example.cn:25/", "mail.example.cn:25", false},
		{"smtp://[2001:db8::1]:587", "[2001:db8::1]:587", false},
	}
	for _, tt := range tests {
		tr := Transport{SMTPURL: tt.url}
		addr, implicit, err := tr.SMTPEndpoint()
		if err != nil || addr != tt.addr || implicit != tt.implicit {
			t.Errorf("SMTPEndpoint(%s) = %s, %v, %v; want %s, %v", tt.url, addr, implicit, err, tt.addr, tt.implicit)
		}
		if err := tr.Check(); err != nil {
			t.Errorf("Check(%s) = %v", tt.url, err)
		}
	}
}

func TestTransportCheck(t *testing.T) {
	tests := []struct {
		name string
		tr   Transport
		want string // in the error; "" for valid
	}{
		{"SES by default", Transport{}, ""},
		{"SES with a configuration set", Transport{SESConfigurationSet: "dsr"}, ""},
		{"SMTP with credentials", Transport{SMTPURL: "smtps://smtp.example.cn", SMTPUsername: "u", SMTPPassword: "p4ss"}, ""},
		{"plain scheme", Transport{SMTPURL: "http://smtp.example.cn"}, "smtps://"},
		{"not a URL", Transport{SMTPURL: "smtps://%zz"}, "not a URL"},
		{"credentials in the URL", Transport{SMTPURL: "smtps://u:p4ss@smtp.example.cn"}, "must not hold credentials"},
		{"a path", Transport{SMTPURL: "smtps://smtp.example.cn/x"}, "nothing more"},
		{"no host", Transport{SMTPURL: "smtps://:465"}, "nothing more"},
		{"password without user", Transport{SMTPURL: "smtps://smtp.example.cn", SMTPPassword: "p4ss"}, "go together"},
		{"user and password secret", Transport{SMTPURL: "smtps://smtp.example.cn", SMTPUsername: "u", SMTPPasswordSecretID: "arn:smtp"}, ""},
		{"password secret named, no user (an open relay)", Transport{SMTPURL: "smtps://smtp.example.cn", SMTPPasswordSecretID: "arn:smtp"}, ""},
		{"user without password", Transport{SMTPURL: "smtps://smtp.example.cn", SMTPUsername: "u"}, "go together"},
		{"password secret named, SES used", Transport{SMTPPasswordSecretID: "arn:smtp"}, ""},
		{"credentials without URL", Transport{SMTPUsername: "u", SMTPPassword: "p4ss"}, "SMTP_URL is not"},
		{"control character", Transport{SMTPURL: "smtps://smtp.example.cn", SMTPUsername: "u\r\nRCPT", SMTPPassword: "p4ss"}, "control character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.tr.Check()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Check = %v; want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Check = %v; want an error containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "p4ss") {
				t.Errorf("error %q quotes the password", err)
			}
		})
	}
}

type secrets map[string]string

func (s secrets) Secret(_ context.Context, name string) ([]byte, error) {
	v, ok := s[name]
	if !ok {
		return nil, errors.New("secret " + name + " not found")
	}
	return []byte(v), nil
}

// TestWithPassword: the relay's password is read from its secret only
// when the relay is used with a user name; a rotated one is read again.
func TestWithPassword(t *testing.T) {
	src := secrets{"arn:smtp": "p4ss", "arn:bad": "p4\r\nss"}
	tests := []struct {
		name    string
		tr      Transport
		want    string
		wantErr string
	}{
		{"SES: nothing read", Transport{SMTPPasswordSecretID: "arn:missing"}, "", ""},
		{"relay with user", Transport{SMTPURL: "smtps://smtp.example.cn", SMTPUsername: "u", SMTPPasswordSecretID: "arn:smtp"}, "p4ss", ""},
		{"relay without user", Transport{SMTPURL: "smtps://smtp.example.cn", SMTPPasswordSecretID: "arn:missing"}, "", ""},
		{"missing secret", Transport{SMTPURL: "smtps://smtp.example.cn", SMTPUsername: "u", SMTPPasswordSecretID: "arn:missing"}, "", "SMTP_PASSWORD_SECRET_ID"},
		{"control character", Transport{SMTPURL: "smtps://smtp.example.cn", SMTPUsername: "u", SMTPPasswordSecretID: "arn:bad"}, "", "control character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.tr.WithPassword(context.Background(), src)
			if got.SMTPPassword != tt.want || (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("WithPassword = %q, %v; want %q, error containing %q", got.SMTPPassword, err, tt.want, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "p4") {
				t.Errorf("error quotes the password: %v", err)
			}
		})
	}
	tr := Transport{SMTPURL: "smtps://smtp.example.cn", SMTPUsername: "u", SMTPPasswordSecretID: "arn:smtp"}
	src["arn:smtp"] = "rotated"
	if got, _ := tr.WithPassword(context.Background(), src); got.SMTPPassword != "rotated" {
		t.Errorf("after rotation WithPassword = %q, want the new password", got.SMTPPassword)
	}
}
