package console

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"dsrflow/internal/dsr"
	"dsrflow/internal/intake"
	"dsrflow/internal/mail"
	"dsrflow/internal/mailintake"
	"dsrflow/internal/store"
)

// Resolutions of a triaged mail (store.MailRecord.Resolution).
const (
	ResolutionConverted = "converted"
	ResolutionLinked    = "linked"
	ResolutionIgnored   = "ignored"
)

// IgnoreReasons are why an operator ignores a triaged mail.
func IgnoreReasons() []string {
	return []string{"not_a_request", "spam", "duplicate", "answered_elsewhere", "read"}
}

// MaxMailText bounds the message text the mail page shows, in bytes.
const MaxMailText = 64 << 10

// dedupeKeyPattern is a mail record's key (mail.DedupeKey: hex SHA-256).
var dedupeKeyPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// mailView is a triaged mail's page.
type mailView struct {
	Record store.MailRecord
	// Msg is the parsed message; nil when it could not be read (too large,
	// gone, refused).
	Msg *mail.Message
	// Cls is the mailbox's classification, read again.
	Cls mail.Classification
	// Unreadable names why the message is not shown (a code).
	Unreadable string
	Text       string
	Truncated  bool
}

// NeedsPerson reports whether actions are offered.
func (v *mailView) NeedsPerson() bool { return v.Record.NeedsPerson() }

// readMail reads and parses a mail record's raw message.
func (h *Handler) readMail(ctx context.Context, rec store.MailRecord) (*mail.Message, mail.Classification, error) {
	if h.objects == nil {
		return nil, mail.Classification{}, errors.New("mailbox storage is not configured")
	}
	bucket, key, ok := parseObject(rec.Object)
	if !ok {
		return nil, mail.Classification{}, fmt.Errorf("mail %s: object reference is not s3://bucket/key", rec.DedupeKey)
	}
	if rec.Size > mail.MaxSize {
		return nil, mail.Classification{}, errTooLarge
	}
	out, err := h.objects.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, mail.Classification{}, err
	}
	defer out.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(out.Body, mail.MaxSize+1))
	if err != nil {
		return nil, mail.Classification{}, fmt.Errorf("read mail %s: %w", rec.DedupeKey, err)
	}
	if len(raw) > mail.MaxSize {
		return nil, mail.Classification{}, errTooLarge
	}
	msg, cls := classify(raw, h.cfg.TrustedAuthServIDs)
	return msg, cls, nil
}

// errTooLarge: the raw message is larger than the mailbox reads.
var errTooLarge = errors.New("the message is larger than the mailbox reads")

// classify parses and classifies raw as intake-mail does; a panic in the
// MIME reader makes an unreadable message, not a crashed console.
func classify(raw []byte, trusted []string) (msg *mail.Message, cls mail.Classification) {
	defer func() {
		if recover() != nil {
			msg, cls = nil, mail.Classification{Action: mail.ActionTriage, Reason: "triage: " + mail.TriageUnparseable}
		}
	}()
	msg, _ = mail.Parse(raw)
	return msg, mail.Classify(msg, mail.VerdictsFromHeaders(msg, trusted...))
}

// parseObject splits "s3://bucket/key".
func parseObject(ref string) (bucket, key string, ok bool) {
	rest, ok := strings.CutPrefix(ref, "s3://")
	if !ok {
		return "", "", false
	}
	bucket, key, ok = strings.Cut(rest, "/")
	return bucket, key, ok && bucket != "" && key != ""
}

// loadMail is a mail record and, when it can be read, its message.
func (h *Handler) loadMail(ctx context.Context, key string) (*mailView, error) {
	rec, found, err := h.store.GetMailRecord(ctx, key)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("mail %s: %w", key, store.ErrNotFound)
	}
	v := &mailView{Record: rec}
	msg, cls, err := h.readMail(ctx, rec)
	var nsk *s3types.NoSuchKey
	switch {
	case errors.Is(err, errTooLarge):
		v.Unreadable = "too_large"
	case errors.As(err, &nsk):
		v.Unreadable = "gone"
	case isAccessDenied(err):
		v.Unreadable = "denied"
	case err != nil:
		return nil, err
	case msg == nil:
		v.Unreadable = "unparseable"
	default:
		v.Msg, v.Cls = msg, cls
		v.Text = msg.Text
		if len(v.Text) > MaxMailText {
			v.Text, v.Truncated = strings.ToValidUTF8(v.Text[:MaxMailText], ""), true
		}
	}
	return v, nil
}

func (h *Handler) getMail(w http.ResponseWriter, r *http.Request) {
	l := pickLocale(r)
	h.showMail(w, r, l, r.PathValue("key"), http.StatusOK, doneText(l, r.URL.Query().Get("done")), "")
}

func (h *Handler) showMail(w http.ResponseWriter, r *http.Request, l dsr.Locale, key string, status int, notice, alert string) {
	if !dedupeKeyPattern.MatchString(key) {
		h.message(w, r, l, http.StatusNotFound, "errors.notFound.title", "errors.notFound")
		return
	}
	v, err := h.loadMail(r.Context(), key)
	if err != nil {
		h.fail(w, r, l, "", err)
		return
	}
	h.logger.InfoContext(r.Context(), "triaged mail viewed", "dedupeKey", key, "readable", v.Msg != nil)
	p := h.newPage(r, l, "mail.title")
	p.Path = "/mail/" + key
	p.Mail, p.Notice, p.Alert = v, notice, alert
	h.render(w, status, p, mailMain(p))
}

// triaged is the record of key, refusing one already settled.
func (h *Handler) triaged(ctx context.Context, key string) (store.MailRecord, error) {
	rec, found, err := h.store.GetMailRecord(ctx, key)
	if err != nil {
		return rec, err
	}
	if !found {
		return rec, fmt.Errorf("mail %s: %w", key, store.ErrNotFound)
	}
	if !rec.NeedsPerson() {
		return rec, fmt.Errorf("mail %s: %w", key, store.ErrResolved)
	}
	return rec, nil
}

func (h *Handler) postConvert(w http.ResponseWriter, r *http.Request, l dsr.Locale) {
	key := r.PathValue("key")
	if !dedupeKeyPattern.MatchString(key) {
		h.message(w, r, l, http.StatusNotFound, "errors.notFound.title", "errors.notFound")
		return
	}
	kind, role := dsr.Kind(r.PostForm.Get("kind")), dsr.Role(r.PostForm.Get("role"))
	if !kind.Valid() || !role.Valid() {
		h.showMail(w, r, l, key, http.StatusBadRequest, "", text(l, "mail.convert.invalid"))
		return
	}
	ctx := r.Context()
	rec, err := h.triaged(ctx, key)
	if err != nil {
		h.mailFailed(w, r, l, key, err)
		return
	}
	if rec.Action == "follow_up" {
		// A reply already joined its request: it is read, not converted.
		h.showMail(w, r, l, key, http.StatusConflict, "", text(l, "mail.joined", rec.RequestID))
		return
	}
	msg, cls, err := h.readMail(ctx, rec)
	if err != nil {
		h.mailFailed(w, r, l, key, err)
		return
	}
	if msg == nil || msg.From == "" {
		h.showMail(w, r, l, key, http.StatusConflict, "", text(l, "mail.convert.noSender"))
		return
	}
	cls.Kind, cls.RequesterRole = kind, role
	v, err := mailintake.Validate(cls)
	if err != nil {
		h.showMail(w, r, l, key, http.StatusConflict, "", text(l, "mail.convert.refused"))
		return
	}
	id := intake.RequestID(dsr.ChannelMail, key)
	docs, err := h.putAttachments(ctx, rec, id, 0, msg.Attachments)
	if err != nil {
		h.mailFailed(w, r, l, key, err)
		return
	}
	var hints dsr.Identifiers
	for _, a := range cls.Hints.AccountIDs {
		hints.Add(dsr.IdentifierAccount, a)
	}
	for _, e := range cls.Hints.Emails {
		hints.Add(dsr.IdentifierEmail, e)
	}
	for _, p := range cls.Hints.Phones {
		hints.Add(dsr.IdentifierPhone, p)
	}
	res, err := h.intake.Submit(ctx, intake.Submission{Validated: v, Channel: dsr.ChannelMail, NaturalKey: key, Documents: docs, Hints: hints, Source: rec.Object})
	var tooMany *intake.TooManyOpenError
	switch {
	case errors.As(err, &tooMany):
		h.showMail(w, r, l, key, http.StatusConflict, "", text(l, "mail.convert.tooMany"))
		return
	case err != nil && res.Request == nil:
		h.mailFailed(w, r, l, key, err)
		return
	}
	// A failed start (intake.ErrStart) leaves the request stored: the
	// reconciler starts it. The mail is settled either way.
	if _, err := h.store.ResolveMail(ctx, key, ResolutionConverted, string(kind), res.Request.ID, h.actor()); err != nil && !errors.Is(err, store.ErrResolved) {
		h.mailFailed(w, r, l, key, err)
		return
	}
	if err := h.audit(ctx, res.Request.ID, "mail_converted", map[string]string{"dedupeKey": key, "kind": string(kind), "role": string(role), "attachments": itoa(len(docs))}); err != nil {
		h.mailFailed(w, r, l, key, err)
		return
	}
	h.logger.InfoContext(ctx, "triaged mail converted", "dedupeKey", key, "requestId", res.Request.ID, "kind", string(kind))
	done(w, r, l, "/requests/"+res.Request.ID, "converted")
}

// putAttachments writes a message's attachments next to the raw message
// as request id's documents, numbered from after+1, at the keys
// intake-mail uses (mail.AttachmentKey): deterministic, so doing it
// again overwrites. Encrypted at rest; the file name stays in the object's
// Content-Disposition and on the document item.
func (h *Handler) putAttachments(ctx context.Context, rec store.MailRecord, id string, after int, atts []mail.Attachment) ([]store.Document, error) {
	bucket, _, ok := parseObject(rec.Object)
	if !ok {
		return nil, fmt.Errorf("mail %s: object reference is not s3://bucket/key", rec.DedupeKey)
	}
	var docs []store.Document
	for i, a := range atts {
		key := mail.AttachmentKey(h.cfg.AttachmentPrefix, rec.DedupeKey, i, a)
		ct := a.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		in := &s3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(a.Data),
			ContentLength: aws.Int64(int64(len(a.Data))), ContentType: aws.String(ct),
			ServerSideEncryption: s3types.ServerSideEncryptionAes256,
		}
		if cd := mime.FormatMediaType("attachment", map[string]string{"filename": a.Filename}); a.Filename != "" && cd != "" {
			in.ContentDisposition = aws.String(cd)
		}
		if _, err := h.objects.PutObject(ctx, in); err != nil {
			return nil, fmt.Errorf("put attachment %d of request %s: %w", after+i+1, id, err)
		}
		docs = append(docs, store.Document{Bucket: bucket, Key: key, ContentType: ct, Size: int64(len(a.Data)), FileName: a.Filename, Source: "mail", AddedAt: h.now()})
	}
	return docs, nil
}

func (h *Handler) postLink(w http.ResponseWriter, r *http.Request, l dsr.Locale) {
	key := r.PathValue("key")
	if !dedupeKeyPattern.MatchString(key) {
		h.message(w, r, l, http.StatusNotFound, "errors.notFound.title", "errors.notFound")
		return
	}
	target := strings.ToLower(strings.TrimSpace(r.PostForm.Get("requestId")))
	if !validID(target) {
		h.showMail(w, r, l, key, http.StatusBadRequest, "", text(l, "mail.link.invalid"))
		return
	}
	ctx := r.Context()
	req, err := h.store.GetRequest(ctx, target)
	if errors.Is(err, store.ErrNotFound) {
		h.showMail(w, r, l, key, http.StatusNotFound, "", text(l, "mail.link.unknown", target))
		return
	}
	if err != nil {
		h.mailFailed(w, r, l, key, err)
		return
	}
	if !req.Status.Open() {
		h.showMail(w, r, l, key, http.StatusConflict, "", text(l, "mail.link.closed", target))
		return
	}
	rec, err := h.triaged(ctx, key)
	if err != nil {
		h.mailFailed(w, r, l, key, err)
		return
	}
	if rec.Action == "follow_up" {
		// A reply already joined its request: it is read, not converted.
		h.showMail(w, r, l, key, http.StatusConflict, "", text(l, "mail.joined", rec.RequestID))
		return
	}
	// The attachments become the request's documents (when the message can
	// be read; a too large one stays in the bucket for the operator).
	var docs []store.Document
	msg, _, err := h.readMail(ctx, rec)
	switch {
	case errors.Is(err, errTooLarge):
	case err != nil:
		h.mailFailed(w, r, l, key, err)
		return
	case msg != nil && len(msg.Attachments) > 0:
		have, err := h.store.ListDocuments(ctx, target)
		if err != nil {
			h.mailFailed(w, r, l, key, err)
			return
		}
		if docs, err = h.putAttachments(ctx, rec, target, len(have), msg.Attachments); err != nil {
			h.mailFailed(w, r, l, key, err)
			return
		}
		for _, d := range docs {
			if _, err := h.store.AddDocument(ctx, target, d); err != nil {
				h.mailFailed(w, r, l, key, err)
				return
			}
		}
	}
	if _, err := h.store.ResolveMail(ctx, key, ResolutionLinked, "", target, h.actor()); err != nil {
		h.mailFailed(w, r, l, key, err)
		return
	}
	if err := h.audit(ctx, target, "mail_linked", map[string]string{"dedupeKey": key, "attachments": itoa(len(docs))}); err != nil {
		h.mailFailed(w, r, l, key, err)
		return
	}
	h.logger.InfoContext(ctx, "triaged mail linked", "dedupeKey", key, "requestId", target, "attachments", len(docs))
	done(w, r, l, "/requests/"+target, "linked")
}

func (h *Handler) postIgnore(w http.ResponseWriter, r *http.Request, l dsr.Locale) {
	key := r.PathValue("key")
	if !dedupeKeyPattern.MatchString(key) {
		h.message(w, r, l, http.StatusNotFound, "errors.notFound.title", "errors.notFound")
		return
	}
	reason := r.PostForm.Get("reason")
	if !validIgnoreReason(reason) {
		h.showMail(w, r, l, key, http.StatusBadRequest, "", text(l, "mail.ignore.invalid"))
		return
	}
	ctx := r.Context()
	if _, err := h.triaged(ctx, key); err != nil {
		h.mailFailed(w, r, l, key, err)
		return
	}
	if _, err := h.store.ResolveMail(ctx, key, ResolutionIgnored, reason, "", h.actor()); err != nil {
		h.mailFailed(w, r, l, key, err)
		return
	}
	h.logger.InfoContext(ctx, "triaged mail ignored", "dedupeKey", key, "reason", reason)
	done(w, r, l, "/", "ignored")
}

func validIgnoreReason(s string) bool {
	for _, r := range IgnoreReasons() {
		if r == s {
			return true
		}
	}
	return false
}

// receivedText formats a time for the pages: China time.
func receivedText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(chinaTime).Format("2006-01-02 15:04")
}
