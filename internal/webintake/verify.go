package webintake

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"dsrflow/internal/dsr"
	"dsrflow/internal/notify"
	"dsrflow/internal/store"
	"dsrflow/internal/verification"
)

// Verifier checks one-time codes and sends new ones (verification.Service).
// SubmitCode and Resend check the status token themselves and answer
// verification.ErrNotFound or verification.ErrForbidden.
type Verifier interface {
	SubmitCode(ctx context.Context, id, statusToken, code string) (verification.Result, error)
	Resend(ctx context.Context, id, statusToken string) (verification.Result, error)
	Status(ctx context.Context, id string) (verification.Status, error)
}

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
	req, err := h.Store.GetRequest(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	}
	if tokenMatches(token, req.StatusTokenHash) {
		return req, nil
	}
	if len(h.TokenSecret) > 0 && subtle.ConstantTimeCompare([]byte(StatusToken(h.TokenSecret, id)), []byte(token)) == 1 {
		return req, nil
	}
	return nil, nil
}

// verificationPath is the verification page of request id.
func verificationPath(id string) string {
	return "/requests/" + url.PathEscape(id) + "/verification"
}

// getVerification shows the code entry page.
func (h *Handler) getVerification(ctx context.Context, r *request) response {
	if h.Verification == nil {
		return h.notFound(r)
	}
	id, token := r.params["id"], r.query.Get("token")
	req, err := h.authorizeStatus(ctx, id, token)
	if err != nil {
		h.logger().ErrorContext(ctx, "read request for verification page", "requestId", id, "error", err.Error())
		return h.internalError(r)
	}
	if req == nil {
		return h.notFound(r)
	}
	r.token = token
	st, err := h.Verification.Status(ctx, id)
	if err != nil {
		h.logger().ErrorContext(ctx, "read verification", "requestId", id, "error", err.Error())
		return h.internalError(r)
	}
	if r.wantsJSON() {
		return jsonResponse(http.StatusOK, h.verifyJSON(r, req, st, "", ""))
	}
	return h.verifyPage(r, http.StatusOK, r.locale, req, token, st, outcomeView{})
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

func (h *Handler) verifyJSON(r *request, req *dsr.Request, st verification.Status, outcome, msg string) verifyJSON {
	out := verifyJSON{
		RequestID:    req.ID,
		State:        h.pageState(req, st),
		Outcome:      outcome,
		Message:      msg,
		AttemptsLeft: st.AttemptsLeft,
		ResendsLeft:  st.ResendsLeft,
		StatusURL:    h.siteURL(r) + statusPath(req.ID, r.token),
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
	if h.Team.Email != "" {
		return text(l, "verify.teamAt", h.Team.Email)
	}
	return text(l, "verify.team")
}

// verifyPage renders the verification page for the state st, with what the
// last post did.
func (h *Handler) verifyPage(r *request, status int, l dsr.Locale, req *dsr.Request, token string, st verification.Status, o outcomeView) response {
	v := &verifyView{
		RequestID: req.ID,
		Action:    r.prefix() + verificationPath(req.ID),
		Token:     token,
		Code:      o.code,
		CodeError: o.codeError,
		CodeMax:   maxCodeInput,
		Alert:     o.alert,
		Notice:    o.notice,
		StatusURL: r.prefix() + statusPath(req.ID, token),
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
	sw := r.prefix() + verificationPath(req.ID) + "?token=" + url.QueryEscape(token) + "&lang=" + url.QueryEscape(string(otherLocale(l)))
	return h.htmlPage(status, "verify", &page{Locale: l, Title: title, SwitchURL: sw, Verify: v})
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

// postVerification takes a code, or a request for a new one.
func (h *Handler) postVerification(ctx context.Context, r *request) response {
	var in verifyInput
	l := r.locale
	asJSON := false
	switch mt := r.mediaType(); {
	case mt == "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(r.body))
		if err != nil {
			return h.errorPage(r, http.StatusBadRequest, CodeMalformedBody, "code.malformed_body")
		}
		in = verifyInput{Token: vals.Get(FieldToken), Code: vals.Get(FieldCode), Action: vals.Get(FieldAction)}
		l = requestLocale(vals.Get("lang"), r.header("accept-language"))
		r.locale = l
	case isJSONMediaType(mt):
		asJSON = true
		dec := json.NewDecoder(bytes.NewReader(r.body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			return jsonErrors(http.StatusBadRequest, l, dsr.FieldErrors{decodeError(err)})
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return jsonErrors(http.StatusBadRequest, l, dsr.FieldErrors{{Code: CodeMalformedJSON}})
		}
	default:
		return h.errorPage(r, http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, "errors.mediaType")
	}
	if h.Verification == nil {
		return h.notFound(r)
	}
	id := r.params["id"]
	req, err := h.authorizeStatus(ctx, id, in.Token)
	if err != nil {
		h.logger().ErrorContext(ctx, "read request for verification", "requestId", id, "error", err.Error())
		return h.internalError(r)
	}
	if req == nil {
		return h.notFound(r)
	}
	r.token = in.Token
	a := &verifyAnswer{h: h, r: r, l: l, req: req, json: asJSON, typed: in.Code}

	var res verification.Result
	switch in.Action {
	case "":
		code, ok := normalizeCode(in.Code)
		switch {
		case strings.TrimSpace(in.Code) == "":
			return a.fieldError(ctx, http.StatusBadRequest, dsr.CodeRequired, text(l, "verify.required"))
		case !ok:
			return a.fieldError(ctx, http.StatusBadRequest, CodeInvalidCode, text(l, "verify.invalid"))
		}
		res, err = h.Verification.SubmitCode(ctx, id, in.Token, code)
	case ActionResend:
		res, err = h.Verification.Resend(ctx, id, in.Token)
	default:
		return a.errorOn(ctx, http.StatusBadRequest, FieldAction, CodeInvalidAction, text(l, "verify.invalidAction"))
	}
	if err != nil {
		return a.failure(ctx, err)
	}
	return a.outcome(ctx, res)
}

// verifyAnswer answers one verification post, as JSON or as the page.
type verifyAnswer struct {
	h     *Handler
	r     *request
	l     dsr.Locale
	req   *dsr.Request
	json  bool
	typed string
}

// status reads the verification after the post, for the counters and the
// page; a failure to read leaves them empty rather than failing an answer
// whose work is done.
func (a *verifyAnswer) status(ctx context.Context) verification.Status {
	st, err := a.h.Verification.Status(ctx, a.req.ID)
	if err != nil {
		a.h.logger().WarnContext(ctx, "read verification after post", "requestId", a.req.ID, "error", err.Error())
	}
	return st
}

// ok answers a success (verified, already verified, resent).
func (a *verifyAnswer) ok(ctx context.Context, status int, outcome verification.Outcome, msg string) response {
	st := a.status(ctx)
	if a.json {
		return jsonResponse(status, a.h.verifyJSON(a.r, a.req, st, string(outcome), msg))
	}
	return a.h.verifyPage(a.r, status, a.l, a.req, a.r.token, st, outcomeView{notice: msg})
}

// fieldError answers a problem with the code field.
func (a *verifyAnswer) fieldError(ctx context.Context, status int, code dsr.Code, msg string) response {
	return a.errorOn(ctx, status, FieldCode, code, msg)
}

// errorOn answers a problem: on the code field, next to it; otherwise at the
// top of the page.
func (a *verifyAnswer) errorOn(ctx context.Context, status int, field string, code dsr.Code, msg string) response {
	st := a.status(ctx)
	if a.json {
		out := a.h.verifyJSON(a.r, a.req, st, string(code), "")
		out.Errors = []apiError{{Field: field, Code: string(code), Message: msg}}
		return jsonResponse(status, out)
	}
	o := outcomeView{code: a.typed}
	if field == FieldCode {
		o.codeError = msg
	} else {
		o.alert = msg
	}
	return a.h.verifyPage(a.r, status, a.l, a.req, a.r.token, st, o)
}

// outcome maps what the service decided to an answer.
func (a *verifyAnswer) outcome(ctx context.Context, res verification.Result) response {
	l, h := a.l, a.h
	switch res.Outcome {
	case verification.OutcomeVerified:
		return a.ok(ctx, http.StatusOK, res.Outcome, text(l, "verify.verified"))
	case verification.OutcomeAlreadyVerified:
		return a.ok(ctx, http.StatusOK, res.Outcome, text(l, "verify.already"))
	case verification.OutcomeResent:
		return a.ok(ctx, http.StatusAccepted, res.Outcome, text(l, "verify.resent"))
	case verification.OutcomeWrongCode:
		a.typed = "" // a wrong code is typed again, not corrected
		return a.fieldError(ctx, http.StatusBadRequest, CodeWrongCode, text(l, "verify.wrong", res.AttemptsLeft))
	case verification.OutcomeInvalidCode:
		return a.fieldError(ctx, http.StatusBadRequest, CodeInvalidCode, text(l, "verify.invalid"))
	case verification.OutcomeCodeExpired:
		return a.fieldError(ctx, http.StatusBadRequest, CodeCodeExpired, h.expiredText(l, res.ResendsLeft))
	case verification.OutcomeLocked:
		return a.errorOn(ctx, StatusLocked, "", CodeVerificationLocked, h.lockedText(l, res.ResendsLeft))
	case verification.OutcomeResendLimit:
		return a.errorOn(ctx, http.StatusTooManyRequests, FieldAction, CodeResendLimit, text(l, "verify.resendLimit", h.team(l)))
	default: // not_waiting
		return a.errorOn(ctx, http.StatusConflict, "", CodeNotWaiting, text(l, "verify.notWaiting"))
	}
}

// failure answers an error of the service: 404 for a request or token it
// does not accept, 503 for what a retry fixes, else 500.
func (a *verifyAnswer) failure(ctx context.Context, err error) response {
	r, l, id := a.r, a.l, a.req.ID
	var de *notify.DeliveryError
	switch {
	case errors.Is(err, verification.ErrNotFound), errors.Is(err, verification.ErrForbidden):
		return a.h.notFound(r)
	case errors.Is(err, verification.ErrContention):
		resp := a.errorOn(ctx, http.StatusServiceUnavailable, "", CodeBusy, text(l, "verify.busy"))
		resp.headers = map[string]string{"Retry-After": "1"}
		return resp
	case errors.As(err, &de):
		a.h.logger().ErrorContext(ctx, "send verification code", "requestId", id, "channel", string(de.Channel), "error", de.Code)
		resp := a.errorOn(ctx, http.StatusServiceUnavailable, FieldAction, CodeDeliveryFailed, text(l, "verify.deliveryFailed"))
		resp.headers = map[string]string{"Retry-After": "60"}
		return resp
	}
	a.h.logger().ErrorContext(ctx, "verification", "requestId", id, "error", err.Error())
	return a.errorOn(ctx, http.StatusInternalServerError, "", CodeInternal, text(l, "verify.internal"))
}
