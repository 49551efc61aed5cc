// Command confirm-backup-purge is a task function of the request workflow
// (statemachines/dsr.asl.json): it asks the backup systems whether the data has rotated out (state ConfirmBackupPurge).
// The logic is workflow.Handlers.ConfirmBackupPurge in internal/workflow.
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
		logger.Error("confirm-backup-purge: bad configuration", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(lazyinit.Handler(h, (*workflow.Handlers).ConfirmBackupPurge))
}
