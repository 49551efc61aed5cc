package mailintake_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dsr"
	"dsrflow/internal/intake"
	"dsrflow/internal/intake/intaketest"
	"dsrflow/internal/mail"
	"dsrflow/internal/mailintake"
	"dsrflow/internal/store"
)

func localeOf(language string) dsr.Locale {
	if language == "en" {
		return dsr.LocaleEn
	}
	return dsr.LocaleZhCN
}

// TestCorpus feeds every message of the mail corpus (internal/mail's
// testdata and its labelled corpus) through events/intake-mail.json. The
// record must say what the classifier decided, with the handler's own
// outcomes: a follow-up naming no request of this table goes to triage.
// Requests carry the sender as contact and the text's hints on their
// personal item only; nothing personal reaches the logs, the request item,
// the audit trail or the execution input. Acknowledgements go only to
// authenticated senders, at most one each.
func TestCorpus(t *testing.T) {
	// The golden classifications of testdata/*.eml trust every
	// Authentication-Results header, as does this handler.
	f := newFixture(t, func(c *mailintake.Config) { c.TrustedAuthServIDs = nil })
	ctx := context.Background()
	var files []string
	for _, pattern := range []string{"*.eml", filepath.Join("corpus", "*.eml")} {
		m, err := filepath.Glob(filepath.Join("..", "mail", "testdata", pattern))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 150 {
		t.Fatalf("corpus has %d messages, want the whole corpus (150 or more)", len(files))
	}
	requests := map[string]bool{}
	authenticated := map[string]bool{}
	var pii []string
	for _, path := range files {
		name, err := filepath.Rel(filepath.Join("..", "mail", "testdata"), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(name, func(t *testing.T) {
			raw := corpus(t, name)
			msg, cls := classifyAs(raw)
			if cls.Action == mail.ActionRequest && mail.VerdictsFromHeaders(msg).DMARC != "pass" {
				// As delivered from a domain that passes DMARC, so that it
				// becomes a request (TestUnauthenticatedRequestMail covers
				// the other case).
				raw = passed(t, name)
				msg, cls = classifyAs(raw)
			}
			if mail.VerdictsFromHeaders(msg).DMARC == "pass" {
				authenticated[msg.From] = true
			}
			key := "inbox/corpus/" + name
			pii = append(pii, piiOf(raw)...)
			dk := f.deliver(t, key, raw)
			rec := f.record(t, dk)

			wantAction, wantReason := string(cls.Action), cls.Reason
			if cls.Action == mail.ActionFollowUp {
				wantAction, wantReason = "triage", "triage: "+mailintake.TriageFollowUpUnknown
			}
			// A request mail without dmarc=pass is for a person to decide.
			if cls.Action == mail.ActionRequest && mail.VerdictsFromHeaders(msg).DMARC != "pass" {
				wantAction, wantReason = "triage", "triage: "+mailintake.TriageUnauthenticated
				cls.Action = mail.ActionTriage
			}
			if rec.Action != wantAction || rec.Reason != wantReason {
				t.Errorf("record action/reason = %q/%q, want %q/%q", rec.Action, rec.Reason, wantAction, wantReason)
			}
			if rec.Object != "s3://"+bucket+"/"+key && !slices.Contains(rec.Objects, "s3://"+bucket+"/"+key) {
				t.Errorf("record objects = %q / %v, want to include this object", rec.Object, rec.Objects)
			}
			if rec.ThreadRequestID != cls.ThreadRequestID && cls.Action == mail.ActionFollowUp {
				t.Errorf("record thread request = %q, want %q", rec.ThreadRequestID, cls.ThreadRequestID)
			}
			id := intake.RequestID(dsr.ChannelMail, dk)
			got, gerr := f.st.GetRequest(ctx, id)
			if cls.Action != mail.ActionRequest {
				if !errors.Is(gerr, store.ErrNotFound) {
					t.Errorf("a %s message created request %s (err %v)", cls.Action, id, gerr)
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
			if got.Kind != cls.Kind || got.Role != cls.RequesterRole || got.Locale != string(localeOf(cls.Language)) ||
				got.Channel != dsr.ChannelMail || got.Status != dsr.StatusReceived || !got.ExecutionStarted || len(got.Purposes) != 0 {
				t.Errorf("request = kind %s role %s locale %s channel %s status %s started %v purposes %v; want %s %s %s mail received true none",
					got.Kind, got.Role, got.Locale, got.Channel, got.Status, got.ExecutionStarted, got.Purposes,
					cls.Kind, cls.RequesterRole, localeOf(cls.Language))
			}
			p, err := f.st.GetPersonal(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			wantSubject := mailintake.HintIdentifiers(cls.Hints)
			if cls.RequesterRole == dsr.RoleSelf {
				wantSubject.Add(dsr.IdentifierEmail, msg.From)
			}
			if p.Contact != (dsr.Contact{Email: msg.From}) || !sameIDs(p.Subject, wantSubject) ||
				!slices.Equal(p.Corrections, cls.Hints.Corrections) || !slices.Equal(p.ConsentPurposes, cls.Hints.Purposes) || p.Details != "" {
				t.Errorf("personal item = %+v; want the sender as contact and the hints %+v", p, cls.Hints)
			}
			forbidden := hintValues(cls.Hints)
			assertAbsent(t, "request item", mustJSON(t, got), forbidden...)
			evs, err := f.st.ListEvents(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			assertAbsent(t, "audit events", mustJSON(t, evs), append(forbidden, msg.From)...)
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
	assertAbsent(t, "logs", logs, pii...)
	// Acknowledgements: only to authenticated senders, one each. Most of
	// the corpus carries no dmarc=pass, and dozens of its mails go to
	// triage: acknowledging those would fail here (TestAcknowledgement
	// covers the mails that are acknowledged).
	to := f.ackRecipients(t)
	seen := map[string]bool{}
	for _, a := range to {
		if !authenticated[a] {
			t.Errorf("acknowledgement to %s, whose mail had no dmarc=pass", a)
		}
		if seen[a] {
			t.Errorf("second acknowledgement to %s within the window", a)
		}
		seen[a] = true
	}
}

// sameIDs compares identifiers as sets per type.
func sameIDs(a, b dsr.Identifiers) bool {
	for _, t := range []dsr.IdentifierType{dsr.IdentifierAccount, dsr.IdentifierEmail, dsr.IdentifierPhone} {
		x, y := slices.Clone(a.Of(t)), slices.Clone(b.Of(t))
		slices.Sort(x)
		slices.Sort(y)
		if !slices.Equal(x, y) {
			return false
		}
	}
	return true
}

// TestHintsStayPersonal: the account ID, phone, corrections and consent
// purposes a mail names are on the request's personal item, and nowhere
// else: not on the request item, in the audit trail, the logs or the
// execution input.
func TestHintsStayPersonal(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	tests := []struct {
		name        string
		mail        testMail
		kind        dsr.Kind
		subject     dsr.Identifiers
		corrections []string
		purposes    []string
	}{
		{name: "correction with account and phone",
			mail: testMail{From: "carol@example.com", Subject: "更正个人信息", MessageID: "c1@example.com", DMARC: "pass",
				Body: "你好，\n我的账号ID是 10000077，手机号 13900139000。\n请把昵称改成小丽。\n谢谢\n"},
			kind:        dsr.KindCorrection,
			subject:     dsr.Identifiers{Accounts: []string{"10000077"}, Emails: []string{"carol@example.com"}, Phones: []string{"+8613900139000"}},
			corrections: []string{"请把昵称改成小丽。"}},
		{name: "consent withdrawal",
			mail: testMail{From: "dave@example.com", Subject: "Withdraw consent", MessageID: "d1@example.com", DMARC: "pass",
				Body: "Hello,\nI withdraw my consent to analytics and to sharing my data with third parties. Keep my account.\nDave\n"},
			kind:     dsr.KindConsentWithdrawal,
			subject:  dsr.Identifiers{Emails: []string{"dave@example.com"}},
			purposes: []string{dsr.PurposeAnalytics, dsr.PurposePartnerSharing}},
	}
	for i, tt := range tests {
		raw := tt.mail.bytes()
		dk := f.deliver(t, "inbox/hints-"+strconv.Itoa(i), raw)
		id := f.record(t, dk).RequestID
		r, err := f.st.GetRequest(ctx, id)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		p, err := f.st.GetPersonal(ctx, id)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if r.Kind != tt.kind || len(r.Purposes) != 0 {
			t.Errorf("%s: request kind %s purposes %v, want %s and none", tt.name, r.Kind, r.Purposes, tt.kind)
		}
		if !sameIDs(p.Subject, tt.subject) || !slices.Equal(p.Corrections, tt.corrections) || !slices.Equal(p.ConsentPurposes, tt.purposes) {
			t.Errorf("%s: personal = subject %+v corrections %q purposes %v; want %+v %q %v",
				tt.name, p.Subject, p.Corrections, p.ConsentPurposes, tt.subject, tt.corrections, tt.purposes)
		}
		if want := tt.subject.Keys([]byte(secret)); !sameStrings(r.HintKeys, want) {
			t.Errorf("%s: request hint keys = %v, want the keyed hashes of the hinted identifiers %v", tt.name, r.HintKeys, want)
		}
		evs, err := f.st.ListEvents(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		values := []string{"10000077", "13900139000", "小丽", "carol@", "dave@"}
		assertAbsent(t, tt.name+": request item", mustJSON(t, r), values...)
		assertAbsent(t, tt.name+": audit events", mustJSON(t, evs), values...)
		assertAbsent(t, tt.name+": logs", f.logs.String(), values...)
		assertAbsent(t, tt.name+": execution inputs", mustJSON(t, f.sfn.Calls()), values...)
	}
}

func sameStrings(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

func TestRedeliveryOfSameObject(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	ev := readEvent(t, "intake-mail.json")
	key := ev.Records[0].S3.Object.URLDecodedKey
	raw := passed(t, "zh_utf8_erasure.eml")
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
	rec := f.record(t, dedupeKey(raw, key))
	if rec.Deliveries != 2 || len(rec.Objects) != 1 || rec.RequestID != id {
		t.Errorf("record = deliveries %d, objects %v, request %s; want 2, one object, %s", rec.Deliveries, rec.Objects, rec.RequestID, id)
	}
	open, err := f.st.ListOpen(ctx)
	if err != nil || len(open) != 1 || open[0].ID != id {
		t.Errorf("open requests = %d (%v), want only %s", len(open), err, id)
	}
}

func TestSameMessageIDInTwoObjects(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	ev := readEvent(t, "intake-mail-two-objects.json")
	a, b := passed(t, "duplicate_a.eml"), passed(t, "duplicate_b.eml")
	keyA, keyB := ev.Records[0].S3.Object.URLDecodedKey, ev.Records[1].S3.Object.URLDecodedKey
	f.put(t, keyA, a)
	f.put(t, keyB, b)
	if err := f.h.Handle(ctx, ev); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	dk := dedupeKey(a, keyA)
	if dk != dedupeKey(b, keyB) {
		t.Fatalf("corpus duplicate_a/b have different dedupe keys; the test needs the same Message-ID")
	}
	if n := len(f.sfn.Calls()); n != 1 {
		t.Errorf("StartExecution calls = %d, want 1", n)
	}
	rec := f.record(t, dk)
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
	f := newFixture(t, nil)
	ctx := context.Background()
	ev := readEvent(t, "intake-mail.json")
	key := ev.Records[0].S3.Object.URLDecodedKey
	raw := passed(t, "en_multipart_alternative_access.eml")
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
	if _, found, _ := f.st.GetMailRecord(ctx, dk); found {
		t.Errorf("a mail record was written although the delivery failed; the retry would count as a duplicate")
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
	if rec := f.record(t, dk); rec.RequestID != id || rec.Deliveries != 1 {
		t.Errorf("mail record = %+v; want one delivery naming %s", rec, id)
	}
}

func TestEncodedObjectKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	ev := readEvent(t, "intake-mail-encoded-key.json")
	const decoded = "inbox/2026-03-02 forwarded by hand+1 邮件.eml"
	f.put(t, decoded, passed(t, "zh_gb2312_qp_access.eml"))
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

// TestAttachmentsAreDocuments: a request mail's attachments are stored in
// the bucket and recorded as the request's documents, once however often
// the mail is delivered; their file names stay on the document items.
func TestAttachmentsAreDocuments(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	raw := passed(t, "attachment_id_card.eml")
	const key = "inbox/with-id-card"
	msg, _ := mail.Parse(raw)
	if len(msg.Attachments) != 2 {
		t.Fatalf("corpus attachment_id_card.eml has %d attachments, want 2", len(msg.Attachments))
	}
	var dk string
	for range 2 { // a redelivery overwrites, it does not add copies
		dk = f.deliver(t, key, raw)
	}
	id := intake.RequestID(dsr.ChannelMail, dk)
	r, err := f.st.GetRequest(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := f.st.ListDocuments(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || r.Documents != 2 {
		t.Fatalf("documents = %d (request counts %d), want 2", len(docs), r.Documents)
	}
	for i, d := range docs {
		a := msg.Attachments[i]
		want := store.Document{Seq: i + 1, Bucket: bucket, Key: mail.AttachmentKey(mailintake.DefaultAttachmentPrefix, dk, i, a),
			ContentType: a.ContentType, Size: int64(len(a.Data)), FileName: a.Filename, Source: "mail", AddedAt: d.AddedAt}
		if d != want {
			t.Errorf("document %d = %+v, want %+v", i+1, d, want)
		}
		if got := f.get(t, d.Key); !bytes.Equal(got, a.Data) {
			t.Errorf("object %s = %d bytes, want the attachment's %d bytes", d.Key, len(got), len(a.Data))
		}
		if strings.Contains(d.Key, a.Filename) {
			t.Errorf("key %s holds the file name", d.Key)
		}
	}
	list, err := f.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("attachments/")})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Contents) != 2 {
		t.Errorf("attachment objects after two deliveries = %d, want 2", len(list.Contents))
	}
	if rec := f.record(t, dk); rec.Attachments != 2 || rec.RequestID != id {
		t.Errorf("mail record = %d attachments, request %s; want 2, %s", rec.Attachments, rec.RequestID, id)
	}
	forbidden := piiOf(raw)
	for _, a := range msg.Attachments {
		forbidden = append(forbidden, base64.StdEncoding.EncodeToString(a.Data)[:16], a.Filename)
	}
	evs, err := f.st.ListEvents(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	assertAbsent(t, "request item", mustJSON(t, r), forbidden...)
	assertAbsent(t, "audit events", mustJSON(t, evs), forbidden...)
	assertAbsent(t, "mail record", mustJSON(t, f.record(t, dk)), forbidden...)
	assertAbsent(t, "logs", f.logs.String(), forbidden...)
}

func TestTooLargeIsTriagedWithoutDownload(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	const key = "inbox/huge" // never written: a download attempt would fail the test
	if err := f.h.Handle(ctx, withKey(t, "intake-mail.json", key, mail.MaxSize+1)); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	dk := mail.DedupeKey(nil, bucket+"/"+key)
	if rec := f.record(t, dk); rec.Action != "triage" || rec.Reason != "triage: too_large" {
		t.Errorf("record = %s / %s, want triage / triage: too_large", rec.Action, rec.Reason)
	}
	if list, err := f.st.ListTriage(ctx); err != nil || len(list) != 1 || list[0].DedupeKey != dk {
		t.Errorf("ListTriage = %+v, %v; want the too-large mail", list, err)
	}
	if acks := f.acks(t); len(acks) != 0 {
		t.Errorf("acknowledgements = %d, want none: the sender of an unread mail is unknown", len(acks))
	}
}

// TestUnverifiedRequestsDoNotBlock: mail requests are unverified, so any
// number of them with one sender's address are taken; a cap on them would
// let anyone block that person's own requests.
func TestUnverifiedRequestsDoNotBlock(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *mailintake.Config) { c.MaxOpenPerSubject = 1 })
	for i := range 3 {
		raw := testMail{From: "grace@example.com", Subject: "删除我的数据", MessageID: "g" + strconv.Itoa(i) + "@example.com", DMARC: "pass",
			Body: "请删除我的全部个人信息。\n"}.bytes()
		dk := f.deliver(t, "inbox/g"+strconv.Itoa(i), raw)
		if rec := f.record(t, dk); rec.Action != "request" || rec.RequestID == "" {
			t.Errorf("mail %d: record %s / %s / %q, want a request", i+1, rec.Action, rec.Reason, rec.RequestID)
		}
	}
	if n := len(f.sfn.Calls()); n != 3 {
		t.Errorf("StartExecution calls = %d, want 3", n)
	}
}

func TestSkippedRecords(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	tests := []struct {
		name string
		edit func(*events.S3EventRecord)
	}{
		{"own attachment object", func(r *events.S3EventRecord) { r.S3.Object.Key = "attachments/r-x/01.png" }},
		{"not ObjectCreated", func(r *events.S3EventRecord) { r.EventName = "ObjectRemoved:Delete" }},
		{"object deleted since", func(r *events.S3EventRecord) { r.S3.Object.Key = "inbox/gone" }},
		{"not from S3", func(r *events.S3EventRecord) { r.EventSource = "aws:sqs" }},
	}
	for _, tt := range tests {
		ev := readEvent(t, "intake-mail.json")
		tt.edit(&ev.Records[0])
		if err := f.h.Handle(ctx, ev); err != nil {
			t.Errorf("%s: Handle = %v, want nil", tt.name, err)
		}
		if _, found, err := f.st.GetMailRecord(ctx, mail.DedupeKey(nil, bucket+"/"+ev.Records[0].S3.Object.URLDecodedKey)); found || err != nil {
			t.Errorf("%s: a mail record was written (%v)", tt.name, err)
		}
	}
	if list, err := f.st.ListTriage(ctx); err != nil || len(list) != 0 {
		t.Errorf("triage = %+v, %v; want nothing", list, err)
	}
	if n := len(f.sfn.Calls()); n != 0 {
		t.Errorf("StartExecution calls = %d, want 0", n)
	}
}

func TestTransientS3FailureIsAnError(t *testing.T) {
	t.Parallel()
	table := emu.NewTable(t)
	down := s3.New(s3.Options{
		Region: dynamotest.Region, BaseEndpoint: aws.String("http://127.0.0.1:1"),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""), UsePathStyle: true,
		RetryMaxAttempts: 1,
	})
	st := store.New(store.Config{Table: table}, store.Deps{DB: emu.Client()})
	h, err := mailintake.New(baseConfig(t, table), mailintake.Deps{Store: st, S3: down, SFN: intaketest.NewSFN(t).Client(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Handle(context.Background(), readEvent(t, "intake-mail.json")); err == nil {
		t.Errorf("Handle with S3 unreachable = nil, want an error so that Lambda retries")
	}
}

func TestParserPanicIsTriaged(t *testing.T) {
	// Not parallel: it replaces the package's MIME reader.
	restore := mailintake.SetParse(func([]byte) (*mail.Message, error) { panic("reader bug") })
	defer restore()
	f := newFixture(t, nil)
	ctx := context.Background()
	const key = "inbox/crashes-the-reader"
	f.put(t, key, passed(t, "zh_utf8_erasure.eml"))
	if err := f.h.Handle(ctx, withKey(t, "intake-mail.json", key, 100)); err != nil {
		t.Fatalf("Handle = %v, want nil (the message is recorded, not retried)", err)
	}
	rec := f.record(t, mail.DedupeKey(nil, bucket+"/"+key))
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
		{name: "corrections and purposes are hints, not form fields",
			cls: mail.Classification{Action: mail.ActionRequest, Kind: dsr.KindConsentWithdrawal, From: "d@example.cn", Language: "zh",
				Hints: mail.Hints{Purposes: []string{dsr.PurposeAnalytics}, Corrections: []string{"x"}}},
			want: dsr.Validated{Kind: dsr.KindConsentWithdrawal, Role: dsr.RoleSelf, Email: "d@example.cn", Locale: dsr.LocaleZhCN}},
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

func TestHintIdentifiers(t *testing.T) {
	tests := []struct {
		name string
		in   mail.Hints
		want dsr.Identifiers
	}{
		{"none", mail.Hints{AccountIDs: []string{}, Emails: []string{}}, dsr.Identifiers{}},
		{"all kinds", mail.Hints{AccountIDs: []string{"u_1"}, Emails: []string{"x@example.org"}, Phones: []string{"+8613900139000"}},
			dsr.Identifiers{Accounts: []string{"u_1"}, Emails: []string{"x@example.org"}, Phones: []string{"+8613900139000"}}},
		{"what does not parse is dropped", mail.Hints{AccountIDs: []string{"bad id!"}, Emails: []string{"no at sign"}, Phones: []string{"12"}}, dsr.Identifiers{}},
		{"repeats once", mail.Hints{AccountIDs: []string{"u_1", "u_1"}}, dsr.Identifiers{Accounts: []string{"u_1"}}},
	}
	for _, tt := range tests {
		if got := mailintake.HintIdentifiers(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: HintIdentifiers = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func BenchmarkHandle(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b, nil)
	raw := passed(b, "attachment_id_card.eml")
	ev := readEvent(b, "intake-mail.json")
	b.ResetTimer()
	for i := range b.N {
		// A new message each time: a new request, attachments, start.
		key := "inbox/bench-" + strconv.Itoa(i)
		body := bytes.Replace(raw, []byte("Message-ID: <"), []byte("Message-ID: <bench-"+strconv.Itoa(i)+"-"), 1)
		f.put(b, key, body)
		ev.Records[0].S3.Object.Key = key
		if err := f.h.Handle(ctx, ev); err != nil {
			b.Fatal(err)
		}
	}
}
