// Command admit is a task function of the request workflow
// (statemachines/dsr.asl.json): it checks the request and chooses how its requester is verified (state Admit).
// The logic is workflow.Handlers.Admit in internal/workflow.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"dsrflow/internal/lazyinit"
	"dsrflow/internal/workflow"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	h, err := workflow.FromEnv(logger, workflow.FunctionDeps{})
	if err != nil {
		logger.Error("admit: bad configuration", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(lazyinit.Handler(h, (*workflow.Handlers).Admit))
}
