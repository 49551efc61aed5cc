package webintake

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"dsrflow/internal/documents"
	"dsrflow/internal/dsr"
	"dsrflow/internal/store"
)

// Uploads: a guardian, an agent or a relative sends documents of identity
// and authority from the confirmation page or the documents page
// (GET /requests/{id}/documents). The page holds one presigned S3 upload
// form per file type (documents.Uploads.Form: a plain multipart form post
// straight to S3, no JavaScript); S3 stores the file under the request's
// incoming prefix and redirects the browser to
// GET /requests/{id}/documents/received with the upload ticket. That page
// checks the object (size, Content-Type, first bytes), records it as a
// request document (at most documents.MaxUploads), keeps it under the
// documents prefix, and deletes whatever fails.

// ActorDocumentsPage names the documents page in audit events.
const ActorDocumentsPage = "web:documents"

// SourceUpload is the Source of documents uploaded through the pages.
const SourceUpload = "upload"

// Audit event types of uploads.
const (
	EventDocumentReceived = "document_received"
	EventDocumentRejected = "document_rejected"
)

// uploader stores uploads (documents.Uploads).
type uploader interface {
	Form(ctx context.Context, requestID, name, contentType, redirect string) (documents.PostForm, error)
	Inspect(ctx context.Context, requestID, name, contentType string) (documents.Inspection, error)
	Keep(ctx context.Context, requestID, name, etag string) (string, error)
	Kept(ctx context.Context, requestID, name string) (bool, error)
	Discard(ctx context.Context, requestID, name string) error
	DocumentKey(requestID, name string) (string, error)
	Bucket() string
	FormTTL() time.Duration
}

// documentStore records a request's documents and audit events
// (store.Store).
type documentStore interface {
	ListDocuments(ctx context.Context, id string) ([]store.Document, error)
	AddDocumentLimited(ctx context.Context, id string, d store.Document, limit int) (store.Document, error)
	AppendEvent(ctx context.Context, id string, ev store.Event) (store.Event, error)
	ListEvents(ctx context.Context, id string) ([]store.Event, error)
}

// The upload ticket rides in the redirect S3 sends the browser to: it
// names the upload and its type and is signed, so that the received page
// only ever looks at an object this handler presigned for this request.
// base64url (no padding) of
//
//	issued (8 bytes, Unix seconds, big-endian) || name (16 bytes) || type (1 byte) || tag (16 bytes)
//
// where tag is the first 16 bytes of HMAC-SHA256(ticketKey, "upload-ticket:"
// || request ID || 0 || issued || name || type). 41 bytes, 55 characters.
const (
	ticketNameLen = 16
	ticketRawLen  = 8 + ticketNameLen + 1 + 16
	ticketLen     = (ticketRawLen*8 + 5) / 6 // 55
)

// ticketGrace is how long after its form expired a ticket is still
// honoured: S3 checks the form when the post begins, and a slow upload or
// a reload of the answer comes later. The bucket's lifecycle removes
// incoming objects after a day.
const ticketGrace = 24 * time.Hour

// The limits as the pages state them.
const (
	maxUploadMB = documents.MaxUploadBytes >> 20
	maxUploads  = documents.MaxUploads
)

// uploadTypeCodes number the upload types in tickets.
var uploadTypeCodes = map[string]byte{documents.TypePDF: 1, documents.TypeJPEG: 2, documents.TypePNG: 3}

func uploadTypeOf(code byte) string {
	for t, c := range uploadTypeCodes {
		if c == code {
			return t
		}
	}
	return ""
}

// upload is what a ticket names.
type upload struct {
	name        string // documents.NewName's hex
	contentType string
	issued      time.Time
}

func (h *Handler) ticketTag(requestID string, signed []byte) []byte {
	m := hmac.New(sha256.New, h.ticketKey)
	m.Write([]byte("upload-ticket:" + requestID))
	m.Write([]byte{0})
	m.Write(signed)
	return m.Sum(nil)[:16]
}

// newTicket signs an upload of request requestID.
func (h *Handler) newTicket(requestID string, u upload) string {
	name, _ := hex.DecodeString(u.name) // a documents.NewName
	raw := make([]byte, 0, ticketRawLen)
	raw = binary.BigEndian.AppendUint64(raw, uint64(u.issued.Unix()))
	raw = append(raw, name...)
	raw = append(raw, uploadTypeCodes[u.contentType])
	raw = append(raw, h.ticketTag(requestID, raw)...)
	return base64.RawURLEncoding.EncodeToString(raw)
}

// Why a ticket is refused.
var (
	errTicketInvalid = errors.New("upload ticket invalid")
	errTicketExpired = errors.New("upload ticket expired")
)

// parseTicket checks a ticket of request requestID: its shape, its tag (in
// constant time), its type, and its age (at most ticketLife: the form's
// life and ticketGrace; not ahead of the clock by more than nonceSkew).
func (h *Handler) parseTicket(requestID, s string) (upload, error) {
	if len(s) != ticketLen || !all(s, isBase64URL) {
		return upload{}, errTicketInvalid
	}
	// Strict: one encoding per ticket (no stray bits in the last character).
	raw, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(raw) != ticketRawLen {
		return upload{}, errTicketInvalid
	}
	signed, tag := raw[:ticketRawLen-16], raw[ticketRawLen-16:]
	if !hmac.Equal(tag, h.ticketTag(requestID, signed)) {
		return upload{}, errTicketInvalid
	}
	u := upload{
		issued:      time.Unix(int64(binary.BigEndian.Uint64(signed[:8])), 0),
		name:        hex.EncodeToString(signed[8 : 8+ticketNameLen]),
		contentType: uploadTypeOf(signed[8+ticketNameLen]),
	}
	if u.contentType == "" {
		return upload{}, errTicketInvalid
	}
	now := h.now()
	if u.issued.After(now.Add(nonceSkew)) || now.Sub(u.issued) > h.ticketLife {
		return u, errTicketExpired
	}
	return u, nil
}

// documentsPath is request id's documents page.
func documentsPath(id string) string { return "/requests/" + url.PathEscape(id) + "/documents" }

// acceptsUploads reports whether request req may receive documents by
// upload: uploads are configured, its requester acts for someone else (they
// are verified by documents, not a code), it is open, and its personal data
// is kept.
func (h *Handler) acceptsUploads(req *dsr.Request) bool {
	return h.uploads != nil && req.Role.NeedsManualReview() && !req.Status.Terminal() && req.PersonalPurgedAt == nil
}

// uploadView is the upload part of a page: what was received, the forms
// while more may be sent, and what happens next.
type uploadView struct {
	RequestID string
	// Off: uploads are not configured; Mail says where to send documents.
	Off      bool
	Received []receivedDoc
	Left     int          // how many more may be sent
	Forms    []uploadForm // empty when none may be sent, or uploads are off
	// Mail is the privacy team's address, for those who cannot upload.
	Mail string
	// PageURL is the documents page, to come back later (on the
	// confirmation page).
	PageURL string
}

type receivedDoc struct {
	Seq   int
	Type  string // "PDF", "JPEG", "PNG"
	Size  string // "1.2 MB"
	Added string // date in the page's language
}

// uploadForm is one presigned form: one file type.
type uploadForm struct {
	ID     string // "pdf", "jpeg", "png": the input is f-file-<ID>
	Label  string
	Hint   string
	Button string
	Accept string
	Action string
	Fields []documents.Field
}

// uploadAccept is each type's accept attribute: the type and its usual
// extensions, so that the file chooser offers the right files.
var uploadAccept = map[string]string{
	documents.TypePDF:  "application/pdf,.pdf",
	documents.TypeJPEG: "image/jpeg,.jpg,.jpeg",
	documents.TypePNG:  "image/png,.png",
}

// typeName is the short name of an upload type.
func typeName(ct string) string {
	switch ct {
	case documents.TypePDF:
		return "PDF"
	case documents.TypeJPEG:
		return "JPEG"
	case documents.TypePNG:
		return "PNG"
	}
	return ct
}

// formatSize is a size in MB with one decimal (KB below 0.1 MB).
func formatSize(n int64) string {
	if n < 100<<10 {
		return strconv.FormatInt((n+1023)>>10, 10) + " KB"
	}
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MB"
}

// uploadSection builds the upload part of a page for request req, with its
// recorded documents docs: one fresh form per type while more may be sent.
// The forms need the request's status token: S3 sends the browser back
// with it.
// formOrigin is the forms' target origin (for the page's CSP), "" for no
// form.
func (h *Handler) uploadSection(ctx context.Context, r *http.Request, l dsr.Locale, id, token string, docs []store.Document) (view *uploadView, formOrigin string, err error) {
	view = &uploadView{RequestID: id, Left: documents.MaxUploads, Mail: h.teamContact.Email}
	for _, d := range docs {
		if d.Source != SourceUpload {
			continue
		}
		view.Left--
		view.Received = append(view.Received, receivedDoc{Seq: len(view.Received) + 1, Type: typeName(d.ContentType), Size: formatSize(d.Size), Added: formatDate(d.AddedAt, l)})
	}
	view.Left = max(view.Left, 0)
	site := h.siteURL(r)
	if view.Left == 0 || site == "" {
		return view, "", nil
	}
	for _, ct := range documents.UploadTypes() {
		u := upload{name: documents.NewName(), contentType: ct, issued: h.now()}
		redirect := site + documentsPath(id) + "/received?token=" + url.QueryEscape(token) +
			"&ticket=" + h.newTicket(id, u) + "&lang=" + url.QueryEscape(string(l))
		f, err := h.uploads.Form(ctx, id, u.name, ct, redirect)
		if err != nil {
			return nil, "", err
		}
		id := typeName(ct)
		view.Forms = append(view.Forms, uploadForm{
			ID:     lowerASCII(id),
			Label:  text(l, "upload.label."+lowerASCII(id)),
			Hint:   text(l, "upload.hint.type", id),
			Button: text(l, "upload.button", id),
			Accept: uploadAccept[ct],
			Action: f.URL,
			Fields: f.Fields,
		})
		formOrigin = f.Origin()
	}
	return view, formOrigin, nil
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// documentsView is the documents page.
type documentsView struct {
	RequestID string
	Notice    string // what just happened (role=status)
	Alert     string // what went wrong (role=alert)
	// Closed explains why no document may be sent (the request is closed,
	// or is not verified by documents); the upload part is then absent.
	Closed    string
	Upload    *uploadView
	StatusURL string
}

// getDocuments shows request id's documents page to the holder of its
// status token.
func (h *Handler) getDocuments(w http.ResponseWriter, r *http.Request) {
	ctx, l := r.Context(), requestLocale(r)
	id, token := r.PathValue("id"), r.URL.Query().Get("token")
	req, err := h.authorizeStatus(ctx, id, token)
	if err != nil {
		h.logger.ErrorContext(ctx, "read request for documents page", "requestId", id, "error", err.Error())
		h.internalError(w, r, l)
		return
	}
	if req == nil {
		h.notFound(w, r, l)
		return
	}
	h.documentsPage(w, r, http.StatusOK, l, req, token, "", "")
}

// documentsPage renders the documents page of req with a notice or an
// alert.
func (h *Handler) documentsPage(w http.ResponseWriter, r *http.Request, status int, l dsr.Locale, req *dsr.Request, token, notice, alert string) {
	ctx := r.Context()
	v := &documentsView{RequestID: req.ID, Notice: notice, Alert: alert, StatusURL: statusPath(req.ID, token) + "&lang=" + url.QueryEscape(string(l))}
	origin := ""
	switch {
	case !req.Role.NeedsManualReview():
		v.Closed = text(l, "upload.notForSelf")
		if status == http.StatusOK {
			status = http.StatusConflict
		}
	case req.Status.Terminal() || req.PersonalPurgedAt != nil:
		v.Closed = text(l, "upload.closed")
		if status == http.StatusOK {
			status = http.StatusConflict
		}
	default:
		var docs []store.Document
		if h.uploads != nil {
			var err error
			if docs, err = h.docs.ListDocuments(ctx, req.ID); err != nil {
				h.logger.ErrorContext(ctx, "list documents for documents page", "requestId", req.ID, "error", err.Error())
				h.internalError(w, r, l)
				return
			}
		}
		up, o, err := h.uploadsOrNone(ctx, r, l, req.ID, token, docs)
		if err != nil {
			h.logger.ErrorContext(ctx, "presign upload forms", "requestId", req.ID, "error", err.Error())
			h.internalError(w, r, l)
			return
		}
		v.Upload, origin = up, o
	}
	h.writePageForms(w, status, "documents", &page{
		Locale:    l,
		Title:     text(l, "upload.title"),
		SwitchURL: documentsPath(req.ID) + "?token=" + url.QueryEscape(token) + "&lang=" + url.QueryEscape(string(otherLocale(l))),
		Documents: v,
	}, origin)
}

// uploadsOrNone is the upload part of a page of a request that may receive
// documents: with forms when uploads are configured, else only the mail
// address to send them to.
func (h *Handler) uploadsOrNone(ctx context.Context, r *http.Request, l dsr.Locale, id, token string, docs []store.Document) (*uploadView, string, error) {
	if h.uploads == nil {
		return &uploadView{RequestID: id, Off: true, Mail: h.teamContact.Email}, "", nil
	}
	return h.uploadSection(ctx, r, l, id, token, docs)
}

// getReceived is where S3 sends the browser after an upload: it checks the
// object the ticket names, records it, and shows the documents page with
// what happened. A reload is harmless: a document already recorded is
// shown as received.
func (h *Handler) getReceived(w http.ResponseWriter, r *http.Request) {
	ctx, l := r.Context(), requestLocale(r)
	q := r.URL.Query()
	id, token := r.PathValue("id"), q.Get("token")
	req, err := h.authorizeStatus(ctx, id, token)
	if err != nil {
		h.logger.ErrorContext(ctx, "read request for upload", "requestId", id, "error", err.Error())
		h.internalError(w, r, l)
		return
	}
	if req == nil || h.uploads == nil {
		h.notFound(w, r, l)
		return
	}
	u, err := h.parseTicket(req.ID, q.Get("ticket"))
	if err != nil {
		key := "upload.ticketInvalid"
		if errors.Is(err, errTicketExpired) {
			key = "upload.ticketExpired"
		}
		h.documentsPage(w, r, http.StatusBadRequest, l, req, token, "", text(l, key))
		return
	}
	if !h.acceptsUploads(req) {
		// Nothing is recorded for a request that takes no documents.
		if err := h.uploads.Discard(ctx, req.ID, u.name); err != nil {
			h.logger.WarnContext(ctx, "discard upload", "requestId", req.ID, "error", err.Error())
		}
		h.documentsPage(w, r, http.StatusConflict, l, req, token, "", "")
		return
	}
	status, notice, alert, err := h.receive(ctx, req.ID, u, l)
	if err != nil {
		h.logger.ErrorContext(ctx, "receive upload", "requestId", req.ID, "error", err.Error())
		h.internalError(w, r, l)
		return
	}
	h.documentsPage(w, r, status, l, req, token, notice, alert)
}

// receive checks and records upload u of request id. It answers the page's
// HTTP status and its notice or alert; err is for failures of S3 or the
// store (the page is then a 500, and a reload tries again).
func (h *Handler) receive(ctx context.Context, id string, u upload, l dsr.Locale) (status int, notice, alert string, err error) {
	docKey, err := h.uploads.DocumentKey(id, u.name)
	if err != nil {
		return 0, "", "", err
	}
	docs, err := h.docs.ListDocuments(ctx, id)
	if err != nil {
		return 0, "", "", err
	}
	bucket := h.uploads.Bucket()
	uploads := 0
	for _, d := range docs {
		if d.Bucket == bucket && d.Key == docKey {
			return h.receivedAgain(ctx, id, u, d, l)
		}
		if d.Source == SourceUpload {
			uploads++
		}
	}
	in, err := h.uploads.Inspect(ctx, id, u.name, u.contentType)
	if err != nil {
		return 0, "", "", err
	}
	if in.Verdict != documents.VerdictOK {
		if in.Verdict != documents.VerdictMissing {
			if err := h.reject(ctx, id, u, string(in.Verdict)); err != nil {
				return 0, "", "", err
			}
		}
		return verdictStatus(in.Verdict), "", verdictText(in.Verdict, u.contentType, l), nil
	}
	if uploads >= documents.MaxUploads {
		return h.overLimit(ctx, id, u, l)
	}
	d, err := h.docs.AddDocumentLimited(ctx, id, store.Document{
		Bucket: bucket, Key: docKey, ContentType: u.contentType, Size: in.Size, Source: SourceUpload,
	}, documents.MaxUploads)
	if errors.Is(err, store.ErrDocumentLimit) {
		return h.overLimit(ctx, id, u, l)
	}
	if err != nil {
		return 0, "", "", err
	}
	// Recorded first, then kept: a purge deletes every recorded key, so no
	// kept object can be missed; a failure here leaves the record and the
	// incoming object, and a reload keeps it (receivedAgain).
	if _, err := h.uploads.Keep(ctx, id, u.name, in.ETag); err != nil {
		return 0, "", "", err
	}
	if err := h.auditReceived(ctx, id, d); err != nil {
		return 0, "", "", err
	}
	h.logger.InfoContext(ctx, "document uploaded", "requestId", id, "seq", d.Seq, "contentType", d.ContentType, "size", d.Size)
	return http.StatusOK, text(l, "upload.received", typeName(d.ContentType), uploads+1, documents.MaxUploads), "", nil
}

// receivedAgain answers a reload for a document already recorded: it keeps
// the object if that did not happen yet, and records the audit event if it
// is missing.
func (h *Handler) receivedAgain(ctx context.Context, id string, u upload, d store.Document, l dsr.Locale) (int, string, string, error) {
	kept, err := h.uploads.Kept(ctx, id, u.name)
	if err != nil {
		return 0, "", "", err
	}
	if !kept {
		in, err := h.uploads.Inspect(ctx, id, u.name, u.contentType)
		if err != nil {
			return 0, "", "", err
		}
		if in.Verdict != documents.VerdictOK {
			return 0, "", "", fmt.Errorf("document %d recorded but neither kept nor uploaded (%s)", d.Seq, in.Verdict)
		}
		if _, err := h.uploads.Keep(ctx, id, u.name, in.ETag); err != nil {
			return 0, "", "", err
		}
	}
	if err := h.auditReceived(ctx, id, d); err != nil {
		return 0, "", "", err
	}
	n := 0
	docs, err := h.docs.ListDocuments(ctx, id)
	if err != nil {
		return 0, "", "", err
	}
	for _, x := range docs {
		if x.Source == SourceUpload && x.Seq <= d.Seq {
			n++
		}
	}
	return http.StatusOK, text(l, "upload.received", typeName(d.ContentType), n, documents.MaxUploads), "", nil
}

// auditReceived appends the document_received event of d once: a reload
// after a failure adds it if it is missing, never twice.
func (h *Handler) auditReceived(ctx context.Context, id string, d store.Document) error {
	seq := strconv.Itoa(d.Seq)
	events, err := h.docs.ListEvents(ctx, id)
	if err != nil {
		return err
	}
	for _, ev := range events {
		if ev.Type == EventDocumentReceived && ev.Data["seq"] == seq {
			return nil
		}
	}
	_, err = h.docs.AppendEvent(ctx, id, store.Event{Type: EventDocumentReceived, Actor: ActorDocumentsPage, Data: map[string]string{
		"seq": seq, "source": SourceUpload, "contentType": d.ContentType, "size": strconv.FormatInt(d.Size, 10),
	}})
	return err
}

// reject deletes upload u and records why (its verdict or "limit").
func (h *Handler) reject(ctx context.Context, id string, u upload, why string) error {
	if err := h.uploads.Discard(ctx, id, u.name); err != nil {
		return err
	}
	h.logger.InfoContext(ctx, "upload rejected", "requestId", id, "reason", why, "contentType", u.contentType)
	_, err := h.docs.AppendEvent(ctx, id, store.Event{Type: EventDocumentRejected, Actor: ActorDocumentsPage, Data: map[string]string{
		"reason": why, "contentType": u.contentType,
	}})
	return err
}

func (h *Handler) overLimit(ctx context.Context, id string, u upload, l dsr.Locale) (int, string, string, error) {
	if err := h.reject(ctx, id, u, "limit"); err != nil {
		return 0, "", "", err
	}
	return http.StatusConflict, "", text(l, "upload.limit", documents.MaxUploads, h.team(l)), nil
}

// verdictStatus is the HTTP status of a failed inspection.
func verdictStatus(v documents.Verdict) int {
	switch v {
	case documents.VerdictTooLarge:
		return http.StatusRequestEntityTooLarge
	case documents.VerdictWrongType:
		return http.StatusUnsupportedMediaType
	}
	return http.StatusBadRequest
}

// verdictText says what went wrong with an upload posted as contentType.
func verdictText(v documents.Verdict, contentType string, l dsr.Locale) string {
	switch v {
	case documents.VerdictTooLarge:
		return text(l, "upload.tooLarge", documents.MaxUploadBytes>>20)
	case documents.VerdictWrongType:
		return text(l, "upload.wrongType", typeName(contentType))
	case documents.VerdictEmpty:
		return text(l, "upload.empty")
	}
	return text(l, "upload.missing")
}
