package webintake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"dsrflow/internal/awsenv"
	"dsrflow/internal/dsr"
	"dsrflow/internal/envconfig"
	"dsrflow/internal/intake"
	"dsrflow/internal/lazyinit"
	"dsrflow/internal/notify"
	"dsrflow/internal/notify/mailtransport"
	"dsrflow/internal/store"
	"dsrflow/internal/verification"
)

// Config is the intake-web function's configuration, read from the
// environment (template.yaml sets these variables).
type Config struct {
	TableName       string `env:"TABLE_NAME,required,notEmpty"`
	StateMachineArn string `env:"STATE_MACHINE_ARN,required,notEmpty"`
	// SubjectKeySecret keys subject keys (dsr.SubjectKey); shared with intake-mail.
	SubjectKeySecret string `env:"SUBJECT_KEY_SECRET,required,notEmpty"`
	// StatusTokenSecret keys status-link tokens and idempotency scopes.
	StatusTokenSecret string `env:"STATUS_TOKEN_SECRET,required,notEmpty"`
	// PublicBaseURL ("https://privacy.example.cn") makes status links
	// absolute; empty means links relative to the site.
	PublicBaseURL string `env:"PUBLIC_BASE_URL"`
	// MaxOpenPerSubject caps one subject's open requests (0: no cap).
	MaxOpenPerSubject int `env:"MAX_OPEN_PER_SUBJECT" envDefault:"3"`

	// The verification page (POST /requests/{id}/verification) checks codes
	// and sends new ones: it shares these with the workflow's task functions.

	// VerificationCodeSecret keys the code hashes (at least 32 bytes); the
	// same value as the workflow functions' VERIFICATION_CODE_SECRET.
	VerificationCodeSecret string `env:"VERIFICATION_CODE_SECRET,required,notEmpty"`
	// MailFrom is the sender address of new codes and of the lock notice;
	// MailFromName its display name.
	MailFrom     string `env:"MAIL_FROM,required,notEmpty"`
	MailFromName string `env:"MAIL_FROM_NAME" envDefault:"隐私团队 Privacy Team"`
	// PrivacyContact is the address requesters are told to write to when
	// verification cannot go on (default MAIL_FROM; policy 十).
	PrivacyContact string `env:"PRIVACY_CONTACT"`
	// OutboxDir, when set, writes messages as .eml files there instead of
	// sending them through SES (the local stack).
	OutboxDir string `env:"OUTBOX_DIR"`
	// Transport is how email leaves: SES, or the SMTP relay of SMTP_URL
	// (SES_CONFIGURATION_SET, SMTP_URL, SMTP_USERNAME, SMTP_PASSWORD).
	notify.Transport
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
	errs = append(errs, c.Transport.Check(),
		envconfig.CheckSecret("SUBJECT_KEY_SECRET", c.SubjectKeySecret, dsr.MinSubjectSecretLen),
		envconfig.CheckSecret("STATUS_TOKEN_SECRET", c.StatusTokenSecret, MinTokenSecretLen))
	if c.PublicBaseURL != "" {
		errs = append(errs, envconfig.CheckBaseURL("PUBLIC_BASE_URL", c.PublicBaseURL))
	}
	errs = append(errs, envconfig.CheckSecret("VERIFICATION_CODE_SECRET", c.VerificationCodeSecret, verification.MinSecretLen))
	if _, err := mail.ParseAddress(c.MailFrom); err != nil {
		errs = append(errs, errors.New("MAIL_FROM must be an email address"))
	}
	if c.PrivacyContact != "" {
		if _, err := mail.ParseAddress(c.PrivacyContact); err != nil {
			errs = append(errs, errors.New("PRIVACY_CONTACT must be an email address"))
		}
	}
	if c.MaxOpenPerSubject < 0 {
		errs = append(errs, errors.New("MAX_OPEN_PER_SUBJECT must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// Clients are the AWS clients the handler needs.
type Clients struct {
	DynamoDB interface {
		store.DB
		verification.DB
	}
	SFN interface {
		intake.Starter
		verification.SFN
	}
	// Email sends new codes when OutboxDir is empty (from mailtransport:
	// SES or the SMTP relay); nil then means the verification page cannot
	// send codes (they fail as delivery errors).
	Email notify.EmailSender
}

// NewHandler wires a Handler from configuration and clients. The
// verification page uses verification.Service directly (not workflow.New):
// it needs only the table, SendTaskSuccess and a way to send a new code.
func NewHandler(c Config, cl Clients, logger *slog.Logger) *Handler {
	st := store.New(cl.DynamoDB, c.TableName)
	router := &notify.Router{From: c.MailFrom, FromName: c.MailFromName}
	if c.OutboxDir != "" {
		box := &notify.Outbox{Dir: c.OutboxDir, From: c.MailFrom, FromName: c.MailFromName}
		router.Email, router.SMS = box, box
	} else {
		router.Email = cl.Email
	}
	team := notify.Contact{Email: c.PrivacyContact}
	if team.Email == "" {
		team.Email = c.MailFrom
	}
	h := &Handler{
		Intake: &intake.Service{
			Store:             st,
			SFN:               cl.SFN,
			StateMachineArn:   c.StateMachineArn,
			SubjectSecret:     []byte(c.SubjectKeySecret),
			MaxOpenPerSubject: c.MaxOpenPerSubject,
			Logger:            logger,
		},
		Store:       st,
		TokenSecret: []byte(c.StatusTokenSecret),
		BaseURL:     c.PublicBaseURL,
		Logger:      logger,
		Team:        team,
	}
	// The service reads the handler's clock, so that setting h.Now (the
	// local stack's scaled clock, tests) also sets the code expiry clock.
	router.Now = h.now
	ver := &verification.Service{
		Requests: st, DB: cl.DynamoDB, Table: c.TableName, SFN: cl.SFN, Sender: router,
		Secret: []byte(c.VerificationCodeSecret), StatusSecret: []byte(c.StatusTokenSecret),
		Team: team, Now: h.now, Logger: logger, Actor: ActorVerificationPage,
	}
	if c.PublicBaseURL != "" {
		// New codes link back to this page, as the first one did.
		ver.Link = verification.PageLink(c.PublicBaseURL, ver.StatusSecret)
	}
	h.Verification = ver
	return h
}

// NewAWSHandler returns the handler to be built on the first invocation,
// with clients from the AWS SDK's default configuration (environment,
// including AWS_ENDPOINT_URL_* for local endpoints; no network call).
func NewAWSHandler(c Config, logger *slog.Logger) *lazyinit.Value[*Handler] {
	return lazyinit.New(func(ctx context.Context) (*Handler, error) {
		awsCfg, err := awsenv.Load(ctx)
		if err != nil {
			return nil, fmt.Errorf("load AWS config: %w", err)
		}
		cl := Clients{DynamoDB: dynamodb.NewFromConfig(awsCfg), SFN: sfn.NewFromConfig(awsCfg)}
		if c.OutboxDir == "" {
			if cl.Email, err = mailtransport.FromConfig(awsCfg, c.Transport, c.MailFrom); err != nil {
				return nil, fmt.Errorf("email transport: %w", err)
			}
		}
		return NewHandler(c, cl, logger), nil
	})
}
