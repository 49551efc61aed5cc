// Command partner-await is a task function of the request workflow
// (statemachines/dsr.asl.json). It stores the task token an asynchronous partner's callback answers (state FanOut/AwaitCallback).
// The logic is partner.Dispatcher.Await in internal/partner.
package main

import (
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
		logger.Error("partner-await: bad configuration", "error", err.Error())
		os.Exit(1)
	}
	d, err := partner.LazyAWSDispatcher(cfg, logger, nil)
	if err != nil {
		logger.Error("partner-await: bad configuration", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(lazyinit.Action(d, (*partner.Dispatcher).Await))
}
