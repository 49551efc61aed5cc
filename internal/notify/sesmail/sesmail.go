// Package sesmail sends composed email through Amazon SES (SendRawEmail): the
// notify.EmailSender of the functions that write to requesters in the aws
// partition.
//
// It uses the SES API of 2010-12-01 (service/ses), not SES v2: for a raw
// message the two calls do the same (configuration set, message tags), and
// the v2 client's package initialisation costs about 2.5 ms of every cold
// start against 0.5 ms for v1's (internal/dev/coldstart). It is apart from
// package notify so that only the sending functions link it. SES is not
// offered in the aws-cn partition; there, mailtransport picks the SMTP relay.
package sesmail

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ses"
	"github.com/aws/aws-sdk-go-v2/service/ses/types"
	"github.com/aws/smithy-go"

	"dsrflow/internal/notify"
)

// API is the part of the SES client Sender uses.
type API interface {
	SendRawEmail(ctx context.Context, in *ses.SendRawEmailInput, optFns ...func(*ses.Options)) (*ses.SendRawEmailOutput, error)
}

// Sender sends email through SES.
type Sender struct {
	Client API
	// ConfigurationSet is optional.
	ConfigurationSet string
}

// FromConfig is a Sender on an SES client made from awsCfg.
func FromConfig(awsCfg aws.Config, configurationSet string) notify.EmailSender {
	return &Sender{Client: ses.NewFromConfig(awsCfg), ConfigurationSet: configurationSet}
}

// SendRaw sends raw as m's email. An error is a *notify.DeliveryError that
// keeps only SES's error code: SES messages may quote the recipient.
func (s *Sender) SendRaw(ctx context.Context, m notify.Message, raw []byte) error {
	in := &ses.SendRawEmailInput{
		RawMessage: &types.RawMessage{Data: raw},
		Tags: []types.MessageTag{
			{Name: aws.String("template"), Value: aws.String(m.Template)},
		},
	}
	if s.ConfigurationSet != "" {
		in.ConfigurationSetName = aws.String(s.ConfigurationSet)
	}
	if _, err := s.Client.SendRawEmail(ctx, in); err != nil {
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
