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
//     attachments are written to the same bucket (mail.AttachmentKey:
//     <prefix><dedupe key>/<n><.ext>, deterministic, so a redelivery
//     overwrites; the filename is kept only in the object's
//     Content-Disposition and on the document item, never in a key or a
//     log) and intake.Service.Submit stores the request, its documents and
//     the hints the classifier found in the text, and starts its execution;
//   - follow-up (a person's reply in one of our threads): see FollowUp;
//   - every message, whatever the decision, gets a mail record
//     (store.MailRecord): action, reason code, problem codes, the raw
//     object's location, and a count of deliveries. Triage and reject records
//     wait on the store's triage list for a person. The raw message is never
//     moved or deleted;
//   - a message that waits for a person is acknowledged to its sender, at
//     most once per sender and window (see Acknowledgement).
//
// Dedupe: the dedupe key is mail.DedupeKey (the Message-ID's hash, or the
// object's when there is none) and the request ID derives from it, so the same
// object notified twice, or the same Message-ID in two objects, gives one
// request; the second delivery is counted on the mail record.
//
// Errors: Handle returns an error only for failures worth a retry (S3,
// DynamoDB or Step Functions unreachable or failing); Lambda's asynchronous
// retry then redelivers the event, and every step is idempotent. Bad mail is
// never an error: it is recorded. A failed acknowledgement is logged, not
// retried.
//
// Hints: what the classifier found in the sender's own text (account IDs,
// phone numbers, other addresses, the corrections asked for, the consent
// purposes withdrawn) is unverified personal data. It goes with the request
// to its personal item (intake.Submission.Hints, HintCorrections,
// HintPurposes), purged with it; the request item gets only keyed hashes of
// the identifiers, and logs, audit events and the execution input none of
// it. The erasure ground is left for the review step to establish. The
// request's contact is the sender's address, never a phone number found in
// the text (it may be someone else's).
//
// # FollowUp
//
// A person's reply in the thread of one of our requests (mail.ActionFollowUp:
// In-Reply-To or References name one of our Message-IDs,
// <dsr.{request ID}.{template}.{hex}@domain> as notify.Compose writes them,
// or the subject names a request ID) joins that request: its attachments
// become the request's documents and an audit event "mail_follow_up" records
// the message's dedupe key and the number of documents. It joins only when
//
//   - the request exists and is not closed,
//   - the sender's address is the request's contact address, and
//   - the sender is authenticated: a dmarc=pass verdict (from a trusted
//     authserv-id when TRUSTED_AUTHSERV_IDS is set).
//
// A request mail becomes a request, and its sender gets a code, only when
// the sender is authenticated the same way; otherwise it goes to triage
// (TriageUnauthenticated) for a person to decide.
//
// Otherwise it goes to triage with the request it named
// (store.MailRecord.ThreadRequestID) and a reason code: a Message-ID is no
// secret (a request ID derives from public data), so naming one proves
// nothing, and a From address without DMARC proves little.
//
// # Acknowledgement
//
// A message that goes to triage or is rejected gets one automatic answer
// (notify.MailReceived, which repeats nothing of the message) when the
// sender is authenticated (dmarc=pass, as above: a forged sender is never
// written to), the sender's address is valid and not our own, and no
// acknowledgement went to the same mailbox within MAIL_ACK_WINDOW
// (store.ClaimMailAck over a keyed hash of the mailbox; plus tags and Gmail
// dots count as one mailbox). It goes to the From address, never to
// Reply-To. A second delivery of the same message sends nothing.
package mailintake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"dsrflow/internal/dsr"
	"dsrflow/internal/intake"
	"dsrflow/internal/mail"
	"dsrflow/internal/notify"
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

// Store is the part of *store.Store the handler uses.
type Store interface {
	PutMailRecord(ctx context.Context, r store.MailRecord) (duplicate bool, err error)
	GetRequest(ctx context.Context, id string) (*dsr.Request, error)
	GetPersonal(ctx context.Context, id string) (*dsr.Personal, error)
	AddDocument(ctx context.Context, id string, d store.Document) (store.Document, error)
	AppendEvent(ctx context.Context, id string, ev store.Event) (store.Event, error)
	ListEvents(ctx context.Context, id string) ([]store.Event, error)
	ClaimMailAck(ctx context.Context, senderKey string, window time.Duration) (claimed bool, err error)
}

// DefaultAttachmentPrefix is where attachments go in the mailbox bucket.
const DefaultAttachmentPrefix = "attachments/"

// Codes the handler adds to mail's reasons.
const (
	TriageTooLarge          = "too_large"          // larger than mail.MaxSize; not downloaded
	TriageInvalidSubmission = "invalid_submission" // dsr.Validate refused what the mail gives
	// TriageUnauthenticated: a request mail without a trusted dmarc=pass
	// for its From address. Anyone can write any From; a code mailed to
	// it would go to whoever the forger named. A person decides.
	TriageUnauthenticated = "unauthenticated_sender"
	RejectTooManyOpen     = "too_many_open" // the sender has too many open requests

	// A follow-up that could not join the request it named.
	TriageFollowUpUnknown         = "follow_up_unknown_request" // no request named, or no such request
	TriageFollowUpClosed          = "follow_up_closed_request"  // the request is closed (or its personal data purged)
	TriageFollowUpSenderMismatch  = "follow_up_sender_mismatch" // the sender is not the request's contact
	TriageFollowUpUnauthenticated = "follow_up_unauthenticated" // no dmarc=pass for the sender's address
)

// EventMailFollowUp is the audit event of a follow-up that joined its
// request; its data are the message's dedupe key and the number of
// documents it brought.
const EventMailFollowUp = "mail_follow_up"

// ProblemParserPanic is recorded when reading a message panicked: a bug in
// the MIME reader must not lose the message or stop the mailbox.
const ProblemParserPanic = "parser_panic"

// DefaultAckWindow is how long after an acknowledgement the same mailbox
// gets no other.
const DefaultAckWindow = 24 * time.Hour

// Handler handles the mailbox's S3 events. Build it with New.
type Handler struct {
	s3               ObjectStore
	intake           Submitter
	store            Store
	attachmentPrefix string
	// trustedAuthServIDs are the authserv-ids of the receiving servers whose
	// Authentication-Results count (see mail.VerdictsFromHeaders); none
	// means every Authentication-Results header counts.
	trustedAuthServIDs []string
	// sender sends acknowledgements; nil sends none.
	sender    notify.Sender
	ackWindow time.Duration
	// ackKey keys the hash of a sender's mailbox for the acknowledgement slot.
	ackKey []byte
	// own are our own addresses (MAIL_FROM, PRIVACY_CONTACT): never acknowledged.
	own    []string
	from   string
	team   notify.Contact
	clock  func() time.Time
	logger *slog.Logger
}

func (h *Handler) now() time.Time { return h.clock().UTC() }

// Handle processes every record of an S3 event. Records are independent:
// one failing does not stop the others, and the error returned joins the
// failures (each naming its record's position, never a key or an address).
func (h *Handler) Handle(ctx context.Context, ev events.S3Event) error {
	var errs []error
	for i, rec := range ev.Records {
		if err := h.handleRecord(ctx, rec); err != nil {
			h.logger.ErrorContext(ctx, "mail record failed; the event will be retried", "record", i, "error", err.Error())
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
	log := h.logger
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
	if strings.HasPrefix(d.key, h.attachmentPrefix) {
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

	msg, cls, verdicts := h.classify(raw)
	dedupe := mail.DedupeKey(msg, d.bucket+"/"+d.key)
	r := store.MailRecord{
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
	switch cls.Action {
	case mail.ActionRequest:
		err = h.submit(ctx, d, msg, cls, verdicts, &r)
	case mail.ActionFollowUp:
		err = h.followUp(ctx, d, msg, cls, verdicts, &r)
	}
	if err != nil {
		return err
	}
	dup, err := h.record(ctx, r)
	if err != nil {
		return err
	}
	if !dup && r.NeedsPerson() {
		h.acknowledge(ctx, cls, verdicts, r.DedupeKey)
	}
	return nil
}

// parse is mail.Parse; tests replace it.
var parse = mail.Parse

// classify parses and classifies raw. A parse error is in msg.Problems and
// Classify sends the message to triage; a panic in the reader is caught and
// the message goes to triage "unparseable" as well.
func (h *Handler) classify(raw []byte) (msg *mail.Message, cls mail.Classification, v mail.Verdicts) {
	defer func() {
		if recover() != nil {
			msg = &mail.Message{Size: len(raw)}
			cls = mail.Classification{
				Action:   mail.ActionTriage,
				Reason:   string(mail.ActionTriage) + ": " + mail.TriageUnparseable,
				Problems: []string{ProblemParserPanic},
			}
			v = mail.Verdicts{}
		}
	}()
	msg, _ = parse(raw)
	v = mail.VerdictsFromHeaders(msg, h.trustedAuthServIDs...)
	cls = mail.Classify(msg, v)
	return msg, cls, v
}

func (h *Handler) tooLarge(ctx context.Context, d delivery) error {
	_, err := h.record(ctx, store.MailRecord{
		DedupeKey:  mail.DedupeKey(nil, d.bucket+"/"+d.key),
		Action:     string(mail.ActionTriage),
		Reason:     string(mail.ActionTriage) + ": " + TriageTooLarge,
		Problems:   []string{mail.ProblemTooLarge},
		Object:     d.objectRef(),
		ReceivedAt: h.now(),
		Size:       d.size,
	})
	return err
}

// submit turns a request mail into a data-subject request. A mail the
// domain rules refuse becomes a triage record (r is changed accordingly);
// only failures worth a retry are returned.
func (h *Handler) submit(ctx context.Context, d delivery, msg *mail.Message, cls mail.Classification, verdicts mail.Verdicts, r *store.MailRecord) error {
	if !authenticated(verdicts) {
		r.Action = string(mail.ActionTriage)
		r.Reason = string(mail.ActionTriage) + ": " + TriageUnauthenticated
		return nil
	}
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
	docs, err := h.putAttachments(ctx, d.bucket, id, r.DedupeKey, msg.Attachments)
	if err != nil {
		return err
	}
	res, err := h.intake.Submit(ctx, intake.Submission{
		Validated:       v,
		Channel:         dsr.ChannelMail,
		NaturalKey:      r.DedupeKey,
		Documents:       docs,
		Hints:           HintIdentifiers(cls.Hints),
		HintCorrections: cls.Hints.Corrections,
		HintPurposes:    cls.Hints.Purposes,
		Source:          d.objectRef(),
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

// HintIdentifiers are the identifiers among a mail's hints, normalized as
// dsr's parsers normalize them (the classifier already did: what does not
// parse again is dropped).
func HintIdentifiers(h mail.Hints) dsr.Identifiers {
	var ids dsr.Identifiers
	for _, a := range h.AccountIDs {
		if v, err := dsr.ParseAccountID(a); err == nil {
			ids.Add(dsr.IdentifierAccount, v)
		}
	}
	for _, e := range h.Emails {
		if v, err := dsr.ParseEmail(e); err == nil {
			ids.Add(dsr.IdentifierEmail, v)
		}
	}
	for _, p := range h.Phones {
		if v, err := phone.Parse(p); err == nil {
			ids.Add(dsr.IdentifierPhone, v)
		}
	}
	return ids
}

// followUp joins a follow-up to the request it names, or sends it to
// triage (see the package documentation). Only failures worth a retry are
// returned.
func (h *Handler) followUp(ctx context.Context, d delivery, msg *mail.Message, cls mail.Classification, v mail.Verdicts, r *store.MailRecord) error {
	id := cls.ThreadRequestID
	r.ThreadRequestID = id
	triage := func(code string) error {
		r.Action = string(mail.ActionTriage)
		r.Reason = string(mail.ActionTriage) + ": " + code
		return nil
	}
	if id == "" {
		return triage(TriageFollowUpUnknown)
	}
	req, err := h.store.GetRequest(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return triage(TriageFollowUpUnknown)
	}
	if err != nil {
		return fmt.Errorf("follow-up to %s: %w", id, err)
	}
	if req.Status.Terminal() || req.ClosedAt != nil || req.PersonalPurgedAt != nil {
		return triage(TriageFollowUpClosed)
	}
	p, err := h.store.GetPersonal(ctx, id)
	if errors.Is(err, store.ErrPurged) {
		return triage(TriageFollowUpClosed)
	}
	if err != nil {
		return fmt.Errorf("follow-up to %s: %w", id, err)
	}
	sender, err := dsr.ParseEmail(cls.From)
	if err != nil || p.Contact.Email == "" || sender != p.Contact.Email {
		return triage(TriageFollowUpSenderMismatch)
	}
	if !authenticated(v) {
		return triage(TriageFollowUpUnauthenticated)
	}

	docs, err := h.putAttachments(ctx, d.bucket, id, r.DedupeKey, msg.Attachments)
	if err != nil {
		return err
	}
	for _, doc := range docs {
		if _, err := h.store.AddDocument(ctx, id, doc); err != nil {
			return fmt.Errorf("follow-up to %s: %w", id, err)
		}
	}
	evs, err := h.store.ListEvents(ctx, id)
	if err != nil {
		return fmt.Errorf("follow-up to %s: %w", id, err)
	}
	seen := false
	for _, e := range evs {
		if e.Type == EventMailFollowUp && e.Data["dedupeKey"] == r.DedupeKey {
			seen = true // a redelivery: recorded already
			break
		}
	}
	if !seen {
		if _, err := h.store.AppendEvent(ctx, id, store.Event{
			Type: EventMailFollowUp, Actor: intake.Actor(dsr.ChannelMail),
			Data: map[string]string{"dedupeKey": r.DedupeKey, "documents": strconv.Itoa(len(docs))},
		}); err != nil {
			return fmt.Errorf("follow-up to %s: %w", id, err)
		}
	}
	r.RequestID = id
	r.Attachments = len(docs)
	return nil
}

// authenticated reports whether the receiving server found the From
// address's domain aligned and passing DMARC.
func authenticated(v mail.Verdicts) bool { return v.DMARC == "pass" }

// Validate checks what a request mail gives (sender, role, language) with
// dsr's rules and returns it with the kind the classifier found. The kind's
// own form fields are not validated here: the corrections and consent
// purposes a mail names are hints (see the package documentation) and the
// erasure ground is for review, so they are validated as for a kind that
// has none.
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
func (h *Handler) record(ctx context.Context, r store.MailRecord) (duplicate bool, err error) {
	dup, err := h.store.PutMailRecord(ctx, r)
	if err != nil {
		return false, err
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
	if r.ThreadRequestID != "" && r.RequestID == "" {
		attrs = append(attrs, "threadRequestId", r.ThreadRequestID)
	}
	h.logger.InfoContext(ctx, "mail processed", attrs...)
	return dup, nil
}

// acknowledge sends the sender of a message that waits for a person one
// notify.MailReceived, if the package documentation's conditions hold.
// Failures are logged: the message is recorded, and a retry would not send
// it (the record would be a duplicate delivery).
func (h *Handler) acknowledge(ctx context.Context, cls mail.Classification, v mail.Verdicts, dedupeKey string) {
	if h.sender == nil {
		return
	}
	log := h.logger.With("dedupeKey", dedupeKey)
	addr, err := dsr.ParseEmail(cls.From)
	if err != nil {
		log.InfoContext(ctx, "no acknowledgement", "code", "no_sender_address")
		return
	}
	for _, own := range h.own {
		if mailboxOf(addr) == mailboxOf(own) {
			log.InfoContext(ctx, "no acknowledgement", "code", "own_address")
			return
		}
	}
	if !authenticated(v) {
		log.InfoContext(ctx, "no acknowledgement", "code", "sender_not_authenticated")
		return
	}
	claimed, err := h.store.ClaimMailAck(ctx, ackSenderKey(h.ackKey, addr), h.ackWindow)
	if err != nil {
		log.ErrorContext(ctx, "acknowledgement not sent", "code", "claim_failed", "error", err.Error())
		return
	}
	if !claimed {
		log.InfoContext(ctx, "no acknowledgement", "code", "acknowledged_in_window")
		return
	}
	m := notify.MailReceived(dsr.Contact{Email: addr}, cls.Locale(), h.team)
	m.MessageID = notify.MessageID("mail", m.Template, h.from)
	if _, err := h.sender.Send(ctx, m); err != nil {
		log.ErrorContext(ctx, "acknowledgement not sent", "code", "delivery_failed", "error", err.Error())
		return
	}
	log.InfoContext(ctx, "acknowledgement sent", "template", m.Template)
}

// ackIdentifier is the identifier type of acknowledgement keys: it keeps
// them apart from subject keys computed over the same address.
const ackIdentifier dsr.IdentifierType = "mail_ack_mailbox"

// ackSenderKey is the keyed hash the acknowledgement slot of addr's mailbox
// is stored under.
func ackSenderKey(secret []byte, addr string) string {
	return dsr.SubjectKey(secret, ackIdentifier, mailboxOf(addr))
}

// mailboxOf is the mailbox a normalized address (dsr.ParseEmail) reaches,
// for the acknowledgement budget only: a "+tag" suffix dropped everywhere,
// and for Gmail the dots of the local part (googlemail.com is gmail.com).
// Elsewhere such addresses may be different mailboxes, so this is never
// used to match a person.
func mailboxOf(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return addr
	}
	local, domain := addr[:at], addr[at+1:]
	if i := strings.IndexByte(local, '+'); i > 0 {
		local = local[:i]
	}
	if domain == "googlemail.com" {
		domain = "gmail.com"
	}
	if domain == "gmail.com" {
		local = strings.ReplaceAll(local, ".", "")
	}
	return local + "@" + domain
}
