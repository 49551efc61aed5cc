// Command intake-web is the privacy center's Lambda function: the request
// form, new requests, the status page and the identity verification page,
// behind an API Gateway HTTP API (payload 2.0). The privacy center is a
// plain http.Handler; aws-lambda-go-api-proxy's httpadapter turns each
// event into an http.Request and the answer back into the event's response.
// The handler reads its secrets and builds its AWS clients in the background
// as the runtime starts (webintake.AWS.Prime), or on the first request.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"dsrflow/internal/webintake"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg, err := webintake.ConfigFromEnv()
	if err != nil {
		logger.Error("intake-web: bad configuration", "error", err.Error())
		os.Exit(1)
	}
	h := webintake.NewAWS(cfg, logger)
	// The secrets and clients are made while the runtime starts, not after.
	go h.Prime(context.Background())
	lambda.Start(httpadapter.NewV2(h).ProxyWithContext)
}
