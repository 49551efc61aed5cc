package mail

import (
	"strings"
	"testing"
)

// TestSegmentBody: each line rule, and what lands in which segment.
func TestSegmentBody(t *testing.T) {
	tests := []struct {
		name, subject, in string
		own, notOwn       string // in and out of the own text
		fwdFrom           string
		quoted            string // in the quoted text
	}{
		{name: "gmail attribution then quotes, text below", in: "delete my data\nOn Mon, Bob <b@x.com> wrote:\n> close my account?\nthanks, and export too\n", own: "export too", notOwn: "close my account", quoted: "close my account"},
		{name: "attribution without quotes", in: "delete my data\n在 2026年11月20日，客服 写道：\n请注销账号\n", own: "delete my data", notOwn: "请注销账号", quoted: "请注销账号"},
		{name: "qq original", in: "请删除\n------------------ 原始邮件 ------------------\n发件人: a\n导出\n", own: "请删除", notOwn: "导出", quoted: "导出"},
		{name: "outlook separator", in: "erase it\n________________________________\nFrom: X\nSent: today\nSubject: y\n\nexport\n", own: "erase it", notOwn: "export", quoted: "export"},
		{name: "outlook header block without separator", in: "erase it\n\nFrom: X <x@a.com>\nSent: today\nTo: us\nSubject: y\n\nexport\n", own: "erase it", notOwn: "export", quoted: "export"},
		{name: "outlook forward", subject: "FW: y", in: "see below\n________________________________\nFrom: Ann <ann@a.com>\nSent: today\nSubject: y\n\nplease delete\n", own: "see below", notOwn: "please delete", fwdFrom: "ann@a.com"},
		{name: "gmail forward", in: "again\n---------- Forwarded message ---------\nFrom: Bo <bo@b.com>\nDate: x\n\ndelete\n", own: "again", notOwn: "delete", fwdFrom: "bo@b.com"},
		{name: "apple forward", in: "fyi\nBegin forwarded message:\n\nFrom: Cy <cy@c.com>\n\nclose it\n", own: "fyi", notOwn: "close it", fwdFrom: "cy@c.com"},
		{name: "163 forward", in: "转给你们\n-------- 转发邮件信息 --------\n发件人：\"D\" <d@d.cn>\n\n注销\n", own: "转给你们", notOwn: "注销", fwdFrom: "d@d.cn"},
		{name: "closing then signature", in: "please delete my data\n\nKind regards,\n\nHelen\nT +1 415 555 0100\n", own: "please delete", notOwn: "555"},
		{name: "chinese closing", in: "请查询\n此致\n敬礼\n赵律师\n电话：010-85551234\n", own: "请查询", notOwn: "010"},
		{name: "mobile signature kept apart", in: "delete it\n\nSent from my iPhone\n", own: "delete it", notOwn: "iPhone"},
		{name: "disclaimer", in: "erase my data\n\nCONFIDENTIALITY NOTICE: if you are not the intended recipient please delete this\n", own: "erase my data", notOwn: "intended recipient"},
		{name: "chinese disclaimer", in: "请查阅\n免责声明：如果您错误地收到了本邮件，请立即删除\n", own: "请查阅", notOwn: "立即删除"},
		{name: "a sentence starting with thanks stays", in: "Thanks. Attached is my ID.\n", own: "Attached is my ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := segmentBody(tt.in, tt.subject)
			if !strings.Contains(s.Own, tt.own) {
				t.Errorf("own %q lacks %q", s.Own, tt.own)
			}
			if tt.notOwn != "" && strings.Contains(s.Own, tt.notOwn) {
				t.Errorf("own %q holds %q", s.Own, tt.notOwn)
			}
			if s.ForwardedFrom != tt.fwdFrom {
				t.Errorf("forwarded from %q, want %q", s.ForwardedFrom, tt.fwdFrom)
			}
			if tt.quoted != "" && !strings.Contains(s.Quoted, tt.quoted) {
				t.Errorf("quoted %q lacks %q", s.Quoted, tt.quoted)
			}
		})
	}
}
