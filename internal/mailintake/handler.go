// Package mailintake is the privacy mailbox's Lambda handler: it takes S3
// ObjectCreated events for raw RFC 5322 messages (written by an SES receipt
// rule or by any mail server), classifies each message with internal/mail
// and turns requests into data-subject requests through internal/intake.
//
// Per S3 record:
//
//   - the key is URL-decoded (S3 event keys are URL-encoded, "+" for space);
//     objects under the attachment prefix (this handler's own writes) and
//     events other than ObjectCreated are skipped;
//   - an object larger than mail.MaxSize is not downloaded: triage "too_large";
//   - otherwise it is read, parsed (mail.Parse never fails hard: an
//     unreadable message is triage "unparseable") and classified with the
//     verdicts the receiving server wrote into the headers;
//   - request: the sender, role and language are validated with dsr's rules,
//     attachments are written to the same bucket at
//     <prefix><request ID>/<n><.ext> (deterministic, so a redelivery
//     overwrites; the filename is kept only in the object's
//     Content-Disposition, never in a key, the table or a log) and
//     intake.Service.Submit stores the request and starts its execution;
//   - every message, whatever the decision, gets a mail Record (see Record):
//     action, reason code, problem codes, the raw object's location, and a
//     count of deliveries. Triage and reject records are listed for an operator
//     by ListTriage. The raw message is never moved or deleted.
//
// Dedupe: the dedupe key is mail.DedupeKey (the Message-ID's hash, or the
// object's when there is none) and the request ID derives from it, so the same
// object notified twice, or the same Message-ID in two objects, gives one
// request; the second delivery is counted on the mail record.
//
// Errors: Handle returns an error only for failures worth a retry (S3,
// DynamoDB or Step Functions unreachable or failing); Lambda's asynchronous
// retry then redelivers the event, and every step is idempotent. Bad mail is
// never an error: it is recorded.
//
// A mail request has no form fields: the erasure ground, the corrections and
// the consent purposes are in the message's text, which stays in S3 (the
// request's Source names it). They are left empty on the request, for the
// review step to establish; dsr.Validate's rules that require them are the
// web form's. The request carries the sender's address as its contact
// (never a phone number found in the text: it may be someone else's).
package mailintake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"dsrflow/internal/dsr"
	"dsrflow/internal/intake"
	"dsrflow/internal/mail"
	"dsrflow/internal/phone"
	"dsrflow/internal/store"
)

// ObjectStore is the part of the S3 client the handler uses.
type ObjectStore interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// Submitter is the part of intake.Service the handler uses.
type Submitter interface {
	Submit(ctx context.Context, sub intake.Submission) (intake.Result, error)
}

// DefaultAttachmentPrefix is where attachments go in the mailbox bucket.
const DefaultAttachmentPrefix = "attachments/"

// Codes the handler adds to mail's reasons.
const (
	TriageTooLarge          = "too_large"          // larger than mail.MaxSize; not downloaded
	TriageInvalidSubmission = "invalid_submission" // dsr.Validate refused what the mail gives
	RejectTooManyOpen       = "too_many_open"      // the sender has too many open requests
)

// Records keeps mail records (a *store.Store).
type Records interface {
	PutMailRecord(ctx context.Context, r store.MailRecord) (duplicate bool, err error)
}

// Record is what the mailbox keeps about one message (store.MailRecord).
type Record = store.MailRecord

// Handler handles the mailbox's S3 events. Build it with New.
type Handler struct {
	s3               ObjectStore
	intake           Submitter
	records          Records
	attachmentPrefix string
	// trustedAuthServIDs are the authserv-ids of the receiving servers whose
	// Authentication-Results count (see mail.VerdictsFromHeaders); none
	// means every Authentication-Results header counts.
	trustedAuthServIDs []string
	clock              func() time.Time
	logger             *slog.Logger
}

func (h *Handler) now() time.Time { return h.clock().UTC() }

func (h *Handler) log() *slog.Logger { return h.logger }

func (h *Handler) prefix() string { return h.attachmentPrefix }

// Handle processes every record of an S3 event. Records are independent:
// one failing does not stop the others, and the error returned joins the
// failures (each naming its record's position, never a key or an address).
func (h *Handler) Handle(ctx context.Context, ev events.S3Event) error {
	var errs []error
	for i, rec := range ev.Records {
		if err := h.handleRecord(ctx, rec); err != nil {
			h.log().ErrorContext(ctx, "mail record failed; the event will be retried", "record", i, "error", err.Error())
			errs = append(errs, fmt.Errorf("record %d: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

// delivery is one S3 record being handled.
type delivery struct {
	bucket, key string
	size        int64
}

func (d delivery) objectRef() string { return "s3://" + d.bucket + "/" + d.key }

func (h *Handler) handleRecord(ctx context.Context, rec events.S3EventRecord) error {
	log := h.log()
	if rec.EventSource != "aws:s3" || !strings.HasPrefix(rec.EventName, "ObjectCreated:") {
		log.InfoContext(ctx, "skipped event", "eventSource", rec.EventSource, "eventName", rec.EventName)
		return nil
	}
	key, err := url.QueryUnescape(rec.S3.Object.Key)
	if err != nil {
		// The Lambda runtime's own decoding (events.S3Object) already
		// refuses such a key; nothing can be fetched under it.
		log.ErrorContext(ctx, "skipped record: object key is not URL-encoded", "code", "bad_object_key")
		return nil
	}
	d := delivery{bucket: rec.S3.Bucket.Name, key: key, size: rec.S3.Object.Size}
	if d.bucket == "" || d.key == "" {
		log.ErrorContext(ctx, "skipped record: no bucket or key", "code", "bad_record")
		return nil
	}
	if strings.HasPrefix(d.key, h.prefix()) {
		log.InfoContext(ctx, "skipped own attachment object")
		return nil
	}
	if d.size > mail.MaxSize {
		return h.tooLarge(ctx, d)
	}

	out, err := h.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(d.bucket), Key: aws.String(d.key)})
	var gone *s3types.NoSuchKey
	if errors.As(err, &gone) {
		// Deleted since the notification (S3 reads are strongly consistent):
		// there is nothing to read, now or on a retry.
		log.WarnContext(ctx, "skipped record: object no longer exists", "code", "object_gone")
		return nil
	}
	if err != nil {
		return fmt.Errorf("get raw message: %w", err)
	}
	defer out.Body.Close()
	if n := aws.ToInt64(out.ContentLength); n > mail.MaxSize {
		d.size = n
		return h.tooLarge(ctx, d)
	}
	raw, err := io.ReadAll(io.LimitReader(out.Body, mail.MaxSize+1))
	if err != nil {
		return fmt.Errorf("read raw message: %w", err)
	}
	d.size = int64(len(raw))
	if len(raw) > mail.MaxSize {
		return h.tooLarge(ctx, d)
	}

	msg, cls := h.classify(raw)
	dedupe := mail.DedupeKey(msg, d.bucket+"/"+d.key)
	r := Record{
		DedupeKey:  dedupe,
		Action:     string(cls.Action),
		Reason:     cls.Reason,
		Problems:   cls.Problems,
		Kind:       string(cls.Kind),
		Role:       string(cls.RequesterRole),
		Language:   cls.Language,
		Object:     d.objectRef(),
		ReceivedAt: h.now(),
		Size:       d.size,
	}
	if cls.Action == mail.ActionRequest {
		if err := h.submit(ctx, d, msg, cls, &r); err != nil {
			return err
		}
	}
	return h.record(ctx, r)
}

// ProblemParserPanic is recorded when reading a message panicked: a bug in
// the MIME reader must not lose the message or stop the mailbox.
const ProblemParserPanic = "parser_panic"

// parse is mail.Parse; tests replace it.
var parse = mail.Parse

// classify parses and classifies raw. A parse error is in msg.Problems and
// Classify sends the message to triage; a panic in the reader is caught and
// the message goes to triage "unparseable" as well.
func (h *Handler) classify(raw []byte) (msg *mail.Message, cls mail.Classification) {
	defer func() {
		if recover() != nil {
			msg = &mail.Message{Size: len(raw)}
			cls = mail.Classification{
				Action:   mail.ActionTriage,
				Reason:   string(mail.ActionTriage) + ": " + mail.TriageUnparseable,
				Problems: []string{ProblemParserPanic},
			}
		}
	}()
	msg, _ = parse(raw)
	cls = mail.Classify(msg, mail.VerdictsFromHeaders(msg, h.trustedAuthServIDs...))
	return msg, cls
}

func (h *Handler) tooLarge(ctx context.Context, d delivery) error {
	return h.record(ctx, Record{
		DedupeKey:  mail.DedupeKey(nil, d.bucket+"/"+d.key),
		Action:     string(mail.ActionTriage),
		Reason:     string(mail.ActionTriage) + ": " + TriageTooLarge,
		Problems:   []string{mail.ProblemTooLarge},
		Object:     d.objectRef(),
		ReceivedAt: h.now(),
		Size:       d.size,
	})
}

// submit turns a request mail into a data-subject request. A mail the
// domain rules refuse becomes a triage record (r is changed accordingly);
// only failures worth a retry are returned.
func (h *Handler) submit(ctx context.Context, d delivery, msg *mail.Message, cls mail.Classification, r *Record) error {
	v, err := Validate(cls)
	var fe dsr.FieldErrors
	if errors.As(err, &fe) {
		r.Action = string(mail.ActionTriage)
		r.Reason = string(mail.ActionTriage) + ": " + TriageInvalidSubmission
		for _, e := range fe {
			r.Problems = append(r.Problems, e.String())
		}
		return nil
	}
	if err != nil {
		return err
	}

	id := intake.RequestID(dsr.ChannelMail, r.DedupeKey)
	docs, err := h.putAttachments(ctx, d.bucket, id, msg.Attachments)
	if err != nil {
		return err
	}
	res, err := h.intake.Submit(ctx, intake.Submission{
		Validated:  v,
		Channel:    dsr.ChannelMail,
		NaturalKey: r.DedupeKey,
		Documents:  docs,
		Source:     d.objectRef(),
	})
	var tooMany *intake.TooManyOpenError
	if errors.As(err, &tooMany) {
		r.Action = string(mail.ActionReject)
		r.Reason = string(mail.ActionReject) + ": " + RejectTooManyOpen
		return nil
	}
	if err != nil {
		return fmt.Errorf("submit request %s: %w", id, err)
	}
	r.RequestID = res.Request.ID
	r.Attachments = len(docs)
	return nil
}

// Validate checks what a request mail gives (sender, role, language) with
// dsr's rules and returns it with the kind the classifier found. The kind's
// own form fields (erasure ground, corrections, consent purposes) are not
// part of a mail and stay empty (see the package documentation), so they are
// validated as for a kind that has none.
func Validate(cls mail.Classification) (dsr.Validated, error) {
	role := cls.RequesterRole
	if role == "" {
		role = dsr.RoleSelf
	}
	if !cls.Kind.Valid() {
		return dsr.Validated{}, dsr.FieldErrors{{Field: dsr.FieldKind, Code: dsr.CodeUnknownKind}}
	}
	v, err := dsr.Submission{
		Kind:   string(dsr.KindAccess), // a kind without kind-specific fields; replaced below
		Role:   string(role),
		Email:  cls.From,
		Locale: string(cls.Locale()),
	}.Validate(phone.Parse)
	if err != nil {
		return dsr.Validated{}, err
	}
	v.Kind = cls.Kind
	return v, nil
}

// record writes the mail record and logs the decision (codes only).
func (h *Handler) record(ctx context.Context, r Record) error {
	dup, err := h.records.PutMailRecord(ctx, r)
	if err != nil {
		return err
	}
	attrs := []any{
		"dedupeKey", r.DedupeKey, "action", r.Action, "reason", r.Reason,
		"problems", r.Problems, "duplicateDelivery", dup, "size", r.Size,
	}
	if r.Kind != "" {
		attrs = append(attrs, "kind", r.Kind, "role", r.Role)
	}
	if r.RequestID != "" {
		attrs = append(attrs, "requestId", r.RequestID, "attachments", r.Attachments)
	}
	h.log().InfoContext(ctx, "mail processed", attrs...)
	return nil
}
