// Command account-precheck is a task function of the request workflow
// (statemachines/dsr.asl.json). It asks the account system for outstanding obligations before an account closure (state AccountPrecheck).
// The logic is workflow.Handlers.AccountPrecheck (partner.Dispatcher.Precheck).
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
		logger.Error("account-precheck: bad configuration", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(lazyinit.Handler(h, (*workflow.Handlers).AccountPrecheck))
}
