package sesmail

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ses"

	"dsrflow/internal/dsr"
	"dsrflow/internal/notify"
)

// fakeSES speaks the SES query protocol: it keeps each request's form and
// answers with a message ID, or with the error set in reject.
type fakeSES struct {
	mu     sync.Mutex
	forms  []url.Values
	reject string
}

func (f *fakeSES) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.forms = append(f.forms, r.PostForm)
	reject := f.reject
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	if reject != "" {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`<ErrorResponse xmlns="http://ses.amazonaws.com/doc/2010-12-01/"><Error><Type>Sender</Type><Code>` + reject +
			`</Code><Message>Email address is not verified. The following identities failed the check in region CN-NORTH-1: li@example.cn</Message></Error><RequestId>req-2</RequestId></ErrorResponse>`))
		return
	}
	_, _ = w.Write([]byte(`<SendRawEmailResponse xmlns="http://ses.amazonaws.com/doc/2010-12-01/"><SendRawEmailResult><MessageId>msg-1</MessageId></SendRawEmailResult><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></SendRawEmailResponse>`))
}

func TestSender(t *testing.T) {
	fake := &fakeSES{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	client := ses.NewFromConfig(aws.Config{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", ""),
	})
	at := time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)
	r := &notify.Router{From: "privacy@example.cn", Email: &Sender{Client: client, ConfigurationSet: "dsr"}, Now: func() time.Time { return at }}
	m := notify.Expired("r-2", dsr.Contact{Email: "li@example.cn"}, dsr.LocaleEn, 7, notify.Contact{})
	ch, err := r.Send(context.Background(), m)
	if err != nil || ch != notify.ChannelEmail {
		t.Fatalf("Send: %s, %v", ch, err)
	}
	form := fake.forms[0]
	raw, err := base64.StdEncoding.DecodeString(form.Get("RawMessage.Data"))
	if err != nil || !strings.Contains(string(raw), "X-Dsrflow-Request: r-2") {
		t.Errorf("RawMessage.Data = %q, %v", raw, err)
	}
	for k, want := range map[string]string{
		"Action": "SendRawEmail", "ConfigurationSetName": "dsr",
		"Tags.member.1.Name": "template", "Tags.member.1.Value": notify.TemplateExpired,
	} {
		if got := form.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	// SES errors can quote the address; only the code is kept.
	fake.reject = "MessageRejected"
	_, err = r.Send(context.Background(), m)
	var de *notify.DeliveryError
	if !errors.As(err, &de) || de.Code != "MessageRejected" || strings.Contains(err.Error(), "li@example.cn") {
		t.Errorf("error %v: want a DeliveryError with code MessageRejected and no address", err)
	}
}
