// Command partner-callback receives partners' signed status callbacks
// (POST /partners/{partner}/callbacks, API Gateway HTTP API) and answers the
// FanOut state waiting for them.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"dsrflow/internal/partner"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg, err := partner.FunctionConfigFromEnv()
	if err != nil {
		logger.Error("partner-callback: bad configuration", "error", err.Error())
		os.Exit(1)
	}
	d, _, err := partner.NewAWSDispatcher(context.Background(), cfg, logger)
	if err != nil {
		logger.Error("partner-callback: start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start((&partner.Callback{D: d}).Handle)
}
