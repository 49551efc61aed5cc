// Command intake-web is the privacy center's Lambda function: the request
// form, new requests, the status page and the identity verification page,
// behind an API Gateway HTTP API.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"dsrflow/internal/lazyinit"
	"dsrflow/internal/webintake"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg, err := webintake.ConfigFromEnv()
	if err != nil {
		logger.Error("intake-web: bad configuration", "error", err.Error())
		os.Exit(1)
	}
	h := webintake.NewAWSHandler(cfg, logger)
	lambda.Start(lazyinit.Handler(h, (*webintake.Handler).Handle))
}
