// Package devstack runs the whole of dsrflow on one machine, in one process
// tree, with no Docker and no AWS account (`make run`, `dsr local`):
//
//   - DynamoDB: dynalite (npm, pinned in package-lock.json) as a child
//     process, its data under <dir>/dynamodb; the requests table is created
//     from template.yaml (internal/store/tableschema) when missing.
//   - S3: gofakes3 in-process with its afero backend, objects as files under
//     <dir>/s3 (so the mailbox survives a restart); the mailbox bucket is
//     created when missing.
//   - Step Functions: the local engine (internal/dev/asl) behind the Step
//     Functions API (internal/dev/sfnapi), running statemachines/dsr.asl.json with
//     the definition substitutions resolved to the in-process handlers.
//   - Every Lambda handler in-process, configured the way Lambda configures
//     it: each function's environment variables, parsed by its own config
//     struct, with the AWS SDK pointed at the local endpoints.
//   - The HTTP API on 127.0.0.1 (the privacy center, intake-web).
//   - Simulated partners (internal/dev/partnersim) modelled on
//     config/partners.example.json, with configurable latency, failure rate
//     and sync/async mode; the configuration, rewritten to their URLs, is
//     written to <dir>/partners.json.
//   - A mail drop folder (<dir>/maildrop): a dropped .eml is put into the
//     mailbox bucket under inbox/ and handed to intake-mail in the S3 event S3
//     would send; the file then moves to maildrop/processed/.
//   - An outbox (<dir>/outbox): every message the system sends, as .eml.
//   - A virtual clock per workflow execution (Clock): while the execution
//     waits for time alone (a Wait state, a retry delay, a pending
//     timeout), one day of its time per second by default; at real speed
//     while a task handler runs and while someone else is awaited (a
//     person, a partner's callback; for at most HumanHold per task).
//     Everything outside an execution (intake, partner callbacks, the
//     reconciler, the dsr commands) runs on the wall clock, so one
//     request's weeks-long waits move only that request's dates.
//   - The reconciler (internal/reconcile), once at start and then every few
//     seconds.
//
// Secrets (subject keys, status tokens, verification codes, partner signing
// keys) are generated once and kept in <dir>/secrets.env; the functions read
// them as they read Secrets Manager in AWS, from the copies under
// <dir>/secrets (secretstore.Dir).
//
// # Restarts
//
// The engine keeps executions in memory, so a restart does not resume them:
// the reconciler's first pass finds every open request whose execution the
// fresh engine does not know and starts it again under the same name. The
// task handlers are idempotent and work from the request's stored status, so
// the request continues; a request whose step cannot be repeated ends up
// "stuck" and is reported by the reconciler. A new execution's clock starts
// at the wall clock, or at the request's last update when that lies ahead
// (a request whose earlier execution ran weeks ahead), so a request's own
// dates never run backwards.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dynamotypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"dsrflow/internal/anchor"
	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dev/oidcsim"
	"dsrflow/internal/principal"
	"dsrflow/internal/reconcile"
	"dsrflow/internal/store"
	"dsrflow/internal/store/tableschema"
	"dsrflow/internal/workflow"
)

// Names of the local resources.
const (
	Region           = "us-east-1"
	Account          = "000000000000"
	TableName        = "dsrflow-requests"
	MailboxBucket    = "dsrflow-mailbox"
	ExportsBucket    = "dsrflow-export"
	InboxPrefix      = "inbox/"
	StateMachineName = "dsrflow-requests"
	AccessKeyID      = "local"
	SecretAccessKey  = "local"
	// LocalPrincipal is the operator the dsr commands act as locally.
	LocalPrincipal = "local-operator"
	// DefaultClockScale is one day of workflow time per real second.
	DefaultClockScale = 86400
)

// Options configure a Stack. Addresses are host:port on 127.0.0.1; port 0
// picks a free port.
type Options struct {
	// Dir holds everything the stack keeps: data, mail drop, outbox, secrets.
	Dir string
	// Root is the repository root (template.yaml, statemachines/, config/,
	// node_modules/); default: found from the working directory.
	Root string

	HTTPAddr     string // the privacy center and the HTTP API (default 127.0.0.1:8080)
	DynamoDBAddr string // dynalite (default 127.0.0.1:8000)
	S3Addr       string // the S3 emulator (default 127.0.0.1:9000)
	SFNAddr      string // the Step Functions API (default 127.0.0.1:8083)
	PartnersAddr string // the simulated partners (default 127.0.0.1:8084)
	ConsoleAddr  string // the privacy team's console (default 127.0.0.1:8090)

	// ClockScale is how much faster than real time an execution's clock
	// runs while the execution waits for time (default DefaultClockScale).
	ClockScale float64
	// HumanHold: while a workflow waits for someone (a task token is open:
	// a verification code, an operator's decision, a partner's callback),
	// its clock runs at real speed, for at most this long per task
	// (default DefaultHumanHold; negative: never).
	HumanHold time.Duration
	Partners  PartnerOptions
	// ReconcileEvery is the reconciler's period in real time (default 5 s).
	ReconcileEvery time.Duration
	// MailPoll is the mail drop's polling period (default 500 ms).
	MailPoll time.Duration
	// Logger receives every component's logs (default: discarded).
	Logger *slog.Logger
	// WrapHandler, if set, wraps each task function's handler (fault
	// injection: Crasher.Wrap).
	WrapHandler func(function string, h lambda.Handler) lambda.Handler
}

func (o *Options) defaults() error {
	if o.Dir == "" {
		o.Dir = ".local"
	}
	abs, err := filepath.Abs(o.Dir)
	if err != nil {
		return err
	}
	o.Dir = abs
	if o.Root == "" {
		if o.Root, err = dynamotest.RepoRoot(); err != nil {
			return err
		}
	}
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&o.HTTPAddr, "127.0.0.1:8080")
	def(&o.DynamoDBAddr, "127.0.0.1:8000")
	def(&o.S3Addr, "127.0.0.1:9000")
	def(&o.SFNAddr, "127.0.0.1:8083")
	def(&o.PartnersAddr, "127.0.0.1:8084")
	def(&o.ConsoleAddr, "127.0.0.1:8090")
	if o.ClockScale == 0 {
		o.ClockScale = DefaultClockScale
	}
	if o.ClockScale < 1 {
		return fmt.Errorf("clock scale %v: must be at least 1", o.ClockScale)
	}
	if o.HumanHold == 0 {
		o.HumanHold = DefaultHumanHold
	}
	if o.ReconcileEvery == 0 {
		o.ReconcileEvery = 5 * time.Second
	}
	if o.MailPoll == 0 {
		o.MailPoll = 500 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o.Partners.check()
}

// Stack is the running local system. It runs on the wall clock; each
// workflow execution on a clock of its own (see executions).
type Stack struct {
	opts Options

	// URLs of the services.
	HTTPURL, DynamoDBURL, S3URL, SFNURL, PartnersURL, ConsoleURL string
	StateMachineArn                                              string
	// Folders.
	DataDir, MailDrop, Outbox string
	// KeyDir holds the local certificate signing key (the dsr command's
	// default --key-dir).
	KeyDir string
	// AnchorDir holds the audit anchors (`dsr audit verify --dir`).
	AnchorDir string
	// OIDCDir holds the simulated app provider's signing key.
	OIDCDir string

	DynamoDB   *dynamodb.Client
	SFN        *sfn.Client
	S3         *s3.Client
	Store      *store.Store
	Workflow   *workflow.Handlers
	Reconciler *reconcile.Reconciler
	// Anchors writes the audit anchors: as requests close, and on every
	// reconciler pass (daily in AWS).
	Anchors *anchor.Anchorer
	// OIDC is the simulated app's OpenID Connect provider (served under
	// /oidc on the HTTP API's address): `dsr local token` mints its ID
	// tokens, intake-web verifies them.
	OIDC     *oidcsim.Provider
	Partners *Partners
	// Routes are the HTTP API's route keys, from template.yaml.
	Routes []string
	// Unserved lists the state machine's function substitutions that have
	// no local handler (a task there fails).
	Unserved []string
	// MailHandler is intake-mail's handler (the mail drop calls it).
	MailHandler func(context.Context, events.S3Event) error

	log *slog.Logger
	// executions holds each running execution's clock and task handlers.
	executions *executions
	// statusSecret makes status tokens for the load run's code entry.
	statusSecret []byte
	dynalite     *dynamotest.Emulator
	servers      []*http.Server
	cancel       context.CancelFunc
	wg           sync.WaitGroup
	failed       chan error
	once         sync.Once
}

// Start starts every component and returns when all are ready. The stack
// runs until Close (or until ctx ends, then Close must still be called).
func Start(ctx context.Context, opts Options) (_ *Stack, err error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s := &Stack{opts: opts, log: opts.Logger, cancel: cancel, failed: make(chan error, 8), DataDir: opts.Dir,
		MailDrop: filepath.Join(opts.Dir, "maildrop"), Outbox: filepath.Join(opts.Dir, "outbox"), KeyDir: filepath.Join(opts.Dir, "keys"), AnchorDir: filepath.Join(opts.Dir, "anchors"), OIDCDir: filepath.Join(opts.Dir, "oidc")}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()
	for _, d := range []string{opts.Dir, filepath.Join(opts.Dir, "dynamodb"), filepath.Join(opts.Dir, "s3"), s.MailDrop, filepath.Join(s.MailDrop, "processed"), s.Outbox} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
	}
	// Listeners first: every URL is known before anything is configured.
	httpL, err := listen("HTTP API", opts.HTTPAddr, "--http")
	if err != nil {
		return nil, err
	}
	sfnL, err := listen("Step Functions API", opts.SFNAddr, "--sfn")
	if err != nil {
		httpL.Close()
		return nil, err
	}
	s3L, err := listen("S3 emulator", opts.S3Addr, "--s3")
	if err != nil {
		httpL.Close()
		sfnL.Close()
		return nil, err
	}
	partnersL, err := listen("simulated partners", opts.PartnersAddr, "--partners")
	if err != nil {
		httpL.Close()
		sfnL.Close()
		s3L.Close()
		return nil, err
	}
	consoleL, err := listen("console", opts.ConsoleAddr, "--console")
	if err != nil {
		for _, l := range []net.Listener{httpL, sfnL, s3L, partnersL} {
			l.Close()
		}
		return nil, err
	}
	s.HTTPURL, s.SFNURL, s.S3URL, s.PartnersURL, s.ConsoleURL = urlOf(httpL), urlOf(sfnL), urlOf(s3L), urlOf(partnersL), urlOf(consoleL)

	if err := s.startDynamoDB(ctx); err != nil {
		for _, l := range []net.Listener{httpL, sfnL, s3L, partnersL, consoleL} {
			l.Close()
		}
		return nil, err
	}
	creds := credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, "")
	s.DynamoDB = dynamodb.New(dynamodb.Options{Region: Region, BaseEndpoint: aws.String(s.DynamoDBURL), Credentials: creds})
	s.SFN = sfn.New(sfn.Options{Region: Region, BaseEndpoint: aws.String(s.SFNURL), Credentials: creds})
	s.S3 = s3.New(s3.Options{Region: Region, BaseEndpoint: aws.String(s.S3URL), Credentials: creds, UsePathStyle: true,
		DisableLogOutputChecksumValidationSkipped: true})
	s.Store = store.New(store.Config{Table: TableName}, store.Deps{DB: s.DynamoDB, Clock: time.Now})

	s3h, err := newS3(filepath.Join(opts.Dir, "s3"))
	if err != nil {
		return nil, err
	}
	s.serve("S3 emulator", s3L, s3h)
	if err := s.ensureBucket(ctx, MailboxBucket); err != nil {
		return nil, err
	}

	partnerSecrets, err := partnerSecretNames(opts.Root)
	if err != nil {
		return nil, err
	}
	secrets, err := loadSecrets(filepath.Join(opts.Dir, "secrets.env"), append(append([]string{}, baseSecrets...), partnerSecrets...))
	if err != nil {
		return nil, err
	}
	if err := writeSecretFiles(filepath.Join(opts.Dir, secretsDir), secrets, partnerSecrets); err != nil {
		return nil, err
	}
	partners, err := newPartners(opts.Root, opts.Dir, s.PartnersURL, opts.Partners, secrets)
	if err != nil {
		return nil, err
	}
	s.Partners = partners

	if s.OIDC, err = oidcsim.New(oidcsim.Config{Dir: s.OIDCDir, Issuer: s.HTTPURL + "/oidc"}, oidcsim.Deps{}); err != nil {
		return nil, err
	}
	// Minting once makes the signing key now (it is made on first use), so
	// that `dsr local token` finds the key the stack serves.
	if _, err := s.OIDC.Mint("local-stack", time.Minute); err != nil {
		return nil, fmt.Errorf("simulated app provider: %w", err)
	}
	fns, err := s.wire(ctx, secrets)
	if err != nil {
		partnersL.Close()
		consoleL.Close()
		return nil, err
	}
	ch, err := s.console(secrets)
	if err != nil {
		partnersL.Close()
		consoleL.Close()
		return nil, err
	}
	s.serve("console", consoleL, ch)
	// Served once wired: the partners' business clocks follow the executions.
	s.serve("simulated partners", partnersL, partners.Fleet)
	s.serve("Step Functions API", sfnL, fns.sfnHandler)
	s.serve("HTTP API", httpL, fns.httpHandler)

	s.MailHandler = fns.mail
	s.goRun(func() { s.watchMailDrop(runCtx) })
	s.goRun(func() { s.reconcileLoop(runCtx) })
	return s, nil
}

func listen(what, addr, flag string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w (pass %s 127.0.0.1:0 to pick a free port)", what, addr, err, flag)
	}
	return l, nil
}

func urlOf(l net.Listener) string { return "http://" + l.Addr().String() }

func (s *Stack) goRun(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

// serve runs an HTTP server on l until Close.
func (s *Stack) serve(what string, l net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	s.servers = append(s.servers, srv)
	s.goRun(func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.fail(fmt.Errorf("%s: %w", what, err))
		}
	})
}

func (s *Stack) fail(err error) {
	select {
	case s.failed <- err:
	default:
	}
}

// Failed delivers an error when a component stops on its own (dynalite
// exits, a server fails).
func (s *Stack) Failed() <-chan error { return s.failed }

func (s *Stack) startDynamoDB(ctx context.Context) error {
	_, portText, err := net.SplitHostPort(s.opts.DynamoDBAddr)
	if err != nil {
		return fmt.Errorf("--dynamodb %s: %w", s.opts.DynamoDBAddr, err)
	}
	port := 0
	if _, err := fmt.Sscan(portText, &port); err != nil {
		return fmt.Errorf("--dynamodb %s: bad port", s.opts.DynamoDBAddr)
	}
	if port != 0 {
		// dynalite reports a busy port only as a crash: check first.
		l, err := listen("DynamoDB (dynalite)", s.opts.DynamoDBAddr, "--dynamodb")
		if err != nil {
			return err
		}
		l.Close()
	}
	emu, err := dynamotest.StartServer(ctx, dynamotest.ServerOptions{Root: s.opts.Root, Port: port, Path: filepath.Join(s.opts.Dir, "dynamodb")})
	if err != nil {
		return err
	}
	s.dynalite = emu
	s.DynamoDBURL = emu.Endpoint
	s.goRun(func() {
		<-emu.Done()
		s.fail(errors.New("dynalite exited"))
	})
	return s.ensureTable(ctx, emu.Client())
}

func (s *Stack) ensureTable(ctx context.Context, db *dynamodb.Client) error {
	_, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(TableName)})
	var missing *dynamotypes.ResourceNotFoundException
	if err == nil {
		return nil
	}
	if !errors.As(err, &missing) {
		return fmt.Errorf("describe table %s: %w", TableName, err)
	}
	schema, err := tableschema.Load(filepath.Join(s.opts.Root, "template.yaml"), tableschema.RequestsTable)
	if err != nil {
		return err
	}
	in, err := schema.CreateTableInput(TableName)
	if err != nil {
		return err
	}
	if _, err := db.CreateTable(ctx, in); err != nil {
		return fmt.Errorf("create table %s: %w", TableName, err)
	}
	w := dynamodb.NewTableExistsWaiter(db, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 200*time.Millisecond
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(TableName)}, 30*time.Second); err != nil {
		return fmt.Errorf("wait for table %s: %w", TableName, err)
	}
	return nil
}

// Close stops everything: the HTTP servers (letting requests in flight
// finish for up to 5 s, then cutting them off), the mail drop, the
// reconciler, the executions' clocks and dynalite. It is safe to call more
// than once.
func (s *Stack) Close() error {
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, srv := range s.servers {
			if err := srv.Shutdown(ctx); err != nil {
				// Requests still running after the grace period, or a
				// connection accepted just before the listener closed
				// (http.Server waits up to 5 s for its first request),
				// are cut off rather than holding the stack open.
				s.log.Warn("closing connections still open at shutdown", "error", err.Error())
				_ = srv.Close()
			}
		}
		s.cancel()
		if s.Partners != nil {
			s.Partners.wait()
		}
		if s.dynalite != nil {
			s.dynalite.Stop()
		}
		s.wg.Wait()
		if s.executions != nil {
			s.executions.close()
		}
	})
	return nil
}

// executionStart is where the clock of a new execution for request id
// starts: the wall clock, or the request's last update if that lies ahead
// (written by an earlier execution of the request on its own clock).
func (s *Stack) executionStart(id string) time.Time {
	now := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	r, err := s.Store.GetRequest(ctx, id)
	if err != nil {
		// A new request is stored before its execution starts; without
		// it (or without DynamoDB), the wall clock.
		return now
	}
	if r.UpdatedAt.After(now) {
		return r.UpdatedAt
	}
	return now
}

func (s *Stack) reconcileLoop(ctx context.Context) {
	t := time.NewTicker(s.opts.ReconcileEvery)
	defer t.Stop()
	for {
		if _, err := s.Reconciler.Run(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("reconcile", "error", err.Error())
		}
		if _, err := s.Anchors.Anchor(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("anchor audit chains", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Env is the environment for the aws CLI and dsr against the stack, in
// banner order.
func (s *Stack) Env() [][2]string {
	return [][2]string{
		{"AWS_ENDPOINT_URL_DYNAMODB", s.DynamoDBURL},
		{"AWS_ENDPOINT_URL_SFN", s.SFNURL},
		{"AWS_ENDPOINT_URL_S3", s.S3URL},
		{"AWS_ACCESS_KEY_ID", AccessKeyID},
		{"AWS_SECRET_ACCESS_KEY", SecretAccessKey},
		{"AWS_REGION", Region},
		{"AWS_DEFAULT_REGION", Region}, // the aws CLI reads this one
		{"DSR_TABLE", TableName},
		{"DSR_STATE_MACHINE_ARN", s.StateMachineArn},
		{"STATE_MACHINE_ARN", s.StateMachineArn}, // dsr console reads it
		{"DSR_MAILBOX_BUCKET", MailboxBucket},
		// Who the dsr commands record as the actor (principal.Resolve:
		// honoured only while every endpoint is local).
		{principal.LocalVariable, LocalPrincipal},
		{"ANCHOR_DIR", s.AnchorDir},
		// Where `dsr local token` finds the simulated app provider.
		{"DSR_OIDC_ISSUER", s.OIDC.Issuer()},
		{"DSR_OIDC_DIR", s.OIDCDir},
		// The secrets, as the dsr commands read them (dsr hold, dsr retry):
		// the stack's copies of the template's Secrets Manager secrets.
		{"SECRETS_DIR", filepath.Join(s.DataDir, secretsDir)},
		{"SUBJECT_KEY_SECRET_ID", subjectKeySecretFile},
		{"PARTNER_SECRETS_ID", partnerSecretsFile},
	}
}

// WriteEnvFile writes Env as KEY=VALUE lines (<dir>/env, read by `make invoke`).
func (s *Stack) WriteEnvFile() error {
	var b strings.Builder
	for _, kv := range s.Env() {
		fmt.Fprintf(&b, "%s=%s\n", kv[0], kv[1])
	}
	return os.WriteFile(filepath.Join(s.DataDir, "env"), []byte(b.String()), 0o644)
}

// WriteBanner prints every URL, folder and the environment exports.
func (s *Stack) WriteBanner(w io.Writer) {
	rel := func(p string) string {
		if wd, err := os.Getwd(); err == nil {
			if r, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(r, "..") {
				return r
			}
		}
		return p
	}
	fmt.Fprintf(w, "dsrflow local stack is running (each request's workflow on a clock of its own: %s per second while it waits for time,\nreal time while a person or a partner is awaited, for up to %s; everything else on the wall clock)\n\n", scaleText(s.opts.ClockScale), s.opts.HumanHold)
	fmt.Fprintf(w, "  privacy center (form)   %s/\n", s.HTTPURL)
	fmt.Fprintf(w, "  console (operators)     %s/  as %s\n", s.ConsoleURL, "local:"+LocalPrincipal)
	fmt.Fprintf(w, "  HTTP API                %s  %s\n", s.HTTPURL, strings.Join(s.Routes, ", "))
	fmt.Fprintf(w, "  DynamoDB (dynalite)     %s  table %s\n", s.DynamoDBURL, TableName)
	fmt.Fprintf(w, "  S3 (gofakes3)           %s  bucket %s, mail under %s\n", s.S3URL, MailboxBucket, InboxPrefix)
	fmt.Fprintf(w, "  Step Functions API      %s  %s\n", s.SFNURL, s.StateMachineArn)
	for _, p := range s.Partners.List() {
		fmt.Fprintf(w, "  partner %-17s %s  (%s)\n", p.ID, p.Endpoint, p.Desc)
	}
	if len(s.Unserved) > 0 {
		fmt.Fprintf(w, "  WARNING: no local handler for %s: those tasks fail\n", strings.Join(s.Unserved, ", "))
	}
	folders := [][2]string{
		{rel(s.MailDrop) + "/", "drop an .eml here: it arrives as mail to the privacy mailbox"},
		{rel(s.Outbox) + "/", "every message the system sends, as .eml"},
		{rel(s.Partners.RecordsDir) + "/", "what each simulated partner holds about the people of " + PeopleFile},
		{rel(s.KeyDir) + "/", "the certificate signing key (dsr certificate public-key)"},
		{rel(s.AnchorDir) + "/", "audit anchors, written as requests close (dsr audit verify)"},
		{rel(s.DataDir) + "/", "DynamoDB, S3, secrets, partners.json, stack.log (the logs)"},
	}
	width := 0
	for _, f := range folders {
		width = max(width, len(f[0]))
	}
	fmt.Fprintln(w)
	for i, label := range []string{"mail drop", "outbox", "partners", "keys", "anchors", "data"} {
		fmt.Fprintf(w, "  %-10s %-*s  %s\n", label, width, folders[i][0], folders[i][1])
	}
	fmt.Fprintf(w, "\nFor the aws CLI and dsr (also in %s):\n\n", rel(filepath.Join(s.DataDir, "env")))
	for _, kv := range s.Env() {
		fmt.Fprintf(w, "  export %s=%s\n", kv[0], kv[1])
	}
	fmt.Fprintf(w, "\nTry it: submit the form at %s/, enter the code from the newest *-verification_code-*.eml in %s/,\n", s.HTTPURL, rel(s.Outbox))
	fmt.Fprintf(w, "then, with the exports above, `go run ./cmd/dsr show <request ID>` (README.md: Running locally).\n")
	fmt.Fprintf(w, "\nCtrl-C stops everything.\n")
}

func scaleText(f float64) string {
	d := time.Duration(f * float64(time.Second))
	switch {
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%d day(s)", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%d hour(s)", d/time.Hour)
	default:
		return d.String()
	}
}
