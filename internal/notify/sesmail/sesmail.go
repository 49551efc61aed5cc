// Package sesmail sends composed email through Amazon SES v2 (SendEmail with
// a raw message): the notify.EmailSender of the functions that write to
// requesters in the aws partition.
//
// It is apart from package notify so that only those functions link the SES
// client, whose package initialisation adds about 3 ms to a cold start. SES
// is not offered in the aws-cn partition; there, configure another
// notify.EmailSender (or the outbox, drained by a relay).
package sesmail

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"

	"dsrflow/internal/notify"
)

// API is the part of the SES v2 client Sender uses.
type API interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, optFns ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

// Sender sends email through SES v2.
type Sender struct {
	Client API
	// ConfigurationSet is optional.
	ConfigurationSet string
}

// FromConfig is a Sender on an SES v2 client made from awsCfg.
func FromConfig(awsCfg aws.Config, configurationSet string) notify.EmailSender {
	return &Sender{Client: sesv2.NewFromConfig(awsCfg), ConfigurationSet: configurationSet}
}

// SendRaw sends raw as m's email. An error is a *notify.DeliveryError that
// keeps only SES's error code: SES messages may quote the recipient.
func (s *Sender) SendRaw(ctx context.Context, m notify.Message, raw []byte) error {
	in := &sesv2.SendEmailInput{
		Content: &types.EmailContent{Raw: &types.RawMessage{Data: raw}},
		EmailTags: []types.MessageTag{
			{Name: aws.String("template"), Value: aws.String(m.Template)},
		},
	}
	if s.ConfigurationSet != "" {
		in.ConfigurationSetName = aws.String(s.ConfigurationSet)
	}
	if _, err := s.Client.SendEmail(ctx, in); err != nil {
		code := awsCode(err)
		return &notify.DeliveryError{RequestID: m.RequestID, Channel: notify.ChannelEmail, Code: code, Err: errors.New(code)}
	}
	return nil
}

// awsCode is the AWS error code of err, or a generic description.
func awsCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return "context: " + err.Error()
	}
	return "request failed"
}
