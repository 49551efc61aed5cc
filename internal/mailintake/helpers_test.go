package mailintake_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/intake/intaketest"
	"dsrflow/internal/mail"
	"dsrflow/internal/mailintake"
	"dsrflow/internal/store"
)

var emu *dynamotest.Emulator

func TestMain(m *testing.M) { os.Exit(dynamotest.Main(m, &emu)) }

const (
	bucket   = "dsrflow-mailbox-dev"
	secret   = "0123456789abcdef0123456789abcdef-test"
	mailFrom = "privacy@singer.example.cn"
	// sesID is the authserv-id the fixture trusts.
	sesID = "amazonses.com"
)

// t0 is the test clock's start.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// clock ticks one millisecond per reading and can be moved on.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeS3 starts gofakes3 in-process with the mailbox bucket.
func fakeS3(t testing.TB) (*s3.Client, string) {
	t.Helper()
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	c := s3ClientFor(srv.URL)
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	return c, srv.URL
}

// s3ClientFor is a path-style S3 client for a local endpoint.
func s3ClientFor(endpoint string) *s3.Client {
	return s3.New(s3.Options{
		Region:       dynamotest.Region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		UsePathStyle: true,
	})
}

type fixture struct {
	h      *mailintake.Handler
	s3     *s3.Client
	sfn    *intaketest.SFN
	st     *store.Store
	clock  *clock
	outbox string
	logs   *bytes.Buffer
}

// baseConfig is the handler's configuration in tests: SES's verdicts
// trusted, acknowledgements from mailFrom into an outbox folder.
func baseConfig(t testing.TB, table string) mailintake.Config {
	return mailintake.Config{
		TableName: table, StateMachineArn: intaketest.StateMachineArn, SubjectKeySecret: secret,
		MaxOpenPerSubject: 3, AttachmentPrefix: mailintake.DefaultAttachmentPrefix,
		TrustedAuthServIDs: []string{sesID},
		MailFrom:           mailFrom, MailFromName: "Privacy", AckWindow: mailintake.DefaultAckWindow,
		OutboxDir: t.TempDir(),
	}
}

// newFixture builds the handler on a fresh table, a fresh bucket and the
// recording Step Functions endpoint; edit changes the configuration first.
func newFixture(t testing.TB, edit func(*mailintake.Config)) *fixture {
	t.Helper()
	table := emu.NewTable(t)
	s3c, _ := fakeS3(t)
	sfnFake := intaketest.NewSFN(t)
	logs := &bytes.Buffer{}
	c := &clock{t: t0}
	st := store.New(store.Config{Table: table}, store.Deps{DB: emu.Client(), Clock: c.Now})
	cfg := baseConfig(t, table)
	if edit != nil {
		edit(&cfg)
	}
	h, err := mailintake.New(cfg, mailintake.Deps{
		Store: st, S3: s3c, SFN: sfnFake.Client(), Clock: c.Now,
		Logger: slog.New(slog.NewJSONHandler(&lockedWriter{w: logs}, nil)),
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &fixture{h: h, s3: s3c, sfn: sfnFake, st: st, clock: c, outbox: cfg.OutboxDir, logs: logs}
}

// lockedWriter serializes writes to a buffer shared by parallel handlers.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// readEvent decodes an events/*.json file strictly into an S3 event.
func readEvent(t testing.TB, name string) events.S3Event {
	t.Helper()
	root, err := dynamotest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return decodeEvent(t, b)
}

func decodeEvent(t testing.TB, b []byte) events.S3Event {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var ev events.S3Event
	if err := dec.Decode(&ev); err != nil {
		t.Fatalf("decode event: %v", err)
	}
	return ev
}

// withKey returns events/name with its only record naming key (URL-encoded
// as S3 does) and size.
func withKey(t testing.TB, name, key string, size int) events.S3Event {
	t.Helper()
	ev := readEvent(t, name)
	if len(ev.Records) != 1 {
		t.Fatalf("%s has %d records, want 1", name, len(ev.Records))
	}
	ev.Records[0].S3.Object.Key = url.QueryEscape(key)
	ev.Records[0].S3.Object.Size = int64(size)
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return decodeEvent(t, b)
}

// corpus reads a message of internal/mail's test corpus (name may be in
// its corpus/ folder).
func corpus(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "mail", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// passed is corpus message name as SES delivers it from a sender whose
// domain passes DMARC: an Authentication-Results header of the receiving
// server comes first. Request mails need it to become requests.
func passed(t testing.TB, name string) []byte {
	t.Helper()
	raw := corpus(t, name)
	m := regexp.MustCompile(`(?mi)^From:.*@([A-Za-z0-9.-]+)`).FindSubmatch(raw)
	if m == nil {
		t.Fatalf("%s: no From domain", name)
	}
	h := fmt.Sprintf("Authentication-Results: %s; spf=pass smtp.mailfrom=%s; dkim=pass header.i=@%s; dmarc=pass header.from=%s\r\n", sesID, m[1], m[1], m[1])
	return append([]byte(h), raw...)
}

func (f *fixture) put(t testing.TB, key string, body []byte) {
	t.Helper()
	if _, err := f.s3.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body),
	}); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func (f *fixture) get(t testing.TB, key string) []byte {
	t.Helper()
	out, err := f.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// deliver writes raw under key and hands the handler its notification; it
// returns the message's dedupe key.
func (f *fixture) deliver(t testing.TB, key string, raw []byte) string {
	t.Helper()
	f.put(t, key, raw)
	if err := f.h.Handle(context.Background(), withKey(t, "intake-mail.json", key, len(raw))); err != nil {
		t.Fatalf("Handle %s: %v", key, err)
	}
	return dedupeKey(raw, key)
}

// record reads the mail record of dedupe key dk; it must exist.
func (f *fixture) record(t testing.TB, dk string) store.MailRecord {
	t.Helper()
	r, found, err := f.st.GetMailRecord(context.Background(), dk)
	if err != nil || !found {
		t.Fatalf("mail record %s: found %v, %v; want one", dk, found, err)
	}
	return r
}

// acks reads the acknowledgements written to the outbox, oldest first.
func (f *fixture) acks(t testing.TB) []*mail.Message {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(f.outbox, "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	var out []*mail.Message
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		m, err := mail.Parse(b)
		if err != nil {
			t.Fatalf("outbox %s: %v", n, err)
		}
		out = append(out, m)
	}
	return out
}

// ackRecipients are the To addresses of the acknowledgements.
func (f *fixture) ackRecipients(t testing.TB) []string {
	t.Helper()
	var to []string
	for _, m := range f.acks(t) {
		to = append(to, strings.Trim(m.Header.Get("To"), "<>"))
	}
	return to
}

// dedupeKey is the key the handler must use for raw at bucket/key.
func dedupeKey(raw []byte, key string) string {
	msg, _ := mail.Parse(raw)
	return mail.DedupeKey(msg, bucket+"/"+key)
}

// classifyAs is the classifier's decision with the given trusted
// authserv-ids: the oracle for what the handler records.
func classifyAs(raw []byte, trusted ...string) (*mail.Message, mail.Classification) {
	msg, _ := mail.Parse(raw)
	return msg, mail.Classify(msg, mail.VerdictsFromHeaders(msg, trusted...))
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// assertAbsent fails for each value of pii (4 characters or more) found in text.
func assertAbsent(t testing.TB, where, text string, pii ...string) {
	t.Helper()
	for _, p := range pii {
		if len([]rune(p)) >= 4 && strings.Contains(text, p) {
			t.Errorf("%s contain personal data %q", where, p)
		}
	}
}

// piiOf lists what of raw must never appear in logs: the sender, the phone,
// the subject, every line of text, attachment filenames, the hints.
func piiOf(raw []byte) []string {
	msg, cls := classifyAs(raw)
	var out []string
	for _, s := range []string{msg.From, msg.Phone, msg.Subject} {
		if len([]rune(s)) >= 4 {
			out = append(out, s)
		}
	}
	if i := strings.IndexByte(msg.From, '@'); i > 0 {
		out = append(out, msg.From[:i]+"@")
	}
	for _, line := range strings.Split(msg.Text, "\n") {
		if line = strings.TrimSpace(line); len([]rune(line)) >= 6 {
			out = append(out, line)
		}
	}
	for _, a := range msg.Attachments {
		if a.Filename != "" {
			out = append(out, a.Filename)
		}
	}
	return append(out, hintValues(cls.Hints)...)
}

// hintValues are the values of h, and the national digits of its phones.
func hintValues(h mail.Hints) []string {
	out := append([]string(nil), h.AccountIDs...)
	out = append(out, h.Emails...)
	out = append(out, h.Corrections...)
	for _, p := range h.Phones {
		out = append(out, p, strings.TrimPrefix(p, "+86"))
	}
	return out
}

// testMail builds a message the way a mail client and SES would write it.
type testMail struct {
	From, Subject, MessageID string
	InReplyTo, References    string
	// DMARC is the dmarc= result SES writes ("pass", "none", "fail"); ""
	// writes no Authentication-Results.
	DMARC string
	// ExtraHeaders are written as they are, before the others.
	ExtraHeaders []string
	Body         string
	Attachments  []testAttachment
}

type testAttachment struct {
	Name, Type string
	Data       []byte
}

func (m testMail) bytes() []byte {
	var b bytes.Buffer
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\r\n", a...) }
	for _, h := range m.ExtraHeaders {
		w("%s", h)
	}
	domain := m.From[strings.LastIndexByte(m.From, '@')+1:]
	if m.DMARC != "" {
		w("Authentication-Results: %s; spf=pass smtp.mailfrom=%s; dkim=pass header.i=@%s; dmarc=%s header.from=%s;", sesID, domain, domain, m.DMARC, domain)
	}
	w("From: %s", m.From)
	w("To: %s", mailFrom)
	w("Subject: %s", mime.BEncoding.Encode("utf-8", m.Subject))
	w("Date: Mon, 02 Mar 2026 09:00:00 +0800")
	w("Message-ID: <%s>", m.MessageID)
	if m.InReplyTo != "" {
		w("In-Reply-To: %s", m.InReplyTo)
	}
	if m.References != "" {
		w("References: %s", m.References)
	}
	w("MIME-Version: 1.0")
	body := base64.StdEncoding.EncodeToString([]byte(m.Body))
	if len(m.Attachments) == 0 {
		w("Content-Type: text/plain; charset=utf-8")
		w("Content-Transfer-Encoding: base64")
		w("")
		w("%s", body)
		return b.Bytes()
	}
	const boundary = "test-boundary-7f3a"
	w("Content-Type: multipart/mixed; boundary=%q", boundary)
	w("")
	w("--%s", boundary)
	w("Content-Type: text/plain; charset=utf-8")
	w("Content-Transfer-Encoding: base64")
	w("")
	w("%s", body)
	for _, a := range m.Attachments {
		w("--%s", boundary)
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", mime.FormatMediaType(a.Type, map[string]string{"name": a.Name}))
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": a.Name}))
		w("Content-Type: %s", h.Get("Content-Type"))
		w("Content-Disposition: %s", h.Get("Content-Disposition"))
		w("Content-Transfer-Encoding: base64")
		w("")
		w("%s", base64.StdEncoding.EncodeToString(a.Data))
	}
	w("--%s--", boundary)
	return b.Bytes()
}

// ourMessageID is a Message-ID as notify.Compose writes it for request id.
func ourMessageID(id, template string) string {
	return "<dsr." + id + "." + template + ".0123456789abcdef@singer.example.cn>"
}
