// Package console is the privacy team's console: every decision a person
// must make about data-subject requests, in one queue, and the actions that
// answer them. It is a plain http.Handler (New) on its own http.ServeMux,
// served by `dsr console` on the operator's own machine, on a loopback
// address only, with the operator's own AWS credentials: there is no new
// internet-facing surface, and IAM decides who may do what (template.yaml's
// OperatorsPolicy and AuditorsPolicy). The operator is the caller's IAM
// principal (internal/principal), recorded as the actor of every action in
// the audit chain.
//
// Routes (Go 1.22 patterns; every page in zh-CN, or English with ?lang=en
// or Accept-Language):
//
//	GET  /{$}                                      the queue: what needs a person, counts, what is due
//	GET  /search?q=                                a request ID, or a person's email or phone (hint keys)
//	GET  /requests/{id}                            a request: timeline, partners, messages, documents, actions
//	POST /requests/{id}/decision                   approve or refuse a waiting stage
//	POST /requests/{id}/information                ask the requester for more information (a pause where allowed)
//	POST /requests/{id}/extension                  extend the deadline where the jurisdiction allows
//	POST /requests/{id}/clock                      resume a paused reply clock
//	POST /requests/{id}/identifiers                amend the subject's identifiers before fan-out
//	POST /requests/{id}/partners/{partner}/retry   dispatch to a partner again
//	POST /requests/{id}/partners/{partner}/settle  record how an escalated partner was settled
//	POST /requests/{id}/backups/retry              ask the backup systems again
//	POST /requests/{id}/hold                       add or lift a legal hold on the subject
//	POST /requests/{id}/documents/{seq}            a short-lived link to view a document (audited)
//	GET  /mail/{key}                               a triaged mail: its text and attachments
//	POST /mail/{key}/convert                       make it a request of a chosen kind
//	POST /mail/{key}/link                          attach it to an existing request
//	POST /mail/{key}/ignore                        ignore it, with a reason
//	GET  /report?from=&to=[&format=csv|json]       received, complied, refused, working days to reply
//
// Every action works without JavaScript: forms post, the answer is a 303
// back to the page with a notice, or the page again with the problem. Every
// form carries a CSRF token (an HMAC over its issue time with a key that
// never leaves the process); a post without a valid one, with a foreign
// Origin, or marked cross-site is refused with 403 and changes nothing.
// Requests whose Host is not a loopback name are refused (DNS rebinding),
// and so is anything another site embeds or fetches (Sec-Fetch-Site
// cross-site, other than a navigation).
// Every answer carries strict security headers (a CSP that allows only the
// page's own style sheet and same-origin forms, no-store, no-referrer,
// nosniff, DENY).
//
// An AWS call refused for lack of permission (AccessDenied) shows a page
// naming the principal, the service and the operation; actions check
// nothing ahead but make their first write the one a read-only principal
// lacks, so a refused action has changed nothing.
//
// Personal data (contacts, identifiers, mail text, document names) is
// shown to the operator and never logged: logs carry request IDs, actions
// and codes.
package console

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"dsrflow/internal/deadline"
	"dsrflow/internal/intake"
	"dsrflow/internal/legalhold"
	"dsrflow/internal/notify"
	"dsrflow/internal/operator"
	"dsrflow/internal/partner"
	"dsrflow/internal/principal"
	"dsrflow/internal/store"
	"dsrflow/internal/workday"
	"dsrflow/internal/workflow"
)

// MaxBodyBytes caps a form post.
const MaxBodyBytes = 64 << 10

// Config is the console's configuration (`dsr console` reads it from the
// environment the functions use: template.yaml's names).
type Config struct {
	// Jurisdiction is the deadline rule (CN, GDPR, CCPA): what an
	// extension or a pause may do. Default CN.
	Jurisdiction workday.Jurisdiction
	// SubjectKeySecret keys subject and hint keys (SUBJECT_KEY_SECRET):
	// searching by email or phone, amending identifiers, converting mail.
	SubjectKeySecret string
	// StateMachineArn is the request workflow (converted mail starts it).
	StateMachineArn string
	// MaxOpenPerSubject caps a verified subject's open requests (as intake).
	MaxOpenPerSubject int
	// PublicBaseURL is the privacy center. With StatusTokenSecret, "ask
	// for more information" links a guardian's or agent's request to its
	// documents page there; otherwise, or when either is empty, the
	// message asks for a reply, which joins the request (intake-mail).
	PublicBaseURL string
	// StatusTokenSecret keys the status links (as intake-web's): the
	// documents link carries the request's token.
	StatusTokenSecret string
	// PrivacyContact is the address messages tell requesters to write to.
	PrivacyContact string
	// AttachmentPrefix is where mail attachments go in the mailbox bucket
	// (as intake-mail's ATTACHMENT_PREFIX; default "attachments/").
	AttachmentPrefix string
	// TrustedAuthServIDs are the receiving servers' authserv-ids (as
	// intake-mail), for classifying a triaged mail again.
	TrustedAuthServIDs []string
	// DocumentLinkTTL is how long a document link works (default 5
	// minutes, at most documents.MaxViewTTL).
	DocumentLinkTTL time.Duration
	// PartnerAttempts bounds the calls of one partner retry (default 3).
	PartnerAttempts int
}

// SFN is the part of the Step Functions client the console uses.
type SFN interface {
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
	SendTaskSuccess(ctx context.Context, in *sfn.SendTaskSuccessInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error)
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, optFns ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
}

// Objects is the part of the S3 client the console uses: the raw mail of a
// triaged message, and its attachments written as documents.
type Objects interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// Documents presigns document links (documents.S3).
type Documents interface {
	ViewURL(ctx context.Context, bucket, key, contentType string, ttl time.Duration) (string, error)
}

// Decider answers the workflow's waits for an operator (operator.Service).
type Decider interface {
	Decide(ctx context.Context, d operator.Decision) error
}

// Holds is the legal-hold list (legalhold.List).
type Holds interface {
	Put(ctx context.Context, h legalhold.Hold) error
	Lift(ctx context.Context, subjectKey string) (*legalhold.Hold, error)
	Find(ctx context.Context, subjectKeys []string) (*legalhold.Hold, error)
}

// Operations are the operator's partner and backup actions
// (workflow.Operations).
type Operations interface {
	RetryPartners(ctx context.Context, id, partnerID, actor string, b partner.Backoff) ([]workflow.RetryResult, error)
	SettlePartner(ctx context.Context, id, partnerID string, how workflow.PartnerSettlement, actor string) (*store.PartnerTask, error)
	BackupsEscalated(ctx context.Context, id string) (bool, error)
	RetryBackups(ctx context.Context, id, actor string) (partner.ConfirmOutput, error)
}

// Deps are the console's clients, identity and clock.
type Deps struct {
	Store *store.Store
	SFN   SFN
	// Objects reads triaged mail and writes its attachments (the mailbox
	// bucket); Documents presigns document links.
	Objects   Objects
	Documents Documents
	// Operator answers waits; nil: operator.New over Store and SFN.
	Operator Decider
	// Holds is the legal-hold list; nil: legalhold.New over Store.
	Holds Holds
	// Operations retries and settles partners and backups; nil: those
	// actions answer that the console was started without them.
	Operations Operations
	// Mail sends the console's messages (email: notify.Router); nil: the
	// messages cannot be sent and the actions say so.
	Mail notify.Sender
	// Principal is the operator (principal.Resolve).
	Principal principal.Principal
	// Calendar counts working days; nil: workday.Default.
	Calendar *workday.Calendar
	// Clock is the business clock (due dates, audit times); it may run
	// scaled on the local stack. WallClock times what a person waits
	// through: form tokens and document links; default time.Now.
	Clock     func() time.Time
	WallClock func() time.Time
	Logger    *slog.Logger
}

// Handler is the console.
type Handler struct {
	cfg        Config
	rule       workday.Rule
	store      *store.Store
	sfn        SFN
	objects    Objects
	documents  Documents
	decider    Decider
	amender    *operator.Amender
	holds      Holds
	operations Operations
	deadline   *deadline.Service
	intake     *intake.Service
	mail       notify.Sender
	team       notify.Contact
	principal  principal.Principal
	secret     []byte
	cal        *workday.Calendar
	csrfKey    []byte
	clock      func() time.Time
	wall       func() time.Time
	logger     *slog.Logger
	mux        *http.ServeMux
}

// New checks cfg and wires the console over deps.
func New(cfg Config, deps Deps) (*Handler, error) {
	if cfg.Jurisdiction == "" {
		cfg.Jurisdiction = workday.CN
	}
	rule, err := workday.RuleFor(cfg.Jurisdiction)
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	secret, err := intake.ParseSubjectSecret(cfg.SubjectKeySecret)
	if err != nil {
		return nil, fmt.Errorf("console: SUBJECT_KEY_SECRET: %w", err)
	}
	switch {
	case deps.Store == nil || deps.SFN == nil:
		return nil, errors.New("console: Store and SFN are required")
	case deps.Principal.ARN == "":
		return nil, errors.New("console: the operator's principal is required")
	case cfg.StateMachineArn == "":
		return nil, errors.New("console: STATE_MACHINE_ARN is required")
	}
	if cfg.AttachmentPrefix == "" {
		cfg.AttachmentPrefix = "attachments/"
	}
	if cfg.DocumentLinkTTL <= 0 {
		cfg.DocumentLinkTTL = 5 * time.Minute
	}
	if cfg.PartnerAttempts <= 0 {
		cfg.PartnerAttempts = 3
	}
	clock := deps.Clock
	if clock == nil {
		clock = time.Now
	}
	wall := deps.WallClock
	if wall == nil {
		wall = time.Now
	}
	logger := deps.Logger
	if logger == nil {
		logger = slog.Default()
	}
	cal := deps.Calendar
	if cal == nil {
		if cal, err = workday.Default(); err != nil {
			return nil, fmt.Errorf("console: %w", err)
		}
	}
	h := &Handler{
		cfg: cfg, rule: rule, store: deps.Store, sfn: deps.SFN, objects: deps.Objects, documents: deps.Documents,
		decider: deps.Operator, holds: deps.Holds, operations: deps.Operations, mail: deps.Mail,
		team: notify.Contact{Email: cfg.PrivacyContact}, principal: deps.Principal, secret: secret,
		cal: cal, clock: clock, wall: wall, logger: logger,
	}
	if h.decider == nil {
		h.decider = operator.New(operator.Deps{Store: deps.Store, SFN: deps.SFN, Clock: clock})
	}
	if h.holds == nil {
		h.holds = legalhold.New(deps.Store)
	}
	h.amender = operator.NewAmender(operator.AmenderDeps{Store: deps.Store, Clock: clock})
	if h.deadline, err = deadline.New(deadline.Config{Jurisdiction: cfg.Jurisdiction}, deadline.Deps{Store: deps.Store, Clock: clock}); err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	starter, err := intake.NewStarter(intake.StarterConfig{StateMachineArn: cfg.StateMachineArn},
		intake.StarterDeps{Store: deps.Store, SFN: deps.SFN, Clock: clock, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	if h.intake, err = intake.New(intake.Config{SubjectSecret: secret, MaxOpenPerSubject: cfg.MaxOpenPerSubject},
		intake.Deps{Store: deps.Store, Starter: starter, Clock: clock, Logger: logger}); err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	h.csrfKey = make([]byte, 32)
	if _, err := rand.Read(h.csrfKey); err != nil {
		return nil, fmt.Errorf("console: csrf key: %w", err)
	}
	h.routes()
	return h, nil
}

// actor is the operator as an audit actor: "operator:<ARN>".
func (h *Handler) actor() string { return h.principal.Actor() }

func (h *Handler) now() time.Time { return h.clock().UTC() }

func (h *Handler) routes() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", h.getQueue)
	mux.HandleFunc("GET /search", h.getSearch)
	mux.HandleFunc("GET /requests/{id}", h.getRequest)
	mux.HandleFunc("GET /mail/{key}", h.getMail)
	mux.HandleFunc("GET /report", h.getReport)
	post := func(pattern string, fn func(w http.ResponseWriter, r *http.Request, l locale)) {
		mux.HandleFunc("POST "+pattern, h.guard(fn))
	}
	post("/requests/{id}/decision", h.postDecision)
	post("/requests/{id}/information", h.postInformation)
	post("/requests/{id}/extension", h.postExtension)
	post("/requests/{id}/clock", h.postClock)
	post("/requests/{id}/identifiers", h.postIdentifiers)
	post("/requests/{id}/partners/{partner}/retry", h.postPartnerRetry)
	post("/requests/{id}/partners/{partner}/settle", h.postPartnerSettle)
	post("/requests/{id}/backups/retry", h.postBackupsRetry)
	post("/requests/{id}/hold", h.postHold)
	post("/requests/{id}/documents/{seq}", h.postDocument)
	post("/mail/{key}/convert", h.postConvert)
	post("/mail/{key}/link", h.postLink)
	post("/mail/{key}/ignore", h.postIgnore)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.message(w, r, pickLocale(r), http.StatusNotFound, "errors.notFound.title", "errors.notFound")
	})
	h.mux = mux
}

// ServeHTTP answers one request: the security headers, the Host check,
// then the route.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header())
	if !loopbackHost(r.Host) {
		// A name that resolves to a loopback address but is not one of
		// ours: a DNS rebinding page reading the console.
		http.Error(w, "console: only loopback host names are served", http.StatusMisdirectedRequest)
		return
	}
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" && r.Header.Get("Sec-Fetch-Mode") != "navigate" {
		// Another site embedding or fetching a console URL (an <img> on
		// the report would make the operator's credentials scan the
		// table): only a person's navigation may come from elsewhere.
		http.Error(w, "console: cross-site requests are refused", http.StatusForbidden)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// loopbackHost reports whether host (with or without a port) names the
// loopback interface: "localhost" or a loopback IP.
func loopbackHost(host string) bool {
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.TrimSuffix(strings.TrimPrefix(name, "["), "]")
	if strings.EqualFold(name, "localhost") {
		return true
	}
	ip := net.ParseIP(name)
	return ip != nil && ip.IsLoopback()
}

// LoopbackAddr checks that addr (host:port) is a loopback address the
// console may listen on: "127.0.0.1:8090", "[::1]:8090", "localhost:8090".
func LoopbackAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("console address %q: want host:port", addr)
	}
	if port == "" {
		return fmt.Errorf("console address %q: no port", addr)
	}
	if host == "" || !loopbackHost(host) {
		return fmt.Errorf("console address %q: the console listens on a loopback address only (127.0.0.1, ::1, localhost)", addr)
	}
	return nil
}
