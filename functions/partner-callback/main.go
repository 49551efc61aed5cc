// Command partner-callback receives partners' signed status callbacks
// (POST /partners/{partner}/callbacks, API Gateway HTTP API) and answers the
// FanOut state waiting for them.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"dsrflow/internal/lazyinit"
	"dsrflow/internal/partner"
	"dsrflow/internal/partner/export/s3bucket"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg, err := partner.FunctionConfigFromEnv()
	if err != nil {
		logger.Error("partner-callback: bad configuration", "error", err.Error())
		os.Exit(1)
	}
	d, err := partner.LazyAWSDispatcher(cfg, logger, s3bucket.Open)
	if err != nil {
		logger.Error("partner-callback: bad configuration", "error", err.Error())
		os.Exit(1)
	}
	cb := lazyinit.Derive(d, func(d *partner.Dispatcher) *partner.Callback { return &partner.Callback{D: d} })
	lambda.Start(lazyinit.Handler(cb, (*partner.Callback).Handle))
}
