package notify

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jhillyerd/enmime"

	"dsrflow/internal/dsr"
)

var at = time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)

func TestComposeRoundTrip(t *testing.T) {
	m := VerificationCode("r-1", dsr.Contact{Email: "li@example.cn"}, dsr.LocaleZhCN, "123456", at.Add(30*time.Minute), "https://privacy.example.cn/requests/r-1/verification?token=t")
	raw, err := Compose(m, "隐私团队", "privacy@example.cn", at)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.ContainsRune(raw, '验') {
		t.Error("raw message has unencoded UTF-8: headers and body must be MIME-encoded")
	}
	env, err := enmime.ReadEnvelope(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	for h, want := range map[string]string{
		"Subject": "您的个人信息请求验证码（编号 r-1）", "X-Dsrflow-Request": "r-1", "X-Dsrflow-Template": TemplateVerificationCode,
		"Content-Language": "zh-CN", "To": "<li@example.cn>",
	} {
		if got := env.GetHeader(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if !strings.Contains(env.GetHeader("From"), "privacy@example.cn") {
		t.Errorf("From = %q", env.GetHeader("From"))
	}
	for _, want := range []string{"验证码：123456", "2026-03-02 09:30（北京时间）", "verification?token=t"} {
		if !strings.Contains(env.Text, want) {
			t.Errorf("body lacks %q:\n%s", want, env.Text)
		}
	}
}

func TestRouterChannels(t *testing.T) {
	dir := t.TempDir()
	box := &Outbox{Dir: dir, From: "privacy@example.cn", Now: func() time.Time { return at }}
	tests := []struct {
		name    string
		r       *Router
		to      dsr.Contact
		want    Channel
		noChan  bool
		wantSMS bool
	}{
		{"email preferred", &Router{From: "privacy@example.cn", Email: box, SMS: box}, dsr.Contact{Email: "a@example.cn", Phone: "+8613800138000"}, ChannelEmail, false, false},
		{"phone only", &Router{Email: box, SMS: box}, dsr.Contact{Phone: "+8613800138000"}, ChannelSMS, false, true},
		{"phone only, no SMS provider", &Router{Email: box}, dsr.Contact{Phone: "+8613800138000"}, ChannelSMS, true, false},
		{"no contact", &Router{Email: box, SMS: box}, dsr.Contact{}, "", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, err := tt.r.Send(context.Background(), Message{RequestID: "r-3", Template: "t", To: tt.to, Subject: "s", Body: "b"})
			if ch != tt.want || errors.Is(err, ErrNoChannel) != tt.noChan || (!tt.noChan && err != nil) {
				t.Errorf("Send: %q, %v; want %q, no channel %v", ch, err, tt.want, tt.noChan)
			}
		})
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	if len(files) != 2 {
		t.Fatalf("%d outbox files, want 2", len(files))
	}
	b, _ := os.ReadFile(files[1])
	if !bytes.HasPrefix(b, []byte("X-Dsrflow-Channel: sms\r\n")) || !bytes.Contains(b, []byte("+8613800138000@sms.invalid")) {
		t.Errorf("SMS outbox file:\n%s", b)
	}
}

// TestMailReceived: the acknowledgement of a triaged mail is about no
// request, has no SMS form, names the team and reads in both languages.
func TestMailReceived(t *testing.T) {
	team := Contact{Email: "privacy@singer.example.cn"}
	to := dsr.Contact{Email: "someone@example.com"}
	for _, l := range []dsr.Locale{dsr.LocaleZhCN, dsr.LocaleEn, ""} {
		m := MailReceived(to, l, team)
		if m.Template != TemplateMailReceived || m.RequestID != "" || m.To != to || m.SMS.Text != "" {
			t.Errorf("%q: template %q, request %q, to %+v, SMS %q; want mail_received, none, the sender, none", l, m.Template, m.RequestID, m.To, m.SMS.Text)
		}
		if m.Subject == "" || !strings.Contains(m.Body, team.Email) {
			t.Errorf("%q: subject %q, body %q; want a subject and the team's address", l, m.Subject, m.Body)
		}
		wantLocale := dsr.LocaleZhCN
		if l == dsr.LocaleEn {
			wantLocale = dsr.LocaleEn
		}
		if m.Locale != wantLocale {
			t.Errorf("%q: locale %q, want %q", l, m.Locale, wantLocale)
		}
		if _, err := Compose(m, "Privacy", "privacy@singer.example.cn", time.Now()); err != nil {
			t.Errorf("%q: Compose: %v", l, err)
		}
	}
}
