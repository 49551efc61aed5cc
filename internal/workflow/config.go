package workflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"dsrflow/internal/awsenv"
	"dsrflow/internal/envconfig"
	"dsrflow/internal/lazyinit"
	"dsrflow/internal/legalhold"
	"dsrflow/internal/notify"
	"dsrflow/internal/operator"
	"dsrflow/internal/partner"
	"dsrflow/internal/partner/export"
	"dsrflow/internal/store"
	"dsrflow/internal/verification"
)

// Config is the task functions' configuration, read from the environment
// (template.yaml sets these variables; the local stack sets them too).
type Config struct {
	TableName string `env:"TABLE_NAME,required,notEmpty"`
	// CodeSecret keys the verification code hashes (at least 32 bytes).
	CodeSecret string `env:"VERIFICATION_CODE_SECRET,required,notEmpty"`
	// StatusTokenSecret is intake-web's secret: with it, code messages link
	// to the verification page with the requester's status token.
	StatusTokenSecret string `env:"STATUS_TOKEN_SECRET"`
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
	// (SES_CONFIGURATION_SET, SMTP_URL, SMTP_USERNAME, SMTP_PASSWORD).
	notify.Transport
	// RepeatLimit: requests of one subject in 12 months answered without
	// manual review (policy 五.5).
	RepeatLimit int `env:"REPEAT_LIMIT" envDefault:"3"`
	// BackupRotation: how long our own backups that may hold the data (the
	// request table's point-in-time recovery: 35 days) take to rotate out.
	// The backup wait lasts until the later of this and the partners'
	// backup retention after the deletion.
	BackupRotation time.Duration `env:"BACKUP_ROTATION" envDefault:"840h"`
	// PartnersConfig is the path of the partner configuration (JSON,
	// config/partners.example.json), bundled with the function. Empty: no
	// partners (the fan-out reaches nobody; account closure is not
	// pre-checked).
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
	errs = append(errs, c.Transport.Check(), envconfig.CheckSecret("VERIFICATION_CODE_SECRET", c.CodeSecret, verification.MinSecretLen))
	if c.StatusTokenSecret != "" {
		errs = append(errs, envconfig.CheckSecret("STATUS_TOKEN_SECRET", c.StatusTokenSecret, 32))
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

// Clients are the AWS clients the handlers use.
type Clients struct {
	DynamoDB interface {
		store.DB
		legalhold.DB
	}
	SFN verification.SFN
	// Email sends email when OutboxDir is empty (from mailtransport: SES or
	// the SMTP relay); nil: email fails as a delivery error, for the
	// functions that send none.
	Email notify.EmailSender
	// SMS is the SMS provider; nil: requesters with a phone only are
	// verified by hand.
	SMS notify.SMSSender
	// Exports is the export bucket named by Config.ExportBucket (s3bucket);
	// nil for the functions that neither keep nor link exports.
	Exports export.Objects
	// ExportPage writes export.html (exportpage.Render) for export-assemble;
	// without it, assembling a package fails.
	ExportPage export.PageRenderer
	// Secrets resolves the partners' secret references; nil: env:
	// references from the process environment (partner.NewSecrets).
	Secrets partner.SecretSource
	// PartnerClient calls the partners; nil: a client with
	// Config.PartnerTryTimeout.
	PartnerClient *partner.Client
	// Partners is the partner configuration; nil: read from
	// Config.PartnersConfig.
	Partners *partner.Config
}

// New wires the handlers from configuration and clients.
func New(c Config, cl Clients, logger *slog.Logger) (*Handlers, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	policy := DefaultPolicy()
	policy.RepeatLimit, policy.BackupRotation = c.RepeatLimit, c.BackupRotation
	if c.RetentionJSON != "" {
		r, err := ParseRetention([]byte(c.RetentionJSON))
		if err != nil {
			return nil, err
		}
		policy.Retention = r
	}
	router := &notify.Router{From: c.MailFrom, FromName: c.MailFromName, SMS: cl.SMS}
	if c.OutboxDir != "" {
		box := &notify.Outbox{Dir: c.OutboxDir, From: c.MailFrom, FromName: c.MailFromName}
		router.Email = box
		if router.SMS == nil {
			router.SMS = box
		}
	} else {
		router.Email = cl.Email
	}
	team := notify.Contact{Email: c.PrivacyContact}
	if team.Email == "" {
		team.Email = c.MailFrom
	}
	st := store.New(cl.DynamoDB, c.TableName)
	ver := &verification.Service{
		Requests: st, DB: cl.DynamoDB, Table: c.TableName, SFN: cl.SFN, Sender: router,
		Secret: []byte(c.CodeSecret), Team: team, Logger: logger, Actor: ActorVerify,
	}
	if c.StatusTokenSecret != "" {
		ver.StatusSecret = []byte(c.StatusTokenSecret)
		if c.PublicBaseURL != "" {
			ver.Link = verification.PageLink(c.PublicBaseURL, ver.StatusSecret)
		}
	}
	if err := ver.Validate(); err != nil {
		return nil, err
	}
	h := &Handlers{
		Store: st, DB: cl.DynamoDB, Table: c.TableName, Verification: ver,
		Operator: &operator.Service{DB: cl.DynamoDB, Table: c.TableName, SFN: cl.SFN, Events: st},
		Holds:    &legalhold.List{DB: cl.DynamoDB, Table: c.TableName},
		Sender:   router, Team: team, Policy: policy, Logger: logger,
	}
	if err := h.wirePartners(c, cl, st, logger); err != nil {
		return nil, err
	}
	return h, nil
}

// partnerConfig is cl.Partners, else the file of PARTNERS_CONFIG, else no
// partners.
func partnerConfig(c Config, cl Clients) (*partner.Config, error) {
	if cl.Partners != nil {
		return cl.Partners, nil
	}
	if c.PartnersConfig == "" {
		return &partner.Config{}, nil
	}
	pc, err := partner.LoadConfig(c.PartnersConfig)
	if err != nil {
		return nil, fmt.Errorf("config: PARTNERS_CONFIG: %w", err)
	}
	return pc, nil
}

// wirePartners builds the partner dispatcher and the export storage. The
// dispatcher's clock is the handlers' (h.Now, set after New).
func (h *Handlers) wirePartners(c Config, cl Clients, st *store.Store, logger *slog.Logger) error {
	pc, err := partnerConfig(c, cl)
	if err != nil {
		return err
	}
	secrets := cl.Secrets
	if secrets == nil {
		secrets = partner.NewSecrets(nil)
	}
	client := cl.PartnerClient
	if client == nil {
		client = &partner.Client{TryTimeout: c.PartnerTryTimeout}
	}
	sender, _ := cl.SFN.(partner.TaskSender)
	d := &partner.Dispatcher{Store: st, Config: pc, Secrets: secrets, Client: client, SFN: sender, CallbackBaseURL: c.PublicBaseURL, Now: h.now, Log: logger}
	if c.ExportBucket != "" && cl.Exports != nil {
		h.Exports = &export.Store{Objects: cl.Exports, SSE: c.ExportSSE, KMSKeyID: c.ExportKMSKeyID, LinkTTL: c.ExportLinkTTL}
		d.Exports = h.Exports
		h.Assembler = &export.Assembler{Store: st, Exports: h.Exports, Names: h.partnerName, Page: cl.ExportPage, Now: h.now}
	}
	h.Partners = d
	return nil
}

// Deps are what a function's main adds to FromEnv: the clients that only
// some functions need, so that the others do not link them (each costs
// cold-start time, internal/dev/coldstart).
type Deps struct {
	// Email makes the email sender of the functions marked SendsMail
	// (mailtransport.FromConfig).
	Email EmailFactory
	// Exports opens the export bucket of the functions marked UsesExports
	// (s3bucket.Open).
	Exports export.Open
	// ExportPage writes export.html: export-assemble's (exportpage.Render).
	ExportPage export.PageRenderer
}

// EmailFactory makes the email sender of a function that writes to
// requesters from the AWS configuration, the transport settings and the
// envelope sender; mailtransport.FromConfig picks SES or the SMTP relay.
type EmailFactory func(awsCfg aws.Config, t notify.Transport, from string) (notify.EmailSender, error)

// FromEnv reads and checks the configuration now and returns the handlers
// to be built on the first invocation, with AWS clients from the standard AWS
// configuration (AWS_ENDPOINT_URL_* for local endpoints, DESIGN.md rule 4):
// a task function's init reads only the environment and the partner
// configuration file (so that a bad one fails init). It is all a task
// function's main needs.
//
// deps carries the email and export clients of the functions that need
// them (Function.SendsMail, Function.UsesExports); the others pass none and
// do not link those clients (see internal/dev/coldstart).
func FromEnv(logger *slog.Logger, deps Deps) (*lazyinit.Value[*Handlers], error) {
	c, err := ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	pc, err := partnerConfig(c, Clients{})
	if err != nil {
		return nil, err
	}
	return lazyinit.New(func(ctx context.Context) (*Handlers, error) {
		awsCfg, err := awsenv.Load(ctx)
		if err != nil {
			return nil, fmt.Errorf("load AWS configuration: %w", err)
		}
		cl := Clients{
			DynamoDB:   dynamodb.NewFromConfig(awsCfg),
			SFN:        sfn.NewFromConfig(awsCfg),
			Partners:   pc,
			ExportPage: deps.ExportPage,
		}
		if deps.Exports != nil && c.ExportBucket != "" {
			cl.Exports = deps.Exports(awsCfg, c.ExportBucket)
		}
		if deps.Email != nil && c.OutboxDir == "" {
			if cl.Email, err = deps.Email(awsCfg, c.Transport, c.MailFrom); err != nil {
				return nil, fmt.Errorf("email transport: %w", err)
			}
		}
		return New(c, cl, logger)
	}), nil
}
