// Command partner-await is a task function of the request workflow
// (statemachines/dsr.asl.json). It stores the task token an asynchronous partner's callback answers (state FanOut/AwaitCallback).
// The logic is partner.Dispatcher.Await in internal/partner.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"dsrflow/internal/workflow"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	h, err := workflow.FromEnv(context.Background(), logger)
	if err != nil {
		logger.Error("partner-await: start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h.Partners.Await)
}
