package notify

import (
	"strings"
	"testing"
	"time"

	"dsrflow/internal/dsr"
)

func TestDeadlineExtended(t *testing.T) {
	due := time.Date(2026, 6, 2, 15, 59, 59, 0, time.UTC) // 2026-06-02 23:59:59 in China
	team := Contact{Email: "privacy@example.cn"}
	tests := []struct {
		l                 dsr.Locale
		subject           string
		wantBody, notBody []string
	}{
		{dsr.LocaleEn, "We need more time for your privacy request r-1", []string{"Because your request is complex", "by 2026-06-02 at the latest", "Access my personal information", "privacy@example.cn"}, []string{"您"}},
		{dsr.LocaleZhCN, "您的个人信息请求（编号 r-1）需要延长处理时间", []string{"由于您的请求较为复杂", "最迟于 2026-06-02 前", "访问我的个人信息"}, []string{"Because"}},
	}
	for _, tt := range tests {
		reason := map[dsr.Locale]string{dsr.LocaleEn: "your request is complex", dsr.LocaleZhCN: "您的请求较为复杂"}[tt.l]
		m := DeadlineExtended("r-1", dsr.Contact{Email: "a@example.cn"}, tt.l, dsr.KindAccess, due, reason, team)
		if m.Template != TemplateDeadlineExtended || m.Subject != tt.subject || m.RequestID != "r-1" || m.Locale != tt.l {
			t.Errorf("%s: message = %+v", tt.l, m)
		}
		for _, s := range tt.wantBody {
			if !strings.Contains(m.Body, s) {
				t.Errorf("%s: body lacks %q:\n%s", tt.l, s, m.Body)
			}
		}
		for _, s := range tt.notBody {
			if strings.Contains(m.Body, s) {
				t.Errorf("%s: body has %q:\n%s", tt.l, s, m.Body)
			}
		}
		if m.SMS.Text != "" {
			t.Errorf("%s: an SMS form, want email only", tt.l)
		}
	}
}

func TestMoreInformation(t *testing.T) {
	team := Contact{Email: "privacy@example.cn"}
	link := "https://privacy.example.cn/?lang=en&ref=r-1"
	tests := []struct {
		name     string
		l        dsr.Locale
		link     string
		paused   bool
		want     []string
		wantNone []string
	}{
		{"en with link, paused", dsr.LocaleEn, link, true, []string{"we need:", "- a document that proves your identity", "- proof that you may act", "add it here, quoting reference r-1: " + link, "is paused until"}, []string{"reply to this message"}},
		{"en without link", dsr.LocaleEn, "", false, []string{"reply to this message", "reference r-1"}, []string{"paused"}},
		{"zh with link", dsr.LocaleZhCN, link, false, []string{"我们需要：", "- 能够证明您身份的材料", "请在此页面补充，并注明请求编号 r-1：" + link}, []string{"暂停"}},
		{"zh paused", dsr.LocaleZhCN, link, true, []string{"答复期限暂停计算"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := MoreInformation("r-1", dsr.Contact{Email: "a@example.cn"}, tt.l, dsr.KindErasure, []InfoNeeded{InfoIdentityDocument, InfoAuthorityDocument}, tt.link, tt.paused, team)
			if m.Template != TemplateMoreInformation || m.SMS.Text != "" {
				t.Errorf("message = %+v", m)
			}
			for _, s := range tt.want {
				if !strings.Contains(m.Body, s) {
					t.Errorf("body lacks %q:\n%s", s, m.Body)
				}
			}
			for _, s := range tt.wantNone {
				if strings.Contains(m.Body, s) {
					t.Errorf("body has %q:\n%s", s, m.Body)
				}
			}
			if _, err := Compose(m, "隐私团队", "privacy@example.cn", at); err != nil {
				t.Errorf("Compose: %v", err)
			}
		})
	}
	for _, n := range InfoNeededList() {
		if !n.Valid() || n.Text(dsr.LocaleEn) == "" || n.Text(dsr.LocaleZhCN) == "" {
			t.Errorf("%s has no text", n)
		}
	}
	if InfoNeeded("passport").Valid() {
		t.Error("unknown need is valid")
	}
}
