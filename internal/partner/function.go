package partner

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"dsrflow/internal/awsenv"
	"dsrflow/internal/envconfig"
	"dsrflow/internal/lazyinit"
	"dsrflow/internal/partner/export"
	"dsrflow/internal/secretstore"
	"dsrflow/internal/store"
)

// FunctionConfig is the configuration of the partner functions (the FanOut
// tasks and partner-callback), read from the environment.
type FunctionConfig struct {
	TableName string `env:"TABLE_NAME,required,notEmpty"`
	// PartnersConfig is the path of the partner configuration (JSON,
	// config/partners.example.json shows the format), bundled with the function.
	PartnersConfig string `env:"PARTNERS_CONFIG,required,notEmpty"`
	// PublicBaseURL is the HTTP API's public base URL; partners call back at
	// {PublicBaseURL}/partners/{partner}/callbacks.
	PublicBaseURL string `env:"PUBLIC_BASE_URL"`
	// Export storage (access, portability).
	ExportBucket   string        `env:"EXPORT_BUCKET"`
	ExportSSE      string        `env:"EXPORT_SSE" envDefault:"aws:kms"`
	ExportKMSKeyID string        `env:"EXPORT_KMS_KEY_ID"`
	ExportLinkTTL  time.Duration `env:"EXPORT_LINK_TTL" envDefault:"72h"`
	// PartnerTryTimeout bounds one call to a partner.
	PartnerTryTimeout time.Duration `env:"PARTNER_TRY_TIMEOUT" envDefault:"10s"`
	// PartnerSecretsID names the Secrets Manager secret (a JSON object)
	// whose keys the configuration's secretsmanager:#KEY references name
	// (template.yaml's PartnerSecrets). The signing secrets are read at
	// every use through internal/secretstore (cached, refreshed), never
	// from the environment.
	PartnerSecretsID string `env:"PARTNER_SECRETS_ID"`
	// SecretsDir, when set, reads secrets from the files of this folder
	// instead of Secrets Manager (a function run by the local stack's
	// tools; never set in template.yaml).
	SecretsDir string `env:"SECRETS_DIR"`
}

// FunctionConfigFromEnv reads and checks the configuration.
func FunctionConfigFromEnv() (FunctionConfig, error) {
	c, err := envconfig.Parse[FunctionConfig]()
	if err != nil {
		return FunctionConfig{}, fmt.Errorf("config: %w", err)
	}
	if c.PublicBaseURL != "" {
		u, err := url.Parse(c.PublicBaseURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return FunctionConfig{}, fmt.Errorf("config: PUBLIC_BASE_URL is not an absolute http(s) URL")
		}
	}
	if c.ExportSSE != export.SSEKMS && c.ExportSSE != export.SSES3 {
		return FunctionConfig{}, fmt.Errorf("config: EXPORT_SSE must be %s or %s", export.SSEKMS, export.SSES3)
	}
	if c.ExportLinkTTL <= 0 || c.ExportLinkTTL > export.MaxLinkTTL {
		return FunctionConfig{}, fmt.Errorf("config: EXPORT_LINK_TTL must be positive and at most %s", export.MaxLinkTTL)
	}
	return c, nil
}

// LazyAWSDispatcher reads and checks the partner configuration file now, so
// that a bad one fails the function's init, and builds the dispatcher's AWS
// clients on the first invocation (internal/lazyinit). exports opens the
// export bucket of the functions that store partners' exports (dispatch,
// escalate, callback: s3bucket.Open); the others pass nil and do not link
// the S3 client.
func LazyAWSDispatcher(c FunctionConfig, logger *slog.Logger, exports export.Open) (*lazyinit.Value[*Dispatcher], error) {
	pc, err := LoadConfig(c.PartnersConfig)
	if err != nil {
		return nil, err
	}
	return lazyinit.New(func(ctx context.Context) (*Dispatcher, error) {
		return newAWSDispatcher(ctx, c, pc, logger, exports)
	}), nil
}

// newAWSDispatcher builds the dispatcher on AWS SDK clients (endpoints from
// the standard AWS_ENDPOINT_URL_* variables locally). Secrets resolve
// secretsmanager: references through Secrets Manager (or SECRETS_DIR), and
// env: references.
func newAWSDispatcher(ctx context.Context, c FunctionConfig, pc *Config, logger *slog.Logger, exports export.Open) (*Dispatcher, error) {
	awsCfg, err := awsenv.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	deps := DispatcherDeps{
		Store: store.Open(awsCfg, store.Config{Table: c.TableName}, nil),
		Secrets: NewSecrets(map[string]SecretResolver{
			SecretStoreScheme: SecretStore{Getter: secretstore.Open(awsCfg, c.SecretsDir), Default: c.PartnerSecretsID},
		}),
		Client: &Client{TryTimeout: c.PartnerTryTimeout},
		SFN:    sfn.NewFromConfig(awsCfg),
		Logger: logger,
	}
	if c.ExportBucket != "" && exports != nil {
		deps.Exports = &export.Store{Objects: exports(awsCfg, c.ExportBucket), SSE: c.ExportSSE, KMSKeyID: c.ExportKMSKeyID, LinkTTL: c.ExportLinkTTL}
	}
	return NewDispatcher(DispatcherConfig{Partners: pc, CallbackBaseURL: c.PublicBaseURL}, deps), nil
}
