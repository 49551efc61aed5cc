// Command close is a task function of the request workflow
// (statemachines/dsr.asl.json): it closes the request; for an erasure with the signed deletion certificate (states Close, CloseErasure, Expire).
// The logic is workflow.Handlers.Close in internal/workflow.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"

	"dsrflow/internal/anchor"
	"dsrflow/internal/anchor/s3anchor"
	"dsrflow/internal/certsign"
	"dsrflow/internal/lazyinit"
	"dsrflow/internal/notify/mailtransport"
	"dsrflow/internal/notify/smstransport"
	"dsrflow/internal/workflow"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	sms, err := smstransport.FromEnv()
	if err != nil {
		logger.Error("close: bad configuration", "error", err.Error())
		os.Exit(1)
	}
	h, err := workflow.FromEnv(logger, workflow.FunctionDeps{Email: mailtransport.FromConfig, SMS: workflow.SMSFactory(sms), Signer: signer, AnchorSink: anchorSink})
	if err != nil {
		logger.Error("close: bad configuration", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(lazyinit.Handler(h, (*workflow.Handlers).Close))
}

// anchorSink is the audit anchor bucket.
func anchorSink(awsCfg aws.Config, bucket string) anchor.Sink {
	return s3anchor.Open(awsCfg, bucket, false)
}

// signer opens the certificate signing key the configuration names.
func signer(awsCfg aws.Config, keyID, keyDir string) (workflow.Signer, error) {
	return certsign.Config{KeyID: keyID, LocalKeyDir: keyDir}.Documents(awsCfg)
}
