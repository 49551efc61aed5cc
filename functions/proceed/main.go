// Command proceed is a task function of the request workflow
// (statemachines/dsr.asl.json). Proceed moves an accepted request to in_progress (state Proceed).
// The logic is workflow.Handlers.Proceed in internal/workflow.
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
	h, err := workflow.FromEnv(logger, workflow.Deps{})
	if err != nil {
		logger.Error("proceed: bad configuration", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(lazyinit.Handler(h, (*workflow.Handlers).Proceed))
}
