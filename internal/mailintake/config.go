package mailintake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"dsrflow/internal/awsenv"
	"dsrflow/internal/envconfig"
	"dsrflow/internal/intake"
	"dsrflow/internal/lazyinit"
	"dsrflow/internal/store"
)

// Config is the intake-mail function's configuration, read from environment
// variables (template.yaml sets them on the function).
type Config struct {
	// TableName is the requests table.
	TableName string `env:"TABLE_NAME,required,notEmpty"`
	// StateMachineArn is the request workflow.
	StateMachineArn string `env:"STATE_MACHINE_ARN,required,notEmpty"`
	// SubjectKeySecret is the HMAC key of subject keys (intake.ParseSubjectSecret).
	SubjectKeySecret string `env:"SUBJECT_KEY_SECRET,required,notEmpty"`
	// MaxOpenPerSubject caps a subject's open requests (0: no cap).
	MaxOpenPerSubject int `env:"MAX_OPEN_PER_SUBJECT" envDefault:"3"`
	// AttachmentPrefix is where attachments go in the mailbox bucket; the
	// bucket's notification must not cover it.
	AttachmentPrefix string `env:"ATTACHMENT_PREFIX" envDefault:"attachments/"`
	// TrustedAuthServIDs are the receiving servers' authserv-ids, comma
	// separated (e.g. "amazonses.com"); empty trusts every
	// Authentication-Results header.
	TrustedAuthServIDs []string `env:"TRUSTED_AUTHSERV_IDS" envSeparator:","`
	// S3UsePathStyle addresses the bucket in the path, for S3-compatible
	// stores that do not serve virtual-hosted buckets (MinIO, emulators).
	S3UsePathStyle bool `env:"S3_USE_PATH_STYLE" envDefault:"false"`
}

// LoadConfig reads Config from environ, or from the process environment
// when environ is nil, and checks it.
func LoadConfig(environ map[string]string) (Config, error) {
	cfg, err := envconfig.ParseFrom[Config](environ)
	if err != nil {
		return Config{}, fmt.Errorf("intake-mail config: %w", err)
	}
	if _, err := intake.ParseSubjectSecret(cfg.SubjectKeySecret); err != nil {
		return Config{}, fmt.Errorf("intake-mail config: SUBJECT_KEY_SECRET: %w", err)
	}
	if cfg.MaxOpenPerSubject < 0 {
		return Config{}, errors.New("intake-mail config: MAX_OPEN_PER_SUBJECT must not be negative")
	}
	if cfg.AttachmentPrefix == "" {
		cfg.AttachmentPrefix = DefaultAttachmentPrefix
	}
	return cfg, nil
}

// Deps are the handler's clients and clock.
type Deps struct {
	Store  *store.Store
	S3     ObjectStore
	SFN    intake.ExecutionStarter
	Clock  func() time.Time
	Logger *slog.Logger
}

// New wires a Handler from cfg and deps.
func New(cfg Config, deps Deps) (*Handler, error) {
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
	return &Handler{
		s3: deps.S3, intake: svc, records: deps.Store,
		attachmentPrefix: prefix, trustedAuthServIDs: cfg.TrustedAuthServIDs,
		clock: clock, logger: logger,
	}, nil
}

// Lambda returns the function's handler. The AWS clients are built on the
// first invocation, not at start-up (no network or file access during a
// cold start's init phase), with the default configuration chain: region,
// credentials and the standard AWS_ENDPOINT_URL_<SERVICE> variables. If
// building them fails, the invocation fails and the next one tries again
// (internal/lazyinit).
func Lambda(cfg Config, logger *slog.Logger) func(context.Context, events.S3Event) error {
	h := lazyinit.New(func(ctx context.Context) (*Handler, error) {
		awsCfg, err := awsenv.Load(ctx)
		if err != nil {
			return nil, fmt.Errorf("load AWS configuration: %w", err)
		}
		return New(cfg, Deps{
			Store: store.Open(awsCfg, store.Config{Table: cfg.TableName}, nil),
			S3: s3.NewFromConfig(awsCfg, func(o *s3.Options) {
				o.UsePathStyle = cfg.S3UsePathStyle
				// S3-compatible stores may not return checksums; do not log each skip.
				o.DisableLogOutputChecksumValidationSkipped = true
			}),
			SFN:    sfn.NewFromConfig(awsCfg),
			Logger: logger,
		})
	})
	return lazyinit.Action(h, (*Handler).Handle)
}
