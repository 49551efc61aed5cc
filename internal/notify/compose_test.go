package notify

import (
	"bytes"
	"errors"
	"io"
	"net/mail"
	"strings"
	"testing"

	"github.com/jhillyerd/enmime"

	"dsrflow/internal/dsr"
)

// TestComposeParsesBack composes messages of both languages and with long
// headers and reads them back with enmime and net/mail: every header and the
// body must come back as written, and no line may break the length rules.
func TestComposeParsesBack(t *testing.T) {
	long := strings.Repeat("关于您的个人信息请求的答复，", 8)
	tests := []struct {
		name, fromName, subject, body string
		locale                        dsr.Locale
	}{
		{"chinese", "隐私团队", "您的个人信息请求验证码（编号 r-1）", "验证码：123456\n\n请勿告知他人。", dsr.LocaleZhCN},
		{"english", "Privacy Team", "Your verification code (request r-1)", "Code: 123456\r\nDo not share it.", dsr.LocaleEn},
		{"long chinese subject", "隐私团队", long, strings.Repeat("正文很长。", 200), dsr.LocaleZhCN},
		{"long ascii subject", "Privacy Team of a Company With a Rather Long Display Name", strings.Repeat("word ", 40) + "end", "b", dsr.LocaleEn},
		{"double spaces and a trailing space", "A  B", "two  spaces here ", "x", dsr.LocaleEn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Message{RequestID: "r-1", Template: "t", To: dsr.Contact{Email: "li@example.cn"}, Locale: tt.locale, Subject: tt.subject, Body: tt.body}
			raw, err := Compose(m, tt.fromName, "privacy@example.cn", at)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"From", "Subject", "To"} {
				if strings.Contains(string(raw), name+":\r\n") {
					t.Errorf("%s is folded right after its name", name)
				}
			}
			for i, line := range strings.Split(strings.TrimSuffix(string(raw), "\r\n"), "\r\n") {
				if len(line) > 998 || strings.ContainsAny(line, "\r\n") {
					t.Fatalf("line %d breaks RFC 5322: %q", i, line)
				}
				if strings.TrimSpace(line) == "" && line != "" {
					t.Fatalf("line %d is only white space", i)
				}
				// RFC 2047: a line with an encoded word is at most 76 long;
				// RFC 5322 recommends 78 for the others.
				if limit := map[bool]int{true: 76, false: 78}[strings.Contains(line, "=?")]; len(line) > limit {
					t.Errorf("line %d is %d long, over %d: %q", i, len(line), limit, line)
				}
			}
			if bytes.IndexFunc(raw, func(r rune) bool { return r > 127 }) >= 0 {
				t.Error("raw message has unencoded non-ASCII text")
			}
			env, err := enmime.ReadEnvelope(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			// Readers drop a header's trailing white space.
			if got := env.GetHeader("Subject"); got != strings.TrimRight(tt.subject, " ") {
				t.Errorf("Subject = %q, want %q", got, tt.subject)
			}
			if want := strings.ReplaceAll(tt.body, "\r\n", "\n"); strings.ReplaceAll(env.Text, "\r\n", "\n") != want {
				t.Errorf("body = %q, want %q", env.Text, want)
			}
			if got := env.GetHeader("Content-Language"); got != string(tt.locale) {
				t.Errorf("Content-Language = %q", got)
			}
			msg, err := mail.ReadMessage(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			from, err := msg.Header.AddressList("From")
			if err != nil || len(from) != 1 || from[0].Name != tt.fromName || from[0].Address != "privacy@example.cn" {
				t.Errorf("From = %+v, %v", from, err)
			}
			if d, err := msg.Header.Date(); err != nil || !d.Equal(at) {
				t.Errorf("Date = %v, %v", d, err)
			}
			if _, err := io.Copy(io.Discard, msg.Body); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestComposeRefusesHeaderBreaks(t *testing.T) {
	for name, m := range map[string]Message{
		"subject":   {RequestID: "r-1", To: dsr.Contact{Email: "li@example.cn"}, Subject: "hi\r\nBcc: x@example.com"},
		"template":  {RequestID: "r-1", To: dsr.Contact{Email: "li@example.cn"}, Subject: "s", Template: "t\nBcc: x@example.com"},
		"from name": {RequestID: "r-1", To: dsr.Contact{Email: "li@example.cn"}, Subject: "s", Locale: "zh-CN\r\nBcc: x@example.com"},
		"address":   {RequestID: "r-1", To: dsr.Contact{Email: "li@example.cn>\r\nBcc: <x@example.com"}, Subject: "s"},
		"request":   {RequestID: "r-1\r\nBcc: x@example.com", To: dsr.Contact{Email: "li@example.cn"}, Subject: "s"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Compose(m, "隐私团队", "privacy@example.cn", at)
			if !errors.Is(err, errHeaderBreak) {
				t.Fatalf("err = %v, want errHeaderBreak", err)
			}
		})
	}
}
