// Command partner is a task function of the request workflow
// (statemachines/dsr.asl.json): it dispatches to one partner and settles its iteration (state FanOut.Partner).
// The logic is workflow.Handlers.Partner in internal/workflow.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"dsrflow/internal/lazyinit"
	"dsrflow/internal/partner/export/s3bucket"
	"dsrflow/internal/workflow"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	h, err := workflow.FromEnv(logger, workflow.FunctionDeps{Exports: s3bucket.Open})
	if err != nil {
		logger.Error("partner: bad configuration", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(lazyinit.Handler(h, (*workflow.Handlers).Partner))
}
