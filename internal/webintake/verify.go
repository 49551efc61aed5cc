package webintake

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"dsrflow/internal/dsr"
	"dsrflow/internal/notify"
	"dsrflow/internal/store"
	"dsrflow/internal/verification"
)

// ActorVerificationPage names the verification page in audit events of codes
// it sends (a resend).
const ActorVerificationPage = "web:verification"

// Codes of verification answers (JSON "code"; field "code" or "action").
// They are API: add, never rename.
const (
	CodeWrongCode          dsr.Code = "wrong_code"
	CodeInvalidCode        dsr.Code = "invalid_code"
	CodeCodeExpired        dsr.Code = "code_expired"
	CodeVerificationLocked dsr.Code = "verification_locked"
	CodeNotWaiting         dsr.Code = "not_waiting"
	CodeResendLimit        dsr.Code = "resend_limit"
	CodeInvalidAction      dsr.Code = "invalid_action"
	CodeBusy               dsr.Code = "busy"
	CodeDeliveryFailed     dsr.Code = "delivery_failed"
)

// Fields of a verification post.
const (
	FieldToken  = "token"
	FieldCode   = "code"
	FieldAction = "action"
	// ActionResend asks for a new code.
	ActionResend = "resend"
)

// StatusLocked is the HTTP status of a locked verification: 423 Locked
// (RFC 4918) says what happened and that it is not about the status link
// (a wrong link is 404) and not a malformed code (400).
const StatusLocked = http.StatusLocked

// maxCodeInput caps what the code field takes: six digits with room for
// spaces and dashes ("123 456", "１２３-４５６").
const maxCodeInput = 16

// Page states of the verification page (JSON "state").
const (
	pageSending    = "sending" // no code issued yet: it is on its way
	pagePending    = "pending"
	pageExpired    = "expired"
	pageLocked     = "locked"
	pageVerified   = "verified"
	pageNotWaiting = "not_waiting"
)

// verifyView is the verification page.
type verifyView struct {
	RequestID  string
	Action     string
	Token      string
	Intro      string
	Alert      string // a problem with the whole verification (role=alert)
	Notice     string // what just happened (role=status)
	ShowCode   bool
	Code       string // what was typed, kept after an error
	CodeHint   string
	CodeError  string
	CodeMax    int
	ShowResend bool
	ResendHint string
	StatusURL  string
}

// verifyJSON is the JSON answer of both routes. Errors carry the same
// counters as successes, so that a client can say how many tries are left.
type verifyJSON struct {
	Errors       []apiError `json:"errors,omitempty"`
	RequestID    string     `json:"requestId"`
	State        string     `json:"state,omitempty"`
	Outcome      string     `json:"outcome,omitempty"`
	Message      string     `json:"message,omitempty"`
	AttemptsLeft int        `json:"attemptsLeft"`
	ResendsLeft  int        `json:"resendsLeft"`
	ExpiresAt    *time.Time `json:"expiresAt,omitempty"`
	StatusURL    string     `json:"statusUrl,omitempty"`
}

// verifyInput is a verification post, from a form or JSON.
type verifyInput struct {
	Token  string `json:"token"`
	Code   string `json:"code"`
	Action string `json:"action"`
}

// authorizeStatus loads request id for whoever holds its status token: the
// token whose hash the request stores, or the token derived from the secret
// (mail requests store no hash; their link comes in the code message). Any
// failure is (nil, nil): the caller answers 404 and reveals nothing; a store
// failure is returned.
func (h *Handler) authorizeStatus(ctx context.Context, id, token string) (*dsr.Request, error) {
	if !validRequestID(id) || token == "" {
		return nil, nil
	}
	req, err := h.store.GetRequest(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	}
	if tokenMatches(token, req.StatusTokenHash) {
		return req, nil
	}
	if subtle.ConstantTimeCompare([]byte(StatusToken(h.tokenSecret, id)), []byte(token)) == 1 {
		return req, nil
	}
	return nil, nil
}

// verificationPath is the verification page of request id.
func verificationPath(id string) string {
	return "/requests/" + url.PathEscape(id) + "/verification"
}

// getVerification shows the code entry page.
func (h *Handler) getVerification(w http.ResponseWriter, r *http.Request) {
	ctx, l := r.Context(), requestLocale(r)
	id, token := r.PathValue("id"), r.URL.Query().Get("token")
	req, err := h.authorizeStatus(ctx, id, token)
	if err != nil {
		h.logger.ErrorContext(ctx, "read request for verification page", "requestId", id, "error", err.Error())
		h.internalError(w, r, l)
		return
	}
	if req == nil {
		h.notFound(w, r, l)
		return
	}
	st, err := h.verification.Status(ctx, id)
	if err != nil {
		h.logger.ErrorContext(ctx, "read verification", "requestId", id, "error", err.Error())
		h.internalError(w, r, l)
		return
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, h.verifyJSON(r, req, token, st, "", ""))
		return
	}
	h.verifyPage(w, http.StatusOK, l, req, token, st, outcomeView{})
}

// outcomeView is what a post did, for the page shown after it.
type outcomeView struct {
	code      string // what was typed
	codeError string
	alert     string
	notice    string
}

// pageState is the verification as the page presents it.
func (h *Handler) pageState(req *dsr.Request, st verification.Status) string {
	switch st.State {
	case verification.StatePending:
		if !h.now().Before(st.ExpiresAt) {
			return pageExpired
		}
		return pagePending
	case verification.StateLocked:
		return pageLocked
	case verification.StateVerified:
		return pageVerified
	case "":
		if req.Status == dsr.StatusReceived || req.Status == dsr.StatusAwaitingVerification {
			return pageSending
		}
	}
	return pageNotWaiting
}

func (h *Handler) verifyJSON(r *http.Request, req *dsr.Request, token string, st verification.Status, outcome, msg string) verifyJSON {
	out := verifyJSON{
		RequestID:    req.ID,
		State:        h.pageState(req, st),
		Outcome:      outcome,
		Message:      msg,
		AttemptsLeft: st.AttemptsLeft,
		ResendsLeft:  st.ResendsLeft,
		StatusURL:    h.siteURL(r) + statusPath(req.ID, token),
	}
	if st.State == verification.StatePending && !st.ExpiresAt.IsZero() {
		t := st.ExpiresAt.UTC()
		out.ExpiresAt = &t
	}
	if st.State == "" {
		out.AttemptsLeft, out.ResendsLeft = 0, 0
	}
	return out
}

// team is the privacy team's contact as the page names it.
func (h *Handler) team(l dsr.Locale) string {
	if h.teamContact.Email != "" {
		return text(l, "verify.teamAt", h.teamContact.Email)
	}
	return text(l, "verify.team")
}

// verifyPage renders the verification page for the state st, with what the
// last post did.
func (h *Handler) verifyPage(w http.ResponseWriter, status int, l dsr.Locale, req *dsr.Request, token string, st verification.Status, o outcomeView) {
	v := &verifyView{
		RequestID: req.ID,
		Action:    verificationPath(req.ID),
		Token:     token,
		Code:      o.code,
		CodeError: o.codeError,
		CodeMax:   maxCodeInput,
		Alert:     o.alert,
		Notice:    o.notice,
		StatusURL: statusPath(req.ID, token),
	}
	state := h.pageState(req, st)
	switch state {
	case pageSending:
		v.Intro = text(l, "verify.intro.sending")
		v.ShowCode = true
	case pagePending, pageExpired:
		v.Intro = text(l, "verify.intro."+channelKey(st.Channel))
		v.ShowCode = true
		v.ShowResend = true
		hint := text(l, "verify.code.hint")
		if state == pagePending {
			hint += text(l, "verify.expires", formatDateTime(st.ExpiresAt, l))
			if st.AttemptsLeft < verification.DefaultMaxAttempts && o.codeError == "" {
				hint += text(l, "verify.attemptsLeft", st.AttemptsLeft)
			}
		} else if v.CodeError == "" && v.Alert == "" {
			v.Alert = h.expiredText(l, st.ResendsLeft)
		}
		v.CodeHint = strings.TrimSpace(hint)
	case pageLocked:
		if v.Alert == "" {
			v.Alert = h.lockedText(l, st.ResendsLeft)
		}
		v.ShowResend = true
	case pageVerified:
		if v.Notice == "" {
			v.Notice = text(l, "verify.already")
		}
		v.Intro = text(l, "verify.next")
	default:
		if v.Alert == "" {
			v.Alert = text(l, "verify.notWaiting")
		}
	}
	if v.ShowResend {
		if st.ResendsLeft > 0 {
			v.ResendHint = text(l, "verify.resend.hint", st.ResendsLeft)
		} else {
			v.ShowResend = false
		}
	}
	if v.CodeHint == "" {
		v.CodeHint = strings.TrimSpace(text(l, "verify.code.hint"))
	}
	title := text(l, "verify.title")
	if v.CodeError != "" || v.Alert != "" {
		title = text(l, "errors.title") + " – " + title
	}
	sw := verificationPath(req.ID) + "?token=" + url.QueryEscape(token) + "&lang=" + url.QueryEscape(string(otherLocale(l)))
	h.writePage(w, status, "verify", &page{Locale: l, Title: title, SwitchURL: sw, Verify: v})
}

func channelKey(ch string) string {
	if ch == string(notify.ChannelSMS) {
		return "sms"
	}
	return "email"
}

func (h *Handler) lockedText(l dsr.Locale, resendsLeft int) string {
	if resendsLeft > 0 {
		return text(l, "verify.locked", resendsLeft, h.team(l))
	}
	return text(l, "verify.lockedFinal", h.team(l))
}

func (h *Handler) expiredText(l dsr.Locale, resendsLeft int) string {
	if resendsLeft > 0 {
		return text(l, "verify.expired")
	}
	return text(l, "verify.expiredFinal", h.team(l))
}

// formatDateTime is a date and time in China time.
func formatDateTime(t time.Time, l dsr.Locale) string {
	if l == dsr.LocaleEn {
		return formatDate(t, l) + ", " + t.In(chinaTime).Format("15:04")
	}
	return formatDate(t, l) + " " + t.In(chinaTime).Format("15:04")
}

// normalizeCode accepts a code as people type or paste it: ASCII or
// full-width digits (a Chinese input method in full-width mode), with
// spaces, ideographic spaces and dashes between them. ok is false unless
// exactly six digits remain.
func normalizeCode(s string) (code string, ok bool) {
	var b strings.Builder
	for _, c := range strings.TrimSpace(s) {
		switch {
		case c >= '0' && c <= '9':
			b.WriteRune(c)
		case c >= '０' && c <= '９':
			b.WriteRune('0' + (c - '０'))
		case c == ' ' || c == '\u3000' || c == '-' || c == '－' || c == '\t':
		default:
			return "", false
		}
	}
	return b.String(), b.Len() == 6
}

// verifyPost is a verification post, with its language.
type verifyPost struct {
	in   verifyInput
	lang string // the form's language field; "" for JSON
}

// parseVerifyForm reads a verification form post.
func parseVerifyForm(body []byte) (verifyPost, error) {
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return verifyPost{}, err
	}
	return verifyPost{
		in:   verifyInput{Token: vals.Get(FieldToken), Code: vals.Get(FieldCode), Action: vals.Get(FieldAction)},
		lang: vals.Get("lang"),
	}, nil
}

// postVerification takes a code, or a request for a new one.
func (h *Handler) postVerification(w http.ResponseWriter, r *http.Request) {
	if !h.sameOriginPost(w, r) {
		return
	}
	ctx, l := r.Context(), requestLocale(r)
	mt := mediaType(r)
	asJSON := isJSONMediaType(mt)
	if mt != "application/x-www-form-urlencoded" && !asJSON {
		h.errorPage(w, r, l, http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, "errors.mediaType")
		return
	}
	body, ok := h.readBody(w, r)
	if !ok {
		return
	}
	var in verifyInput
	if asJSON {
		if fe := decodeStrict(body, &in); fe != nil {
			writeErrors(w, http.StatusBadRequest, l, dsr.FieldErrors{*fe})
			return
		}
	} else {
		post, err := parseVerifyForm(body)
		if err != nil {
			h.errorPage(w, r, l, http.StatusBadRequest, CodeMalformedBody, "code.malformed_body")
			return
		}
		in = post.in
		l = pickLocale(post.lang, headerValue(r, "Accept-Language"))
	}
	id := r.PathValue("id")
	req, err := h.authorizeStatus(ctx, id, in.Token)
	if err != nil {
		h.logger.ErrorContext(ctx, "read request for verification", "requestId", id, "error", err.Error())
		h.internalError(w, r, l)
		return
	}
	if req == nil {
		h.notFound(w, r, l)
		return
	}
	a := &verifyAnswer{h: h, w: w, r: r, l: l, req: req, token: in.Token, json: asJSON, typed: in.Code}

	var res verification.Result
	switch in.Action {
	case "":
		code, ok := normalizeCode(in.Code)
		switch {
		case strings.TrimSpace(in.Code) == "":
			a.fieldError(ctx, http.StatusBadRequest, dsr.CodeRequired, text(l, "verify.required"))
			return
		case !ok:
			a.fieldError(ctx, http.StatusBadRequest, CodeInvalidCode, text(l, "verify.invalid"))
			return
		}
		res, err = h.verification.SubmitCode(ctx, id, in.Token, code)
	case ActionResend:
		res, err = h.verification.Resend(ctx, id, in.Token)
	default:
		a.errorOn(ctx, http.StatusBadRequest, FieldAction, CodeInvalidAction, text(l, "verify.invalidAction"))
		return
	}
	if err != nil {
		a.failure(ctx, err)
		return
	}
	a.outcome(ctx, res)
}

// verifyAnswer answers one verification post, as JSON or as the page.
type verifyAnswer struct {
	h     *Handler
	w     http.ResponseWriter
	r     *http.Request
	l     dsr.Locale
	req   *dsr.Request
	token string
	json  bool
	typed string
}

// status reads the verification after the post, for the counters and the
// page; a failure to read leaves them empty rather than failing an answer
// whose work is done.
func (a *verifyAnswer) status(ctx context.Context) verification.Status {
	st, err := a.h.verification.Status(ctx, a.req.ID)
	if err != nil {
		a.h.logger.WarnContext(ctx, "read verification after post", "requestId", a.req.ID, "error", err.Error())
	}
	return st
}

// ok answers a success (verified, already verified, resent).
func (a *verifyAnswer) ok(ctx context.Context, status int, outcome verification.Outcome, msg string) {
	st := a.status(ctx)
	if a.json {
		writeJSON(a.w, status, a.h.verifyJSON(a.r, a.req, a.token, st, string(outcome), msg))
		return
	}
	a.h.verifyPage(a.w, status, a.l, a.req, a.token, st, outcomeView{notice: msg})
}

// fieldError answers a problem with the code field.
func (a *verifyAnswer) fieldError(ctx context.Context, status int, code dsr.Code, msg string) {
	a.errorOn(ctx, status, FieldCode, code, msg)
}

// errorOn answers a problem: on the code field, next to it; otherwise at the
// top of the page.
func (a *verifyAnswer) errorOn(ctx context.Context, status int, field string, code dsr.Code, msg string) {
	st := a.status(ctx)
	if a.json {
		out := a.h.verifyJSON(a.r, a.req, a.token, st, string(code), "")
		out.Errors = []apiError{{Field: field, Code: string(code), Message: msg}}
		writeJSON(a.w, status, out)
		return
	}
	o := outcomeView{code: a.typed}
	if field == FieldCode {
		o.codeError = msg
	} else {
		o.alert = msg
	}
	a.h.verifyPage(a.w, status, a.l, a.req, a.token, st, o)
}

// outcome maps what the service decided to an answer.
func (a *verifyAnswer) outcome(ctx context.Context, res verification.Result) {
	l, h := a.l, a.h
	switch res.Outcome {
	case verification.OutcomeVerified:
		a.ok(ctx, http.StatusOK, res.Outcome, text(l, "verify.verified"))
	case verification.OutcomeAlreadyVerified:
		a.ok(ctx, http.StatusOK, res.Outcome, text(l, "verify.already"))
	case verification.OutcomeResent:
		a.ok(ctx, http.StatusAccepted, res.Outcome, text(l, "verify.resent"))
	case verification.OutcomeWrongCode:
		a.typed = "" // a wrong code is typed again, not corrected
		a.fieldError(ctx, http.StatusBadRequest, CodeWrongCode, text(l, "verify.wrong", res.AttemptsLeft))
	case verification.OutcomeInvalidCode:
		a.fieldError(ctx, http.StatusBadRequest, CodeInvalidCode, text(l, "verify.invalid"))
	case verification.OutcomeCodeExpired:
		a.fieldError(ctx, http.StatusBadRequest, CodeCodeExpired, h.expiredText(l, res.ResendsLeft))
	case verification.OutcomeLocked:
		a.errorOn(ctx, StatusLocked, "", CodeVerificationLocked, h.lockedText(l, res.ResendsLeft))
	case verification.OutcomeResendLimit:
		a.errorOn(ctx, http.StatusTooManyRequests, FieldAction, CodeResendLimit, text(l, "verify.resendLimit", h.team(l)))
	default: // not_waiting
		a.errorOn(ctx, http.StatusConflict, "", CodeNotWaiting, text(l, "verify.notWaiting"))
	}
}

// failure answers an error of the service: 404 for a request or token it
// does not accept, 409 for a request whose personal data was purged, 503
// for what a retry fixes, else 500.
func (a *verifyAnswer) failure(ctx context.Context, err error) {
	l, id := a.l, a.req.ID
	var de *notify.DeliveryError
	switch {
	case errors.Is(err, verification.ErrNotFound), errors.Is(err, verification.ErrForbidden):
		a.h.notFound(a.w, a.r, l)
	case errors.Is(err, store.ErrPurged):
		// The request ended and its follow-up period passed: it waits for
		// no code (verification cannot record a proof any more).
		a.errorOn(ctx, http.StatusConflict, "", CodeNotWaiting, text(l, "verify.notWaiting"))
	case errors.Is(err, verification.ErrContention):
		a.w.Header().Set("Retry-After", "1")
		a.errorOn(ctx, http.StatusServiceUnavailable, "", CodeBusy, text(l, "verify.busy"))
	case errors.As(err, &de):
		a.h.logger.ErrorContext(ctx, "send verification code", "requestId", id, "channel", string(de.Channel), "error", de.Code)
		a.w.Header().Set("Retry-After", "60")
		a.errorOn(ctx, http.StatusServiceUnavailable, FieldAction, CodeDeliveryFailed, text(l, "verify.deliveryFailed"))
	default:
		a.h.logger.ErrorContext(ctx, "verification", "requestId", id, "error", err.Error())
		a.errorOn(ctx, http.StatusInternalServerError, "", CodeInternal, text(l, "verify.internal"))
	}
}
