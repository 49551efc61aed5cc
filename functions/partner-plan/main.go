// Command partner-plan is a task function of the request workflow
// (statemachines/dsr.asl.json). It writes a pending task for every partner the request concerns and lists them for the Map (state PlanFanOut).
// The logic is workflow.Handlers.PlanFanOut (partner.Dispatcher.Plan; none under a legal hold deferring erasure).
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
		logger.Error("partner-plan: bad configuration", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(lazyinit.Handler(h, (*workflow.Handlers).PlanFanOut))
}
