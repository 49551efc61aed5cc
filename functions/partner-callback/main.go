// Command partner-callback receives partners' signed status callbacks
// (POST /partners/{partner}/callbacks, API Gateway HTTP API) and answers the
// FanOut state waiting for them.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"dsrflow/internal/lazyinit"
	"dsrflow/internal/partner"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg, err := partner.FunctionConfigFromEnv()
	if err != nil {
		logger.Error("partner-callback: bad configuration", "error", err.Error())
		os.Exit(1)
	}
	// The dispatcher's clients are built on the first invocation.
	cb := lazyinit.New(func(ctx context.Context) (*partner.Callback, error) {
		d, _, err := partner.NewAWSDispatcher(ctx, cfg, logger)
		if err != nil {
			return nil, err
		}
		return &partner.Callback{D: d}, nil
	})
	lambda.Start(lazyinit.Handler(cb, (*partner.Callback).Handle))
}
