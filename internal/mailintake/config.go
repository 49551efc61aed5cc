package mailintake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"dsrflow/internal/awsenv"
	"dsrflow/internal/envconfig"
	"dsrflow/internal/intake"
	"dsrflow/internal/lazyinit"
	"dsrflow/internal/notify"
	"dsrflow/internal/notify/mailtransport"
	"dsrflow/internal/secretstore"
	"dsrflow/internal/store"
)

// Config is the intake-mail function's configuration, read from environment
// variables (template.yaml sets them on the function).
type Config struct {
	// TableName is the requests table.
	TableName string `env:"TABLE_NAME,required,notEmpty"`
	// StateMachineArn is the request workflow.
	StateMachineArn string `env:"STATE_MACHINE_ARN,required,notEmpty"`
	// SubjectKeySecretID names the Secrets Manager secret holding the HMAC
	// key of subject keys (shared with intake-web, never rotated). The key
	// is never an environment variable: Lambda reads it at run time through
	// internal/secretstore (cached and refreshed) and builds the handler
	// again when it changed.
	SubjectKeySecretID string `env:"SUBJECT_KEY_SECRET_ID,required,notEmpty"`
	// SecretsDir, when set, reads the secrets from the files of this
	// folder instead of Secrets Manager (the function run by the local
	// stack's tools; never set in template.yaml).
	SecretsDir string `env:"SECRETS_DIR"`
	// SubjectKeySecret is the key's value (WithSecrets reads it; tests set
	// it; intake.ParseSubjectSecret checks it).
	SubjectKeySecret string `env:"-"`
	// MaxOpenPerSubject caps a subject's open requests (0: no cap).
	MaxOpenPerSubject int `env:"MAX_OPEN_PER_SUBJECT" envDefault:"3"`
	// AttachmentPrefix is where attachments go in the mailbox bucket; the
	// bucket's notification must not cover it.
	AttachmentPrefix string `env:"ATTACHMENT_PREFIX" envDefault:"attachments/"`
	// TrustedAuthServIDs are the receiving servers' authserv-ids, comma
	// separated (e.g. "amazonses.com"); empty trusts every
	// Authentication-Results header, the sender's own included, so set it
	// wherever follow-ups and acknowledgements rely on dmarc=pass.
	TrustedAuthServIDs []string `env:"TRUSTED_AUTHSERV_IDS" envSeparator:","`
	// S3UsePathStyle addresses the bucket in the path, for S3-compatible
	// stores that do not serve virtual-hosted buckets (MinIO, emulators).
	S3UsePathStyle bool `env:"S3_USE_PATH_STYLE" envDefault:"false"`

	// MailFrom is the sender address of acknowledgements; empty sends
	// none. MailFromName is its display name.
	MailFrom     string `env:"MAIL_FROM"`
	MailFromName string `env:"MAIL_FROM_NAME" envDefault:"隐私团队 Privacy Team"`
	// PrivacyContact is the address acknowledgements tell people to write
	// to for help (default MAIL_FROM).
	PrivacyContact string `env:"PRIVACY_CONTACT"`
	// AckWindow is how long after an acknowledgement the same mailbox gets
	// no other (a Go duration; 0 sends none).
	AckWindow time.Duration `env:"MAIL_ACK_WINDOW" envDefault:"24h"`
	// OutboxDir, when set, writes acknowledgements as .eml files there
	// instead of sending them (the local stack).
	OutboxDir string `env:"OUTBOX_DIR"`
	// Transport is how email leaves: SES, or the SMTP relay of SMTP_URL
	// (SES_CONFIGURATION_SET, SMTP_URL, SMTP_USERNAME, SMTP_PASSWORD_SECRET_ID).
	notify.Transport
	// MessageBudget limits acknowledgements with the other messages to
	// unproved contacts (notify.BudgetLimits: MESSAGE_BUDGET_*).
	MessageBudget notify.BudgetLimits
}

// LoadConfig reads Config from environ, or from the process environment
// when environ is nil, and checks it.
func LoadConfig(environ map[string]string) (Config, error) {
	cfg, err := envconfig.ParseFrom[Config](environ)
	if err != nil {
		return Config{}, fmt.Errorf("intake-mail config: %w", err)
	}
	if cfg.AttachmentPrefix == "" {
		cfg.AttachmentPrefix = DefaultAttachmentPrefix
	}
	return cfg, cfg.Check()
}

// Check reports configuration mistakes, naming the variable, never a secret.
func (c Config) Check() error {
	var errs []error
	if err := c.MessageBudget.Check(); err != nil {
		errs = append(errs, err)
	}
	if c.SubjectKeySecret != "" {
		if _, err := intake.ParseSubjectSecret(c.SubjectKeySecret); err != nil {
			errs = append(errs, fmt.Errorf("the subject key secret: %w", err))
		}
	}
	if c.MaxOpenPerSubject < 0 {
		errs = append(errs, errors.New("MAX_OPEN_PER_SUBJECT must not be negative"))
	}
	if c.AckWindow < 0 {
		errs = append(errs, errors.New("MAIL_ACK_WINDOW must not be negative"))
	}
	if c.MailFrom != "" {
		if _, err := mail.ParseAddress(c.MailFrom); err != nil {
			errs = append(errs, errors.New("MAIL_FROM must be an email address"))
		}
	}
	if c.PrivacyContact != "" {
		if _, err := mail.ParseAddress(c.PrivacyContact); err != nil {
			errs = append(errs, errors.New("PRIVACY_CONTACT must be an email address"))
		}
	}
	errs = append(errs, c.Transport.Check())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("intake-mail config: %w", err)
	}
	return nil
}

// secretValues are the secrets intake-mail read: the key of the handler
// Lambda builds, which it builds again when one changes.
type secretValues struct {
	subject, smtp string
	// smtpErr: the relay's password could not be read; the mailbox goes
	// on without acknowledgements rather than stop taking mail.
	smtpErr string
}

func (c Config) readSecrets(ctx context.Context, src secretstore.Source) (secretValues, error) {
	subject, err := secretstore.Read(ctx, src, "SUBJECT_KEY_SECRET_ID", c.SubjectKeySecretID, 1)
	if err != nil {
		return secretValues{}, fmt.Errorf("intake-mail config: %w", err)
	}
	v := secretValues{subject: string(subject)}
	if c.acknowledges() {
		t, err := c.Transport.WithPassword(ctx, src)
		if err != nil {
			v.smtpErr = err.Error()
		}
		v.smtp = t.SMTPPassword
	}
	return v, nil
}

// withValues sets the values of the secrets the configuration names;
// values given directly (tests) stay where no secret is named.
func (c Config) withValues(v secretValues) Config {
	if c.SubjectKeySecretID != "" {
		c.SubjectKeySecret = v.subject
	}
	if v.smtp != "" {
		c.Transport.SMTPPassword = v.smtp
	}
	return c
}

// WithSecrets returns the configuration with the values of the secrets it
// names read from src (Secrets Manager; the local stack's folder).
func (c Config) WithSecrets(ctx context.Context, src secretstore.Source) (Config, error) {
	v, err := c.readSecrets(ctx, src)
	if err != nil {
		return c, err
	}
	return c.withValues(v), nil
}

// acknowledges reports whether the configuration sends acknowledgements.
func (c Config) acknowledges() bool { return c.MailFrom != "" && c.AckWindow > 0 }

// Deps are the handler's clients and clock.
type Deps struct {
	Store *store.Store
	S3    ObjectStore
	SFN   intake.ExecutionStarter
	// Email sends acknowledgements when OutboxDir is empty (SES or the SMTP
	// relay); with MAIL_FROM set, one of the two is required.
	Email  notify.EmailSender
	Clock  func() time.Time
	Logger *slog.Logger
}

// New wires a Handler from cfg and deps.
func New(cfg Config, deps Deps) (*Handler, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if deps.Store == nil || deps.S3 == nil || deps.SFN == nil {
		return nil, errors.New("mailintake: Store, S3 and SFN are required")
	}
	secret, err := intake.ParseSubjectSecret(cfg.SubjectKeySecret)
	if err != nil {
		return nil, err
	}
	logger := deps.Logger
	if logger == nil {
		logger = slog.Default()
	}
	clock := deps.Clock
	if clock == nil {
		clock = time.Now
	}
	starter, err := intake.NewStarter(intake.StarterConfig{StateMachineArn: cfg.StateMachineArn},
		intake.StarterDeps{Store: deps.Store, SFN: deps.SFN, Clock: clock, Logger: logger})
	if err != nil {
		return nil, err
	}
	svc, err := intake.New(intake.Config{SubjectSecret: secret, MaxOpenPerSubject: cfg.MaxOpenPerSubject},
		intake.Deps{Store: deps.Store, Starter: starter, Clock: clock, Logger: logger})
	if err != nil {
		return nil, err
	}
	prefix := cfg.AttachmentPrefix
	if prefix == "" {
		prefix = DefaultAttachmentPrefix
	}
	h := &Handler{
		s3: deps.S3, intake: svc, store: deps.Store,
		attachmentPrefix: prefix, trustedAuthServIDs: cfg.TrustedAuthServIDs,
		clock: clock, logger: logger,
	}
	if cfg.acknowledges() {
		if deps.Email == nil && cfg.OutboxDir == "" {
			return nil, errors.New("mailintake: MAIL_FROM is set but there is no email sender (Deps.Email) and no OUTBOX_DIR")
		}
		team := cfg.PrivacyContact
		if team == "" {
			team = cfg.MailFrom
		}
		router := notify.RouterDeps{Email: deps.Email, Clock: clock, Logger: logger}
		if deps.Store != nil {
			router.Budget = deps.Store
		}
		h.sender = notify.NewRouter(notify.RouterConfig{From: cfg.MailFrom, FromName: cfg.MailFromName, OutboxDir: cfg.OutboxDir,
			Budget: cfg.MessageBudget, BudgetKey: []byte(cfg.SubjectKeySecret)}, router)
		h.ackWindow = cfg.AckWindow
		h.ackKey = secret
		h.from = cfg.MailFrom
		h.team = notify.Contact{Email: team}
		for _, a := range []string{cfg.MailFrom, cfg.PrivacyContact} {
			if addr, err := mail.ParseAddress(a); err == nil {
				h.own = append(h.own, addr.Address)
			}
		}
	}
	return h, nil
}

// Lambda returns the function's handler. Every invocation reads the
// secrets through internal/secretstore (cached) and builds the handler
// again when one changed. The AWS clients are built on the
// first invocation, not at start-up (no network or file access during a
// cold start's init phase), with the default configuration chain: region,
// credentials and the standard AWS_ENDPOINT_URL_<SERVICE> variables. If
// building them fails, the invocation fails and the next one tries again
// (internal/lazyinit).
func Lambda(cfg Config, logger *slog.Logger) func(context.Context, events.S3Event) error {
	if logger == nil {
		logger = slog.Default()
	}
	var (
		awsCfg  aws.Config
		secrets secretstore.Source
	)
	// key and build run under the lazy value's lock, one at a time.
	key := func(ctx context.Context) (secretValues, error) {
		if secrets == nil {
			c, err := awsenv.Load(ctx)
			if err != nil {
				return secretValues{}, fmt.Errorf("load AWS configuration: %w", err)
			}
			awsCfg, secrets = c, secretstore.Open(c, cfg.SecretsDir)
		}
		return cfg.readSecrets(ctx, secrets)
	}
	h := lazyinit.NewKeyed(key, func(ctx context.Context, v secretValues) (*Handler, error) {
		cfg := cfg.withValues(v)
		var err error
		deps := Deps{
			Store: store.Open(awsCfg, store.Config{Table: cfg.TableName}, nil),
			S3: s3.NewFromConfig(awsCfg, func(o *s3.Options) {
				o.UsePathStyle = cfg.S3UsePathStyle
				// S3-compatible stores may not return checksums; do not log each skip.
				o.DisableLogOutputChecksumValidationSkipped = true
			}),
			SFN:    sfn.NewFromConfig(awsCfg),
			Logger: logger,
		}
		c := cfg
		if v.smtpErr != "" && c.acknowledges() {
			logger.ErrorContext(ctx, "acknowledgements disabled: no SMTP password", "error", v.smtpErr)
			c.MailFrom = ""
		}
		if c.acknowledges() && c.OutboxDir == "" {
			if deps.Email, err = mailtransport.FromConfig(awsCfg, c.Transport, c.MailFrom); err != nil {
				// No way to send (SES in a China region without SMTP_URL):
				// the mailbox goes on without acknowledgements rather than
				// stop taking mail.
				logger.ErrorContext(ctx, "acknowledgements disabled: no email sender", "error", err.Error())
				c.MailFrom = ""
			}
		}
		return New(c, deps)
	})
	return lazyinit.Action(h, (*Handler).Handle)
}
