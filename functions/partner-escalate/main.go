// Command partner-escalate is a task function of the request workflow
// (statemachines/dsr.asl.json). It records that the fan-out gave up on one partner, and why (state FanOut/Escalate).
// The logic is partner.Dispatcher.Escalate in internal/partner.
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
		logger.Error("partner-escalate: bad configuration", "error", err.Error())
		os.Exit(1)
	}
	d, err := partner.LazyAWSDispatcher(cfg, logger, s3bucket.Open)
	if err != nil {
		logger.Error("partner-escalate: bad configuration", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(lazyinit.Handler(d, (*partner.Dispatcher).Escalate))
}
