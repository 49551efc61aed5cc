package notify

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jhillyerd/enmime"

	"dsrflow/internal/dsr"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// smsID is a request ID of the real length (intake.RequestID).
const smsID = "r-abcdefghijklmnopqrstuvwxyz"

// gsm7Basic and gsm7Ext are the GSM 03.38 default alphabet and its
// extension table (a character of the extension costs two septets).
const (
	gsm7Basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsm7Ext   = "^{}\\[~]|€\f"
)

// gsm7Septets is the length of s in GSM-7 septets, or -1 when s has a
// character outside the GSM-7 alphabet (the SMS would go as UCS-2).
func gsm7Septets(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case strings.ContainsRune(gsm7Basic, r):
			n++
		case strings.ContainsRune(gsm7Ext, r):
			n += 2
		default:
			return -1
		}
	}
	return n
}

// smsMessages builds every template's message in locale l with details
// that must not reach the SMS.
func smsMessages(l dsr.Locale) []Message {
	to := dsr.Contact{Phone: "+8613800138000"}
	team := Contact{Email: "privacy@example.cn"}
	exp := time.Date(2026, 3, 2, 1, 30, 0, 0, time.UTC)
	gone := exp.AddDate(0, 2, 0)
	return []Message{
		VerificationCode(smsID, to, l, "123456", exp, "https://privacy.example.cn/requests/"+smsID+"/verification?token=secret-token"),
		VerificationLocked(smsID, to, l, 2, "https://privacy.example.cn/requests/"+smsID+"/verification?token=secret-token", team),
		Expired(smsID, to, l, 7, team),
		Refused(smsID, to, l, dsr.KindErasure, dsr.RefusalReasons()[0], team),
		Duplicate(smsID, to, l, dsr.KindAccess, "r-linkedlinkedlinkedlinkedli", team),
		Reply(smsID, to, l, ReplyContent{
			Kind:     dsr.KindErasure,
			Partners: []PartnerResult{{Name: "声音模型库", Action: "erase", Outcome: OutcomeActed, Receipt: "rcpt-1"}},
			Kept:     []Exception{{What: "登录日志", Reason: "法律要求保留六个月"}}, BackupsGoneBy: &gone, Deferred: "诉讼保全",
		}, team),
		Reply(smsID, to, l, ReplyContent{
			Kind:     dsr.KindErasure,
			Partners: []PartnerResult{{Name: "声音模型库", Action: "erase", Outcome: OutcomePending}},
		}, team),
		{RequestID: smsID, Template: TemplateFinalConfirmation, To: to, Locale: l, SMS: SMSFor(TemplateFinalConfirmation, smsID, l)},
	}
}

func TestSMSTexts(t *testing.T) {
	var golden strings.Builder
	for _, l := range dsr.Locales() {
		for _, m := range smsMessages(l) {
			name := m.Template + "/" + string(l)
			s := m.SMS
			if s.Template != m.Template || s.Text == "" {
				t.Errorf("%s: SMS = %+v, want the template's text", name, s)
				continue
			}
			fmt.Fprintf(&golden, "%s\t%d\t%s\n", name, utf8.RuneCountInString(s.Text), s.Text)
			if l == dsr.LocaleEn {
				if n := gsm7Septets(s.Text); n < 0 || n > SMSMaxEnText {
					t.Errorf("%s: %d GSM-7 septets (-1: not GSM-7), want at most %d: %q", name, n, SMSMaxEnText, s.Text)
				}
			} else if n := utf8.RuneCountInString(s.Text); n > SMSMaxZhText {
				t.Errorf("%s: %d characters, want at most %d: %q", name, n, SMSMaxZhText, s.Text)
			}
			// Only the code and the reference, never what the request is about.
			wantParams := map[string]string{"ref": smsID}
			if m.Template == TemplateVerificationCode {
				wantParams = map[string]string{"code": "123456"}
			}
			if fmt.Sprint(s.Params) != fmt.Sprint(wantParams) {
				t.Errorf("%s: Params = %v, want %v", name, s.Params, wantParams)
			}
			for _, v := range wantParams {
				if !strings.Contains(s.Text, v) {
					t.Errorf("%s: text %q lacks %q", name, s.Text, v)
				}
			}
			var details []string
			for _, k := range dsr.Kinds() {
				details = append(details, k.Text(l), string(k))
			}
			for _, r := range dsr.RefusalReasons() {
				details = append(details, r.Text(l), string(r))
			}
			details = append(details, "r-linked", "删除了", "登录日志", "诉讼保全", "privacy@example.cn", "token", "http", "+86", "13800138000")
			for _, d := range details {
				if d != "" && strings.Contains(s.Text, d) {
					t.Errorf("%s: text %q holds %q, a detail of the request", name, s.Text, d)
				}
			}
		}
	}
	path := filepath.Join("testdata", "sms.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(golden.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if got := golden.String(); got != string(want) {
		t.Errorf("SMS texts differ from %s (go test -update rewrites it):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestSMSTemplatesCovered(t *testing.T) {
	var got []string
	for _, m := range smsMessages(dsr.LocaleZhCN) {
		got = append(got, m.Template)
	}
	if fmt.Sprint(got) != fmt.Sprint(SMSTemplates()) {
		t.Errorf("templates with an SMS form = %v, SMSTemplates() = %v", got, SMSTemplates())
	}
	if s := smsFor("no_such_template", smsID, dsr.LocaleZhCN, "", time.Time{}); s.Text != "" || s.Params != nil {
		t.Errorf("unknown template: %+v, want no SMS form", s)
	}
}

func TestWithStatusLink(t *testing.T) {
	const link = "https://privacy.example.cn/requests/" + smsID + "?token=tok"
	tests := []struct {
		l        dsr.Locale
		wantTail string
	}{
		{dsr.LocaleZhCN, "详见：" + link},
		{dsr.LocaleEn, "page. " + link},
	}
	for _, tt := range tests {
		m := Reply(smsID, dsr.Contact{Phone: "+8613800138000"}, tt.l, ReplyContent{Kind: dsr.KindAccess}, Contact{})
		got := m.WithStatusLink(link)
		if !strings.HasSuffix(got.SMS.Text, tt.wantTail) || got.SMS.Params["link"] != link || got.SMS.Params["ref"] != smsID {
			t.Errorf("%s: WithStatusLink = %+v, want text ending %q and params link, ref", tt.l, got.SMS, tt.wantTail)
		}
		if _, ok := m.SMS.Params["link"]; ok || strings.Contains(m.SMS.Text, link) {
			t.Errorf("%s: WithStatusLink changed the original message: %+v", tt.l, m.SMS)
		}
		if got.Body != m.Body || got.Subject != m.Subject {
			t.Errorf("%s: WithStatusLink changed the email", tt.l)
		}
		if same := m.WithStatusLink(""); fmt.Sprint(same.SMS) != fmt.Sprint(m.SMS) {
			t.Errorf("%s: an empty link changed the SMS: %+v", tt.l, same.SMS)
		}
	}
	bare := Message{RequestID: smsID, Template: "t", Body: "b"}
	if got := bare.WithStatusLink(link); got.SMS.Text != "" {
		t.Errorf("a message without an SMS form got one: %+v", got.SMS)
	}
}

func TestOutboxWritesSMSText(t *testing.T) {
	dir := t.TempDir()
	box := &Outbox{Dir: dir, From: "privacy@example.cn", Now: func() time.Time { return at }}
	to := dsr.Contact{Phone: "+8613800138000"}
	m := VerificationCode(smsID, to, dsr.LocaleZhCN, "654321", at.Add(30*time.Minute), "https://x.example/verification?token=t")
	if err := box.SendSMS(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	if len(files) != 1 {
		t.Fatalf("%d outbox files, want 1", len(files))
	}
	raw, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	env, err := enmime.ReadEnvelope(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := env.Text, m.SMS.Text+"\n"; got != want {
		t.Errorf("outbox SMS body = %q, want the SMS text %q", got, want)
	}
	for h, want := range map[string]string{
		"Subject": "SMS " + TemplateVerificationCode, "X-Dsrflow-Channel": "sms", "X-Dsrflow-Template": TemplateVerificationCode,
		"X-Dsrflow-Request": smsID, "To": "<+8613800138000@sms.invalid>",
	} {
		if got := env.GetHeader(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if strings.Contains(env.Text, "verification?token") {
		t.Error("the SMS carries the verification link of the email")
	}
}
