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
	"dsrflow/internal/e164"
	"dsrflow/internal/idtoken"
	"dsrflow/internal/intake"
	"dsrflow/internal/store"
)

// Sources recorded on a request (intake.Submission.Source).
const (
	SourceForm = "web:form"
	SourceAPI  = "web:api"
)

// getForm serves the empty form with a fresh nonce.
func (h *Handler) getForm(w http.ResponseWriter, r *http.Request) {
	h.formPage(w, http.StatusOK, requestLocale(r), formInput{}, h.newNonce(), nil, nil)
}

// formPage renders the form in locale l with what the user typed, field
// errors and form-wide messages.
func (h *Handler) formPage(w http.ResponseWriter, status int, l dsr.Locale, in formInput, nonce string, errs dsr.FieldErrors, formMsgs []string) {
	byField, summary := formErrors(errs, l)
	var top []summaryItem
	for _, m := range formMsgs {
		top = append(top, summaryItem{Text: m})
	}
	summary = append(top, summary...)
	fv := newForm(l, in, nonce, byField, summary)
	title := text(l, "form.title")
	if len(summary) > 0 {
		title = text(l, "errors.title") + " – " + title
	}
	h.writePage(w, status, "form", &page{
		Locale:    l,
		Title:     title,
		SwitchURL: formURL(otherLocale(l)),
		Form:      fv,
	})
}

// postRequest accepts a new request as a form post or as JSON.
func (h *Handler) postRequest(w http.ResponseWriter, r *http.Request) {
	if !h.sameOriginPost(w, r) {
		return
	}
	mt := mediaType(r)
	if mt != "application/x-www-form-urlencoded" && !isJSONMediaType(mt) {
		h.errorPage(w, r, requestLocale(r), http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, "errors.mediaType")
		return
	}
	body, ok := h.readBody(w, r)
	if !ok {
		return
	}
	if isJSONMediaType(mt) {
		h.postJSON(w, r, body)
		return
	}
	h.postForm(w, r, body)
}

// formBody is a post of the request form.
type formBody struct {
	in         formInput
	lang       string // the form's language (hidden field)
	nonce      string
	switchLang string // the language button: show the form in this language
}

// parseFormBody reads a form post's body (application/x-www-form-urlencoded).
func parseFormBody(body []byte) (formBody, error) {
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return formBody{}, err
	}
	return formBody{
		in: formInput{
			Kind:             vals.Get(dsr.FieldKind),
			Role:             vals.Get(dsr.FieldRole),
			ErasureGround:    vals.Get(dsr.FieldErasureGround),
			Email:            vals.Get(dsr.FieldEmail),
			Phone:            vals.Get(dsr.FieldPhone),
			AccountID:        vals.Get(dsr.FieldAccountID),
			SubjectName:      vals.Get(dsr.FieldSubjectName),
			SubjectAccountID: vals.Get(dsr.FieldSubjectAccountID),
			SubjectEmail:     vals.Get(dsr.FieldSubjectEmail),
			SubjectPhone:     vals.Get(dsr.FieldSubjectPhone),
			Corrections:      vals.Get(dsr.FieldCorrections),
			Details:          vals.Get(dsr.FieldDetails),
			Purposes:         vals[dsr.FieldPurposes],
		},
		lang:       vals.Get("lang"),
		nonce:      vals.Get("nonce"),
		switchLang: vals.Get("switchLang"),
	}, nil
}

// submission is what the form's input asks for, in locale l.
func (in formInput) submission(l dsr.Locale) dsr.Submission {
	return dsr.Submission{
		Kind:             in.Kind,
		Role:             in.Role,
		ErasureGround:    in.ErasureGround,
		Email:            in.Email,
		Phone:            in.Phone,
		AccountID:        in.AccountID,
		Locale:           string(l),
		Details:          in.Details,
		Corrections:      splitLines(in.Corrections),
		Purposes:         in.Purposes,
		SubjectName:      in.SubjectName,
		SubjectEmail:     in.SubjectEmail,
		SubjectPhone:     in.SubjectPhone,
		SubjectAccountID: in.SubjectAccountID,
	}
}

func (h *Handler) postForm(w http.ResponseWriter, r *http.Request, body []byte) {
	post, err := parseFormBody(body)
	if err != nil {
		h.errorPage(w, r, requestLocale(r), http.StatusBadRequest, CodeMalformedBody, "code.malformed_body")
		return
	}
	l := pickLocale(post.lang, headerValue(r, "Accept-Language"))
	in, nonce := post.in, post.nonce
	if post.switchLang != "" {
		// The form's language button: show the same form, as typed, in the
		// other language; nothing is validated or sent.
		if !h.checkNonce(nonce) {
			nonce = h.newNonce()
		}
		h.formPage(w, http.StatusOK, pickLocale(post.switchLang, ""), in, nonce, nil, nil)
		return
	}
	v, errs := h.validate(in.submission(l), utf8.RuneCountInString(in.Corrections))
	if len(errs) > 0 {
		if !h.checkNonce(nonce) {
			nonce = h.newNonce()
		}
		h.formPage(w, http.StatusBadRequest, l, in, nonce, errs, nil)
		return
	}
	if !h.checkNonce(nonce) {
		// Not a form we rendered, one rendered too long ago, or a truncated
		// post: keep what was typed and ask to send it again with a fresh
		// nonce.
		h.formPage(w, http.StatusBadRequest, l, in, h.newNonce(), nil, []string{text(l, "errors.expired")})
		return
	}
	out, fail := h.submit(r.Context(), v, SourceForm, nonce, nil)
	if fail != nil {
		switch {
		case fail.tooMany:
			h.formPage(w, http.StatusTooManyRequests, l, in, nonce, nil, []string{text(l, "errors.tooMany")})
		case fail.reused:
			// This form was sent before with other content (the back button):
			// that request stays as it was; a fresh nonce makes a new one.
			h.formPage(w, http.StatusUnprocessableEntity, l, in, h.newNonce(), nil, []string{text(l, "errors.reused")})
		default:
			h.internalError(w, r, l)
		}
		return
	}
	view := &acceptedView{RequestID: out.id, ForOthers: v.Role.NeedsManualReview()}
	if out.statusPath != "" {
		view.StatusURL = h.siteURL(r) + out.statusPath
	}
	if out.verifyPath != "" && !view.ForOthers && (out.status == dsr.StatusReceived || out.status == dsr.StatusAwaitingVerification) {
		view.VerifyURL = h.siteURL(r) + out.verifyPath + "&lang=" + url.QueryEscape(string(l))
	}
	origin := ""
	if view.ForOthers && out.token != "" && !out.status.Terminal() {
		// Their documents, sent from this page: the upload forms (or, with
		// uploads off, where to mail them).
		up, o, err := h.acceptedUploads(r, l, out)
		if err != nil {
			h.logger.ErrorContext(r.Context(), "upload forms for the confirmation", "requestId", out.id, "error", err.Error())
		} else {
			view.Upload, origin = up, o
		}
	}
	h.writePageForms(w, http.StatusAccepted, "accepted", &page{
		Locale:   l,
		Title:    text(l, "accepted.title"),
		Accepted: view,
	}, origin)
}

// acceptedUploads is the upload part of the confirmation of request out:
// the documents already received (a repeated post) and the forms, with a
// link to the documents page for later.
func (h *Handler) acceptedUploads(r *http.Request, l dsr.Locale, out submitted) (*uploadView, string, error) {
	var docs []store.Document
	if h.uploads != nil {
		var err error
		if docs, err = h.docs.ListDocuments(r.Context(), out.id); err != nil {
			return nil, "", err
		}
	}
	up, origin, err := h.uploadsOrNone(r.Context(), r, l, out.id, out.token, docs)
	if err != nil {
		return nil, "", err
	}
	up.PageURL = h.siteURL(r) + documentsPath(out.id) + "?token=" + url.QueryEscape(out.token) + "&lang=" + url.QueryEscape(string(l))
	return up, origin, nil
}

// splitLines is the corrections text area, one correction a line.
func splitLines(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	return strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
}

// acceptedJSON is the JSON answer to a new (or repeated) request.
type acceptedJSON struct {
	RequestID string `json:"requestId"`
	Status    string `json:"status"`
	StatusURL string `json:"statusUrl,omitempty"`
}

// decodeSubmissionJSON reads a JSON body into a submission: one object,
// known fields only, nothing after it. The error names a field and a code,
// never a value.
func decodeSubmissionJSON(body []byte) (dsr.Submission, *dsr.FieldError) {
	var sub dsr.Submission
	if fe := decodeStrict(body, &sub); fe != nil {
		return dsr.Submission{}, fe
	}
	return sub, nil
}

// decodeStrict decodes exactly one JSON value into v, refusing unknown
// fields and trailing data.
func decodeStrict(body []byte, v any) *dsr.FieldError {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		fe := decodeError(err)
		return &fe
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &dsr.FieldError{Code: CodeMalformedJSON}
	}
	return nil
}

// idempotencyKey reads the Idempotency-Key header: exactly one valid key.
func idempotencyKey(r *http.Request) (string, *dsr.FieldError) {
	keys := r.Header.Values("Idempotency-Key")
	switch {
	case len(keys) == 0 || (len(keys) == 1 && keys[0] == ""):
		return "", &dsr.FieldError{Field: FieldHeaderIdempotencyKey, Code: CodeIdempotencyKeyRequired}
	case len(keys) > 1 || !validIdempotencyKey(keys[0]):
		return "", &dsr.FieldError{Field: FieldHeaderIdempotencyKey, Code: CodeInvalidIdempotencyKey}
	}
	return keys[0], nil
}

func (h *Handler) postJSON(w http.ResponseWriter, r *http.Request, body []byte) {
	l := requestLocale(r)
	sub, fe := decodeSubmissionJSON(body)
	if fe != nil {
		writeErrors(w, http.StatusBadRequest, l, dsr.FieldErrors{*fe})
		return
	}
	// The app's request: its ID token proves the account; a token that
	// does not verify creates nothing.
	login, ok := h.bearerLogin(w, r, l)
	if !ok {
		return
	}
	if login != nil {
		if sub.Role != "" && sub.Role != string(dsr.RoleSelf) {
			writeErrors(w, http.StatusBadRequest, l, dsr.FieldErrors{{Field: dsr.FieldRole, Code: CodeLoginSelfOnly}})
			return
		}
		// Replies go where the provider vouched for, when the app sent
		// no contact of its own.
		if sub.Email == "" && sub.Phone == "" {
			sub.Email, sub.Phone = login.Email, login.Phone
		}
	}
	// Messages in the request's own language when it names one, else by
	// ?lang= or Accept-Language; a request without one gets that language.
	if sub.Locale != "" {
		if sl, ok := dsr.ParseLocale(sub.Locale); ok {
			l = sl
		}
	} else {
		sub.Locale = string(l)
	}
	v, errs := h.validate(sub, 0)
	key, fe := idempotencyKey(r)
	if fe != nil {
		errs = append(errs, *fe)
	}
	if len(errs) > 0 {
		writeErrors(w, http.StatusBadRequest, l, errs)
		return
	}
	out, fail := h.submit(r.Context(), v, SourceAPI, key, login)
	if fail != nil {
		switch {
		case fail.tooMany:
			writeJSON(w, http.StatusTooManyRequests, apiErrors{Errors: []apiError{{
				Code: string(CodeTooManyOpen), Message: text(l, "errors.tooMany"),
			}}})
		case fail.reused:
			writeErrors(w, http.StatusUnprocessableEntity, l, dsr.FieldErrors{{Field: FieldHeaderIdempotencyKey, Code: CodeIdempotencyKeyReused}})
		default:
			writeErrors(w, http.StatusInternalServerError, l, dsr.FieldErrors{{Code: CodeInternal}})
		}
		return
	}
	link := ""
	if out.statusPath != "" {
		link = h.siteURL(r) + out.statusPath
	}
	writeJSON(w, http.StatusAccepted, acceptedJSON{RequestID: out.id, Status: string(out.status), StatusURL: link})
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
		return dsr.FieldError{Field: canonicalField(field), Code: CodeInvalidType}
	}
	// encoding/json reports an unknown field only in its message.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return dsr.FieldError{Field: strings.Trim(name, `"`), Code: CodeUnknownField}
	}
	return dsr.FieldError{Code: CodeMalformedJSON}
}

// jsonFields are the JSON field names of the bodies the API takes.
var jsonFields = []string{
	dsr.FieldKind, dsr.FieldRole, dsr.FieldErasureGround, dsr.FieldEmail, dsr.FieldPhone, dsr.FieldAccountID,
	dsr.FieldLocale, dsr.FieldDetails, dsr.FieldCorrections, dsr.FieldPurposes,
	dsr.FieldSubjectName, dsr.FieldSubjectEmail, dsr.FieldSubjectPhone, dsr.FieldSubjectAccountID,
	FieldToken, FieldCode, FieldAction,
}

// canonicalField is the field's own name for a key encoding/json matched
// to it without regard to case ("EMAIL" is email).
func canonicalField(name string) string {
	for _, f := range jsonFields {
		if strings.EqualFold(f, name) {
			return f
		}
	}
	return name
}

// validate runs the web layer's checks and dsr's validation, and sorts the
// errors in the form's order. The web layer's checks are length caps and,
// unless the mail transport supports SMTPUTF8, an ASCII local part of the
// contact email (we could not send it a code); such an error replaces dsr's
// on the same field (an over-long email is "too long", not "invalid").
func (h *Handler) validate(sub dsr.Submission, correctionsRunes int) (dsr.Validated, dsr.FieldErrors) {
	var own dsr.FieldErrors
	for _, c := range []struct {
		field string
		value string
		max   int
	}{
		{dsr.FieldEmail, sub.Email, maxEmailInput},
		{dsr.FieldPhone, sub.Phone, maxPhoneInput},
		{dsr.FieldAccountID, sub.AccountID, maxAccountIDInput},
		{dsr.FieldSubjectEmail, sub.SubjectEmail, maxEmailInput},
		{dsr.FieldSubjectPhone, sub.SubjectPhone, maxPhoneInput},
		{dsr.FieldSubjectAccountID, sub.SubjectAccountID, maxAccountIDInput},
	} {
		if utf8.RuneCountInString(c.value) > c.max {
			own = append(own, dsr.FieldError{Field: c.field, Code: dsr.CodeTooLong, Max: c.max})
		}
	}
	if correctionsRunes > maxCorrectionsInput {
		own = append(own, dsr.FieldError{Field: dsr.FieldCorrections, Code: dsr.CodeTooLong, Max: maxCorrectionsInput})
	}
	if !h.smtpUTF8 && !asciiLocalPart(sub.Email) && !slices.ContainsFunc(own, func(e dsr.FieldError) bool { return e.Field == dsr.FieldEmail }) {
		own = append(own, dsr.FieldError{Field: dsr.FieldEmail, Code: CodeEmailNotASCII})
	}
	v, err := sub.Validate(e164.Parse)
	var errs dsr.FieldErrors
	if err != nil && !errors.As(err, &errs) {
		errs = dsr.FieldErrors{{Code: CodeInternal}}
	}
	if len(own) == 0 && len(errs) == 0 {
		return v, nil
	}
	mine := map[string]bool{}
	for _, c := range own {
		mine[c.Field] = true
	}
	out := slices.Clone(own)
	for _, e := range errs {
		if !mine[e.Field] {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b dsr.FieldError) int { return fieldRank(a.Field) - fieldRank(b.Field) })
	return dsr.Validated{}, out
}

// asciiLocalPart reports whether the part of an email address before its
// last "@" is ASCII (true for an address without "@": dsr reports those).
// The domain may be internationalized: it is sent as punycode.
func asciiLocalPart(email string) bool {
	email = strings.TrimSpace(email)
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return true
	}
	for i := 0; i < at; i++ {
		if email[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// formOrder is the order of the form's fields, top to bottom.
var formOrder = []string{
	dsr.FieldKind, dsr.FieldRole, dsr.FieldEmail, dsr.FieldPhone, dsr.FieldContact, dsr.FieldAccountID,
	dsr.FieldSubjectName, dsr.FieldSubjectAccountID, dsr.FieldSubjectEmail, dsr.FieldSubjectPhone,
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
	token      string // the status token; empty when the link cannot be reproduced
	statusPath string // "/requests/<id>?token=…"; empty when the link cannot be reproduced
	verifyPath string // "/requests/<id>/verification?token=…", likewise
}

// submitFailure is why intake did not accept a request.
type submitFailure struct {
	tooMany bool // *intake.TooManyOpenError
	reused  bool // intake.ErrKeyReused
}

// submit hands a validated request to intake with its status token hash
// and body digest.
func (h *Handler) submit(ctx context.Context, v dsr.Validated, source, key string, login *intake.Login) (submitted, *submitFailure) {
	nk := naturalKey(h.tokenSecret, source, key, v)
	id := intake.RequestID(dsr.ChannelWeb, nk)
	token := StatusToken(h.tokenSecret, id)
	res, err := h.intake.Submit(ctx, intake.Submission{
		Validated:       v,
		Channel:         dsr.ChannelWeb,
		NaturalKey:      nk,
		StatusTokenHash: TokenHash(token),
		BodyDigest:      h.bodyDigest(v),
		Source:          source,
		Login:           login,
	})
	var tooMany *intake.TooManyOpenError
	switch {
	case errors.As(err, &tooMany):
		return submitted{}, &submitFailure{tooMany: true}
	case errors.Is(err, intake.ErrKeyReused):
		// Logged by intake with the request ID; nothing of it is shown.
		return submitted{}, &submitFailure{reused: true}
	case errors.Is(err, intake.ErrStart) && res.Request != nil:
		// The request is stored; a resubmit or the reconciler starts it.
		h.logger.WarnContext(ctx, "request stored, execution not started", "requestId", res.Request.ID, "error", err.Error())
	case err != nil:
		h.logger.ErrorContext(ctx, "submit request", "requestId", id, "error", err.Error())
		return submitted{}, &submitFailure{}
	case res.Request == nil:
		h.logger.ErrorContext(ctx, "submit request: no request returned", "requestId", id)
		return submitted{}, &submitFailure{}
	}
	out := submitted{id: res.Request.ID, status: res.Request.Status}
	if res.Request.ID == id && tokenMatches(token, res.Request.StatusTokenHash) {
		out.token = token
		out.statusPath = statusPath(id, token)
		out.verifyPath = verificationPath(id) + "?token=" + url.QueryEscape(token)
	} else {
		h.logger.WarnContext(ctx, "status link not reproducible for this request", "requestId", res.Request.ID, "duplicate", res.Duplicate)
	}
	if res.Duplicate {
		h.logger.InfoContext(ctx, "repeated submission", "requestId", res.Request.ID, "source", source)
	}
	return out, nil
}

// siteURL is where links point: the base URL when configured, else the
// origin the request came to (X-Forwarded-Proto or TLS, and Host); a
// path-only link when the host is not a plain host. Links are absolute so
// that the status link can be copied and kept.
func (h *Handler) siteURL(r *http.Request) string {
	if h.baseURL != "" {
		return h.baseURL
	}
	host := r.Host
	if host == "" || strings.ContainsAny(host, "/?#@ \\") {
		return ""
	}
	return requestScheme(r) + "://" + host
}

// statusPath is the status page of request id with its token.
func statusPath(id, token string) string {
	return "/requests/" + url.PathEscape(id) + "?token=" + url.QueryEscape(token)
}

// CodeLoginSelfOnly: a bearer token proves the requester's own account, so
// it goes with role self only (a guardian's login is not the child's).
const CodeLoginSelfOnly dsr.Code = "login_self_only"

// bearerLogin checks the request's bearer ID token, if it carries an
// Authorization header: nil and true without one; the login and true for
// a token that verifies; false after answering 401 (or 503 when the
// provider's keys cannot be fetched) with the token's error code. Neither
// the token nor its claims are logged.
func (h *Handler) bearerLogin(w http.ResponseWriter, r *http.Request, l dsr.Locale) (*intake.Login, bool) {
	values := r.Header.Values("Authorization")
	if len(values) == 0 {
		return nil, true
	}
	refuse := func(e *idtoken.Error) (*intake.Login, bool) {
		h.logger.InfoContext(r.Context(), "bearer token refused", "code", string(e.Code))
		w.Header().Set("WWW-Authenticate", e.WWWAuthenticate())
		writeJSON(w, e.HTTPStatus(), apiErrors{Errors: []apiError{{Code: string(e.Code), Message: e.Message(l)}}})
		return nil, false
	}
	raw, ok := idtoken.BearerToken(values[0])
	if len(values) != 1 || !ok {
		return refuse(&idtoken.Error{Code: idtoken.CodeMalformed})
	}
	claims, err := h.idTokens.Verify(r.Context(), raw)
	if err != nil {
		var e *idtoken.Error
		if !errors.As(err, &e) {
			e = &idtoken.Error{Code: idtoken.CodeMalformed}
		}
		return refuse(e)
	}
	return &intake.Login{Account: claims.Subject, Email: claims.Email, Phone: claims.PhoneNumber, At: h.clock().UTC()}, true
}
