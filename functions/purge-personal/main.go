// Command purge-personal is a task function of the request workflow
// (statemachines/dsr.asl.json): it deletes the request's personal data after the follow-up period (state Purge).
// The logic is workflow.Handlers.Purge in internal/workflow.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"

	"dsrflow/internal/documents"
	"dsrflow/internal/lazyinit"
	"dsrflow/internal/workflow"
)

func documentStore(cfg aws.Config) workflow.DocumentStore { return documents.Open(cfg) }

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	h, err := workflow.FromEnv(logger, workflow.FunctionDeps{Documents: documentStore})
	if err != nil {
		logger.Error("purge-personal: bad configuration", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(lazyinit.Handler(h, (*workflow.Handlers).Purge))
}
