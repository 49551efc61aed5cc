// Command intake-web is the privacy center's Lambda function: the request
// form, new requests, the status page and the identity verification page,
// behind an API Gateway HTTP API (payload 2.0). The privacy center is a
// plain http.Handler; aws-lambda-go-api-proxy's httpadapter turns each
// event into an http.Request and the answer back into the event's response.
// The handler builds its AWS clients on the first request (webintake.NewAWS),
// so init reads the environment and nothing else.
package main

import (
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
	lambda.Start(httpadapter.NewV2(webintake.NewAWS(cfg, logger)).ProxyWithContext)
}
