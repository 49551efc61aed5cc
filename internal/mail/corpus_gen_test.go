package mail

import (
	"bytes"
	"encoding/base64"
	"flag"
	"image/png"
	"math/rand/v2"
	"mime"
	"mime/quotedprintable"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
)

var gen = flag.Bool("gen", false, "rewrite the generated .eml files in testdata")

// idCardPNG is a 4x3 RGB PNG (base64).
const idCardPNG = "iVBORw0KGgoAAAANSUhEUgAAAAQAAAADCAIAAAA7ljmRAAAAHElEQVR4nGJhYDihwcAAQSwMNgxwgMIBBAAA//80swHFY8FYQQAAAABJRU5ErkJggg=="

// generatedCorpus builds the messages whose bytes are hard to write by hand:
// Chinese charsets, binary attachments, garbage. The bytes are committed;
// TestGeneratedCorpus checks they still match this generator.
func generatedCorpus(t *testing.T) map[string][]byte {
	t.Helper()
	enc := func(e encoding.Encoding, s string) []byte {
		b, err := e.NewEncoder().Bytes([]byte(s))
		if err != nil {
			t.Fatalf("encode %q: %v", s, err)
		}
		return b
	}
	b64 := func(b []byte) string {
		s := base64.StdEncoding.EncodeToString(b)
		var out strings.Builder
		for len(s) > 76 {
			out.WriteString(s[:76] + "\r\n")
			s = s[76:]
		}
		out.WriteString(s + "\r\n")
		return out.String()
	}
	qp := func(b []byte) string {
		var out bytes.Buffer
		w := quotedprintable.NewWriter(&out)
		if _, err := w.Write(b); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return out.String() + "\r\n"
	}
	// word encodes s in charset as an RFC 2047 encoded word (B or Q).
	word := func(e encoding.Encoding, charset string, q bool, s string) string {
		b := enc(e, s)
		if !q {
			return "=?" + charset + "?B?" + base64.StdEncoding.EncodeToString(b) + "?="
		}
		var out strings.Builder
		for _, c := range b {
			out.WriteString("=")
			out.WriteString(strings.ToUpper(string("0123456789abcdef"[c>>4]) + string("0123456789abcdef"[c&15])))
		}
		return "=?" + charset + "?Q?" + out.String() + "?="
	}
	head := func(from, subject, id, extra string) string {
		h := "Return-Path: <" + from + ">\r\n" +
			"From: " + from + "\r\n" +
			"To: privacy@singer.example.cn\r\n" +
			"Subject: " + subject + "\r\n" +
			"Date: Sat, 21 Nov 2026 09:00:00 +0800\r\n"
		if id != "" {
			h += "Message-ID: <" + id + ">\r\n"
		}
		return h + "MIME-Version: 1.0\r\n" + extra
	}
	msgs := map[string][]byte{}

	msgs["zh_gb2312_qp_access.eml"] = []byte(head("wang@example.cn",
		word(simplifiedchinese.GBK, "GB2312", false, "查询我的个人信息"),
		"gb2312-qp-access-1@example.cn",
		"Content-Type: text/plain; charset=\"gb2312\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n") +
		qp(enc(simplifiedchinese.GBK, "您好，我想查询你们收集了我的哪些个人信息，请提供一份副本。\r\n王先生\r\n")))

	msgs["zh_gbk_base64_closure.eml"] = []byte(head("zhu@example.cn",
		word(simplifiedchinese.GBK, "gbk", true, "注销账号"),
		"gbk-b64-closure-1@example.cn",
		"Content-Type: text/plain; charset=GBK\r\nContent-Transfer-Encoding: base64\r\n\r\n") +
		b64(enc(simplifiedchinese.GBK, "请帮我注销账号。我的用户名是朱镕，手机号 +86 139 1234 5678。\r\n")))

	// Declared GB2312 but carrying GBK-only characters (镕, 堃): common in real mail.
	msgs["zh_gb2312_declared_gbk_bytes.eml"] = []byte(head("li@example.cn",
		word(simplifiedchinese.GBK, "GB2312", false, "删除数据"),
		"gb2312-gbk-bytes-1@example.cn",
		"Content-Type: text/plain; charset=gb2312\r\nContent-Transfer-Encoding: 8bit\r\n\r\n") +
		string(enc(simplifiedchinese.GBK, "我是李堃镕，请删除我在贵公司的所有个人数据。\r\n")))

	// GB18030 with a four-byte character (𠮷, U+20BB7) that GBK cannot encode.
	msgs["zh_gb18030_correction.eml"] = []byte(head("ji@example.cn",
		word(simplifiedchinese.GB18030, "GB18030", false, "更正个人信息"),
		"gb18030-correction-1@example.cn",
		"Content-Type: text/plain; charset=GB18030\r\nContent-Transfer-Encoding: base64\r\n\r\n") +
		b64(enc(simplifiedchinese.GB18030, "我的姓名有误，应为吉𠮷，请更正我的个人信息。\r\n")))

	msgs["zh_big5_consent.eml"] = []byte(head("chen@example.tw",
		word(traditionalchinese.Big5, "Big5", false, "撤回同意"),
		"big5-consent-1@example.tw",
		"Content-Type: text/plain; charset=big5\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n") +
		qp(enc(traditionalchinese.Big5, "您好：我要撤回授權，請停止使用我的個人資料做數據統計。\r\n陳小姐\r\n")))

	msgs["zh_big5_erasure_traditional.eml"] = []byte(head("lin@example.hk",
		word(traditionalchinese.Big5, "big5", true, "刪除個人資料"),
		"big5-erasure-1@example.hk",
		"Content-Type: text/plain; charset=big5\r\nContent-Transfer-Encoding: base64\r\n\r\n") +
		b64(enc(traditionalchinese.Big5, "請刪除我的所有個人資料，謝謝。\r\n")))

	// Subject in GBK quoted-printable encoded words, body only points at it.
	msgs["rfc2047_subject_gbk.eml"] = []byte(head("zhao@example.cn",
		word(simplifiedchinese.GBK, "gbk", true, "请导出我的数据")+" "+word(simplifiedchinese.GBK, "GBK", false, "（可携带格式）"),
		"rfc2047-gbk-1@example.cn",
		"Content-Type: text/plain; charset=utf-8\r\n\r\n") +
		"见标题，谢谢。\r\n")

	// Raw 8-bit GBK in the Subject header (no RFC 2047), and a body declared
	// UTF-8 that is really GBK.
	msgs["zh_raw_8bit_gbk_subject.eml"] = []byte(head("sun@example.cn",
		string(enc(simplifiedchinese.GBK, "撤回授权")),
		"raw-gbk-subject-1@example.cn",
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n") +
		string(enc(simplifiedchinese.GBK, "我不再同意你们使用我的数据做个性化推荐，请撤回我的授权。\r\n")))

	// An ID card image, named in RFC 2231 UTF-8: a 4x3 PNG, kept as bytes
	// because image/png's encoder output changes between Go releases.
	pngBytes, err := base64.StdEncoding.DecodeString(idCardPNG)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := png.DecodeConfig(bytes.NewReader(pngBytes)); err != nil || cfg.Width != 4 || cfg.Height != 3 {
		t.Fatalf("idCardPNG is not a 4x3 PNG: %+v %v", cfg, err)
	}
	var pngBuf bytes.Buffer
	pngBuf.Write(pngBytes)
	msgs["attachment_id_card.eml"] = []byte(head("zhou@example.cn",
		mime.BEncoding.Encode("UTF-8", "删除个人信息（附身份证）"),
		"attachment-id-card-1@example.cn",
		"Content-Type: multipart/mixed; boundary=\"=_idcard\"\r\n\r\n") +
		"--=_idcard\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		b64([]byte("请删除我的个人信息。身份证照片见附件。\r\n")) +
		"--=_idcard\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename*=UTF-8''%E8%BA%AB%E4%BB%BD%E8%AF%81.png\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		b64(pngBuf.Bytes()) +
		"--=_idcard\r\nContent-Type: application/pdf; name=\"proof.pdf\"\r\nContent-Disposition: attachment; filename=\"proof.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		b64([]byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")) +
		"--=_idcard--\r\n")

	// HTML only, in GBK, quoted-printable.
	msgs["zh_html_gbk_qp_erasure.eml"] = []byte(head("he@example.cn",
		word(simplifiedchinese.GBK, "gbk", false, "个人信息"),
		"html-gbk-qp-1@example.cn",
		"Content-Type: text/html; charset=gbk\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n") +
		qp(enc(simplifiedchinese.GBK, "<html><head><style>p{font-size:14px}</style></head><body><p>您好，</p><p>请<b>删除</b>我的全部个人数据。</p><p>何女士</p></body></html>\r\n")))

	// multipart/related: HTML with an inline ID photo referenced by Content-ID,
	// without a file name.
	msgs["related_inline_image.eml"] = []byte(head("yan@example.com", "Erase my data", "related-inline-1@example.com",
		"Content-Type: multipart/related; boundary=\"rel\"; type=\"text/html\"\r\n\r\n") +
		"--rel\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Please erase my data. My ID:</p><img src=\"cid:id1@example.com\">\r\n" +
		"--rel\r\nContent-Type: image/png\r\nContent-ID: <id1@example.com>\r\nContent-Disposition: inline\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		b64(pngBuf.Bytes()) +
		"--rel--\r\n")

	// Unknown charset name: the text is kept as is and the problem recorded.
	msgs["bad_charset_name.eml"] = []byte(head("wu@example.com", "Delete my data", "bad-charset-1@example.com",
		"Content-Type: text/plain; charset=\"x-no-such-charset\"\r\n\r\n") +
		"Please delete my data.\r\n")

	// Binary garbage: no headers at all.
	rng := rand.New(rand.NewPCG(4, 2))
	garbage := make([]byte, 2048)
	for i := range garbage {
		garbage[i] = byte(rng.UintN(256))
	}
	garbage[0] = 0x89 // never a header line
	msgs["garbage.bin.eml"] = garbage
	return msgs
}

// TestGeneratedCorpus keeps the committed generated files equal to the
// generator; run with -gen to rewrite them.
func TestGeneratedCorpus(t *testing.T) {
	for name, want := range generatedCorpus(t) {
		path := filepath.Join("testdata", name)
		if *gen {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("read %s: %v (run go test -run TestGeneratedCorpus -gen)", path, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from its generator (run go test -run TestGeneratedCorpus -gen)", path)
		}
	}
}
