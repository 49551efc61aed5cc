package mailtransport

import (
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"dsrflow/internal/notify"
	"dsrflow/internal/notify/sesmail"
	"dsrflow/internal/notify/smtpmail"
)

func TestFromConfig(t *testing.T) {
	smtp := notify.Transport{SMTPURL: "smtps://smtpdm.aliyun.com", SMTPUsername: "u", SMTPPassword: "p"}
	tests := []struct {
		name    string
		region  string
		t       notify.Transport
		want    string // sender type
		wantErr error
	}{
		{"SES by default", "us-east-1", notify.Transport{SESConfigurationSet: "dsr"}, "ses", nil},
		{"SMTP when configured", "us-east-1", smtp, "smtp", nil},
		{"SMTP in China", "cn-north-1", smtp, "smtp", nil},
		{"no SES in China", "cn-northwest-1", notify.Transport{}, "", ErrNoSESInChina},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := FromConfig(aws.Config{Region: tt.region}, tt.t, "privacy@example.cn")
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v; want %v", err, tt.wantErr)
			}
			switch x := s.(type) {
			case *sesmail.Sender:
				if tt.want != "ses" || x.ConfigurationSet != "dsr" {
					t.Errorf("got SES sender %+v; want %s", x, tt.want)
				}
			case *smtpmail.Sender:
				if tt.want != "smtp" || x.Addr != "smtpdm.aliyun.com:465" || x.From != "privacy@example.cn" {
					t.Errorf("got SMTP sender %+v; want %s", x, tt.want)
				}
			case nil:
				if tt.want != "" {
					t.Errorf("got no sender; want %s", tt.want)
				}
			}
		})
	}
}
