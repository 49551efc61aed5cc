// Command admit is a task function of the request workflow
// (statemachines/dsr.asl.json). Admit checks a new request and chooses how its identity is verified (state Admit).
// The logic is workflow.Handlers.Admit in internal/workflow.
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
		logger.Error("admit: start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h.Admit)
}
