package mail

import (
	"bytes"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html"
	"mime"
	"mime/quotedprintable"
	"strings"
	"testing"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"

	"dsrflow/internal/dsr"
)

// The labelled corpus (testdata/corpus) is written as Go values: each case
// is the text a person (or a machine) wrote, the mail client that sent it,
// and the result a careful analyst expects. renderCase turns a case into the
// bytes that client would send: its charset and transfer encoding, its
// quoting and forwarding style, its headers. The .eml files are committed;
// TestLabelledCorpusFiles keeps them equal to this generator (-gen rewrites).

// mailClient is how one mail program writes a message.
type mailClient struct {
	name    string
	charset string            // MIME charset of the text parts
	enc     encoding.Encoding // nil: UTF-8
	cte     string            // transfer encoding of the text parts
	alt     bool              // multipart/alternative with an HTML twin
	html    bool              // HTML only
	mailer  string            // X-Mailer / User-Agent header line, or ""
	idHost  string            // Message-ID right-hand side
	quote   func(q *quoted) string
	forward func(q *quoted) string
}

// quoted is an earlier message quoted in a reply or forwarded.
type quoted struct {
	from    string // "Name <addr>"
	date    string // as the client prints it
	subject string
	body    string
}

func prefixLines(s, p string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l == "" {
			lines[i] = strings.TrimRight(p, " ")
		} else {
			lines[i] = p + l
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

func addrOf(from string) string {
	if i := strings.IndexByte(from, '<'); i >= 0 {
		return strings.TrimSuffix(from[i+1:], ">")
	}
	return from
}

func nameOf(from string) string {
	if i := strings.IndexByte(from, '<'); i > 0 {
		return strings.Trim(strings.TrimSpace(from[:i]), `"`)
	}
	return addrOf(from)
}

var (
	gmailQuote = func(q *quoted) string {
		return "On " + q.date + " " + q.from + " wrote:\n\n" + prefixLines(q.body, "> ")
	}
	gmailZhQuote = func(q *quoted) string {
		return q.from + " 于" + q.date + "写道：\n\n" + prefixLines(q.body, "> ")
	}
	gmailForward = func(q *quoted) string {
		return "---------- Forwarded message ---------\nFrom: " + q.from + "\nDate: " + q.date + "\nSubject: " + q.subject + "\nTo: <privacy@singer.example.cn>\n\n\n" + q.body
	}
	outlookQuote = func(q *quoted) string {
		return "________________________________\nFrom: " + q.from + "\nSent: " + q.date + "\nTo: privacy@singer.example.cn\nSubject: " + q.subject + "\n\n" + q.body
	}
	outlookZhQuote = func(q *quoted) string {
		return "________________________________\n发件人: " + q.from + "\n发送时间: " + q.date + "\n收件人: privacy@singer.example.cn\n主题: " + q.subject + "\n\n" + q.body
	}
	outlookTwQuote = func(q *quoted) string {
		return "________________________________\n寄件者: " + q.from + "\n寄件日期: " + q.date + "\n收件者: privacy@singer.example.cn\n主旨: " + q.subject + "\n\n" + q.body
	}
	qqQuote = func(q *quoted) string {
		return "------------------ 原始邮件 ------------------\n发件人: \"" + nameOf(q.from) + "\"<" + addrOf(q.from) + ">;\n发送时间: " + q.date + "\n收件人: \"privacy\"<privacy@singer.example.cn>;\n主题: " + q.subject + "\n\n" + q.body
	}
	neteaseQuote = func(q *quoted) string {
		return "在 " + q.date + "，\"" + nameOf(q.from) + "\" <" + addrOf(q.from) + "> 写道：\n" + prefixLines(q.body, ">")
	}
	neteaseForward = func(q *quoted) string {
		return "-------- 转发邮件信息 --------\n发件人：\"" + nameOf(q.from) + "\" <" + addrOf(q.from) + ">\n发送日期：" + q.date + "\n收件人：privacy@singer.example.cn\n主题：" + q.subject + "\n\n" + q.body
	}
	appleQuote = func(q *quoted) string {
		return "> On " + q.date + ", " + q.from + " wrote:\n> \n" + prefixLines(q.body, "> ")
	}
	appleZhQuote = func(q *quoted) string {
		return "> 在 " + q.date + "，" + q.from + " 写道：\n> \n" + prefixLines(q.body, "> ")
	}
	appleForward = func(q *quoted) string {
		return "Begin forwarded message:\n\nFrom: " + q.from + "\nSubject: " + q.subject + "\nDate: " + q.date + "\nTo: privacy@singer.example.cn\n\n" + q.body
	}
	foxmailQuote = func(q *quoted) string {
		return "------------------ Original ------------------\nFrom:  \"" + nameOf(q.from) + "\"<" + addrOf(q.from) + ">;\nDate:  " + q.date + "\nTo:  \"privacy\"<privacy@singer.example.cn>;\nSubject:  " + q.subject + "\n\n" + q.body
	}
	thunderbirdQuote = func(q *quoted) string {
		return "On " + q.date + ", " + nameOf(q.from) + " wrote:\n" + prefixLines(q.body, "> ")
	}
)

// clients are the mail programs of the corpus, by short name.
var clients = map[string]mailClient{
	"gmail":       {name: "gmail", charset: "UTF-8", cte: "quoted-printable", alt: true, idHost: "mail.gmail.com", quote: gmailQuote, forward: gmailForward},
	"gmail-zh":    {name: "gmail-zh", charset: "UTF-8", cte: "base64", alt: true, idHost: "mail.gmail.com", quote: gmailZhQuote, forward: gmailForward},
	"outlook":     {name: "outlook", charset: "us-ascii", cte: "quoted-printable", alt: true, mailer: "X-MS-Has-Attach: \r\nX-MS-TNEF-Correlator: ", idHost: "SG2PR06MB5302.apcprd06.prod.outlook.com", quote: outlookQuote, forward: outlookQuote},
	"outlook-utf": {name: "outlook-utf", charset: "utf-8", cte: "quoted-printable", alt: true, mailer: "X-MS-Has-Attach: yes", idHost: "AM6PR10MB2133.EURPRD10.PROD.OUTLOOK.COM", quote: outlookQuote, forward: outlookQuote},
	"outlook-zh":  {name: "outlook-zh", charset: "gb2312", enc: simplifiedchinese.GBK, cte: "base64", alt: true, mailer: "X-Mailer: Microsoft Outlook 16.0", idHost: "PSAPR06MB4486.apcprd06.prod.outlook.com", quote: outlookZhQuote, forward: outlookZhQuote},
	"outlook-tw":  {name: "outlook-tw", charset: "big5", enc: traditionalchinese.Big5, cte: "quoted-printable", alt: true, mailer: "X-Mailer: Microsoft Outlook 16.0", idHost: "TYZPR03MB5573.apcprd03.prod.outlook.com", quote: outlookTwQuote, forward: outlookTwQuote},
	"outlook-hk":  {name: "outlook-hk", charset: "utf-8", cte: "base64", alt: true, mailer: "X-Mailer: Microsoft Outlook 16.0", idHost: "HK0PR01MB2401.apcprd01.prod.exchangelabs.com", quote: outlookTwQuote, forward: outlookTwQuote},
	"qq":          {name: "qq", charset: "gb18030", enc: simplifiedchinese.GB18030, cte: "base64", alt: true, mailer: "X-QQ-MIME: TCMime 1.0 by Tencent\r\nX-Mailer: QQMail 2.x", idHost: "qq.com", quote: qqQuote, forward: qqQuote},
	"163":         {name: "163", charset: "GBK", enc: simplifiedchinese.GBK, cte: "base64", alt: true, mailer: "X-Mailer: Coremail Webmail Server Version XT5.0.14", idHost: "163.com", quote: neteaseQuote, forward: neteaseForward},
	"apple":       {name: "apple", charset: "utf-8", cte: "quoted-printable", mailer: "X-Mailer: iPhone Mail (21F90)", idHost: "icloud.com", quote: appleQuote, forward: appleForward},
	"apple-zh":    {name: "apple-zh", charset: "utf-8", cte: "base64", mailer: "X-Mailer: iPhone Mail (21F90)", idHost: "icloud.com", quote: appleZhQuote, forward: appleForward},
	"foxmail":     {name: "foxmail", charset: "gb2312", enc: simplifiedchinese.GBK, cte: "base64", alt: true, mailer: "X-Mailer: Foxmail 7.2.25.228[cn]", idHost: "foxmail.com", quote: foxmailQuote, forward: foxmailQuote},
	"thunderbird": {name: "thunderbird", charset: "UTF-8", cte: "8bit", mailer: "User-Agent: Mozilla Thunderbird", idHost: "posteo.de", quote: thunderbirdQuote, forward: gmailForward},
	"big5-plain":  {name: "big5-plain", charset: "big5", enc: traditionalchinese.Big5, cte: "base64", mailer: "X-Mailer: Yahoo Mail Taiwan", idHost: "yahoo.com.tw", quote: outlookTwQuote, forward: outlookTwQuote},
	"html-only":   {name: "html-only", charset: "utf-8", cte: "base64", html: true, mailer: "X-Mailer: HK Webmail 3.1", idHost: "netvigator.com", quote: gmailQuote, forward: gmailForward},
	"plain":       {name: "plain", charset: "utf-8", cte: "8bit", idHost: "example.net", quote: gmailQuote, forward: gmailForward},
}

// attachment kinds of a case.
const (
	attachPDF    = "pdf"
	attachPNG    = "png"
	attachRFC822 = "rfc822"
)

// corpusCase is one labelled message.
type corpusCase struct {
	name    string // file name without .eml
	group   string // the pattern it exercises (see corpusGroups)
	client  string // a key of clients
	from    string // "Name <addr>"; "" for none
	subject string
	body    string   // what the sender wrote, signature included
	quote   *quoted  // an earlier message quoted below the text
	fwd     *quoted  // a forwarded message, inline or (with attachRFC822) attached
	headers []string // extra header lines
	attach  []string // attachment kinds
	date    string   // Date header; a default when ""
	want    want
}

// want is the analyst's expected result.
type want struct {
	action Action
	kind   dsr.Kind
	role   dsr.Role
	reason string // ignore or triage code ("" for request and follow-up)
	thread string // ThreadRequestID for follow-ups
	hints  *Hints // checked when set
}

func wReq(k dsr.Kind) want            { return want{action: ActionRequest, kind: k, role: dsr.RoleSelf} }
func wAs(k dsr.Kind, r dsr.Role) want { return want{action: ActionRequest, kind: k, role: r} }
func wTriage(code string) want        { return want{action: ActionTriage, role: dsr.RoleSelf, reason: code} }
func wIgnore(code string) want        { return want{action: ActionIgnore, role: dsr.RoleSelf, reason: code} }
func wFollow(thread string) want {
	return want{action: ActionFollowUp, role: dsr.RoleSelf, thread: thread}
}
func (w want) withHints(h Hints) want    { w.hints = &h; return w }
func (w want) withThread(id string) want { w.thread = id; return w }
func (w want) String() string            { return fmt.Sprintf("%s %s %s %s", w.action, w.kind, w.role, w.reason) }

// rid is a request ID as intake makes them: "r-" and 26 base32 characters.
func rid(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	return "r-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:]))[:26]
}

// ourMessageID is the Message-ID of one of our own messages for request id.
func ourMessageID(id, template string) string {
	sum := sha256.Sum256([]byte(id + template))
	return "<dsr." + id + "." + template + "." + hex.EncodeToString(sum[:8]) + "@singer.example.cn>"
}

// ackZh and ackEn are our automatic acknowledgement as people quote it.
func ackZh(id string) *quoted {
	return &quoted{
		from: "个人信息保护 <privacy@singer.example.cn>", date: "2026年11月18日 09:12",
		subject: "自动回复：我们已收到您的个人信息请求（编号 " + id + "）",
		body: "您好！\n\n我们已收到您的个人信息请求，编号 " + id + "。我们将在核实您的身份后十五个工作日内答复您。\n\n" +
			"此邮件由系统自动发送，请勿直接回复。如需补充材料，请按照验证邮件中的说明操作。\n\n个人信息保护团队",
	}
}

func ackEn(id string) *quoted {
	return &quoted{
		from: "Privacy Team <privacy@singer.example.cn>", date: "Wed, Nov 18, 2026 at 9:12 AM",
		subject: "Automatic reply: we received your privacy request " + id,
		body: "Hello,\n\nThis is an automatic reply: we received your privacy request " + id + ". We will answer within 15 working days of verifying your identity.\n\n" +
			"Please do not reply directly to this message.\n\nPrivacy Team",
	}
}

// renderCase builds the raw message of c.
func renderCase(t testing.TB, c corpusCase) []byte {
	t.Helper()
	cl, ok := clients[c.client]
	if !ok {
		t.Fatalf("%s: unknown client %q", c.name, c.client)
	}
	seed := sha256.Sum256([]byte(c.name))
	text := strings.ReplaceAll(c.body, "\r\n", "\n")
	if c.quote != nil {
		text = strings.TrimRight(text, "\n") + "\n\n" + cl.quote(c.quote)
	}
	if c.fwd != nil && !contains(c.attach, attachRFC822) {
		text = strings.TrimRight(text, "\n") + "\n\n" + cl.forward(c.fwd)
	}
	var h strings.Builder
	w := func(k, v string) { h.WriteString(k + ": " + v + "\r\n") }
	if c.from != "" {
		w("Return-Path", "<"+addrOf(c.from)+">")
		w("From", encodeAddress(t, cl, c.from))
	}
	w("To", "privacy@singer.example.cn")
	w("Subject", encodeHeader(t, cl, c.subject))
	date := c.date
	if date == "" {
		date = fmt.Sprintf("%s, %d Nov 2026 %02d:%02d:%02d +0800", []string{"Mon", "Tue", "Wed", "Thu", "Fri"}[seed[0]%5], 16+int(seed[0]%5), 8+int(seed[1]%12), int(seed[2]%60), int(seed[3]%60))
	}
	w("Date", date)
	w("Message-ID", "<"+hex.EncodeToString(seed[:10])+"@"+cl.idHost+">")
	for _, extra := range c.headers {
		h.WriteString(extra + "\r\n")
	}
	if cl.mailer != "" {
		h.WriteString(cl.mailer + "\r\n")
	}
	w("MIME-Version", "1.0")

	var body string
	b1, b2 := "00000000000"+hex.EncodeToString(seed[4:10]), "----=_Part_"+hex.EncodeToString(seed[10:14])
	switch {
	case cl.html:
		body = textPart(t, cl, "text/html", toHTML(text))
	case cl.alt:
		body = "Content-Type: multipart/alternative; boundary=\"" + b1 + "\"\r\n\r\n" +
			"--" + b1 + "\r\n" + textPart(t, cl, "text/plain", text) +
			"--" + b1 + "\r\n" + textPart(t, cl, "text/html", toHTML(text)) +
			"--" + b1 + "--\r\n"
	default:
		body = textPart(t, cl, "text/plain", text)
	}
	if len(c.attach) > 0 {
		var m strings.Builder
		m.WriteString("Content-Type: multipart/mixed; boundary=\"" + b2 + "\"\r\n\r\nThis is a multi-part message in MIME format.\r\n\r\n--" + b2 + "\r\n" + body)
		for i, a := range c.attach {
			m.WriteString("--" + b2 + "\r\n")
			switch a {
			case attachPDF:
				m.WriteString(fmt.Sprintf("Content-Type: application/pdf; name=\"document-%d.pdf\"\r\nContent-Disposition: attachment; filename=\"document-%d.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n", i, i))
				m.WriteString(wrap76(base64.StdEncoding.EncodeToString([]byte("%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\n% " + c.name + "\ntrailer<<>>\n%%EOF\n"))))
			case attachPNG:
				png, _ := base64.StdEncoding.DecodeString(idCardPNG)
				m.WriteString("Content-Type: image/png; name=\"IMG_20261120.png\"\r\nContent-Disposition: attachment; filename=\"IMG_20261120.png\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
				m.WriteString(wrap76(base64.StdEncoding.EncodeToString(png)))
			case attachRFC822:
				if c.fwd == nil {
					t.Fatalf("%s: rfc822 attachment without fwd", c.name)
				}
				inner := renderCase(t, corpusCase{name: c.name + "/inner", client: "plain", from: c.fwd.from, subject: c.fwd.subject, body: c.fwd.body, date: "Mon, 2 Nov 2026 10:00:00 +0800"})
				m.WriteString("Content-Type: message/rfc822; name=\"forwarded.eml\"\r\nContent-Disposition: attachment; filename=\"forwarded.eml\"\r\n\r\n")
				m.Write(inner)
			default:
				t.Fatalf("%s: unknown attachment %q", c.name, a)
			}
		}
		m.WriteString("--" + b2 + "--\r\n")
		body = m.String()
	}
	return []byte(h.String() + body)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// encodeText encodes s in the client's charset; it fails the test when the
// charset cannot hold s (the case must then use another client).
func encodeText(t testing.TB, cl mailClient, s string) []byte {
	t.Helper()
	if cl.enc == nil {
		return []byte(s)
	}
	b, err := cl.enc.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatalf("client %s cannot encode %q: %v", cl.name, s, err)
	}
	return b
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func encodeHeader(t testing.TB, cl mailClient, s string) string {
	if isASCII(s) {
		return s
	}
	charset := cl.charset
	if charset == "us-ascii" {
		charset = "utf-8"
		cl.enc = nil
	}
	b := encodeText(t, cl, s)
	if cl.name == "163" || cl.name == "outlook-tw" {
		var q strings.Builder
		for _, c := range b {
			fmt.Fprintf(&q, "=%02X", c)
		}
		return "=?" + charset + "?Q?" + q.String() + "?="
	}
	return "=?" + charset + "?B?" + base64.StdEncoding.EncodeToString(b) + "?="
}

func encodeAddress(t testing.TB, cl mailClient, from string) string {
	name, addr := nameOf(from), addrOf(from)
	if name == addr {
		return addr
	}
	if isASCII(name) {
		return "\"" + name + "\" <" + addr + ">"
	}
	if cl.enc == nil || cl.charset == "us-ascii" {
		return mime.BEncoding.Encode("UTF-8", name) + " <" + addr + ">"
	}
	return encodeHeader(t, cl, name) + " <" + addr + ">"
}

func textPart(t testing.TB, cl mailClient, ctype, text string) string {
	t.Helper()
	charset := cl.charset
	if charset == "us-ascii" && !isASCII(text) {
		charset = "utf-8"
	}
	raw := encodeText(t, cl, strings.ReplaceAll(text, "\n", "\r\n"))
	head := "Content-Type: " + ctype + "; charset=\"" + charset + "\""
	if cl.name == "thunderbird" && ctype == "text/plain" {
		head += "; format=flowed"
	}
	head += "\r\nContent-Transfer-Encoding: " + cl.cte + "\r\n\r\n"
	switch cl.cte {
	case "base64":
		return head + wrap76(base64.StdEncoding.EncodeToString(raw))
	case "quoted-printable":
		var out bytes.Buffer
		qw := quotedprintable.NewWriter(&out)
		_, _ = qw.Write(raw)
		_ = qw.Close()
		return head + out.String() + "\r\n"
	default:
		return head + string(raw) + "\r\n"
	}
}

func wrap76(s string) string {
	var out strings.Builder
	for len(s) > 76 {
		out.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	return out.String() + s + "\r\n"
}

// toHTML renders text as a mail client's HTML twin: one <div> per line,
// "> " quoted lines inside a blockquote.
func toHTML(text string) string {
	var b strings.Builder
	b.WriteString("<html><head><meta http-equiv=\"Content-Type\" content=\"text/html\"><style>div{font-family:Calibri}</style></head><body>")
	inQuote := false
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		q := strings.HasPrefix(line, ">")
		if q != inQuote {
			if q {
				b.WriteString("<blockquote style=\"margin:0 0 0 .8ex;border-left:1px #ccc solid\">")
			} else {
				b.WriteString("</blockquote>")
			}
			inQuote = q
		}
		if q {
			line = strings.TrimSpace(strings.TrimPrefix(line, ">"))
		}
		if line == "" {
			b.WriteString("<div><br></div>")
		} else {
			b.WriteString("<div>" + html.EscapeString(line) + "</div>")
		}
	}
	if inQuote {
		b.WriteString("</blockquote>")
	}
	b.WriteString("</body></html>")
	return b.String()
}
