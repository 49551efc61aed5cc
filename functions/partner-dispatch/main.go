// Command partner-dispatch is a task function of the request workflow
// (statemachines/dsr.asl.json). It sends the signed request to one partner, once (state FanOut/Dispatch).
// The logic is partner.Dispatcher.Dispatch in internal/partner.
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
		logger.Error("partner-dispatch: start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h.Partners.Dispatch)
}
