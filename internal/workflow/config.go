package workflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	envparse "github.com/caarlos0/env/v11"

	"dsrflow/internal/legalhold"
	"dsrflow/internal/notify"
	"dsrflow/internal/operator"
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
	// SESConfigurationSet is optional.
	SESConfigurationSet string `env:"SES_CONFIGURATION_SET"`
	// RepeatLimit: requests of one subject in 12 months answered without
	// manual review (policy 五.5).
	RepeatLimit int `env:"REPEAT_LIMIT" envDefault:"3"`
	// BackupRotation: how long until every backup has rotated out
	// (placeholder until issue 6 configures backup systems).
	BackupRotation time.Duration `env:"BACKUP_ROTATION" envDefault:"840h"`
	// RetentionJSON replaces the shipped retention exceptions (see
	// ParseRetention).
	RetentionJSON string `env:"RETENTION_JSON"`
}

// ConfigFromEnv reads and checks the configuration.
func ConfigFromEnv() (Config, error) {
	c, err := envparse.ParseAs[Config]()
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", envError(err))
	}
	return c, c.Check()
}

// envError names the variable of a value that did not parse, without
// quoting the value.
func envError(err error) error {
	var agg envparse.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	out := make([]error, 0, len(agg.Errors))
	for _, e := range agg.Errors {
		var pe envparse.ParseError
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
	if len(c.CodeSecret) < verification.MinSecretLen {
		errs = append(errs, fmt.Errorf("VERIFICATION_CODE_SECRET must be at least %d bytes", verification.MinSecretLen))
	}
	if c.StatusTokenSecret != "" && len(c.StatusTokenSecret) < 32 {
		errs = append(errs, errors.New("STATUS_TOKEN_SECRET must be at least 32 bytes"))
	}
	if c.PublicBaseURL != "" {
		u, err := url.Parse(c.PublicBaseURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			errs = append(errs, errors.New("PUBLIC_BASE_URL must be an absolute http(s) URL without query or fragment"))
		}
	}
	if c.RepeatLimit < 1 {
		errs = append(errs, errors.New("REPEAT_LIMIT must be at least 1"))
	}
	if c.BackupRotation <= 0 {
		errs = append(errs, errors.New("BACKUP_ROTATION must be positive"))
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
	// SES is used when OutboxDir is empty.
	SES notify.SESAPI
	// SMS is the SMS provider; nil: requesters with a phone only are
	// verified by hand.
	SMS notify.SMSSender
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
		router.Email = &notify.SES{Client: cl.SES, ConfigurationSet: c.SESConfigurationSet}
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
	return &Handlers{
		Store: st, DB: cl.DynamoDB, Table: c.TableName, Verification: ver,
		Operator: &operator.Service{DB: cl.DynamoDB, Table: c.TableName, SFN: cl.SFN, Events: st},
		Holds:    &legalhold.List{DB: cl.DynamoDB, Table: c.TableName},
		Sender:   router, Team: team, Policy: policy, Logger: logger,
	}, nil
}

// FromEnv reads the configuration and builds the handlers with AWS clients
// from the standard AWS configuration (AWS_ENDPOINT_URL_* for local
// endpoints, DESIGN.md rule 4). It is all a task function's main needs.
func FromEnv(ctx context.Context, logger *slog.Logger) (*Handlers, error) {
	c, err := ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	return New(c, Clients{
		DynamoDB: dynamodb.NewFromConfig(awsCfg),
		SFN:      sfn.NewFromConfig(awsCfg),
		SES:      sesv2.NewFromConfig(awsCfg),
	}, logger)
}
