package webintake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"reflect"
	"strings"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	env "github.com/caarlos0/env/v11"

	"dsrflow/internal/dsr"
	"dsrflow/internal/intake"
	"dsrflow/internal/store"
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
	DynamoDB store.DB
	SFN      intake.Starter
}

// NewHandler wires a Handler from configuration and clients.
func NewHandler(c Config, cl Clients, logger *slog.Logger) *Handler {
	st := store.New(cl.DynamoDB, c.TableName)
	return &Handler{
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
	}
}

// NewAWSHandler loads the AWS SDK's default configuration (environment,
// including AWS_ENDPOINT_URL_* for local endpoints; no network call) and
// wires the handler with real clients.
func NewAWSHandler(ctx context.Context, c Config, logger *slog.Logger) (*Handler, error) {
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	return NewHandler(c, Clients{DynamoDB: dynamodb.NewFromConfig(awsCfg), SFN: sfn.NewFromConfig(awsCfg)}, logger), nil
}
