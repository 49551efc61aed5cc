package anchor

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"dsrflow/internal/awsenv"
	"dsrflow/internal/envconfig"
	"dsrflow/internal/lazyinit"
	"dsrflow/internal/store"
)

// FunctionConfig is the anchor-audit function's environment
// (template.yaml, AuditAnchorFunction).
type FunctionConfig struct {
	TableName string `env:"TABLE_NAME,required,notEmpty"`
	// AnchorBucket is the Object Lock bucket the anchors go to.
	AnchorBucket string `env:"ANCHOR_BUCKET,required,notEmpty"`
	// MaxChains bounds the chain heads of one anchor (Config.MaxChains).
	MaxChains int `env:"ANCHOR_MAX_CHAINS" envDefault:"5000"`
}

// Check reports configuration mistakes, naming the variable.
func (c FunctionConfig) Check() error {
	if c.MaxChains < 1 || c.MaxChains > MaxHeads {
		return fmt.Errorf("anchor config: ANCHOR_MAX_CHAINS must be 1 to %d", MaxHeads)
	}
	return nil
}

// FunctionConfigFrom reads FunctionConfig from environ (the process
// environment when nil).
func FunctionConfigFrom(environ map[string]string) (FunctionConfig, error) {
	c, err := envconfig.ParseFrom[FunctionConfig](environ)
	if err != nil {
		return FunctionConfig{}, fmt.Errorf("anchor config: %w", err)
	}
	return c, c.Check()
}

// OpenSink makes the sink of a bucket from the AWS configuration
// (s3anchor.Open in the function's main).
type OpenSink func(cfg aws.Config, bucket string) Sink

// FromEnv reads the function's configuration now (a mistake fails the
// cold start) and builds the Anchorer on the first invocation.
func FromEnv(logger *slog.Logger, open OpenSink) (*lazyinit.Value[*Anchorer], error) {
	c, err := FunctionConfigFrom(nil)
	if err != nil {
		return nil, err
	}
	return lazyinit.New(func(ctx context.Context) (*Anchorer, error) {
		awsCfg, err := awsenv.Load(ctx)
		if err != nil {
			return nil, fmt.Errorf("load AWS configuration: %w", err)
		}
		return New(Config{MaxChains: c.MaxChains}, Deps{
			Store:  store.Open(awsCfg, store.Config{Table: c.TableName}, nil),
			Sink:   open(awsCfg, c.AnchorBucket),
			Logger: logger,
		})
	}), nil
}

// Input is the function's event. The daily schedule's EventBridge event
// (its fields are ignored) anchors every changed chain; {"requestId":
// "<id>"} (for example a state after Close) anchors that request's chain at
// once.
type Input struct {
	events.EventBridgeEvent
	RequestID string `json:"requestId,omitempty"`
}

// Handle is the function's handler.
func (a *Anchorer) Handle(ctx context.Context, in Input) (Result, error) {
	if in.RequestID != "" {
		return a.AnchorRequest(ctx, in.RequestID)
	}
	return a.Anchor(ctx)
}
