package mail

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"dsrflow/internal/dsr"
)

func parseFile(t *testing.T, name string) *Message {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := Parse(raw)
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return msg
}

// TestParseDecodes checks that subjects and bodies come out as the UTF-8 text
// that was encoded, for every charset and transfer encoding in the corpus.
func TestParseDecodes(t *testing.T) {
	tests := []struct {
		file        string
		subject     string
		textHas     string
		phone       string
		from        string
		problemCode string // a problem that must be recorded, or ""
	}{
		{"zh_utf8_erasure.eml", "请删除我的个人信息", "请删除你们保存的我的全部个人信息", "+8613800138000", "zhang.wei@example.cn", ""},
		{"zh_gb2312_qp_access.eml", "查询我的个人信息", "请提供一份副本", "", "wang@example.cn", ""},
		{"zh_gbk_base64_closure.eml", "注销账号", "我的用户名是朱镕", "+8613912345678", "zhu@example.cn", ""},
		{"zh_gb2312_declared_gbk_bytes.eml", "删除数据", "我是李堃镕", "", "li@example.cn", ""},
		{"zh_gb18030_correction.eml", "更正个人信息", "应为吉𠮷", "", "ji@example.cn", ""},
		{"zh_big5_consent.eml", "撤回同意", "請停止使用我的個人資料做數據統計", "", "chen@example.tw", ""},
		{"zh_big5_erasure_traditional.eml", "刪除個人資料", "請刪除我的所有個人資料", "", "lin@example.hk", ""},
		{"rfc2047_subject_gbk.eml", "请导出我的数据（可携带格式）", "见标题", "", "zhao@example.cn", ""},
		{"zh_raw_8bit_gbk_subject.eml", "撤回授权", "请撤回我的授权", "", "sun@example.cn", ProblemInvalidUTF8Repaired},
		{"en_multipart_alternative_access.eml", "Subject access request", "including any voice recordings", "", "alice@example.com", ""},
		{"html_only_erasure.eml", "My data", "right to be forgotten", "", "bob@example.org", ""},
		{"bad_charset_name.eml", "Delete my data", "Please delete my data.", "", "wu@example.com", ProblemCharsetConversion},
		{"zh_html_gbk_qp_erasure.eml", "个人信息", "我的全部个人数据", "", "he@example.cn", ""},
		{"related_inline_image.eml", "Erase my data", "Please erase my data.", "", "yan@example.com", ""},
		{"guardian.eml", "删除我孩子的信息", "我是监护人", "", "mother@example.cn", ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			msg := parseFile(t, tt.file)
			if msg.Subject != tt.subject {
				t.Errorf("Subject = %q, want %q", msg.Subject, tt.subject)
			}
			if !strings.Contains(msg.Text, tt.textHas) {
				t.Errorf("Text = %q, want it to contain %q", msg.Text, tt.textHas)
			}
			if msg.Phone != tt.phone {
				t.Errorf("Phone = %q, want %q", msg.Phone, tt.phone)
			}
			if msg.From != tt.from {
				t.Errorf("From = %q, want %q", msg.From, tt.from)
			}
			if strings.ContainsRune(msg.Text+msg.Subject, '\uFFFD') {
				t.Errorf("decoded text has replacement characters: %q", msg.Subject+msg.Text)
			}
			codes := msg.ProblemCodes()
			if tt.problemCode != "" && !slices.Contains(codes, tt.problemCode) {
				t.Errorf("problems = %v, want %s among them", codes, tt.problemCode)
			}
			if tt.problemCode == "" && len(codes) != 0 {
				t.Errorf("problems = %v, want none", codes)
			}
		})
	}
}

func TestParseHTMLOnlyDropsMarkup(t *testing.T) {
	for _, file := range []string{"html_only_erasure.eml", "zh_html_gbk_qp_erasure.eml", "related_inline_image.eml"} {
		msg := parseFile(t, file)
		for _, markup := range []string{"<p>", "<b>", "color: red", "font-size", "<style>", "<img"} {
			if strings.Contains(msg.Text, markup) {
				t.Errorf("%s: Text = %q, still contains %q", file, msg.Text, markup)
			}
		}
	}
}

func TestParseAttachments(t *testing.T) {
	msg := parseFile(t, "attachment_id_card.eml")
	if len(msg.Attachments) != 2 {
		t.Fatalf("got %d attachments, want 2: %+v", len(msg.Attachments), msg.Attachments)
	}
	png, pdf := msg.Attachments[0], msg.Attachments[1]
	if png.Filename != "身份证.png" || png.ContentType != "image/png" {
		t.Errorf("first attachment = %q %q, want 身份证.png image/png", png.Filename, png.ContentType)
	}
	if !bytes.HasPrefix(png.Data, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("PNG data not decoded: % x", png.Data[:min(8, len(png.Data))])
	}
	if pdf.Filename != "proof.pdf" || pdf.ContentType != "application/pdf" || !bytes.HasPrefix(pdf.Data, []byte("%PDF-1.4")) {
		t.Errorf("second attachment = %q %q %q", pdf.Filename, pdf.ContentType, pdf.Data)
	}
	if strings.Contains(msg.Text, "iVBOR") || strings.Contains(msg.Text, "%PDF") {
		t.Errorf("attachment content leaked into Text: %q", msg.Text)
	}
	if got := parseFile(t, "zh_utf8_erasure.eml").Attachments; len(got) != 0 {
		t.Errorf("plain message has attachments %+v", got)
	}
}

func TestParseInlineImageIsAttachment(t *testing.T) {
	msg := parseFile(t, "related_inline_image.eml")
	if len(msg.Attachments) != 1 || msg.Attachments[0].ContentType != "image/png" || !bytes.HasPrefix(msg.Attachments[0].Data, []byte("\x89PNG")) {
		t.Errorf("attachments = %+v, want the inline PNG", msg.Attachments)
	}
}

func TestNormalizeMessageID(t *testing.T) {
	tests := []struct{ in, want string }{
		{"<abc@example.com>", "abc@example.com"},
		{"  <  abc@example.com  >  ", "abc@example.com"},
		{"abc@example.com", "abc@example.com"},
		{"(comment) <abc@example.com> (more)", "abc@example.com"},
		{"<>", ""},
		{"", ""},
		{"   ", ""},
		{"<a b@example.com>", "ab@example.com"},
	}
	for _, tt := range tests {
		if got := NormalizeMessageID(tt.in); got != tt.want {
			t.Errorf("NormalizeMessageID(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDedupeKey(t *testing.T) {
	a, b := parseFile(t, "duplicate_a.eml"), parseFile(t, "duplicate_b.eml")
	other := parseFile(t, "zh_utf8_erasure.eml")
	noID := parseFile(t, "no_message_id.eml")

	ka, kb := DedupeKey(a, "mailbox/obj-1"), DedupeKey(b, "mailbox/obj-2")
	if ka != kb {
		t.Errorf("same Message-ID, two objects: keys %s and %s differ", ka, kb)
	}
	if len(ka) != 64 {
		t.Errorf("key %q is not a hex SHA-256", ka)
	}
	if ka == DedupeKey(other, "mailbox/obj-1") {
		t.Error("different Message-IDs gave the same key")
	}
	if noID.MessageID != "" {
		t.Fatalf("no_message_id.eml has MessageID %q", noID.MessageID)
	}
	k1, k1again, k2 := DedupeKey(noID, "mailbox/obj-3"), DedupeKey(noID, "mailbox/obj-3"), DedupeKey(noID, "mailbox/obj-4")
	if k1 != k1again {
		t.Error("same object notified twice gave two keys")
	}
	if k1 == k2 {
		t.Error("two objects without Message-ID gave the same key")
	}
	// A Message-ID that looks like an object key must not collide with it.
	if DedupeKey(&Message{MessageID: "x"}, "") == DedupeKey(&Message{}, "x") {
		t.Error("Message-ID and object key share one key space")
	}
	if DedupeKey(nil, "b/k") != DedupeKey(&Message{}, "b/k") {
		t.Error("nil message should fall back to the object key")
	}
}

// TestParseBroken feeds defective messages: Parse never panics, always returns
// a message, and unreadable ones come back with a *ParseError and go to triage.
func TestParseBroken(t *testing.T) {
	tests := []struct {
		name       string
		raw        string
		wantErr    string // ParseError code, or "" for a readable message
		wantReason string
	}{
		{"empty", "", ProblemEmpty, "triage: unparseable"},
		{"whitespace", " \r\n\t\r\n", ProblemEmpty, "triage: unparseable"},
		{"no headers", "just some text\nwithout headers\n", ProblemNoHeaders, "triage: unparseable"},
		{"binary", "\x00\x01\x02\xff\xfe", ProblemNoHeaders, "triage: unparseable"},
		{"headers only", "From: a@example.com\r\nSubject: delete my data\r\n", "", "request: erasure"},
		{"declared boundary missing", "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n--yy\r\n\r\ndelete my data\r\n", "", "triage: broken_mime"},
		{"multipart without boundary param", "From: a@example.com\r\nContent-Type: multipart/mixed\r\n\r\nplease delete my data\r\n", "", "request: erasure"},
		{"unclosed nested multipart", "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nplease delete my data\r\n", "", "request: erasure"},
		{"truncated base64 body", "From: a@example.com\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\ncGxlYXNlIGRlbGV0ZSBteSBkYXRh!!!", "", "triage: broken_mime"},
		{"bad quoted-printable", "From: a@example.com\r\nSubject: x\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nplease delete =ZZ my data=\r\n", "", "request: erasure"},
		{"bad content type", "From: a@example.com\r\nContent-Type: ;;;===\r\n\r\nplease delete my data\r\n", "", "request: erasure"},
		{"bad rfc2047", "From: a@example.com\r\nSubject: =?x-unknown?B?!!!?=\r\n\r\nplease delete my data\r\n", "", "request: erasure"},
		{"long header line", "From: a@example.com\r\nX-Long: " + strings.Repeat("a", 200000) + "\r\n\r\nplease delete my data\r\n", "", "request: erasure"},
		{"deeply nested multiparts", "From: a@example.com\r\n" + nested(MaxMultiparts+10, false) + "Content-Type: text/plain\r\n\r\nplease delete my data\r\n", ProblemTooComplex, "triage: unparseable"},
		{"nested multiparts within the limit", "From: a@example.com\r\n" + nested(MaxMultipartDepth, true), "", "request: erasure"},
		{"too large", "From: a@example.com\r\n\r\n" + strings.Repeat("x", MaxSize), ProblemTooLarge, "triage: unparseable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := Parse([]byte(tt.raw))
			if msg == nil {
				t.Fatal("Parse returned a nil message")
			}
			var pe *ParseError
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Parse error %v, want none", err)
			case tt.wantErr != "" && !errors.As(err, &pe):
				t.Fatalf("Parse error %v, want a *ParseError %s", err, tt.wantErr)
			case tt.wantErr != "" && pe.Code != tt.wantErr:
				t.Fatalf("ParseError code %s, want %s", pe.Code, tt.wantErr)
			case err != nil && err.Error() != "parse mail: "+tt.wantErr:
				t.Errorf("error text %q: want the code only, no message content", err)
			}
			if msg.Size != len(tt.raw) {
				t.Errorf("Size = %d, want %d", msg.Size, len(tt.raw))
			}
			c := Classify(msg, VerdictsFromHeaders(msg))
			if c.Reason != tt.wantReason {
				t.Errorf("Reason = %q, want %q (problems %v)", c.Reason, tt.wantReason, c.Problems)
			}
			if tt.wantErr != "" && !slices.Contains(c.Problems, tt.wantErr) {
				t.Errorf("problems %v do not record %s", c.Problems, tt.wantErr)
			}
		})
	}
}

// nested builds n multiparts, each the only part of the one before; closed
// adds the text part and the closing delimiters in order.
func nested(n int, closed bool) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n", i, i)
	}
	if closed {
		b.WriteString("Content-Type: text/plain\r\n\r\nplease delete my data\r\n")
		for i := n - 1; i >= 0; i-- {
			fmt.Fprintf(&b, "--b%d--\r\n", i)
		}
	}
	return b.String()
}

// TestRulesReadTheStartOfLongBodies: a request buried after MaxRuleText bytes
// is not read (the message goes to triage), and a huge body stays cheap.
func TestRulesReadTheStartOfLongBodies(t *testing.T) {
	filler := strings.Repeat("lorem ipsum ", MaxRuleText/12+1)
	tests := []struct{ body, want string }{
		{"please delete my data\n" + filler, "request: erasure"},
		{filler + "\nplease delete my data", "triage: unclear"},
	}
	for _, tt := range tests {
		msg, err := Parse([]byte("From: a@example.com\r\nSubject: hi\r\n\r\n" + tt.body))
		if err != nil {
			t.Fatal(err)
		}
		if got := Classify(msg, Verdicts{}).Reason; got != tt.want {
			t.Errorf("reason = %q, want %q", got, tt.want)
		}
	}
}

func TestClassifyNilMessage(t *testing.T) {
	if got := Classify(nil, Verdicts{}); got.Reason != "triage: unparseable" {
		t.Errorf("Classify(nil) reason = %q, want triage: unparseable", got.Reason)
	}
}

// FuzzClassify parses and classifies any input: no panic, always a
// message and a complete classification, hints within their limits. Seeds
// are every message of both corpora and the hostile shapes. While fuzzing
// (-fuzz), an input that takes longer than a second fails: the seeds run in
// the normal test run without that check (speed is not asserted there).
func FuzzClassify(f *testing.F) {
	for _, pattern := range []string{"testdata/*.eml", "testdata/corpus/*.eml"} {
		paths, _ := filepath.Glob(pattern)
		for _, p := range paths {
			raw, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(raw)
		}
	}
	f.Add([]byte(nestedUnclosed(MaxMultipartDepth+1, nestedStyles["rfc2231 *0 *1"], false)))
	f.Add([]byte(nestedUnclosed(MaxMultipartDepth, nestedStyles["rfc2231 charset"], true)))
	f.Add([]byte("From: a@example.com\r\nContent-Type: text/html\r\n\r\n" + strings.Repeat("a</x>", 2000)))
	fuzzing := flag.Lookup("test.fuzz") != nil && flag.Lookup("test.fuzz").Value.String() != ""
	run := func(raw []byte) (*Message, Classification, time.Duration) {
		start := time.Now()
		msg, _ := Parse(raw)
		if msg == nil {
			return nil, Classification{}, time.Since(start)
		}
		return msg, Classify(msg, VerdictsFromHeaders(msg)), time.Since(start)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		msg, c, took := run(raw)
		if msg == nil {
			t.Fatal("nil message")
		}
		if fuzzing && took > time.Second {
			// On a shared machine one run can stall; a slow input is slow
			// every time, so the fastest of three runs decides.
			for range 2 {
				_, _, again := run(raw)
				took = min(took, again)
			}
			if took > time.Second {
				t.Fatalf("parse and classify took %v (%d bytes)", took, len(raw))
			}
		}
		if c.Action == "" || c.Reason == "" || (c.Language != LanguageZH && c.Language != LanguageEN) {
			t.Fatalf("incomplete classification %+v", c)
		}
		if c.Action == ActionIgnore && c.IgnoreReason == "" {
			t.Fatalf("ignore without reason: %+v", c)
		}
		if c.Action == ActionRequest && (c.Kind == "" || c.From == "") {
			t.Fatalf("request without kind or sender: %+v", c)
		}
		if c.Action == ActionFollowUp && c.Kind != "" {
			t.Fatalf("follow-up with a kind: %+v", c)
		}
		h := c.Hints
		for _, list := range [][]string{h.AccountIDs, h.Phones, h.Emails, h.Corrections, h.Purposes} {
			if len(list) > MaxHints {
				t.Fatalf("more than %d hints: %+v", MaxHints, h)
			}
		}
		for _, p := range h.Purposes {
			if !dsr.ValidPurpose(p) {
				t.Fatalf("unknown purpose %q", p)
			}
		}
	})
}
