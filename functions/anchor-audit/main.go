// Command anchor-audit runs once a day (an EventBridge schedule): it writes
// the heads of the audit chains changed since their last anchor to the
// Object Lock bucket, outside the table they vouch for. Given
// {"requestId": "<id>"}, it anchors that request's chain at once. The logic
// is internal/anchor.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"

	"dsrflow/internal/anchor"
	"dsrflow/internal/anchor/s3anchor"
	"dsrflow/internal/lazyinit"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	a, err := anchor.FromEnv(logger, func(cfg aws.Config, bucket string) anchor.Sink {
		return s3anchor.Open(cfg, bucket, false)
	})
	if err != nil {
		logger.Error("anchor-audit: bad configuration", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(lazyinit.Handler(a, (*anchor.Anchorer).Handle))
}
