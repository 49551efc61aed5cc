package smsaws

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"dsrflow/internal/dsr"
	"dsrflow/internal/notify"
)

const phone = "+8613800138000"

// fakeSMS speaks the awsJson1_0 protocol of pinpoint-sms-voice-v2: it
// checks the protocol headers and the signature's scope, keeps each
// request's JSON, and answers with a message ID or the error set in reject.
type fakeSMS struct {
	t      *testing.T
	mu     sync.Mutex
	bodies []map[string]any
	// reject is an error to answer: HTTP status, __type and reason.
	reject *fakeError
	delay  time.Duration
}

type fakeError struct {
	status int
	typ    string
	reason string
}

func (f *fakeSMS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for h, want := range map[string]string{"X-Amz-Target": "PinpointSMSVoiceV2.SendTextMessage", "Content-Type": "application/x-amz-json-1.0"} {
		if got := r.Header.Get(h); got != want {
			f.t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if auth := r.Header.Get("Authorization"); r.Method != http.MethodPost || r.URL.Path != "/" || !strings.Contains(auth, "/us-east-1/sms-voice/aws4_request") {
		f.t.Errorf("%s %s, Authorization %q: want a POST to / signed for sms-voice", r.Method, r.URL.Path, auth)
	}
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		f.t.Errorf("body %q: %v", raw, err)
	}
	f.mu.Lock()
	f.bodies = append(f.bodies, body)
	reject, delay := f.reject, f.delay
	f.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	if reject != nil {
		w.WriteHeader(reject.status)
		// The service's messages may quote the destination number.
		e := map[string]any{"__type": "com.amazonaws.pinpointsmsvoicev2#" + reject.typ, "Message": "cannot send to " + phone}
		if reject.reason != "" {
			e["Reason"] = reject.reason
		}
		_ = json.NewEncoder(w).Encode(e)
		return
	}
	_, _ = w.Write([]byte(`{"MessageId":"m-1"}`))
}

func (f *fakeSMS) last() map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.bodies) == 0 {
		return nil
	}
	return f.bodies[len(f.bodies)-1]
}

func newFake(t *testing.T) (*fakeSMS, aws.Config) {
	fake := &fakeSMS{t: t}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return fake, aws.Config{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", ""),
	}
}

var expires = time.Date(2026, 3, 2, 1, 30, 0, 0, time.UTC)

func TestSendRequest(t *testing.T) {
	fake, awsCfg := newFake(t)
	tests := []struct {
		name   string
		cfg    Config
		locale dsr.Locale
		want   map[string]any
	}{
		{
			"all set, Chinese", Config{OriginationIdentity: "pool-1", ConfigurationSet: "dsr-sms", SenderName: "示例音乐"}, dsr.LocaleZhCN,
			map[string]any{
				"DestinationPhoneNumber": phone, "MessageType": "TRANSACTIONAL", "OriginationIdentity": "pool-1", "ConfigurationSetName": "dsr-sms",
				"MessageBody": "【示例音乐】验证码：123456，用于核验您的个人信息请求，09:30前有效，请勿告知他人。",
				"Context":     map[string]any{"requestId": "r-1", "template": notify.TemplateVerificationCode},
			},
		},
		{
			"nothing optional, English", Config{}, dsr.LocaleEn,
			map[string]any{
				"DestinationPhoneNumber": phone, "MessageType": "TRANSACTIONAL",
				"MessageBody": "Enter this code: 123456 to verify your privacy request. Valid until 09:30 China time (UTC+8). Never share it.",
				"Context":     map[string]any{"requestId": "r-1", "template": notify.TemplateVerificationCode},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := FromConfig(awsCfg, tt.cfg)
			m := notify.VerificationCode("r-1", dsr.Contact{Phone: phone}, tt.locale, "123456", expires, "https://x.example/v?token=t")
			if err := s.SendSMS(context.Background(), m); err != nil {
				t.Fatalf("SendSMS: %v", err)
			}
			got, _ := json.Marshal(fake.last())
			want, _ := json.Marshal(tt.want)
			if string(got) != string(want) {
				t.Errorf("request body\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestSendErrors(t *testing.T) {
	fake, awsCfg := newFake(t)
	s := FromConfig(awsCfg, Config{})
	tests := []struct {
		name          string
		reject        *fakeError
		delay         time.Duration
		to            dsr.Contact
		wantCode      string
		wantRetryable bool
		wantNoChannel bool
		wantNoCall    bool
	}{
		{"validation", &fakeError{400, "ValidationException", "INVALID_PARAMETER"}, 0, dsr.Contact{Phone: phone}, "ValidationException:INVALID_PARAMETER", false, false, false},
		{"opted out", &fakeError{400, "ConflictException", "DESTINATION_PHONE_NUMBER_OPTED_OUT"}, 0, dsr.Contact{Phone: phone}, "ConflictException:DESTINATION_PHONE_NUMBER_OPTED_OUT", false, true, false},
		{"a reason that is not an enum is dropped", &fakeError{400, "ValidationException", "number " + phone}, 0, dsr.Contact{Phone: phone}, "ValidationException", false, false, false},
		{"quota", &fakeError{402, "ServiceQuotaExceededException", "TEXT_MESSAGES_PER_DAY"}, 0, dsr.Contact{Phone: phone}, "ServiceQuotaExceededException:TEXT_MESSAGES_PER_DAY", false, false, false},
		{"throttled", &fakeError{400, "ThrottlingException", ""}, 0, dsr.Contact{Phone: phone}, "ThrottlingException", true, false, false},
		{"internal", &fakeError{500, "InternalServerException", ""}, 0, dsr.Contact{Phone: phone}, "InternalServerException", true, false, false},
		{"access denied", &fakeError{400, "AccessDeniedException", ""}, 0, dsr.Contact{Phone: phone}, "AccessDeniedException", false, false, false},
		{"timeout", nil, 2 * time.Second, dsr.Contact{Phone: phone}, "timeout", true, false, false},
		{"no phone", nil, 0, dsr.Contact{Email: "a@example.cn"}, "no phone number", false, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake.mu.Lock()
			fake.reject, fake.delay, fake.bodies = tt.reject, tt.delay, nil
			fake.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			err := s.SendSMS(ctx, notify.Reply("r-2", tt.to, dsr.LocaleZhCN, notify.ReplyContent{Kind: dsr.KindAccess}, notify.Contact{}))
			var de *notify.DeliveryError
			if !errors.As(err, &de) || de.Code != tt.wantCode || de.Retryable != tt.wantRetryable || de.Channel != notify.ChannelSMS || de.RequestID != "r-2" {
				t.Fatalf("error %#v; want a DeliveryError for r-2 with code %q, retryable %v", err, tt.wantCode, tt.wantRetryable)
			}
			if got := errors.Is(err, notify.ErrNoChannel); got != tt.wantNoChannel {
				t.Errorf("errors.Is(ErrNoChannel) = %v, want %v", got, tt.wantNoChannel)
			}
			if strings.Contains(err.Error(), "13800138000") || strings.Contains(errors.Unwrap(err).Error(), "13800138000") {
				t.Errorf("error %q quotes the phone number", err)
			}
			if called := fake.last() != nil; called == tt.wantNoCall {
				t.Errorf("service called: %v, want %v", called, !tt.wantNoCall)
			}
		})
	}
}

func TestNoSMSForm(t *testing.T) {
	fake, awsCfg := newFake(t)
	err := FromConfig(awsCfg, Config{}).SendSMS(context.Background(), notify.Message{RequestID: "r-3", Template: "custom", To: dsr.Contact{Phone: phone}, Body: "long email body"})
	var de *notify.DeliveryError
	if !errors.As(err, &de) || de.Retryable || fake.last() != nil {
		t.Errorf("error %v, service called %v: want a permanent DeliveryError and no call", err, fake.last() != nil)
	}
}

func TestText(t *testing.T) {
	m := notify.Expired("r-4", dsr.Contact{Phone: phone}, dsr.LocaleEn, 7, notify.Contact{})
	tests := []struct {
		name string
		cfg  Config
		m    notify.Message
		want string
	}{
		{"English with name", Config{SenderName: "Example Music"}, m, "Example Music: " + m.SMS.Text},
		{"no name", Config{}, m, m.SMS.Text},
	}
	for _, tt := range tests {
		if got := New(tt.cfg, nil).Text(tt.m); got != tt.want {
			t.Errorf("%s: Text = %q, want %q", tt.name, got, tt.want)
		}
	}
}
