package notify

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"
)

// SESAPI is the part of the SES v2 client SES uses.
type SESAPI interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, optFns ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

// SES sends composed email through Amazon SES v2 (SendEmail with a raw
// message). SES is not offered in the aws-cn partition; there, configure
// another EmailSender (or the outbox, drained by a relay).
type SES struct {
	Client SESAPI
	// ConfigurationSet is optional.
	ConfigurationSet string
}

// SendRaw sends raw as m's email.
func (s *SES) SendRaw(ctx context.Context, m Message, raw []byte) error {
	in := &sesv2.SendEmailInput{
		Content: &types.EmailContent{Raw: &types.RawMessage{Data: raw}},
		EmailTags: []types.MessageTag{
			{Name: ptr("template"), Value: ptr(m.Template)},
		},
	}
	if s.ConfigurationSet != "" {
		in.ConfigurationSetName = ptr(s.ConfigurationSet)
	}
	if _, err := s.Client.SendEmail(ctx, in); err != nil {
		return &DeliveryError{RequestID: m.RequestID, Channel: ChannelEmail, Code: awsCode(err), Err: errors.New(awsCode(err))}
	}
	return nil
}

// awsCode is the AWS error code of err, or a generic description: SES error
// messages may quote the recipient's address, so they are never kept.
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

func ptr[T any](v T) *T { return &v }
