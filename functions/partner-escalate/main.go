// Command partner-escalate is a task function of the request workflow
// (statemachines/dsr.asl.json). It records that the fan-out gave up on one partner, and why (state FanOut/Escalate).
// The logic is partner.Dispatcher.Escalate in internal/partner.
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
		logger.Error("partner-escalate: start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h.Partners.Escalate)
}
