package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"dsrflow/internal/deadline"
	"dsrflow/internal/dsr"
	"dsrflow/internal/legalhold"
	"dsrflow/internal/notify"
	"dsrflow/internal/operator"
	"dsrflow/internal/partner"
	"dsrflow/internal/store"
	"dsrflow/internal/verification"
	"dsrflow/internal/workday"
	"dsrflow/internal/workflow"
)

// requestView is the request page.
type requestView struct {
	R        *dsr.Request
	Personal *dsr.Personal // nil once purged
	Purged   bool
	due
	Waits     []store.OperatorWait // open ones
	Decided   []store.OperatorWait
	Partners  []store.PartnerTask
	Backups   bool // the backup confirmation is escalated
	Notices   []store.Notice
	Documents []store.Document
	Events    []store.Event
	Chain     store.ChainReport
	// Execution is the workflow execution's status ("" when unknown).
	Execution string
	Hold      *legalhold.Hold
	Allowance deadline.Allowance
	// ExtensionLeft is how many units of extension remain.
	ExtensionLeft int
	// CanAmend: before fan-out, with the workflow waiting (or not yet
	// verified).
	CanAmend bool
	// HasEmail: the console's messages (email only) can reach the requester.
	HasEmail bool
	// Operations: partner and backup actions are wired.
	Operations bool
	Mail       bool
}

// Open reports whether the request is still open.
func (v *requestView) Open() bool { return v.R.Status.Open() }

// Retryable reports whether a partner may be retried or settled.
func retryable(t store.PartnerTask) bool {
	return t.Status == store.PartnerFailed || t.Status == store.PartnerEscalated
}

// loadRequest builds the request page's view.
func (h *Handler) loadRequest(ctx context.Context, id string) (*requestView, error) {
	r, err := h.store.GetRequest(ctx, id)
	if err != nil {
		return nil, err
	}
	v := &requestView{R: r, due: h.dueOf(r, r.CreatedAt), Allowance: h.deadline.Allowance(), ExtensionLeft: h.deadline.Left(r),
		Operations: h.operations != nil, Mail: h.mail != nil}
	p, err := h.store.GetPersonal(ctx, id)
	switch {
	case errors.Is(err, store.ErrPurged):
		v.Purged = true
	case err != nil:
		return nil, err
	default:
		v.Personal = p
		v.HasEmail = p.Contact.Email != ""
	}
	waits, err := h.store.ListOperatorWaits(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, w := range waits {
		if w.Decided == nil && w.TaskToken != "" {
			v.Waits = append(v.Waits, w)
		} else if w.Decided != nil {
			v.Decided = append(v.Decided, w)
		}
	}
	switch r.Status {
	case dsr.StatusReceived, dsr.StatusAwaitingVerification:
		v.CanAmend = !v.Purged
	case dsr.StatusInReview:
		v.CanAmend = !v.Purged && len(v.Waits) > 0
	}
	if v.Partners, err = h.store.ListPartnerTasks(ctx, id); err != nil {
		return nil, err
	}
	if r.Status == dsr.StatusEscalated {
		tok, err := h.store.TaskToken(ctx, id, backupsWait)
		if err != nil {
			return nil, err
		}
		v.Backups = tok != ""
	}
	if v.Notices, err = h.store.ListNotices(ctx, id); err != nil {
		return nil, err
	}
	sort.SliceStable(v.Notices, func(i, j int) bool { return v.Notices[i].At.Before(v.Notices[j].At) })
	if !v.Purged {
		if v.Documents, err = h.store.ListDocuments(ctx, id); err != nil {
			return nil, err
		}
	}
	if v.Events, err = h.store.ListEvents(ctx, id); err != nil {
		return nil, err
	}
	if v.Chain, err = h.store.VerifyChain(ctx, id); err != nil {
		return nil, err
	}
	if len(r.SubjectKeys) > 0 {
		if v.Hold, err = h.holds.Find(ctx, r.SubjectKeys); err != nil {
			return nil, err
		}
	}
	v.Execution = h.executionStatus(ctx, id)
	return v, nil
}

// executionArn is request id's execution: named after the request, on the
// configured state machine.
func (h *Handler) executionArn(id string) string {
	return strings.Replace(h.cfg.StateMachineArn, ":stateMachine:", ":execution:", 1) + ":" + id
}

// executionStatus is the workflow execution's status, or "" when it
// cannot be read (the page shows the rest; the reconciler restarts lost
// executions).
func (h *Handler) executionStatus(ctx context.Context, id string) string {
	out, err := h.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(h.executionArn(id))})
	if err != nil {
		h.logger.InfoContext(ctx, "describe execution", "requestId", id, "code", errorCode(err))
		return ""
	}
	return string(out.Status)
}

func (h *Handler) getRequest(w http.ResponseWriter, r *http.Request) {
	l := pickLocale(r)
	id := r.PathValue("id")
	h.showRequest(w, r, l, id, http.StatusOK, doneText(l, r.URL.Query().Get("done")), "")
}

// showRequest renders request id's page with a notice or an alert.
func (h *Handler) showRequest(w http.ResponseWriter, r *http.Request, l dsr.Locale, id string, status int, notice, alert string) {
	if !validID(id) {
		h.message(w, r, l, http.StatusNotFound, "errors.notFound.title", "errors.notFound")
		return
	}
	v, err := h.loadRequest(r.Context(), id)
	if err != nil {
		h.fail(w, r, l, id, err)
		return
	}
	p := h.newPage(r, l, "request.title", id)
	p.Path = "/requests/" + id
	p.Request, p.Notice, p.Alert = v, notice, alert
	h.render(w, status, p, requestMain(p))
}

// validID reports whether id can name a request: IDs are opaque, but
// never long or outside [A-Za-z0-9._-].
func validID(id string) bool {
	if id == "" || len(id) > 100 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// done redirects to request id's page with a notice code (Post/Redirect/Get).
func done(w http.ResponseWriter, r *http.Request, l dsr.Locale, path, code string) {
	u := withLang(path, l) + "&done=" + code
	http.Redirect(w, r, u, http.StatusSeeOther)
}

// --- actions -----------------------------------------------------------

// field limits of the forms.
const (
	maxReference = 100
)

func (h *Handler) postDecision(w http.ResponseWriter, r *http.Request, l dsr.Locale) {
	id := r.PathValue("id")
	f := r.PostForm
	d := operator.Decision{RequestID: id, Stage: operator.Stage(f.Get("stage")), Actor: h.principal.ARN}
	switch f.Get("decision") {
	case "approve":
		d.Approve, d.Note = true, strings.TrimSpace(f.Get("note"))
	case "refuse":
		d.Reason = dsr.RefusalReason(f.Get("reason"))
		if !d.Reason.Valid() {
			h.showRequest(w, r, l, id, http.StatusBadRequest, "", text(l, "decision.needReason"))
			return
		}
	default:
		h.showRequest(w, r, l, id, http.StatusBadRequest, "", text(l, "errors.badForm"))
		return
	}
	if err := h.decider.Decide(r.Context(), d); err != nil {
		h.actionFailed(w, r, l, id, "decision", err)
		return
	}
	h.logger.InfoContext(r.Context(), "operator decided", "requestId", id, "stage", string(d.Stage), "approve", d.Approve, "reason", string(d.Reason))
	code := "approved"
	if !d.Approve {
		code = "refused"
	}
	done(w, r, l, "/requests/"+id, code)
}

func (h *Handler) postInformation(w http.ResponseWriter, r *http.Request, l dsr.Locale) {
	id := r.PathValue("id")
	var needed []notify.InfoNeeded
	for _, v := range r.PostForm["needed"] {
		n := notify.InfoNeeded(v)
		if !n.Valid() || slices.Contains(needed, n) {
			h.showRequest(w, r, l, id, http.StatusBadRequest, "", text(l, "errors.badForm"))
			return
		}
		needed = append(needed, n)
	}
	if len(needed) == 0 {
		h.showRequest(w, r, l, id, http.StatusBadRequest, "", text(l, "info.needOne"))
		return
	}
	ctx := r.Context()
	req, to, err := h.contactOf(ctx, id)
	if err != nil {
		h.actionFailed(w, r, l, id, "information", err)
		return
	}
	// The pause first (a guarded write): a read-only principal is refused
	// before anything is sent.
	paused := false
	if h.deadline.Allowance().Pause && req.PausedAt == nil {
		if _, paused, err = h.deadline.Pause(ctx, id, string(needed[0]), h.actor()); err != nil {
			h.actionFailed(w, r, l, id, "information", err)
			return
		}
	}
	rl := requestLocale(req)
	m := notify.MoreInformation(id, to, rl, req.Kind, needed, h.documentsLink(req, rl), paused || req.PausedAt != nil, h.team)
	if err := h.send(ctx, id, m); err != nil {
		h.actionFailed(w, r, l, id, "information", err)
		return
	}
	code := "asked"
	if paused {
		code = "askedPaused"
	}
	done(w, r, l, "/requests/"+id, code)
}

// documentsLink is the privacy center's documents page of req, with its
// status token, in the requester's language: where a guardian or an agent
// adds proof ("" without PUBLIC_BASE_URL or the status token secret, and
// for a request that takes no documents: the message then asks for a
// reply, which joins the request).
func (h *Handler) documentsLink(req *dsr.Request, l dsr.Locale) string {
	if h.cfg.PublicBaseURL == "" || h.cfg.StatusTokenSecret == "" || !req.Role.NeedsManualReview() || req.Status.Terminal() {
		return ""
	}
	token := verification.StatusToken([]byte(h.cfg.StatusTokenSecret), req.ID)
	return strings.TrimSuffix(h.cfg.PublicBaseURL, "/") + "/requests/" + url.PathEscape(req.ID) + "/documents?token=" + url.QueryEscape(token) + "&lang=" + url.QueryEscape(string(l))
}

// errNoEmail: the console's messages are email only.
var errNoEmail = errors.New("the requester has no email address")

// errNoMail: the console was started without a mail sender.
var errNoMail = errors.New("no mail sender configured")

// contactOf is request id and its requester's email contact.
func (h *Handler) contactOf(ctx context.Context, id string) (*dsr.Request, dsr.Contact, error) {
	if h.mail == nil {
		return nil, dsr.Contact{}, errNoMail
	}
	req, err := h.store.GetRequest(ctx, id)
	if err != nil {
		return nil, dsr.Contact{}, err
	}
	if !req.Status.Open() {
		return nil, dsr.Contact{}, fmt.Errorf("request %s: %w", id, deadline.ErrClosed)
	}
	p, err := h.store.GetPersonal(ctx, id)
	if err != nil {
		return nil, dsr.Contact{}, err
	}
	if p.Contact.Email == "" {
		return nil, dsr.Contact{}, errNoEmail
	}
	return req, dsr.Contact{Email: p.Contact.Email}, nil
}

// send records a "sending" marker for m (the first write: a principal
// that may not write is refused before anything leaves), sends it, marks
// it sent and audits it with the operator as actor.
func (h *Handler) send(ctx context.Context, id string, m notify.Message) error {
	if err := h.store.PutNotice(ctx, id, store.Notice{Template: m.Template, State: store.NoticeSending}); err != nil {
		return err
	}
	ch, err := h.mail.Send(ctx, m)
	if err != nil {
		return err
	}
	if err := h.store.PutNotice(ctx, id, store.Notice{Template: m.Template, State: store.NoticeSent, Channel: string(ch)}); err != nil {
		return err
	}
	_, err = h.store.AppendEvent(ctx, id, store.Event{Type: "notice_sent", At: h.now(), Actor: h.actor(),
		Data: map[string]string{"template": m.Template, "channel": string(ch), "locale": string(m.Locale)}})
	return err
}

func requestLocale(r *dsr.Request) dsr.Locale {
	if l, ok := dsr.ParseLocale(r.Locale); ok {
		return l
	}
	return dsr.DefaultLocale
}

func (h *Handler) postExtension(w http.ResponseWriter, r *http.Request, l dsr.Locale) {
	id := r.PathValue("id")
	f := r.PostForm
	units, err := atoiBounded(f.Get("units"), 1, max(h.deadline.Allowance().MaxExtension, 1))
	reason := deadline.Reason(f.Get("reason"))
	if err != nil || !reason.Valid() {
		h.showRequest(w, r, l, id, http.StatusBadRequest, "", text(l, "extension.invalid"))
		return
	}
	ctx := r.Context()
	if !h.deadline.Allowance().CanExtend() {
		h.actionFailed(w, r, l, id, "extension", fmt.Errorf("request %s: %w", id, deadline.ErrNotAllowed))
		return
	}
	_, to, err := h.contactOf(ctx, id)
	if err != nil {
		h.actionFailed(w, r, l, id, "extension", err)
		return
	}
	ext, err := h.deadline.Extend(ctx, id, units, reason, h.actor())
	if err != nil {
		h.actionFailed(w, r, l, id, "extension", err)
		return
	}
	rl := requestLocale(ext)
	m := notify.DeadlineExtended(id, to, rl, ext.Kind, *ext.DueAt, reason.Text(rl), h.team)
	if err := h.send(ctx, id, m); err != nil {
		h.actionFailed(w, r, l, id, "extension", fmt.Errorf("deadline extended, notice not sent: %w", err))
		return
	}
	h.logger.InfoContext(ctx, "deadline extended", "requestId", id, "units", units, "reason", string(reason))
	done(w, r, l, "/requests/"+id, "extended")
}

func atoiBounded(s string, lo, hi int) (int, error) {
	var n int
	if _, err := fmt.Sscanf(strings.TrimSpace(s), "%d", &n); err != nil || n < lo || n > hi || len(s) > 6 {
		return 0, fmt.Errorf("number %q out of range %d–%d", s, lo, hi)
	}
	return n, nil
}

func (h *Handler) postClock(w http.ResponseWriter, r *http.Request, l dsr.Locale) {
	id := r.PathValue("id")
	if r.PostForm.Get("action") != "resume" {
		h.showRequest(w, r, l, id, http.StatusBadRequest, "", text(l, "errors.badForm"))
		return
	}
	if _, err := h.deadline.Resume(r.Context(), id, h.actor()); err != nil {
		h.actionFailed(w, r, l, id, "clock", err)
		return
	}
	done(w, r, l, "/requests/"+id, "resumed")
}

func (h *Handler) postIdentifiers(w http.ResponseWriter, r *http.Request, l dsr.Locale) {
	id := r.PathValue("id")
	f := r.PostForm
	ids, problems := parseIdentifiers(f.Get("accounts"), f.Get("emails"), f.Get("phones"))
	if len(problems) > 0 {
		msg := text(l, "amend.invalid")
		for _, pr := range problems {
			msg += " " + text(l, "amend.problem."+pr.Field, pr.Line)
		}
		h.showRequest(w, r, l, id, http.StatusBadRequest, "", msg)
		return
	}
	a := operator.Amendment{RequestID: id, Subject: ids, HintKeys: ids.Keys(h.secret), Actor: h.principal.ARN}
	if err := h.amender.Amend(r.Context(), a); err != nil {
		h.actionFailed(w, r, l, id, "identifiers", err)
		return
	}
	h.logger.InfoContext(r.Context(), "identifiers amended", "requestId", id, "accounts", len(ids.Accounts), "emails", len(ids.Emails), "phones", len(ids.Phones))
	done(w, r, l, "/requests/"+id, "amended")
}

func (h *Handler) postPartnerRetry(w http.ResponseWriter, r *http.Request, l dsr.Locale) {
	id, pid := r.PathValue("id"), r.PathValue("partner")
	if h.operations == nil {
		h.actionFailed(w, r, l, id, "partner", errNoOperations)
		return
	}
	res, err := h.operations.RetryPartners(r.Context(), id, pid, h.actor(), partnerBackoff(h.cfg.PartnerAttempts))
	if err != nil {
		h.actionFailed(w, r, l, id, "partner", err)
		return
	}
	code := "retried"
	for _, x := range res {
		if x.Error != "" || !x.Status.Final() && x.Status != store.PartnerAwaitingCallback {
			code = "retryFailed"
		}
	}
	done(w, r, l, "/requests/"+id, code)
}

// errNoOperations: the console was started without the partner
// configuration.
var errNoOperations = errors.New("partner operations are not configured")

func (h *Handler) postPartnerSettle(w http.ResponseWriter, r *http.Request, l dsr.Locale) {
	id, pid := r.PathValue("id"), r.PathValue("partner")
	how := workflow.PartnerSettlement(r.PostForm.Get("settlement"))
	if !how.Valid() {
		h.showRequest(w, r, l, id, http.StatusBadRequest, "", text(l, "partner.needSettlement"))
		return
	}
	if h.operations == nil {
		h.actionFailed(w, r, l, id, "partner", errNoOperations)
		return
	}
	if _, err := h.operations.SettlePartner(r.Context(), id, pid, how, h.actor()); err != nil {
		h.actionFailed(w, r, l, id, "partner", err)
		return
	}
	done(w, r, l, "/requests/"+id, "settled")
}

func (h *Handler) postBackupsRetry(w http.ResponseWriter, r *http.Request, l dsr.Locale) {
	id := r.PathValue("id")
	if h.operations == nil {
		h.actionFailed(w, r, l, id, "backups", errNoOperations)
		return
	}
	if _, err := h.operations.RetryBackups(r.Context(), id, h.actor()); err != nil {
		h.actionFailed(w, r, l, id, "backups", err)
		return
	}
	done(w, r, l, "/requests/"+id, "backupsConfirmed")
}

func (h *Handler) postHold(w http.ResponseWriter, r *http.Request, l dsr.Locale) {
	id := r.PathValue("id")
	f := r.PostForm
	ctx := r.Context()
	req, err := h.store.GetRequest(ctx, id)
	if err != nil {
		h.actionFailed(w, r, l, id, "hold", err)
		return
	}
	if len(req.SubjectKeys) == 0 {
		h.showRequest(w, r, l, id, http.StatusConflict, "", text(l, "hold.noSubject"))
		return
	}
	switch f.Get("action") {
	case "add":
		action := legalhold.Action(f.Get("holdAction"))
		reason := dsr.RefusalReason(f.Get("reason"))
		ref := strings.TrimSpace(f.Get("reference"))
		if !action.Valid() || !legalhold.ReasonFits(reason) || len([]rune(ref)) > maxReference || strings.ContainsAny(ref, "\r\n") {
			h.showRequest(w, r, l, id, http.StatusBadRequest, "", text(l, "hold.invalid"))
			return
		}
		for _, k := range req.SubjectKeys {
			if err := h.holds.Put(ctx, legalhold.Hold{SubjectKey: k, Action: action, Reason: reason, Reference: ref, CreatedAt: h.now(), CreatedBy: h.actor()}); err != nil {
				h.actionFailed(w, r, l, id, "hold", err)
				return
			}
		}
		if err := h.audit(ctx, id, "legal_hold_added", map[string]string{"action": string(action), "reason": string(reason), "keys": itoa(len(req.SubjectKeys))}); err != nil {
			h.actionFailed(w, r, l, id, "hold", err)
			return
		}
		done(w, r, l, "/requests/"+id, "held")
	case "lift":
		lifted := 0
		for _, k := range req.SubjectKeys {
			hd, err := h.holds.Lift(ctx, k)
			if err != nil {
				h.actionFailed(w, r, l, id, "hold", err)
				return
			}
			if hd != nil {
				lifted++
			}
		}
		if lifted == 0 {
			h.showRequest(w, r, l, id, http.StatusConflict, "", text(l, "hold.none"))
			return
		}
		if err := h.audit(ctx, id, "legal_hold_lifted", map[string]string{"keys": itoa(lifted)}); err != nil {
			h.actionFailed(w, r, l, id, "hold", err)
			return
		}
		done(w, r, l, "/requests/"+id, "unheld")
	default:
		h.showRequest(w, r, l, id, http.StatusBadRequest, "", text(l, "errors.badForm"))
	}
}

// audit appends an event of the operator's to request id's chain.
func (h *Handler) audit(ctx context.Context, id, typ string, data map[string]string) error {
	_, err := h.store.AppendEvent(ctx, id, store.Event{Type: typ, At: h.now(), Actor: h.actor(), Data: data})
	return err
}

// docLinkView is the page with a document's short-lived link.
type docLinkView struct {
	RequestID string
	Doc       store.Document
	URL       string
	Expires   time.Time
}

func (h *Handler) postDocument(w http.ResponseWriter, r *http.Request, l dsr.Locale) {
	id := r.PathValue("id")
	seq, err := atoiBounded(r.PathValue("seq"), 1, 9999)
	if err != nil {
		h.message(w, r, l, http.StatusNotFound, "errors.notFound.title", "errors.notFound")
		return
	}
	if h.documents == nil {
		h.actionFailed(w, r, l, id, "document", errors.New("document storage is not configured"))
		return
	}
	ctx := r.Context()
	docs, err := h.store.ListDocuments(ctx, id)
	if err != nil {
		h.actionFailed(w, r, l, id, "document", err)
		return
	}
	i := slices.IndexFunc(docs, func(d store.Document) bool { return d.Seq == seq })
	if i < 0 {
		h.message(w, r, l, http.StatusNotFound, "errors.notFound.title", "errors.notFound")
		return
	}
	d := docs[i]
	// The view is audited first: a principal that may not write the
	// audit chain gets no link.
	if err := h.audit(ctx, id, "document_viewed", map[string]string{"document": itoa(seq), "contentType": d.ContentType}); err != nil {
		h.actionFailed(w, r, l, id, "document", err)
		return
	}
	link, err := h.documents.ViewURL(ctx, d.Bucket, d.Key, d.ContentType, h.cfg.DocumentLinkTTL)
	if err != nil {
		h.actionFailed(w, r, l, id, "document", err)
		return
	}
	p := h.newPage(r, l, "doc.title", seq, id)
	p.Path = "/requests/" + id
	p.DocLink = &docLinkView{RequestID: id, Doc: d, URL: link, Expires: h.wall().Add(h.cfg.DocumentLinkTTL)}
	p.BackURL, p.BackText = p.URL("/requests/"+id), text(l, "nav.backRequest")
	h.render(w, http.StatusOK, p, docLinkMain(p))
}

// partnerBackoff is the retry policy of a console retry: a person waits
// for the page, so at most attempts calls, waits capped at 2 s.
func partnerBackoff(attempts int) partner.Backoff {
	return partner.Backoff{Attempts: attempts, Initial: 250 * time.Millisecond, Max: 2 * time.Second}
}

// dueDate formats a due date as its China day.
func dueDate(t *time.Time) string {
	if t == nil {
		return ""
	}
	return workday.DateOf(t.In(workday.ChinaTime)).String()
}
