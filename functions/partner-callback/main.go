// Command partner-callback is the endpoint where asynchronous partners
// report (POST /partners/{partner}/callbacks behind the HTTP API): an
// http.Handler (partner.Callback) behind the API Gateway adapter.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"dsrflow/internal/lambdaedge"
	"dsrflow/internal/partner"
	"dsrflow/internal/partner/export/s3bucket"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg, err := partner.FunctionConfigFromEnv()
	if err != nil {
		logger.Error("partner-callback: bad configuration", "error", err.Error())
		os.Exit(1)
	}
	d, err := partner.LazyAWSDispatcher(cfg, logger, s3bucket.Open)
	if err != nil {
		logger.Error("partner-callback: bad configuration", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(lambdaedge.Lazy(partner.CallbackRoute, d, partner.NewCallback))
}
