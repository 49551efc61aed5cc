package sesmail

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/smithy-go"

	"dsrflow/internal/dsr"
	"dsrflow/internal/notify"
)

type fakeSES struct {
	in  *sesv2.SendEmailInput
	err error
}

func (f *fakeSES) SendEmail(ctx context.Context, in *sesv2.SendEmailInput, _ ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	f.in = in
	return &sesv2.SendEmailOutput{}, f.err
}

func TestSender(t *testing.T) {
	at := time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)
	ses := &fakeSES{}
	r := &notify.Router{From: "privacy@example.cn", Email: &Sender{Client: ses, ConfigurationSet: "dsr"}, Now: func() time.Time { return at }}
	m := notify.Expired("r-2", dsr.Contact{Email: "li@example.cn"}, dsr.LocaleEn, 7, notify.Contact{})
	ch, err := r.Send(context.Background(), m)
	if err != nil || ch != notify.ChannelEmail {
		t.Fatalf("Send: %s, %v", ch, err)
	}
	if ses.in.Content.Raw == nil || !bytes.Contains(ses.in.Content.Raw.Data, []byte("X-Dsrflow-Request: r-2")) || *ses.in.ConfigurationSetName != "dsr" {
		t.Errorf("SendEmail input: %+v", ses.in)
	}
	if len(ses.in.EmailTags) != 1 || *ses.in.EmailTags[0].Value != notify.TemplateExpired {
		t.Errorf("EmailTags = %+v, want template=%s", ses.in.EmailTags, notify.TemplateExpired)
	}
	// SES errors can quote the address; only the code is kept.
	ses.err = &smithy.GenericAPIError{Code: "MessageRejected", Message: "Email address is not verified: li@example.cn"}
	_, err = r.Send(context.Background(), m)
	var de *notify.DeliveryError
	if !errors.As(err, &de) || de.Code != "MessageRejected" || strings.Contains(err.Error(), "li@example.cn") {
		t.Errorf("error %v: want a DeliveryError with code MessageRejected and no address", err)
	}
}
