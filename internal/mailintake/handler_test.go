package mailintake_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dsr"
	"dsrflow/internal/intake"
	"dsrflow/internal/intake/intaketest"
	"dsrflow/internal/mail"
	"dsrflow/internal/mailintake"
	"dsrflow/internal/store"
)

var emu *dynamotest.Emulator

func TestMain(m *testing.M) { os.Exit(dynamotest.Main(m, &emu)) }

const (
	bucket = "dsrflow-mailbox-dev"
	secret = "0123456789abcdef0123456789abcdef-test"
)

// fakeS3 starts gofakes3 in-process with the mailbox bucket.
func fakeS3(t *testing.T) (*s3.Client, string) {
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
	h     *mailintake.Handler
	s3    *s3.Client
	sfn   *intaketest.SFN
	db    *dynamodb.Client
	st    *store.Store
	table string
	logs  *bytes.Buffer
}

func newFixture(t *testing.T, maxOpen int) *fixture {
	t.Helper()
	table := emu.NewTable(t)
	s3c, _ := fakeS3(t)
	sfnFake := intaketest.NewSFN(t)
	logs := &bytes.Buffer{}
	h, err := mailintake.New(mailintake.Config{
		TableName: table, StateMachineArn: intaketest.StateMachineArn, SubjectKeySecret: secret,
		MaxOpenPerSubject: maxOpen, AttachmentPrefix: mailintake.DefaultAttachmentPrefix,
	}, mailintake.Clients{DynamoDB: emu.Client(), S3: s3c, SFN: sfnFake.Client()},
		slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &fixture{h: h, s3: s3c, sfn: sfnFake, db: emu.Client(), st: store.New(emu.Client(), table), table: table, logs: logs}
}

// readEvent decodes an events/*.json file strictly into an S3 event.
func readEvent(t *testing.T, name string) events.S3Event {
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

func decodeEvent(t *testing.T, b []byte) events.S3Event {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var ev events.S3Event
	if err := dec.Decode(&ev); err != nil {
		t.Fatalf("decode event: %v", err)
	}
	return ev
}

// withKey returns the event as JSON with its only record naming key (URL-encoded as S3 does) and size.
func withKey(t *testing.T, name, key string, size int) events.S3Event {
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

func corpus(t *testing.T, name string) []byte {
	t.Helper()
	root, err := dynamotest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "internal", "mail", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type golden struct {
	Action        string `json:"action"`
	Kind          string `json:"kind"`
	From          string `json:"from"`
	Language      string `json:"language"`
	RequesterRole string `json:"requester_role"`
	Reason        string `json:"reason"`
	MessageID     string `json:"message_id"`
}

func readGolden(t *testing.T, eml string) golden {
	t.Helper()
	var g golden
	if err := json.Unmarshal(corpus(t, strings.TrimSuffix(eml, ".eml")+".golden.json"), &g); err != nil {
		t.Fatalf("golden of %s: %v", eml, err)
	}
	return g
}

func (f *fixture) put(t *testing.T, key string, body []byte) {
	t.Helper()
	if _, err := f.s3.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body),
	}); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func (f *fixture) get(t *testing.T, key string) []byte {
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

func (f *fixture) records() *mailintake.Records {
	return &mailintake.Records{DB: f.db, Table: f.table}
}

// dedupeKey is the key the handler must use for raw at bucket/key.
func dedupeKey(raw []byte, key string) string {
	msg, _ := mail.Parse(raw)
	return mail.DedupeKey(msg, bucket+"/"+key)
}

// allItems scans the whole table as JSON text, to look for data that must not be there.
func (f *fixture) allItems(t *testing.T) string {
	t.Helper()
	out, err := f.db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(f.table)})
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	b, err := json.Marshal(out.Items)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// piiOf lists what of raw must never appear in logs: the sender, the phone,
// the subject, every line of text, attachment filenames.
func piiOf(raw []byte) []string {
	msg, _ := mail.Parse(raw)
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
	return out
}

func localeOf(language string) string {
	if language == "en" {
		return "en"
	}
	return "zh-CN"
}

// TestCorpus feeds every message of the mail corpus through events/intake-mail.json
// and checks the outcome against the corpus's golden classification.
func TestCorpus(t *testing.T) {
	f := newFixture(t, 0)
	ctx := context.Background()
	files, err := filepath.Glob(filepath.Join("..", "mail", "testdata", "*.eml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("corpus: %v files, %v", len(files), err)
	}
	requests := map[string]bool{}
	var pii []string
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			raw := corpus(t, name)
			want := readGolden(t, name)
			key := "inbox/corpus/" + name
			f.put(t, key, raw)
			pii = append(pii, piiOf(raw)...)

			if err := f.h.Handle(ctx, withKey(t, "intake-mail.json", key, len(raw))); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			dk := dedupeKey(raw, key)
			rec, found, err := f.records().Get(ctx, dk)
			if err != nil || !found {
				t.Fatalf("mail record: found %v, %v; want a record", found, err)
			}
			if rec.Action != want.Action || rec.Reason != want.Reason {
				t.Errorf("record action/reason = %q/%q, want %q/%q", rec.Action, rec.Reason, want.Action, want.Reason)
			}
			if rec.Object == "" || !slices.Contains(rec.Objects, "s3://"+bucket+"/"+key) {
				t.Errorf("record objects = %q / %v, want to include this object", rec.Object, rec.Objects)
			}
			id := intake.RequestID(dsr.ChannelMail, dk)
			got, gerr := f.st.GetRequest(ctx, id)
			if want.Action != "request" {
				if !errors.Is(gerr, store.ErrNotFound) {
					t.Errorf("a %s message created request %s (err %v)", want.Action, id, gerr)
				}
				if rec.RequestID != "" {
					t.Errorf("record requestId = %q, want none", rec.RequestID)
				}
				return
			}
			if gerr != nil {
				t.Fatalf("GetRequest %s: %v", id, gerr)
			}
			requests[id] = true
			if rec.RequestID != id {
				t.Errorf("record requestId = %q, want %q", rec.RequestID, id)
			}
			if string(got.Kind) != want.Kind || string(got.Role) != want.RequesterRole || got.Locale != localeOf(want.Language) ||
				got.Channel != dsr.ChannelMail || got.Contact.Email != want.From || got.Status != dsr.StatusReceived || !got.ExecutionStarted {
				t.Errorf("request = kind %s role %s locale %s channel %s email ok %v status %s started %v; want %s %s %s mail true received true",
					got.Kind, got.Role, got.Locale, got.Channel, got.Contact.Email == want.From, got.Status, got.ExecutionStarted,
					want.Kind, want.RequesterRole, localeOf(want.Language))
			}
			if got.Details != "" || got.Contact.Phone != "" || len(got.Corrections) > 0 {
				t.Errorf("request carries text from the mail body (details %d chars, phone set %v, %d corrections); want contact email only",
					len(got.Details), got.Contact.Phone != "", len(got.Corrections))
			}
		})
	}
	if n := len(f.sfn.Calls()); n != len(requests) {
		t.Errorf("StartExecution calls = %d, want one per request (%d)", n, len(requests))
	}
	for _, c := range f.sfn.Calls() {
		var in map[string]any
		if err := json.Unmarshal([]byte(c.Input), &in); err != nil || !reflect.DeepEqual(in, map[string]any{"requestId": c.Name}) {
			t.Errorf("execution %s input = %s, want exactly {\"requestId\":%q}", c.Name, c.Input, c.Name)
		}
	}
	// No personal data from any message in any log line.
	logs := f.logs.String()
	if !strings.Contains(logs, `"msg":"mail processed"`) {
		t.Fatalf("no 'mail processed' log lines; the PII check would prove nothing")
	}
	for _, p := range pii {
		if strings.Contains(logs, p) {
			t.Errorf("logs contain personal data from a message: %q", p)
		}
	}
}

func TestRedeliveryOfSameObject(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 3)
	ctx := context.Background()
	ev := readEvent(t, "intake-mail.json")
	key := ev.Records[0].S3.Object.URLDecodedKey
	raw := corpus(t, "zh_utf8_erasure.eml")
	f.put(t, key, raw)
	for i := range 2 {
		if err := f.h.Handle(ctx, ev); err != nil {
			t.Fatalf("delivery %d: %v", i+1, err)
		}
	}
	calls := f.sfn.Calls()
	id := intake.RequestID(dsr.ChannelMail, dedupeKey(raw, key))
	if len(calls) != 1 || calls[0].Name != id {
		t.Errorf("StartExecution calls = %+v, want one named %s", calls, id)
	}
	rec, _, err := f.records().Get(ctx, dedupeKey(raw, key))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Deliveries != 2 || len(rec.Objects) != 1 || rec.RequestID != id {
		t.Errorf("record = deliveries %d, objects %v, request %s; want 2, one object, %s", rec.Deliveries, rec.Objects, rec.RequestID, id)
	}
	if n := strings.Count(f.allItems(t), `"SK":{"Value":"REQUEST"}`); n != 1 {
		t.Errorf("request items in the table = %d, want 1", n)
	}
}

func TestSameMessageIDInTwoObjects(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 3)
	ctx := context.Background()
	ev := readEvent(t, "intake-mail-two-objects.json")
	a, b := corpus(t, "duplicate_a.eml"), corpus(t, "duplicate_b.eml")
	if ga, gb := readGolden(t, "duplicate_a.eml"), readGolden(t, "duplicate_b.eml"); ga.MessageID != gb.MessageID {
		t.Fatalf("corpus duplicate_a/b have Message-IDs %q and %q; the test needs them equal", ga.MessageID, gb.MessageID)
	}
	keyA, keyB := ev.Records[0].S3.Object.URLDecodedKey, ev.Records[1].S3.Object.URLDecodedKey
	f.put(t, keyA, a)
	f.put(t, keyB, b)
	if err := f.h.Handle(ctx, ev); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	dk := dedupeKey(a, keyA)
	if dk != dedupeKey(b, keyB) {
		t.Fatalf("dedupe keys differ")
	}
	if n := len(f.sfn.Calls()); n != 1 {
		t.Errorf("StartExecution calls = %d, want 1", n)
	}
	rec, _, err := f.records().Get(ctx, dk)
	if err != nil {
		t.Fatal(err)
	}
	wantObjs := []string{"s3://" + bucket + "/" + keyA, "s3://" + bucket + "/" + keyB}
	slices.Sort(rec.Objects)
	if rec.Deliveries != 2 || !reflect.DeepEqual(rec.Objects, wantObjs) || rec.Object != wantObjs[0] {
		t.Errorf("record = deliveries %d, first %s, objects %v; want 2, %s, %v", rec.Deliveries, rec.Object, rec.Objects, wantObjs[0], wantObjs)
	}
	r, err := f.st.GetRequest(ctx, rec.RequestID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Source != wantObjs[0] {
		t.Errorf("request source = %q, want the first object %q", r.Source, wantObjs[0])
	}
	if !strings.Contains(f.logs.String(), `"duplicateDelivery":true`) {
		t.Errorf("the second delivery was not logged as a duplicate")
	}
}

func TestStartExecutionFailsThenRedelivery(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 3)
	ctx := context.Background()
	ev := readEvent(t, "intake-mail.json")
	key := ev.Records[0].S3.Object.URLDecodedKey
	raw := corpus(t, "en_multipart_alternative_access.eml")
	f.put(t, key, raw)
	dk := dedupeKey(raw, key)
	id := intake.RequestID(dsr.ChannelMail, dk)

	f.sfn.Fail(500)
	err := f.h.Handle(ctx, ev)
	if !errors.Is(err, intake.ErrStart) {
		t.Fatalf("Handle with Step Functions failing = %v, want an error wrapping intake.ErrStart", err)
	}
	r, gerr := f.st.GetRequest(ctx, id)
	if gerr != nil {
		t.Fatalf("GetRequest: %v", gerr)
	}
	if r.Status != dsr.StatusReceived || r.ExecutionStarted {
		t.Errorf("after failed start: %s, started %v; want received, false", r.Status, r.ExecutionStarted)
	}

	f.sfn.Fail(0)
	if err := f.h.Handle(ctx, ev); err != nil {
		t.Fatalf("redelivery: %v", err)
	}
	r, gerr = f.st.GetRequest(ctx, id)
	if gerr != nil || !r.ExecutionStarted {
		t.Fatalf("after redelivery: %+v, %v; want started", r, gerr)
	}
	calls := f.sfn.Calls()
	if len(calls) != 2 || calls[0].Name != id || calls[1].Name != id {
		t.Errorf("StartExecution calls = %+v, want the failed one and the restart, both %s", calls, id)
	}
	if n := strings.Count(f.allItems(t), `"SK":{"Value":"REQUEST"}`); n != 1 {
		t.Errorf("request items = %d, want 1", n)
	}
	rec, found, err := f.records().Get(ctx, dk)
	if err != nil || !found || rec.RequestID != id {
		t.Errorf("mail record = %+v, %v, %v; want one naming %s", rec, found, err, id)
	}
}

func TestEncodedObjectKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 3)
	ctx := context.Background()
	ev := readEvent(t, "intake-mail-encoded-key.json")
	const decoded = "inbox/2026-03-02 forwarded by hand+1 邮件.eml"
	f.put(t, decoded, corpus(t, "zh_gb2312_qp_access.eml"))
	if err := f.h.Handle(ctx, ev); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	calls := f.sfn.Calls()
	if len(calls) != 1 {
		t.Fatalf("StartExecution calls = %d, want 1", len(calls))
	}
	r, err := f.st.GetRequest(ctx, calls[0].Name)
	if err != nil {
		t.Fatal(err)
	}
	if want := "s3://" + bucket + "/" + decoded; r.Source != want {
		t.Errorf("source = %q, want %q", r.Source, want)
	}
}

func TestAttachments(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 3)
	ctx := context.Background()
	raw := corpus(t, "attachment_id_card.eml")
	const key = "inbox/with-id-card"
	f.put(t, key, raw)
	msg, _ := mail.Parse(raw)
	if len(msg.Attachments) != 2 {
		t.Fatalf("corpus attachment_id_card.eml has %d attachments, want 2", len(msg.Attachments))
	}
	ev := withKey(t, "intake-mail.json", key, len(raw))
	for range 2 { // a redelivery overwrites, it does not add copies
		if err := f.h.Handle(ctx, ev); err != nil {
			t.Fatalf("Handle: %v", err)
		}
	}
	id := intake.RequestID(dsr.ChannelMail, dedupeKey(raw, key))
	r, err := f.st.GetRequest(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"attachments/" + id + "/01.png", "attachments/" + id + "/02.pdf"}
	if !reflect.DeepEqual(r.Attachments, want) {
		t.Fatalf("request attachments = %v, want %v", r.Attachments, want)
	}
	for i, k := range want {
		if got := f.get(t, k); !bytes.Equal(got, msg.Attachments[i].Data) {
			t.Errorf("object %s = %d bytes, want the attachment's %d bytes", k, len(got), len(msg.Attachments[i].Data))
		}
	}
	list, err := f.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("attachments/")})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Contents) != 2 {
		t.Errorf("attachment objects after two deliveries = %d, want 2", len(list.Contents))
	}

	table := f.allItems(t)
	forbidden := piiOf(raw)
	for _, a := range msg.Attachments {
		forbidden = append(forbidden, base64.StdEncoding.EncodeToString(a.Data)[:16])
	}
	for _, p := range forbidden {
		if strings.Contains(msg.From, p) {
			continue // the request's contact: the one place it belongs
		}
		if strings.Contains(table, p) {
			t.Errorf("table contains %q", p)
		}
	}
	if n := strings.Count(table, msg.From); n != 1 {
		t.Errorf("sender address stored %d times, want once (the request's contact)", n)
	}
	for _, p := range forbidden {
		if strings.Contains(f.logs.String(), p) {
			t.Errorf("logs contain %q", p)
		}
	}
}

func TestTooLargeIsTriagedWithoutDownload(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 3)
	ctx := context.Background()
	const key = "inbox/huge" // never written: a download attempt would fail the test
	if err := f.h.Handle(ctx, withKey(t, "intake-mail.json", key, mail.MaxSize+1)); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	dk := mail.DedupeKey(nil, bucket+"/"+key)
	rec, found, err := f.records().Get(ctx, dk)
	if err != nil || !found {
		t.Fatalf("record: %v, %v", found, err)
	}
	if rec.Action != "triage" || rec.Reason != "triage: too_large" {
		t.Errorf("record = %s / %s, want triage / triage: too_large", rec.Action, rec.Reason)
	}
	if keys, err := f.records().ListTriage(ctx); err != nil || !slices.Contains(keys, dk) {
		t.Errorf("ListTriage = %v, %v; want it to include %s", keys, err, dk)
	}
}

func TestTooManyOpenIsRejected(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	ctx := context.Background()
	// Two different messages from the same sender.
	first := corpus(t, "en_multipart_alternative_access.eml")
	second := bytes.Replace(first, []byte("Message-ID: <"), []byte("Message-ID: <second-"), 1)
	if bytes.Equal(first, second) {
		t.Fatal("could not give the second message its own Message-ID")
	}
	for i, raw := range [][]byte{first, second} {
		key := []string{"inbox/one", "inbox/two"}[i]
		f.put(t, key, raw)
		if err := f.h.Handle(ctx, withKey(t, "intake-mail.json", key, len(raw))); err != nil {
			t.Fatalf("Handle %d: %v", i+1, err)
		}
	}
	dk := dedupeKey(second, "inbox/two")
	rec, _, err := f.records().Get(ctx, dk)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Action != "reject" || rec.Reason != "reject: too_many_open" || rec.RequestID != "" {
		t.Errorf("second record = %s / %s / %q, want reject / reject: too_many_open / no request", rec.Action, rec.Reason, rec.RequestID)
	}
	if keys, err := f.records().ListTriage(ctx); err != nil || !slices.Contains(keys, dk) {
		t.Errorf("ListTriage = %v, %v; want it to include the rejected mail", keys, err)
	}
	if n := len(f.sfn.Calls()); n != 1 {
		t.Errorf("StartExecution calls = %d, want 1", n)
	}
}

func TestSkippedRecords(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 3)
	ctx := context.Background()
	tests := []struct {
		name string
		edit func(*events.S3EventRecord)
	}{
		{"own attachment object", func(r *events.S3EventRecord) { r.S3.Object.Key = "attachments/r-x/01.png" }},
		{"not ObjectCreated", func(r *events.S3EventRecord) { r.EventName = "ObjectRemoved:Delete" }},
		{"object deleted since", func(r *events.S3EventRecord) { r.S3.Object.Key = "inbox/gone" }},
	}
	for _, tt := range tests {
		ev := readEvent(t, "intake-mail.json")
		tt.edit(&ev.Records[0])
		if err := f.h.Handle(ctx, ev); err != nil {
			t.Errorf("%s: Handle = %v, want nil", tt.name, err)
		}
	}
	if table := f.allItems(t); table != "[]" {
		t.Errorf("skipped records wrote %s, want nothing", table)
	}
}

func TestTransientS3FailureIsAnError(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 3)
	down := s3.New(s3.Options{
		Region: dynamotest.Region, BaseEndpoint: aws.String("http://127.0.0.1:1"),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""), UsePathStyle: true,
		RetryMaxAttempts: 1,
	})
	f.h.S3 = down
	if err := f.h.Handle(context.Background(), readEvent(t, "intake-mail.json")); err == nil {
		t.Errorf("Handle with S3 unreachable = nil, want an error so that Lambda retries")
	}
}

func TestParserPanicIsTriaged(t *testing.T) {
	// Not parallel: it replaces the package's MIME reader.
	restore := mailintake.SetParse(func([]byte) (*mail.Message, error) { panic("reader bug") })
	defer restore()
	f := newFixture(t, 3)
	ctx := context.Background()
	const key = "inbox/crashes-the-reader"
	f.put(t, key, corpus(t, "zh_utf8_erasure.eml"))
	if err := f.h.Handle(ctx, withKey(t, "intake-mail.json", key, 100)); err != nil {
		t.Fatalf("Handle = %v, want nil (the message is recorded, not retried)", err)
	}
	dk := mail.DedupeKey(nil, bucket+"/"+key)
	rec, found, err := f.records().Get(ctx, dk)
	if err != nil || !found {
		t.Fatalf("record: %v, %v", found, err)
	}
	if rec.Action != "triage" || rec.Reason != "triage: unparseable" || !slices.Contains(rec.Problems, mailintake.ProblemParserPanic) {
		t.Errorf("record = %s / %s / %v, want triage / triage: unparseable / [%s]", rec.Action, rec.Reason, rec.Problems, mailintake.ProblemParserPanic)
	}
	if n := len(f.sfn.Calls()); n != 0 {
		t.Errorf("StartExecution calls = %d, want 0", n)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name     string
		cls      mail.Classification
		want     dsr.Validated
		wantErrs []string // "field:code"
	}{
		{name: "erasure without a ground is a request for review to complete",
			cls:  mail.Classification{Action: mail.ActionRequest, Kind: dsr.KindErasure, From: "a@example.cn", Language: "zh", RequesterRole: dsr.RoleSelf},
			want: dsr.Validated{Kind: dsr.KindErasure, Role: dsr.RoleSelf, Email: "a@example.cn", Locale: dsr.LocaleZhCN}},
		{name: "guardian in English",
			cls:  mail.Classification{Action: mail.ActionRequest, Kind: dsr.KindAccess, From: "m@example.com", Language: "en", RequesterRole: dsr.RoleGuardian},
			want: dsr.Validated{Kind: dsr.KindAccess, Role: dsr.RoleGuardian, Email: "m@example.com", Locale: dsr.LocaleEn}},
		{name: "no role means self",
			cls:  mail.Classification{Action: mail.ActionRequest, Kind: dsr.KindCorrection, From: "c@example.cn", Language: "zh"},
			want: dsr.Validated{Kind: dsr.KindCorrection, Role: dsr.RoleSelf, Email: "c@example.cn", Locale: dsr.LocaleZhCN}},
		{name: "invalid sender",
			cls:      mail.Classification{Action: mail.ActionRequest, Kind: dsr.KindAccess, From: "not an address", Language: "zh"},
			wantErrs: []string{"email:invalid_email"}},
		{name: "no sender",
			cls:      mail.Classification{Action: mail.ActionRequest, Kind: dsr.KindAccess, Language: "zh"},
			wantErrs: []string{"contact:identifier_required"}},
		{name: "no kind",
			cls:      mail.Classification{Action: mail.ActionRequest, From: "a@example.cn"},
			wantErrs: []string{"kind:unknown_kind"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mailintake.Validate(tt.cls)
			var fe dsr.FieldErrors
			if tt.wantErrs != nil {
				if !errors.As(err, &fe) {
					t.Fatalf("Validate error = %v, want field errors %v", err, tt.wantErrs)
				}
				var codes []string
				for _, e := range fe {
					codes = append(codes, e.String())
				}
				if strings.Join(codes, ",") != strings.ReplaceAll(strings.Join(tt.wantErrs, ","), ":", ": ") {
					t.Errorf("field errors = %v, want %v", codes, tt.wantErrs)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Validate = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func BenchmarkHandle(b *testing.B) {
	ctx := context.Background()
	table := emu.NewTable(b)
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	defer srv.Close()
	s3c := s3ClientFor(srv.URL)
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		b.Fatal(err)
	}
	sfnFake := intaketest.NewSFN(b)
	h, err := mailintake.New(mailintake.Config{TableName: table, StateMachineArn: intaketest.StateMachineArn, SubjectKeySecret: secret},
		mailintake.Clients{DynamoDB: emu.Client(), S3: s3c, SFN: sfnFake.Client()}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	root, err := dynamotest.RepoRoot()
	if err != nil {
		b.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "internal", "mail", "testdata", "attachment_id_card.eml"))
	if err != nil {
		b.Fatal(err)
	}
	evJSON, err := os.ReadFile(filepath.Join(root, "events", "intake-mail.json"))
	if err != nil {
		b.Fatal(err)
	}
	var ev events.S3Event
	if err := json.Unmarshal(evJSON, &ev); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		// A new message each time: a new request, attachments, start.
		key := "inbox/bench-" + strconv.Itoa(i)
		body := bytes.Replace(raw, []byte("Message-ID: <"), []byte("Message-ID: <bench-"+strconv.Itoa(i)+"-"), 1)
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
			b.Fatal(err)
		}
		ev.Records[0].S3.Object.Key = url.QueryEscape(key)
		if err := h.Handle(ctx, ev); err != nil {
			b.Fatal(err)
		}
	}
}
