// Package smsaws sends text messages through AWS End User Messaging SMS
// (the pinpoint-sms-voice-v2 API, SendTextMessage): the notify.SMSSender of
// the functions that write to phone-only requesters in the aws partition.
// The service is not offered in the aws-cn partition; there, smsaliyun
// sends through Alibaba Cloud SMS (see smstransport).
//
// Each message goes as TRANSACTIONAL, from the configured origination
// identity (a phone number, sender ID or pool; empty: the service picks
// one of the account's) through the configured configuration set (its
// event destinations record delivery). The text is the message's SMS form
// (notify.SMSContent.Text) behind the sender name. The request ID and
// template go in the message Context, which the service hands to the event
// destinations; the phone number and text never leave this package except
// in the request to the service.
package smsaws

import (
	"context"
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/pinpointsmsvoicev2"
	"github.com/aws/aws-sdk-go-v2/service/pinpointsmsvoicev2/types"
	"github.com/aws/smithy-go"

	"dsrflow/internal/dsr"
	"dsrflow/internal/lazyinit"
	"dsrflow/internal/notify"
)

// API is the part of the pinpoint-sms-voice-v2 client Sender uses.
type API interface {
	SendTextMessage(ctx context.Context, in *pinpointsmsvoicev2.SendTextMessageInput, optFns ...func(*pinpointsmsvoicev2.Options)) (*pinpointsmsvoicev2.SendTextMessageOutput, error)
}

// Config is what the sender needs besides the client.
type Config struct {
	// OriginationIdentity is the phone number, sender ID or pool (ID or
	// ARN) messages go from; empty lets the service choose.
	OriginationIdentity string
	// ConfigurationSet is the configuration set (name or ARN); optional.
	ConfigurationSet string
	// SenderName, when set, heads every text: "【name】" in Chinese,
	// "name: " in English, so that the requester knows who writes.
	SenderName string
}

// Sender sends text messages through End User Messaging SMS.
type Sender struct {
	cfg    Config
	client *lazyinit.Value[API]
}

// New is a Sender on client.
func New(cfg Config, client API) *Sender {
	return &Sender{cfg: cfg, client: lazyinit.New(func(context.Context) (API, error) { return client, nil })}
}

// FromConfig is a Sender whose client is made from awsCfg on the first
// message, not during the function's cold start.
func FromConfig(awsCfg aws.Config, cfg Config) *Sender {
	return &Sender{cfg: cfg, client: lazyinit.New(func(context.Context) (API, error) {
		return pinpointsmsvoicev2.NewFromConfig(awsCfg), nil
	})}
}

// Text is the message as sent: the SMS text behind the sender name.
func (s *Sender) Text(m notify.Message) string {
	if s.cfg.SenderName == "" {
		return m.SMS.Text
	}
	if m.Locale == dsr.LocaleEn {
		return s.cfg.SenderName + ": " + m.SMS.Text
	}
	return "【" + s.cfg.SenderName + "】" + m.SMS.Text
}

// SendSMS sends m's SMS form to m.To.Phone. An error is a
// *notify.DeliveryError that keeps only the service's error code and
// reason: the service's messages may quote the number. A number that has
// opted out wraps notify.ErrNoChannel, as does a message without a phone
// number.
func (s *Sender) SendSMS(ctx context.Context, m notify.Message) error {
	fail := func(code string, retryable bool, err error) error {
		return &notify.DeliveryError{RequestID: m.RequestID, Channel: notify.ChannelSMS, Code: code, Retryable: retryable, Err: err}
	}
	if m.To.Phone == "" {
		return fail("no phone number", false, notify.ErrNoChannel)
	}
	if m.SMS.Text == "" {
		return fail("no SMS text for template "+m.Template, false, errors.New("message has no SMS form"))
	}
	client, err := s.client.Get(ctx)
	if err != nil {
		return fail("client", true, err)
	}
	in := &pinpointsmsvoicev2.SendTextMessageInput{
		DestinationPhoneNumber: aws.String(m.To.Phone),
		MessageBody:            aws.String(s.Text(m)),
		MessageType:            types.MessageTypeTransactional,
		Context:                map[string]string{"requestId": m.RequestID, "template": m.Template},
	}
	if s.cfg.OriginationIdentity != "" {
		in.OriginationIdentity = aws.String(s.cfg.OriginationIdentity)
	}
	if s.cfg.ConfigurationSet != "" {
		in.ConfigurationSetName = aws.String(s.cfg.ConfigurationSet)
	}
	if _, err := client.SendTextMessage(ctx, in); err != nil {
		code, retryable, noChannel := classify(err)
		cause := errors.New(code)
		if noChannel {
			cause = notify.ErrNoChannel
		}
		return fail(code, retryable, cause)
	}
	return nil
}

// classify is the error code of err (with the service's reason, an enum,
// when it gives one), whether sending again may work, and whether the
// number cannot be texted at all (it opted out).
func classify(err error) (code string, retryable, noChannel bool) {
	var (
		ve *types.ValidationException
		ce *types.ConflictException
		qe *types.ServiceQuotaExceededException
		ae smithy.APIError
	)
	switch {
	case errors.As(err, &ve):
		return withReason(ve.ErrorCode(), string(ve.Reason)), false, false
	case errors.As(err, &ce):
		return withReason(ce.ErrorCode(), string(ce.Reason)), false, ce.Reason == types.ConflictExceptionReasonDestinationPhoneNumberOptedOut
	case errors.As(err, &qe):
		return withReason(qe.ErrorCode(), string(qe.Reason)), false, false
	case errors.As(err, &ae):
		code := ae.ErrorCode()
		return safeCode(code), code == "ThrottlingException" || code == "InternalServerException" || ae.ErrorFault() == smithy.FaultServer, false
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout", true, false
	case errors.Is(err, context.Canceled):
		return "canceled", true, false
	}
	return "request failed", true, false
}

// withReason is "Code:REASON" when the reason is an enum value.
func withReason(code, reason string) string {
	code = safeCode(code)
	if reason == "" || strings.Trim(reason, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789") != "" || len(reason) > 64 {
		return code
	}
	return code + ":" + reason
}

// safeCode keeps an error code that looks like one (letters, digits, '.',
// '_', '-', at most 64), since it ends up in errors and logs.
func safeCode(code string) string {
	if code == "" || len(code) > 64 {
		return "unknown error"
	}
	for _, r := range code {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
		if !ok {
			return "unknown error"
		}
	}
	return code
}
