package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"dsrflow/internal/awsenv"
	"dsrflow/internal/envconfig"
	"dsrflow/internal/intake"
	"dsrflow/internal/lazyinit"
	"dsrflow/internal/store"
)

// Config is the reconcile function's configuration, read from the
// environment (template.yaml sets these variables; the local stack too).
type Config struct {
	TableName       string `env:"TABLE_NAME,required,notEmpty"`
	StateMachineArn string `env:"STATE_MACHINE_ARN,required,notEmpty"`
	// SubjectKeySecret is intake's subject-key secret (Start does not
	// compute subject keys, but intake.Service checks it is configured).
	SubjectKeySecret string        `env:"SUBJECT_KEY_SECRET,required,notEmpty"`
	Grace            time.Duration `env:"RECONCILE_GRACE" envDefault:"2m"`
	DueSoonDays      int           `env:"DUE_SOON_WORKING_DAYS" envDefault:"3"`
	MaxRestarts      int           `env:"MAX_EXECUTION_RESTARTS" envDefault:"3"`
}

// ConfigFrom reads Config from environ (the process environment when nil).
func ConfigFrom(environ map[string]string) (Config, error) {
	c, err := envconfig.ParseFrom[Config](environ)
	if err != nil {
		return Config{}, fmt.Errorf("reconcile config: %w", err)
	}
	return c, c.Check()
}

// Check reports configuration mistakes, naming the variable, never a secret.
func (c Config) Check() error {
	var errs []error
	if _, err := intake.ParseSubjectSecret(c.SubjectKeySecret); err != nil {
		errs = append(errs, fmt.Errorf("SUBJECT_KEY_SECRET: %w", err))
	}
	if c.Grace < 0 {
		errs = append(errs, errors.New("RECONCILE_GRACE must not be negative"))
	}
	if c.DueSoonDays < 1 {
		errs = append(errs, errors.New("DUE_SOON_WORKING_DAYS must be at least 1"))
	}
	if c.MaxRestarts < 1 {
		errs = append(errs, errors.New("MAX_EXECUTION_RESTARTS must be at least 1"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("reconcile config: %w", err)
	}
	return nil
}

// Clients are the AWS clients the reconciler uses.
type Clients struct {
	DynamoDB interface {
		store.DB
		DB
	}
	SFN SFN
}

// New wires a Reconciler from configuration and clients.
func New(c Config, cl Clients, logger *slog.Logger) (*Reconciler, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	st := store.New(cl.DynamoDB, c.TableName)
	return &Reconciler{
		DB: cl.DynamoDB, Table: c.TableName, SFN: cl.SFN, StateMachineArn: c.StateMachineArn,
		Intake: &intake.Service{Store: st, SFN: cl.SFN, StateMachineArn: c.StateMachineArn, SubjectSecret: []byte(c.SubjectKeySecret), Logger: logger},
		Grace:  c.Grace, DueSoonDays: c.DueSoonDays, MaxRestarts: c.MaxRestarts, Logger: logger,
	}, nil
}

// FromEnv reads and checks the configuration now and returns the reconciler
// to be built on the first invocation, with clients from the default AWS
// configuration (AWS_ENDPOINT_URL_* for local endpoints).
func FromEnv(logger *slog.Logger) (*lazyinit.Value[*Reconciler], error) {
	c, err := ConfigFrom(nil)
	if err != nil {
		return nil, err
	}
	return lazyinit.New(func(ctx context.Context) (*Reconciler, error) {
		awsCfg, err := awsenv.Load(ctx)
		if err != nil {
			return nil, fmt.Errorf("load AWS configuration: %w", err)
		}
		return New(c, Clients{DynamoDB: dynamodb.NewFromConfig(awsCfg), SFN: sfn.NewFromConfig(awsCfg)}, logger)
	}), nil
}
