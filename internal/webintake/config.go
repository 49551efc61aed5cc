package webintake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"net/url"
	"reflect"
	"strings"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	env "github.com/caarlos0/env/v11"

	"dsrflow/internal/dsr"
	"dsrflow/internal/intake"
	"dsrflow/internal/notify"
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
	// SESConfigurationSet is optional.
	SESConfigurationSet string `env:"SES_CONFIGURATION_SET"`
}

// ConfigFromEnv reads and checks the configuration.
func ConfigFromEnv() (Config, error) {
	c, err := env.ParseAs[Config]()
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", envError(err))
	}
	return c, c.Check()
}

// envError names the variable of a value that did not parse, without quoting
// the value (env's parse errors name the Go field and quote the value).
func envError(err error) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	out := make([]error, 0, len(agg.Errors))
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			name := pe.Name
			if f, ok := reflect.TypeFor[Config]().FieldByName(pe.Name); ok {
				name, _, _ = strings.Cut(f.Tag.Get("env"), ",")
			}
			e = fmt.Errorf("%s: not a valid %s", name, pe.Type)
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

// Check reports configuration mistakes, naming the variable, never a secret.
func (c Config) Check() error {
	var errs []error
	if len(c.SubjectKeySecret) < dsr.MinSubjectSecretLen {
		errs = append(errs, fmt.Errorf("SUBJECT_KEY_SECRET must be at least %d bytes", dsr.MinSubjectSecretLen))
	}
	if len(c.StatusTokenSecret) < MinTokenSecretLen {
		errs = append(errs, fmt.Errorf("STATUS_TOKEN_SECRET must be at least %d bytes", MinTokenSecretLen))
	}
	if c.PublicBaseURL != "" {
		u, err := url.Parse(c.PublicBaseURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			errs = append(errs, errors.New("PUBLIC_BASE_URL must be an absolute http(s) URL without query or fragment"))
		}
	}
	if len(c.VerificationCodeSecret) < verification.MinSecretLen {
		errs = append(errs, fmt.Errorf("VERIFICATION_CODE_SECRET must be at least %d bytes", verification.MinSecretLen))
	}
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
	// SES sends new codes when OutboxDir is empty; nil then means the
	// verification page cannot send codes (they fail as delivery errors).
	SES notify.SESAPI
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
		router.Email = &notify.SES{Client: cl.SES, ConfigurationSet: c.SESConfigurationSet}
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

// NewAWSHandler loads the AWS SDK's default configuration (environment,
// including AWS_ENDPOINT_URL_* for local endpoints; no network call) and
// wires the handler with real clients.
func NewAWSHandler(ctx context.Context, c Config, logger *slog.Logger) (*Handler, error) {
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	return NewHandler(c, Clients{
		DynamoDB: dynamodb.NewFromConfig(awsCfg),
		SFN:      sfn.NewFromConfig(awsCfg),
		SES:      sesv2.NewFromConfig(awsCfg),
	}, logger), nil
}
