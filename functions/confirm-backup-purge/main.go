// Command confirm-backup-purge is a task function of the request workflow
// (statemachines/dsr.asl.json). It asks each backup system that no backup older than the deletion remains (state ConfirmBackupPurge).
// The logic is partner.Dispatcher.ConfirmBackupPurge in internal/partner.
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
		logger.Error("confirm-backup-purge: start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h.Partners.ConfirmBackupPurge)
}
