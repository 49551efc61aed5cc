// Command intake-mail is the privacy mailbox's Lambda function: S3
// ObjectCreated events for raw messages → internal/mailintake.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"dsrflow/internal/mailintake"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg, err := mailintake.LoadConfig(nil)
	if err != nil {
		logger.Error("configuration", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(mailintake.Lambda(cfg, logger))
}
