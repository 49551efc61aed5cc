// Command partner-dispatch is a task function of the request workflow
// (statemachines/dsr.asl.json). It sends the signed request to one partner, once (state FanOut/Dispatch).
// The logic is partner.Dispatcher.Dispatch in internal/partner.
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
		logger.Error("partner-dispatch: bad configuration", "error", err.Error())
		os.Exit(1)
	}
	d, err := partner.LazyAWSDispatcher(cfg, logger, s3bucket.Open)
	if err != nil {
		logger.Error("partner-dispatch: bad configuration", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(lazyinit.Handler(d, (*partner.Dispatcher).Dispatch))
}
