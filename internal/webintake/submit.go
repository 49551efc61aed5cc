package webintake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"dsrflow/internal/dsr"
	"dsrflow/internal/intake"
	"dsrflow/internal/phone"
)

// Sources recorded on a request (intake.Submission.Source).
const (
	SourceForm = "web:form"
	SourceAPI  = "web:api"
)

// getForm serves the empty form with a fresh nonce.
func (h *Handler) getForm(_ context.Context, r *request) response {
	return h.formPage(r, http.StatusOK, r.locale, formInput{}, newNonce(), nil, nil)
}

// formPage renders the form in locale l with what the user typed, field
// errors and form-wide messages.
func (h *Handler) formPage(r *request, status int, l dsr.Locale, in formInput, nonce string, errs dsr.FieldErrors, formMsgs []string) response {
	byField, summary := formErrors(errs, l)
	var top []summaryItem
	for _, m := range formMsgs {
		top = append(top, summaryItem{Text: m})
	}
	summary = append(top, summary...)
	fv := newForm(l, in, nonce, byField, summary)
	fv.Action = r.prefix() + "/requests"
	title := text(l, "form.title")
	if len(summary) > 0 {
		title = text(l, "errors.title") + " – " + title
	}
	return h.htmlPage(status, "form", &page{
		Locale:    l,
		Title:     title,
		SwitchURL: r.formURL(otherLocale(l)),
		Form:      fv,
	})
}

// postRequest accepts a new request as a form post or as JSON.
func (h *Handler) postRequest(ctx context.Context, r *request) response {
	switch mt := r.mediaType(); {
	case mt == "application/x-www-form-urlencoded":
		return h.postForm(ctx, r)
	case isJSONMediaType(mt):
		return h.postJSON(ctx, r)
	default:
		return h.errorPage(r, http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, "errors.mediaType")
	}
}

func (h *Handler) postForm(ctx context.Context, r *request) response {
	vals, err := url.ParseQuery(string(r.body))
	if err != nil {
		return h.errorPage(r, http.StatusBadRequest, CodeMalformedBody, "code.malformed_body")
	}
	l := requestLocale(vals.Get("lang"), r.header("accept-language"))
	in := formInput{
		Kind:          vals.Get("kind"),
		Role:          vals.Get("role"),
		ErasureGround: vals.Get("erasureGround"),
		Email:         vals.Get("email"),
		Phone:         vals.Get("phone"),
		AccountID:     vals.Get("accountId"),
		Corrections:   vals.Get("corrections"),
		Details:       vals.Get("details"),
		Purposes:      vals["consentPurposes"],
	}
	sub := dsr.Submission{
		Kind:          in.Kind,
		Role:          in.Role,
		ErasureGround: in.ErasureGround,
		Email:         in.Email,
		Phone:         in.Phone,
		AccountID:     in.AccountID,
		Locale:        string(l),
		Details:       in.Details,
		Corrections:   splitLines(in.Corrections),
		Purposes:      in.Purposes,
	}
	nonce := vals.Get("nonce")
	if sw := vals.Get("switchLang"); sw != "" {
		// The form's language button: show the same form, as typed, in the
		// other language; nothing is validated or sent.
		if !validNonce(nonce) {
			nonce = newNonce()
		}
		return h.formPage(r, http.StatusOK, requestLocale(sw, ""), in, nonce, nil, nil)
	}
	v, errs := validate(sub, utf8.RuneCountInString(in.Corrections))
	if len(errs) > 0 {
		if !validNonce(nonce) {
			nonce = newNonce()
		}
		return h.formPage(r, http.StatusBadRequest, l, in, nonce, errs, nil)
	}
	if !validNonce(nonce) {
		// Not a form we rendered (or a truncated post): keep what was typed
		// and ask to send it again with a fresh nonce.
		return h.formPage(r, http.StatusBadRequest, l, in, newNonce(), nil, []string{text(l, "errors.expired")})
	}
	out, fail := h.submit(ctx, v, SourceForm, nonce)
	if fail != nil {
		if fail.tooMany != nil {
			return h.formPage(r, http.StatusTooManyRequests, l, in, nonce, nil,
				[]string{text(l, "errors.tooMany", fail.tooMany.Open, fail.tooMany.Max)})
		}
		r.locale = l
		return h.internalError(r)
	}
	view := &acceptedView{RequestID: out.id}
	if out.statusPath != "" {
		view.StatusURL = h.siteURL(r) + out.statusPath
	}
	if out.verifyPath != "" && h.Verification != nil && (out.status == dsr.StatusReceived || out.status == dsr.StatusAwaitingVerification) {
		view.VerifyURL = h.siteURL(r) + out.verifyPath + "&lang=" + url.QueryEscape(string(l))
	}
	return h.htmlPage(http.StatusAccepted, "accepted", &page{
		Locale:   l,
		Title:    text(l, "accepted.title"),
		Accepted: view,
	})
}

// splitLines is the corrections text area, one correction a line.
func splitLines(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	return lines
}

// acceptedJSON is the JSON answer to a new (or repeated) request.
type acceptedJSON struct {
	RequestID string `json:"requestId"`
	Status    string `json:"status"`
	StatusURL string `json:"statusUrl,omitempty"`
}

func (h *Handler) postJSON(ctx context.Context, r *request) response {
	var sub dsr.Submission
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sub); err != nil {
		return jsonErrors(http.StatusBadRequest, r.locale, dsr.FieldErrors{decodeError(err)})
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return jsonErrors(http.StatusBadRequest, r.locale, dsr.FieldErrors{{Code: CodeMalformedJSON}})
	}
	// Messages in the request's own language when it names one, else by
	// ?lang= or Accept-Language; a request without one gets that language.
	l := r.locale
	if sub.Locale != "" {
		if sl, ok := dsr.ParseLocale(sub.Locale); ok {
			l = sl
		}
	} else {
		sub.Locale = string(l)
	}
	v, errs := validate(sub, 0)
	key := r.header("idempotency-key")
	switch {
	case key == "":
		errs = append(errs, dsr.FieldError{Field: FieldHeaderIdempotencyKey, Code: CodeIdempotencyKeyRequired})
	case !validIdempotencyKey(key):
		errs = append(errs, dsr.FieldError{Field: FieldHeaderIdempotencyKey, Code: CodeInvalidIdempotencyKey})
	}
	if len(errs) > 0 {
		return jsonErrors(http.StatusBadRequest, l, errs)
	}
	out, fail := h.submit(ctx, v, SourceAPI, key)
	if fail != nil {
		if fail.tooMany != nil {
			return jsonResponse(http.StatusTooManyRequests, apiErrors{Errors: []apiError{{
				Code: string(CodeTooManyOpen), Message: text(l, "errors.tooMany", fail.tooMany.Open, fail.tooMany.Max),
			}}})
		}
		return jsonErrors(http.StatusInternalServerError, l, dsr.FieldErrors{{Code: CodeInternal}})
	}
	link := ""
	if out.statusPath != "" {
		link = h.siteURL(r) + out.statusPath
	}
	return jsonResponse(http.StatusAccepted, acceptedJSON{RequestID: out.id, Status: string(out.status), StatusURL: link})
}

// decodeError turns a JSON decoding error into a field error naming the
// field, never quoting the value.
func decodeError(err error) dsr.FieldError {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		field := typeErr.Field
		if i := strings.IndexByte(field, '.'); i >= 0 {
			field = field[:i]
		}
		return dsr.FieldError{Field: field, Code: CodeInvalidType}
	}
	// encoding/json reports an unknown field only in its message.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return dsr.FieldError{Field: strings.Trim(name, `"`), Code: CodeUnknownField}
	}
	return dsr.FieldError{Code: CodeMalformedJSON}
}

// validate runs the web layer's length caps and dsr's validation, and sorts
// the errors in the form's order. A cap error replaces dsr's error on the same
// field (an over-long email is "too long", not "invalid").
func validate(sub dsr.Submission, correctionsRunes int) (dsr.Validated, dsr.FieldErrors) {
	var caps dsr.FieldErrors
	for _, c := range []struct {
		field string
		value string
		max   int
	}{
		{dsr.FieldEmail, sub.Email, maxEmailInput},
		{dsr.FieldPhone, sub.Phone, maxPhoneInput},
		{dsr.FieldAccountID, sub.AccountID, maxAccountIDInput},
	} {
		if utf8.RuneCountInString(c.value) > c.max {
			caps = append(caps, dsr.FieldError{Field: c.field, Code: dsr.CodeTooLong, Max: c.max})
		}
	}
	if correctionsRunes > maxCorrectionsInput {
		caps = append(caps, dsr.FieldError{Field: dsr.FieldCorrections, Code: dsr.CodeTooLong, Max: maxCorrectionsInput})
	}
	v, err := sub.Validate(phone.Parse)
	var errs dsr.FieldErrors
	if err != nil && !errors.As(err, &errs) {
		errs = dsr.FieldErrors{{Code: CodeInternal}}
	}
	if len(caps) == 0 && len(errs) == 0 {
		return v, nil
	}
	capped := map[string]bool{}
	for _, c := range caps {
		capped[c.Field] = true
	}
	out := slices.Clone(caps)
	for _, e := range errs {
		if !capped[e.Field] {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b dsr.FieldError) int { return fieldRank(a.Field) - fieldRank(b.Field) })
	return dsr.Validated{}, out
}

// formOrder is the order of the form's fields, top to bottom.
var formOrder = []string{
	dsr.FieldKind, dsr.FieldRole, dsr.FieldEmail, dsr.FieldPhone, dsr.FieldContact, dsr.FieldAccountID,
	dsr.FieldErasureGround, dsr.FieldCorrections, dsr.FieldPurposes, dsr.FieldDetails, dsr.FieldLocale,
}

func fieldRank(field string) int {
	if base, _, ok := listEntry(field); ok {
		field = base
	}
	if i := slices.Index(formOrder, field); i >= 0 {
		return i
	}
	return len(formOrder)
}

// submitted is a request intake accepted (new or repeated).
type submitted struct {
	id         string
	status     dsr.Status
	statusPath string // "/requests/<id>?token=…"; empty when the link cannot be reproduced
	verifyPath string // "/requests/<id>/verification?token=…", likewise
}

// submitFailure is why intake did not accept a request.
type submitFailure struct {
	tooMany *intake.TooManyOpenError
	err     error
}

// submit hands a validated request to intake with its status token hash.
func (h *Handler) submit(ctx context.Context, v dsr.Validated, source, key string) (submitted, *submitFailure) {
	nk := naturalKey(h.TokenSecret, source, key, v)
	id := intake.RequestID(dsr.ChannelWeb, nk)
	token := StatusToken(h.TokenSecret, id)
	res, err := h.Intake.Submit(ctx, intake.Submission{
		Validated:       v,
		Channel:         dsr.ChannelWeb,
		NaturalKey:      nk,
		StatusTokenHash: TokenHash(token),
		Source:          source,
	})
	var tooMany *intake.TooManyOpenError
	switch {
	case errors.As(err, &tooMany):
		return submitted{}, &submitFailure{tooMany: tooMany}
	case errors.Is(err, intake.ErrStart) && res.Request != nil:
		// The request is stored; a resubmit or the reconciler starts it.
		h.logger().WarnContext(ctx, "request stored, execution not started", "requestId", res.Request.ID, "error", err.Error())
	case err != nil:
		h.logger().ErrorContext(ctx, "submit request", "requestId", id, "error", err.Error())
		return submitted{}, &submitFailure{err: err}
	case res.Request == nil:
		h.logger().ErrorContext(ctx, "submit request: no request returned", "requestId", id)
		return submitted{}, &submitFailure{err: errors.New("intake returned no request")}
	}
	out := submitted{id: res.Request.ID, status: res.Request.Status}
	if res.Request.ID == id && tokenMatches(token, res.Request.StatusTokenHash) {
		out.statusPath = statusPath(id, token)
		out.verifyPath = verificationPath(id) + "?token=" + url.QueryEscape(token)
	} else {
		h.logger().WarnContext(ctx, "status link not reproducible for this request", "requestId", res.Request.ID, "duplicate", res.Duplicate)
	}
	if res.Duplicate {
		h.logger().InfoContext(ctx, "repeated submission", "requestId", res.Request.ID, "source", source)
	}
	return out, nil
}

// siteURL is where links point: BaseURL when configured, else the origin
// the request came to (Host and X-Forwarded-Proto, as API Gateway sets them)
// with the stage prefix; a path-only link when the host is unknown. Links are
// absolute so that the status link can be copied and kept.
func (h *Handler) siteURL(r *request) string {
	if h.BaseURL != "" {
		return strings.TrimSuffix(h.BaseURL, "/")
	}
	host := r.header("host")
	if host == "" {
		host = r.ev.RequestContext.DomainName
	}
	if host == "" || strings.ContainsAny(host, "/?#@ \\") {
		return r.prefix()
	}
	scheme := "https"
	if p := r.header("x-forwarded-proto"); p == "http" {
		scheme = p
	}
	return scheme + "://" + host + r.prefix()
}

// statusPath is the status page of request id with its token.
func statusPath(id, token string) string {
	return "/requests/" + url.PathEscape(id) + "?token=" + url.QueryEscape(token)
}
