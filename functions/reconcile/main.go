// Command reconcile runs on a schedule (an EventBridge rule): it starts
// requests that were written but never started, restarts executions that
// died, purges the personal data of closed requests the workflow missed,
// and raises alarms (CloudWatch embedded metrics) for requests stuck, due
// soon or past due and for holiday data about to run out. The logic is
// internal/reconcile.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"dsrflow/internal/lazyinit"
	"dsrflow/internal/reconcile"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	r, err := reconcile.FromEnv(logger)
	if err != nil {
		logger.Error("reconcile: bad configuration", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(lazyinit.Handler(r, (*reconcile.Reconciler).Handle))
}
