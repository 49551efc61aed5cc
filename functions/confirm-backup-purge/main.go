// Command confirm-backup-purge is a task function of the request workflow
// (statemachines/dsr.asl.json). It asks each backup system that no backup older than the deletion remains (state ConfirmBackupPurge).
// The logic is partner.Dispatcher.ConfirmBackupPurge in internal/partner.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"dsrflow/internal/lazyinit"
	"dsrflow/internal/partner"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg, err := partner.FunctionConfigFromEnv()
	if err != nil {
		logger.Error("confirm-backup-purge: bad configuration", "error", err.Error())
		os.Exit(1)
	}
	d, err := partner.LazyAWSDispatcher(cfg, logger, nil)
	if err != nil {
		logger.Error("confirm-backup-purge: bad configuration", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(lazyinit.Handler(d, (*partner.Dispatcher).ConfirmBackupPurge))
}
