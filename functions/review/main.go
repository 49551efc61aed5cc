// Command review is a task function of the request workflow
// (statemachines/dsr.asl.json). Review stores the due date and decides: duplicate, legal hold, repeat requests, or proceed (state Review).
// The logic is workflow.Handlers.Review in internal/workflow.
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
		logger.Error("review: bad configuration", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(lazyinit.Handler(h, (*workflow.Handlers).Review))
}
