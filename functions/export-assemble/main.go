// Command export-assemble is a task function of the request workflow
// (statemachines/dsr.asl.json). It gathers the partners' exports into one encrypted package in S3 (state AssembleExport).
// The logic is workflow.Handlers.ExportAssemble (export.Assembler).
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"dsrflow/internal/lazyinit"
	"dsrflow/internal/partner/export/exportpage"
	"dsrflow/internal/partner/export/s3bucket"
	"dsrflow/internal/workflow"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	h, err := workflow.FromEnv(logger, workflow.Deps{Exports: s3bucket.Open, ExportPage: exportpage.Render})
	if err != nil {
		logger.Error("export-assemble: bad configuration", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(lazyinit.Handler(h, (*workflow.Handlers).ExportAssemble))
}
