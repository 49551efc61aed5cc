package workflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"dsrflow/internal/anchor"
	"dsrflow/internal/awsenv"
	"dsrflow/internal/dsr"
	"dsrflow/internal/envconfig"
	"dsrflow/internal/lazyinit"
	"dsrflow/internal/legalhold"
	"dsrflow/internal/notify"
	"dsrflow/internal/operator"
	"dsrflow/internal/partner"
	"dsrflow/internal/partner/export"
	"dsrflow/internal/secretstore"
	"dsrflow/internal/store"
	"dsrflow/internal/verification"
)

// Config is the task functions' configuration, read from the environment
// (template.yaml sets these variables; the local stack sets them too).
type Config struct {
	TableName string `env:"TABLE_NAME,required,notEmpty"`

	// Secrets are never environment variables: the environment names
	// Secrets Manager secrets (template.yaml creates them), read at run
	// time through internal/secretstore, cached and refreshed, so a
	// changed value reaches the handlers without a redeploy (FromEnv
	// builds them again). Each function is given, and may read, only the
	// secrets it uses.

	// CodeSecretID names the verification code secret, a JSON object
	// {"current": ..., "previous": ...} (verification.ReadCodeSecret):
	// verify-identity, which issues codes.
	CodeSecretID string `env:"VERIFICATION_CODE_SECRET_ID"`
	// SubjectKeySecretID names the subject key secret (the HMAC key of
	// identifiers, shared with the intake functions; it never rotates):
	// review adds the verified identity's subject keys, and the functions
	// that write to requesters key the message budget's mailboxes with it.
	SubjectKeySecretID string `env:"SUBJECT_KEY_SECRET_ID"`
	// StatusTokenSecretID names intake-web's status token secret: with it,
	// code messages link to the verification page with the requester's
	// status token.
	StatusTokenSecretID string `env:"STATUS_TOKEN_SECRET_ID"`
	// PartnerSecretsID names the partners' signing secrets, a JSON object
	// the configuration's secretsmanager:#KEY references name keys of.
	PartnerSecretsID string `env:"PARTNER_SECRETS_ID"`
	// SecretsDir, when set, reads the secrets from the files of this
	// folder instead of Secrets Manager (a function run by the local
	// stack's tools; never set in template.yaml).
	SecretsDir string `env:"SECRETS_DIR"`

	// The secrets' values (WithSecrets reads them; tests set them).

	// CodeSecret keys the verification code hashes (at least 32 bytes);
	// PreviousCodeSecret, after a rotation, still checks codes issued
	// before it. Empty: this function issues and checks no codes.
	CodeSecret         string `env:"-"`
	PreviousCodeSecret string `env:"-"`
	// SubjectKeySecret keys the subject keys (HMAC of identifiers) and the
	// message budget's mailbox keys.
	SubjectKeySecret string `env:"-"`
	// StatusTokenSecret: with it, code messages link to the verification
	// page.
	StatusTokenSecret string `env:"-"`
	// PublicBaseURL is the privacy center ("https://privacy.example.cn").
	PublicBaseURL string `env:"PUBLIC_BASE_URL"`
	// OutboxDir, when set, writes every message as an .eml file there
	// instead of sending it (the local stack).
	OutboxDir string `env:"OUTBOX_DIR"`
	// MailFrom is the sender address; MailFromName its display name.
	MailFrom     string `env:"MAIL_FROM,required,notEmpty"`
	MailFromName string `env:"MAIL_FROM_NAME" envDefault:"隐私团队 Privacy Team"`
	// PrivacyContact is the address messages tell requesters to write to
	// (default MAIL_FROM).
	PrivacyContact string `env:"PRIVACY_CONTACT"`
	// Transport is how email leaves: SES, or the SMTP relay of SMTP_URL
	// (SES_CONFIGURATION_SET, SMTP_URL, SMTP_USERNAME, SMTP_PASSWORD_SECRET_ID).
	notify.Transport
	// MessageBudget limits the messages to contacts not yet proved
	// (MESSAGE_BUDGET_PER_MAILBOX, MESSAGE_BUDGET_MAILBOX_WINDOW,
	// MESSAGE_BUDGET_GLOBAL, MESSAGE_BUDGET_GLOBAL_WINDOW; notify.BudgetLimits).
	MessageBudget notify.BudgetLimits
	// RepeatLimit: requests of one subject in 12 months answered without
	// manual review (policy 五.5).
	RepeatLimit int `env:"REPEAT_LIMIT" envDefault:"3"`
	// BackupRotation: how long our own backups that may hold the data (the
	// request table's point-in-time recovery: 35 days) take to rotate out.
	BackupRotation time.Duration `env:"BACKUP_ROTATION" envDefault:"840h"`
	// ContactRetention is how long a request's personal data (contact,
	// typed identifiers, documents) is kept after it closes, for
	// follow-up questions; then the workflow purges it.
	ContactRetention time.Duration `env:"CONTACT_RETENTION" envDefault:"720h"`
	// PartnersConfig is the path of the partner configuration (JSON,
	// config/partners.example.json), bundled with the function.
	PartnersConfig string `env:"PARTNERS_CONFIG"`
	// PartnerTryTimeout bounds one call to a partner.
	PartnerTryTimeout time.Duration `env:"PARTNER_TRY_TIMEOUT" envDefault:"10s"`
	// Export storage for access and portability packages: the bucket, its
	// server-side encryption (aws:kms or AES256), the KMS key, and how long
	// the link in the reply works. Empty bucket: no export packages.
	ExportBucket   string        `env:"EXPORT_BUCKET"`
	ExportSSE      string        `env:"EXPORT_SSE" envDefault:"aws:kms"`
	ExportKMSKeyID string        `env:"EXPORT_KMS_KEY_ID"`
	ExportLinkTTL  time.Duration `env:"EXPORT_LINK_TTL" envDefault:"72h"`
	// RetentionJSON replaces the shipped retention exceptions (see
	// ParseRetention).
	RetentionJSON string `env:"RETENTION_JSON"`
	// The deletion certificates' signing key (close): a KMS key's ARN in
	// AWS, or the local stack's key folder; neither: certificates are
	// issued unsigned.
	SigningKeyID  string `env:"CERT_SIGNING_KEY_ID"`
	SigningKeyDir string `env:"CERT_SIGNING_KEY_DIR"`
	// AnchorBucket is the audit anchors' Object Lock bucket (close anchors
	// a request's chain as it closes); empty: the daily anchor does.
	AnchorBucket string `env:"ANCHOR_BUCKET"`
}

// ConfigFromEnv reads and checks the configuration.
func ConfigFromEnv() (Config, error) {
	c, err := envconfig.Parse[Config]()
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return c, c.Check()
}

// Check reports configuration mistakes, naming the variable, never a secret.
func (c Config) Check() error {
	var errs []error
	errs = append(errs, c.Transport.Check(), c.MessageBudget.Check())
	// The values, where read (WithSecrets) or given.
	if c.CodeSecret != "" || c.PreviousCodeSecret != "" {
		errs = append(errs, envconfig.CheckSecret("the verification code secret", c.CodeSecret, verification.MinSecretLen))
	}
	if c.PreviousCodeSecret != "" {
		errs = append(errs, envconfig.CheckSecret("the previous verification code secret", c.PreviousCodeSecret, verification.MinSecretLen))
	}
	if c.SubjectKeySecret != "" {
		errs = append(errs, envconfig.CheckSecret("the subject key secret", c.SubjectKeySecret, dsr.MinSubjectSecretLen))
	}
	if c.SigningKeyID != "" && c.SigningKeyDir != "" {
		errs = append(errs, errors.New("CERT_SIGNING_KEY_ID and CERT_SIGNING_KEY_DIR are both set: name one key"))
	}
	if c.StatusTokenSecret != "" {
		errs = append(errs, envconfig.CheckSecret("the status token secret", c.StatusTokenSecret, 32))
	}
	if c.PublicBaseURL != "" {
		errs = append(errs, envconfig.CheckBaseURL("PUBLIC_BASE_URL", c.PublicBaseURL))
	}
	if c.RepeatLimit < 1 {
		errs = append(errs, errors.New("REPEAT_LIMIT must be at least 1"))
	}
	if c.BackupRotation <= 0 {
		errs = append(errs, errors.New("BACKUP_ROTATION must be positive"))
	}
	if c.ContactRetention <= 0 || c.ContactRetention > 365*24*time.Hour {
		errs = append(errs, errors.New("CONTACT_RETENTION must be positive and at most 8760h"))
	}
	if c.ExportBucket != "" {
		if c.ExportSSE != export.SSEKMS && c.ExportSSE != export.SSES3 {
			errs = append(errs, fmt.Errorf("EXPORT_SSE must be %s or %s", export.SSEKMS, export.SSES3))
		}
		if c.ExportLinkTTL <= 0 || c.ExportLinkTTL > export.MaxLinkTTL {
			errs = append(errs, fmt.Errorf("EXPORT_LINK_TTL must be positive and at most %s", export.MaxLinkTTL))
		}
	}
	if c.RetentionJSON != "" {
		if _, err := ParseRetention([]byte(c.RetentionJSON)); err != nil {
			errs = append(errs, fmt.Errorf("RETENTION_JSON: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// secretValues are the secrets a task function read: the key of the
// handlers FromEnv builds, which it builds again when one changes.
type secretValues struct {
	code, previousCode, subject, status, smtp string
}

// readSecrets reads the secrets the configuration names from src.
func (c Config) readSecrets(ctx context.Context, src secretstore.Source) (secretValues, error) {
	var v secretValues
	code, prev, err := verification.ReadCodeSecret(ctx, src, c.CodeSecretID)
	if err != nil {
		return v, fmt.Errorf("config: VERIFICATION_CODE_SECRET_ID: %w", err)
	}
	v.code, v.previousCode = string(code), string(prev)
	subject, err := secretstore.Read(ctx, src, "SUBJECT_KEY_SECRET_ID", c.SubjectKeySecretID, dsr.MinSubjectSecretLen)
	if err != nil {
		return v, fmt.Errorf("config: %w", err)
	}
	status, err := secretstore.Read(ctx, src, "STATUS_TOKEN_SECRET_ID", c.StatusTokenSecretID, 32)
	if err != nil {
		return v, fmt.Errorf("config: %w", err)
	}
	t, err := c.Transport.WithPassword(ctx, src)
	if err != nil {
		return v, fmt.Errorf("config: %w", err)
	}
	v.subject, v.status, v.smtp = string(subject), string(status), t.SMTPPassword
	return v, nil
}

// withValues sets the values of the secrets the configuration names;
// values given directly (tests) stay where no secret is named.
func (c Config) withValues(v secretValues) Config {
	if c.CodeSecretID != "" {
		c.CodeSecret, c.PreviousCodeSecret = v.code, v.previousCode
	}
	if c.SubjectKeySecretID != "" {
		c.SubjectKeySecret = v.subject
	}
	if c.StatusTokenSecretID != "" {
		c.StatusTokenSecret = v.status
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

// Deps are the clients and clock the handlers are built on.
type Deps struct {
	Store *store.Store
	SFN   SFN
	// Email sends email when Config.OutboxDir is empty (SES or the SMTP
	// relay); nil for the functions that send none.
	Email notify.EmailSender
	// SMS is the SMS provider; nil: the outbox locally, else requesters
	// with a phone only are verified by hand.
	SMS notify.SMSSender
	// Exports is the export bucket named by Config.ExportBucket; nil for
	// the functions that neither keep nor link exports.
	Exports export.Objects
	// ExportPage writes export.html for the reply's export package.
	ExportPage export.PageRenderer
	// Documents deletes documents at the purge; nil: none are deleted.
	Documents DocumentStore
	// Signer signs deletion certificates; nil: issued unsigned.
	Signer Signer
	// Anchors anchors a request's audit chain as it closes; nil: the daily
	// anchor does.
	Anchors ChainAnchor
	// Secrets resolves the partners' secret references; nil: env:
	// references from the process environment and secretsmanager:
	// references through SecretStore.
	Secrets partner.SecretSource
	// SecretStore reads the secretsmanager: references of the partner
	// configuration (FromEnv: Secrets Manager, or SECRETS_DIR); used when
	// Secrets is nil.
	SecretStore partner.SecretGetter
	// PartnerClient calls the partners; nil: a client with
	// Config.PartnerTryTimeout.
	PartnerClient *partner.Client
	// Partners is the partner configuration; nil: read from
	// Config.PartnersConfig.
	Partners *partner.Config
	Clock    func() time.Time
	Logger   *slog.Logger
}

// New wires the handlers from configuration and clients.
func New(c Config, d Deps) (*Handlers, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	if d.Store == nil || d.SFN == nil {
		return nil, errors.New("workflow: Store and SFN are required")
	}
	clock := d.Clock
	if clock == nil {
		clock = time.Now
	}
	logger := d.Logger
	if logger == nil {
		logger = slog.Default()
	}
	policy := DefaultPolicy()
	policy.RepeatLimit, policy.BackupRotation, policy.ContactRetention = c.RepeatLimit, c.BackupRotation, c.ContactRetention
	if c.RetentionJSON != "" {
		r, err := ParseRetention([]byte(c.RetentionJSON))
		if err != nil {
			return nil, err
		}
		policy.Retention = r
	}
	router := notify.NewRouter(notify.RouterConfig{From: c.MailFrom, FromName: c.MailFromName, OutboxDir: c.OutboxDir,
		Budget: c.MessageBudget, BudgetKey: []byte(c.SubjectKeySecret)},
		notify.RouterDeps{Email: d.Email, SMS: d.SMS, Budget: d.Store, Clock: clock, Logger: logger})
	team := notify.Contact{Email: c.PrivacyContact}
	if team.Email == "" {
		team.Email = c.MailFrom
	}
	vcfg := verification.Config{Secret: []byte(c.CodeSecret), Team: team, Actor: ActorVerify}
	if c.PreviousCodeSecret != "" {
		vcfg.PreviousSecrets = [][]byte{[]byte(c.PreviousCodeSecret)}
	}
	if c.StatusTokenSecret != "" {
		vcfg.StatusSecret, vcfg.BaseURL = []byte(c.StatusTokenSecret), c.PublicBaseURL
	}
	ver, err := verification.New(vcfg, verification.Deps{Store: d.Store, SFN: d.SFN, Sender: router, Clock: clock, Logger: logger})
	if err != nil {
		return nil, err
	}
	pc := d.Partners
	if pc == nil {
		if pc, err = LoadPartners(c); err != nil {
			return nil, err
		}
	}
	client := d.PartnerClient
	if client == nil {
		client = &partner.Client{TryTimeout: c.PartnerTryTimeout}
	}
	h := &Handlers{
		store: d.Store, sfn: d.SFN, verification: ver,
		operator: operator.New(operator.Deps{Store: d.Store, SFN: d.SFN, Clock: clock}),
		holds:    legalhold.New(d.Store),
		sender:   router, team: team, policy: policy, subjectSecret: []byte(c.SubjectKeySecret),
		documents: d.Documents, signer: d.Signer, anchors: d.Anchors, clock: clock, logger: logger,
	}
	secrets := d.Secrets
	if secrets == nil {
		secrets = partner.NewSecrets(map[string]partner.SecretResolver{
			partner.SecretStoreScheme: partner.SecretStore{Getter: d.SecretStore, Default: c.PartnerSecretsID},
		})
	}
	pdeps := partner.DispatcherDeps{Store: d.Store, Secrets: secrets, Client: client, SFN: d.SFN, Clock: clock, Logger: logger}
	if c.ExportBucket != "" && d.Exports != nil {
		h.exports = &export.Store{Objects: d.Exports, SSE: c.ExportSSE, KMSKeyID: c.ExportKMSKeyID, LinkTTL: c.ExportLinkTTL}
		pdeps.Exports = h.exports
		h.assembler = &export.Assembler{Store: d.Store, Exports: h.exports, Names: h.partnerName, Page: d.ExportPage, Now: clock}
	}
	h.partners = partner.NewDispatcher(partner.DispatcherConfig{Partners: pc, CallbackBaseURL: c.PublicBaseURL}, pdeps)
	return h, nil
}

// LoadPartners reads the partner configuration of PARTNERS_CONFIG (none:
// no partners; the fan-out reaches nobody).
func LoadPartners(c Config) (*partner.Config, error) {
	if c.PartnersConfig == "" {
		return &partner.Config{}, nil
	}
	pc, err := partner.LoadConfig(c.PartnersConfig)
	if err != nil {
		return nil, fmt.Errorf("config: PARTNERS_CONFIG: %w", err)
	}
	return pc, nil
}

// FunctionDeps are what a function's main adds to FromEnv: the clients
// that only some functions need.
type FunctionDeps struct {
	// Email makes the email sender of the functions marked SendsMail
	// (mailtransport.FromConfig).
	Email EmailFactory
	// SMS makes the SMS sender of the functions marked SendsMail.
	SMS SMSFactory
	// Exports opens the export bucket of the functions marked UsesExports
	// (s3bucket.Open).
	Exports export.Open
	// ExportPage writes export.html: reply's (exportpage.Render).
	ExportPage export.PageRenderer
	// Documents deletes documents: purge-personal's.
	Documents func(awsCfg aws.Config) DocumentStore
	// Signer opens the certificate signer named by CERT_SIGNING_KEY_ID
	// (KMS) or CERT_SIGNING_KEY_DIR (a local key): close's; called only
	// when one of them is set.
	Signer func(awsCfg aws.Config, keyID, keyDir string) (Signer, error)
	// AnchorSink opens the audit anchor bucket ANCHOR_BUCKET names:
	// close's (s3anchor.Open); called only when it is set.
	AnchorSink anchor.OpenSink
}

// EmailFactory makes the email sender of a function that writes to
// requesters from the AWS configuration, the transport settings and the
// envelope sender; mailtransport.FromConfig picks SES or the SMTP relay.
type EmailFactory func(awsCfg aws.Config, t notify.Transport, from string) (notify.EmailSender, error)

// SMSFactory makes the SMS sender from the AWS configuration (nil when no
// SMS provider is configured).
type SMSFactory func(ctx context.Context, awsCfg aws.Config) (notify.SMSSender, error)

// FromEnv reads and checks the configuration now and returns the handlers
// to be built on the first invocation, with AWS clients from the standard
// AWS configuration (AWS_ENDPOINT_URL_* for local endpoints,
// docs/ARCHITECTURE.md rule 4). It is all a task function's main needs.
//
// Every invocation reads the function's secrets through internal/secretstore
// (cached; Secrets Manager is asked again every secretstore.DefaultRefresh)
// and builds the handlers again when one changed, so a rotated secret needs
// no redeploy.
func FromEnv(logger *slog.Logger, fd FunctionDeps) (*lazyinit.Value[*Handlers], error) {
	c, err := ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	pc, err := LoadPartners(c)
	if err != nil {
		return nil, err
	}
	var (
		awsCfg  aws.Config
		secrets secretstore.Source
	)
	// key and build run under the lazy value's lock, one at a time.
	key := func(ctx context.Context) (secretValues, error) {
		if secrets == nil {
			cfg, err := awsenv.Load(ctx)
			if err != nil {
				return secretValues{}, fmt.Errorf("load AWS configuration: %w", err)
			}
			awsCfg, secrets = cfg, secretstore.Open(cfg, c.SecretsDir)
		}
		return c.readSecrets(ctx, secrets)
	}
	return lazyinit.NewKeyed(key, func(ctx context.Context, v secretValues) (*Handlers, error) {
		c := c.withValues(v)
		var err error
		d := Deps{
			Store:       store.Open(awsCfg, store.Config{Table: c.TableName}, nil),
			SFN:         sfn.NewFromConfig(awsCfg),
			Partners:    pc,
			SecretStore: secrets,
			ExportPage:  fd.ExportPage,
			Logger:      logger,
		}
		if fd.Exports != nil && c.ExportBucket != "" {
			d.Exports = fd.Exports(awsCfg, c.ExportBucket)
		}
		if fd.Email != nil && c.OutboxDir == "" {
			if d.Email, err = fd.Email(awsCfg, c.Transport, c.MailFrom); err != nil {
				return nil, fmt.Errorf("email transport: %w", err)
			}
		}
		if fd.SMS != nil {
			if d.SMS, err = fd.SMS(ctx, awsCfg); err != nil {
				return nil, fmt.Errorf("sms: %w", err)
			}
		}
		if fd.Documents != nil {
			d.Documents = fd.Documents(awsCfg)
		}
		if fd.AnchorSink != nil && c.AnchorBucket != "" {
			if d.Anchors, err = anchor.New(anchor.Config{}, anchor.Deps{Store: d.Store, Sink: fd.AnchorSink(awsCfg, c.AnchorBucket), Logger: logger}); err != nil {
				return nil, err
			}
		}
		if fd.Signer != nil && (c.SigningKeyID != "" || c.SigningKeyDir != "") {
			if d.Signer, err = fd.Signer(awsCfg, c.SigningKeyID, c.SigningKeyDir); err != nil {
				return nil, fmt.Errorf("certificate signer: %w", err)
			}
		}
		return New(c, d)
	}), nil
}
