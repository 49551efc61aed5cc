// Command verify-identity is a task function of the request workflow
// (statemachines/dsr.asl.json): it sends the one-time code or records the wait for an operator, and waits until identity is proved (state Verify).
// The logic is workflow.Handlers.Verify in internal/workflow.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"dsrflow/internal/lazyinit"
	"dsrflow/internal/notify/mailtransport"
	"dsrflow/internal/notify/smstransport"
	"dsrflow/internal/workflow"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	sms, err := smstransport.FromEnv()
	if err != nil {
		logger.Error("verify-identity: bad configuration", "error", err.Error())
		os.Exit(1)
	}
	h, err := workflow.FromEnv(logger, workflow.FunctionDeps{Email: mailtransport.FromConfig, SMS: workflow.SMSFactory(sms)})
	if err != nil {
		logger.Error("verify-identity: bad configuration", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(lazyinit.Handler(h, (*workflow.Handlers).Verify))
}
