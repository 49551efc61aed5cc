// Command reply is a task function of the request workflow
// (statemachines/dsr.asl.json): it answers the requester from the partners' outcomes (state Reply).
// The logic is workflow.Handlers.Reply in internal/workflow.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"dsrflow/internal/lazyinit"
	"dsrflow/internal/notify/mailtransport"
	"dsrflow/internal/notify/smstransport"
	"dsrflow/internal/partner/export/exportpage"
	"dsrflow/internal/partner/export/s3bucket"
	"dsrflow/internal/workflow"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	sms, err := smstransport.FromEnv()
	if err != nil {
		logger.Error("reply: bad configuration", "error", err.Error())
		os.Exit(1)
	}
	h, err := workflow.FromEnv(logger, workflow.FunctionDeps{Email: mailtransport.FromConfig, SMS: workflow.SMSFactory(sms), Exports: s3bucket.Open, ExportPage: exportpage.Render})
	if err != nil {
		logger.Error("reply: bad configuration", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(lazyinit.Handler(h, (*workflow.Handlers).Reply))
}
