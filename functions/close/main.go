// Command close is a task function of the request workflow
// (statemachines/dsr.asl.json): it closes the request; for an erasure with the signed deletion certificate (states Close, CloseErasure, Expire).
// The logic is workflow.Handlers.Close in internal/workflow.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"dsrflow/internal/lazyinit"
	"dsrflow/internal/notify/mailtransport"
	"dsrflow/internal/workflow"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	h, err := workflow.FromEnv(logger, workflow.FunctionDeps{Email: mailtransport.FromConfig})
	if err != nil {
		logger.Error("close: bad configuration", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(lazyinit.Handler(h, (*workflow.Handlers).Close))
}
