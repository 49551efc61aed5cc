// Package webintake is the privacy center: the web form and JSON API through
// which data subjects send requests, the status page behind each request's
// status link, and the identity verification page. It is a plain
// http.Handler (New) serving its routes on its own http.ServeMux; the
// intake-web Lambda function puts it behind API Gateway (HTTP API, payload
// 2.0) with aws-lambda-go-api-proxy's httpadapter, and the local stack
// mounts it directly.
//
// Routes:
//
//	GET  /                   the request form (zh-CN, or English by ?lang=en or Accept-Language)
//	POST /requests           a new request, as a form post or JSON; 202 with the status link
//	GET  /requests/{id}      the status page, ?token=… required; HTML or JSON by Accept
//	GET  /requests/{id}/verification   the code entry page, ?token=… required
//	POST /requests/{id}/verification   a code, or action=resend (form or JSON)
//	GET  /requests/{id}/documents      the documents page (guardians, agents, relatives), ?token=… required
//	GET  /requests/{id}/documents/received   where S3 sends the browser after an upload, ?token=…&ticket=…
//
// Any other path is 404 and another method on a known path 405, both in
// the privacy center's own page or JSON error shape. Every answer carries
// the security headers (CSP, HSTS, no-store, no-referrer, nosniff, DENY).
//
// # Cross-site posts
//
// A POST whose Origin header names another origin than the request's own
// (scheme from X-Forwarded-Proto, as API Gateway sets it, and Host) or
// PUBLIC_BASE_URL's, or that a browser marks Sec-Fetch-Site: cross-site, is
// refused with 403 (code cross_site). Browsers send Origin "null" for a
// form post from our pages (their referrer policy is no-referrer): then a
// Sec-Fetch-Site of same-site or cross-site is refused. A post without an
// Origin header (curl, a server) is allowed.
//
// # Idempotency
//
// A form carries a hidden nonce: a token signed with a key derived from
// StatusTokenSecret (HMAC-SHA256), holding its issue time and 16 random
// bytes, valid for NonceLifetime (24 h). An expired, forged or missing nonce
// shows the form again, as typed, with a fresh nonce and the form_expired
// message. A JSON client sends an Idempotency-Key header (required): 22 to
// 255 visible ASCII characters other than the comma, with at least 128 bits
// of room: a key made only of hex digits (and hyphens) needs 32 hex digits,
// so a UUID qualifies, and 22 characters of base64url carry 132 bits.
//
// The natural key given to intake is that key, scoped by a keyed hash of
// the kind and the requester's identifiers, so that a double-click or a
// retry names the same request while two clients that happen to pick the
// same key do not share a request. The key is also bound to its body: the
// request stores a keyed digest (HMAC-SHA256 under a key derived from
// StatusTokenSecret) of the validated submission, and the same key sent
// again with another body is answered 422 (idempotency_key_reused) with no
// request ID and no link.
//
// # Status tokens
//
// The status link's token is derived, not drawn: base64url(HMAC-SHA256(
// StatusTokenSecret, "status-token:" + request ID)), 32 bytes. A resubmit of
// the same request therefore gets the same, working link, and still only the
// token's SHA-256 (hex) is stored with the request; the status page compares
// hashes in constant time. Rotating the secret leaves existing links valid
// (they are checked against the stored hash); a post repeated across the
// rotation becomes a new request, since the idempotency scope is keyed by the
// same secret. Should intake ever return a request whose stored hash does not
// match the derived token, the confirmation shows no link rather than a
// broken one.
//
// # Identity verification
//
// While the workflow waits in VerifyIdentity, the requester types the
// one-time code into /requests/{id}/verification (the code message links to
// it; so do the confirmation and status pages). The page is a thin layer over
// verification.Service: codes are checked and signalled (SendTaskSuccess)
// there, new codes are sent through SES, the SMTP relay or the outbox. The
// task token never leaves the service. Posts are a form (token, code or
// action=resend, lang) or JSON ({"token","code"} or
// {"token","action":"resend"}); a code may be typed with spaces or dashes,
// or in full-width digits. Answers:
//
//	200 verified, or already verified (a repeat changes nothing)
//	202 a new code was sent
//	400 code missing, not six digits, wrong (attempts left), or expired
//	404 unknown request, missing or wrong token (as the status page)
//	409 the request does not wait for a code (manual verification, ended)
//	423 locked after too many wrong codes (ask for a new code, or write to
//	    the privacy team when none is left)
//	429 no new code may be sent
//	503 busy or the message could not be sent (Retry-After)
//
// JSON errors are {"errors":[{"field","code","message"}]} with the
// counters (attemptsLeft, resendsLeft, expiresAt) beside them. The status
// token is the request's stored one or, for mail requests that store none,
// the one derived from StatusTokenSecret (StatusToken).
//
// # Requesters acting for someone else
//
// A guardian, an agent or a relative of a deceased person may give the data
// subject's name, account ID, email and phone (subjectName,
// subjectAccountId, subjectEmail, subjectPhone): hints for finding the
// subject's data, never proof. Such requests are verified by the privacy
// team (documents and authority), not by a code; the confirmation says so.
//
// # Documents
//
// Those requesters send their documents (PDF, JPEG or PNG, at most
// documents.MaxUploads files of documents.MaxUploadBytes each) from the
// confirmation page or the documents page, without JavaScript: each page
// carries one presigned S3 POST form per file type (documents.Uploads),
// whose policy pins the object key (random, under the request's
// UPLOAD_PREFIX+"incoming/<id>/"), the Content-Type, the encryption, the
// size range and the redirect. S3 stores the file and sends the browser
// to /requests/{id}/documents/received with a signed ticket naming the
// upload; that page checks the object (size, Content-Type, first bytes),
// records it as a request document (store.AddDocumentLimited: the count
// is enforced there), copies it under UPLOAD_PREFIX+"documents/", and
// deletes any upload that fails. Files never pass through this function or
// DynamoDB; the documents are personal data, purged with the request's.
// Without UPLOAD_BUCKET the pages tell requesters to mail their documents.
// The pages' CSP allows form posts to the bucket's origin, and to no other.
//
// # Failures
//
// When StartExecution fails after the request was written (intake.ErrStart),
// the answer is still 202: the request is recorded and the reconciler or a
// resubmit starts it. Too many open requests (only subjects verified by an
// app login are capped) is 429, with a message that reveals no count.
//
// The client's address (r.RemoteAddr: API Gateway's source IP behind the
// adapter) is never logged. It only counts the posts of its network
// (ratelimit.go): above PER_IP_LIMIT in PER_IP_WINDOW, a post is 429
// rate_limited with Retry-After.
package webintake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"dsrflow/internal/documents"
	"dsrflow/internal/dsr"
	"dsrflow/internal/idtoken"
	"dsrflow/internal/intake"
	"dsrflow/internal/notify"
	"dsrflow/internal/store"
	"dsrflow/internal/verification"
)

// MaxBodyBytes caps a request body.
const MaxBodyBytes = 64 << 10

// SFN is the part of the Step Functions client the privacy center uses:
// StartExecution for new requests, SendTaskSuccess for verified codes.
type SFN interface {
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
	SendTaskSuccess(ctx context.Context, in *sfn.SendTaskSuccessInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error)
}

// Deps are the handler's clients and clock.
type Deps struct {
	Store *store.Store
	SFN   SFN
	// Email sends new codes when Config.OutboxDir is empty (SES or the
	// SMTP relay); nil: new codes fail as delivery errors.
	Email notify.EmailSender
	// SMS sends codes to requesters with a phone only; nil: the outbox when
	// Config.OutboxDir is set.
	SMS notify.SMSSender
	// S3 presigns upload forms and checks, keeps and deletes uploads; it
	// is required when Config.UploadBucket is set. Its endpoint is the one
	// browsers post to (in the local stack, the S3 emulator's address).
	S3 *s3.Client
	// IDTokens checks the app's ID tokens; nil: an idtoken.Verifier of
	// Config.OIDC.
	IDTokens TokenVerifier
	// Clock is the time source of the handler, intake, the store's dates
	// and the code expiry; default time.Now.
	Clock  func() time.Time
	Logger *slog.Logger
}

// submitter hands a validated request to the intake path (intake.Service).
type submitter interface {
	Submit(ctx context.Context, sub intake.Submission) (intake.Result, error)
}

// requestReader reads a stored request (store.Store); a missing one is
// store.ErrNotFound.
type requestReader interface {
	GetRequest(ctx context.Context, id string) (*dsr.Request, error)
}

// verifier checks one-time codes and sends new ones (verification.Service).
// SubmitCode and Resend check the status token themselves and answer
// verification.ErrNotFound or verification.ErrForbidden.
type verifier interface {
	SubmitCode(ctx context.Context, id, statusToken, code string) (verification.Result, error)
	Resend(ctx context.Context, id, statusToken string) (verification.Result, error)
	Status(ctx context.Context, id string) (verification.Status, error)
}

// Handler is the privacy center: an http.Handler.
// TokenVerifier checks a bearer ID token (an *idtoken.Verifier): its
// errors are *idtoken.Error.
type TokenVerifier interface {
	Verify(ctx context.Context, raw string) (idtoken.Claims, error)
}

type Handler struct {
	intake       submitter
	idTokens     TokenVerifier
	store        requestReader
	verification verifier
	// uploads is nil when uploads are not configured: the pages then tell
	// requesters to send documents by mail.
	uploads uploader
	docs    documentStore
	// tokenSecret keys status tokens and idempotency scopes; nonceKey and
	// digestKey are derived from it.
	tokenSecret []byte
	nonceKey    []byte
	digestKey   []byte
	ticketKey   []byte
	// ticketLife is how long an upload ticket is honoured.
	ticketLife time.Duration
	// baseURL ("https://privacy.example.cn", no trailing slash) makes links
	// absolute and is an allowed origin; empty: the request's own origin.
	baseURL     string
	smtpUTF8    bool
	teamContact notify.Contact
	clock       func() time.Time
	logger      *slog.Logger
	mux         *http.ServeMux
	// rateLimit caps the posts of one client network (ratelimit.go),
	// counted in budget under keys hashed with rateKeySecret.
	rateLimit     RateLimit
	rateKeySecret []byte
	budget        budgetTaker
}

// New checks cfg and wires the privacy center over deps: intake (with its
// starter), verification and the message router are built here, once.
func New(cfg Config, deps Deps) (*Handler, error) {
	if err := errors.Join(cfg.Check(), cfg.checkSecrets()); err != nil {
		return nil, err
	}
	if deps.Store == nil || deps.SFN == nil {
		return nil, errors.New("webintake: Store and SFN are required")
	}
	clock := deps.Clock
	if clock == nil {
		clock = time.Now
	}
	logger := deps.Logger
	if logger == nil {
		logger = slog.Default()
	}
	router := notify.NewRouter(notify.RouterConfig{From: cfg.MailFrom, FromName: cfg.MailFromName, OutboxDir: cfg.OutboxDir,
		Budget: cfg.MessageBudget, BudgetKey: []byte(cfg.SubjectKeySecret)},
		notify.RouterDeps{Email: deps.Email, SMS: deps.SMS, Budget: deps.Store, Clock: clock, Logger: logger})
	starter, err := intake.NewStarter(intake.StarterConfig{StateMachineArn: cfg.StateMachineArn},
		intake.StarterDeps{Store: deps.Store, SFN: deps.SFN, Clock: clock, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("webintake: %w", err)
	}
	in, err := intake.New(intake.Config{SubjectSecret: []byte(cfg.SubjectKeySecret), MaxOpenPerSubject: cfg.MaxOpenPerSubject},
		intake.Deps{Store: deps.Store, Starter: starter, Clock: clock, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("webintake: %w", err)
	}
	team := notify.Contact{Email: cfg.PrivacyContact}
	if team.Email == "" {
		team.Email = cfg.MailFrom
	}
	// New codes link back to this page, as the first one did (BaseURL).
	vcfg := verification.Config{
		Secret: []byte(cfg.VerificationCodeSecret), StatusSecret: []byte(cfg.StatusTokenSecret),
		BaseURL: cfg.PublicBaseURL, Team: team, Actor: ActorVerificationPage,
	}
	if cfg.PreviousVerificationCodeSecret != "" {
		vcfg.PreviousSecrets = [][]byte{[]byte(cfg.PreviousVerificationCodeSecret)}
	}
	ver, err := verification.New(vcfg, verification.Deps{Store: deps.Store, SFN: deps.SFN, Sender: router, Clock: clock, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("webintake: %w", err)
	}
	tokens := deps.IDTokens
	if tokens == nil {
		v, err := idtoken.New(cfg.OIDC, idtoken.Deps{Clock: clock})
		if err != nil {
			return nil, fmt.Errorf("webintake: %w", err)
		}
		tokens = v
	}
	secret := []byte(cfg.StatusTokenSecret)
	h := &Handler{
		intake:        in,
		idTokens:      tokens,
		store:         deps.Store,
		verification:  ver,
		docs:          deps.Store,
		tokenSecret:   secret,
		nonceKey:      deriveKey(secret, "form-nonce"),
		digestKey:     deriveKey(secret, "body-digest"),
		ticketKey:     deriveKey(secret, "upload-ticket"),
		baseURL:       strings.TrimSuffix(cfg.PublicBaseURL, "/"),
		smtpUTF8:      cfg.SMTPUTF8,
		teamContact:   team,
		clock:         clock,
		logger:        logger,
		rateLimit:     cfg.RateLimit,
		rateKeySecret: deriveKey(secret, "client-network"),
		budget:        deps.Store,
	}
	if cfg.UploadBucket != "" {
		if deps.S3 == nil {
			return nil, errors.New("webintake: UPLOAD_BUCKET is set but Deps.S3 is nil")
		}
		up, err := documents.NewUploads(deps.S3, cfg.uploadConfig())
		if err != nil {
			return nil, fmt.Errorf("webintake: %w", err)
		}
		h.uploads = up
		h.ticketLife = up.FormTTL() + ticketGrace
	}
	h.routes()
	return h, nil
}

// routes registers the privacy center's routes (template.yaml routes them
// all to the function) and, for each of their paths, a method-less pattern
// answering 405; "/" is the 404 page.
func (h *Handler) routes() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", h.getForm)
	mux.HandleFunc("POST /requests", h.limited(h.postRequest))
	mux.HandleFunc("GET /requests/{id}", h.getStatus)
	mux.HandleFunc("GET /requests/{id}/verification", h.getVerification)
	mux.HandleFunc("POST /requests/{id}/verification", h.limited(h.postVerification))
	mux.HandleFunc("GET /requests/{id}/documents", h.getDocuments)
	mux.HandleFunc("GET /requests/{id}/documents/received", h.getReceived)
	for path, allow := range map[string]string{
		"/{$}":                              "GET, HEAD",
		"/requests":                         "POST",
		"/requests/{id}":                    "GET, HEAD",
		"/requests/{id}/verification":       "GET, HEAD, POST",
		"/requests/{id}/documents":          "GET, HEAD",
		"/requests/{id}/documents/received": "GET, HEAD",
	} {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			h.errorPage(w, r, requestLocale(r), http.StatusMethodNotAllowed, CodeMethodNotAllowed, "errors.method")
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { h.notFound(w, r, requestLocale(r)) })
	h.mux = mux
}

// ServeHTTP answers one request: the security headers, then the route.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header())
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) now() time.Time { return h.clock() }

// requestLocale picks the language of a request: ?lang= first, then
// Accept-Language, then zh-CN.
func requestLocale(r *http.Request) dsr.Locale {
	return pickLocale(r.URL.Query().Get("lang"), headerValue(r, "Accept-Language"))
}

// pickLocale picks the language: an explicit lang (query or form field)
// first, then Accept-Language, then zh-CN.
func pickLocale(lang, acceptLanguage string) dsr.Locale {
	if lang != "" {
		if l, ok := dsr.ParseLocale(lang); ok {
			return l
		}
	}
	if acceptLanguage != "" {
		return dsr.MatchLocale(acceptLanguage)
	}
	return dsr.DefaultLocale
}

// headerValue is every value of a header joined with commas: the adapter
// splits API Gateway's comma-joined values (Accept, Accept-Language) into
// several.
func headerValue(r *http.Request, name string) string {
	return strings.Join(r.Header.Values(name), ",")
}

// mediaType is the request's Content-Type without parameters, lower-case.
func mediaType(r *http.Request) string {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return mt
}

// wantsJSON reports whether the client prefers JSON to HTML (Accept).
func wantsJSON(r *http.Request) bool { return preferJSON(headerValue(r, "Accept")) }

// jsonClient reports whether to answer in JSON: the client sent JSON or
// prefers it.
func jsonClient(r *http.Request) bool { return isJSONMediaType(mediaType(r)) || wantsJSON(r) }

func isJSONMediaType(mt string) bool {
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// preferJSON compares the quality Accept gives application/json and
// text/html; ties and no Accept header go to HTML.
func preferJSON(accept string) bool {
	var qJSON, qHTML float64 = -1, -1
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if qs, ok := params["q"]; ok {
			v, err := strconv.ParseFloat(qs, 64)
			if err != nil {
				continue
			}
			q = v
		}
		switch mt {
		case "application/json":
			qJSON = max(qJSON, q)
		case "text/html":
			qHTML = max(qHTML, q)
		}
	}
	return qJSON > 0 && qJSON > qHTML
}

// HSTS is the Strict-Transport-Security value: two years, subdomains too.
const HSTS = "max-age=63072000; includeSubDomains"

// setSecurityHeaders puts the headers every answer carries. The CSP allows
// nothing but the page's own inline style sheet (by hash) and form posts to
// this origin, and to formOrigins (the upload bucket's, on pages with upload
// forms).
func setSecurityHeaders(hd http.Header, formOrigins ...string) {
	styleSrc := "'none'"
	if css, err := styleSheet(); err == nil {
		styleSrc = styleHash(css)
	}
	formAction := "'self'"
	for _, o := range formOrigins {
		if o != "" {
			formAction += " " + o
		}
	}
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src "+styleSrc+
		"; form-action "+formAction+"; base-uri 'none'; frame-ancestors 'none'")
	hd.Set("Strict-Transport-Security", HSTS)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	// Pages carry form nonces and status tokens: never store them.
	hd.Set("Cache-Control", "no-store")
}

// readBody reads a POST body up to MaxBodyBytes; ok is false when it
// answered already (413 for a larger body, 400 for one that cannot be read).
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) (body []byte, ok bool) {
	l := requestLocale(r)
	if r.ContentLength > MaxBodyBytes {
		h.errorPage(w, r, l, http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "errors.tooLarge", MaxBodyBytes>>10)
		return nil, false
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		h.errorPage(w, r, l, http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "errors.tooLarge", MaxBodyBytes>>10)
		return nil, false
	case err != nil:
		h.errorPage(w, r, l, http.StatusBadRequest, CodeMalformedBody, "code.malformed_body")
		return nil, false
	}
	return b, true
}

// sameOriginPost refuses (403) a POST from another site; see the package
// documentation. ok is false when it answered.
//
// Origin "null" is what browsers send for a form post from a page whose
// referrer policy is no-referrer, as ours is (Fetch, "serializing a request
// origin"); then Sec-Fetch-Site decides: same-site and cross-site are
// refused, same-origin (and a browser that sends neither) allowed.
func (h *Handler) sameOriginPost(w http.ResponseWriter, r *http.Request) (ok bool) {
	site := strings.ToLower(r.Header.Get("Sec-Fetch-Site"))
	cross := site == "cross-site"
	switch origins := r.Header.Values("Origin"); {
	case len(origins) > 1:
		cross = true
	case len(origins) == 1 && origins[0] == "null":
		cross = cross || site == "same-site"
	case len(origins) == 1:
		cross = cross || !h.allowedOrigin(origins[0], r)
	}
	if !cross {
		return true
	}
	h.errorPage(w, r, requestLocale(r), http.StatusForbidden, CodeCrossSite, "errors.crossSite")
	return false
}

// allowedOrigin reports whether origin (an Origin header) is the request's
// own origin or the configured base URL's.
func (h *Handler) allowedOrigin(origin string, r *http.Request) bool {
	o := normalizeOrigin(origin)
	if o == "" {
		return false // "null", or not an origin
	}
	if h.baseURL != "" && o == normalizeOrigin(h.baseURL) {
		return true
	}
	return o == normalizeOrigin(requestScheme(r)+"://"+r.Host)
}

// normalizeOrigin is scheme://host[:port] in lower case without a default
// port, or "" when s is not an http(s) origin.
func normalizeOrigin(s string) string {
	scheme, rest, ok := strings.Cut(strings.ToLower(strings.TrimSpace(s)), "://")
	if !ok || (scheme != "http" && scheme != "https") {
		return ""
	}
	host, _, _ := strings.Cut(rest, "/")
	if host == "" || strings.ContainsAny(host, "?#@ \\") {
		return ""
	}
	if scheme == "https" {
		host = strings.TrimSuffix(host, ":443")
	} else {
		host = strings.TrimSuffix(host, ":80")
	}
	return scheme + "://" + host
}

// requestScheme is how the client reached us: X-Forwarded-Proto (API
// Gateway sets it), else TLS, else http (the local stack).
func requestScheme(r *http.Request) string {
	switch p := strings.ToLower(r.Header.Get("X-Forwarded-Proto")); p {
	case "http", "https":
		return p
	}
	if r.TLS != nil {
		return "https"
	}
	return "http"
}
