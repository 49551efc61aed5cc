// Package mailtransport picks the notify.EmailSender that the configuration
// names: an SMTP relay (package smtpmail) when SMTP_URL is set, otherwise
// Amazon SES (package sesmail). Only the functions that write to
// requesters import it (see internal/dev/coldstart).
package mailtransport

import (
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"dsrflow/internal/notify"
	"dsrflow/internal/notify/sesmail"
	"dsrflow/internal/notify/smtpmail"
)

// ErrNoSESInChina: SES is not offered in the aws-cn partition's regions.
var ErrNoSESInChina = errors.New("amazon SES is not offered in the China regions: set SMTP_URL (and SMTP_USERNAME, SMTP_PASSWORD_SECRET_ID) to send through an SMTP relay")

// FromConfig is the email sender for t; from is the envelope sender.
func FromConfig(awsCfg aws.Config, t notify.Transport, from string) (notify.EmailSender, error) {
	if t.UsesSMTP() {
		return smtpmail.New(t, from)
	}
	if strings.HasPrefix(awsCfg.Region, "cn-") {
		return nil, ErrNoSESInChina
	}
	return sesmail.FromConfig(awsCfg, t.SESConfigurationSet), nil
}
