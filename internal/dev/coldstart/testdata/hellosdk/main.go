// Command hellosdk is the second cold-start baseline: hello-world that links
// the AWS SDK clients the functions use (DynamoDB, Step Functions, S3, SES)
// and builds them lazily, on the first invocation, from the environment as
// the functions do (internal/awsenv). Its init time is what a function with
// lazy clients can reach; the gap to hello-world is the cost of the SDK's
// package initialisation (mostly the DynamoDB schema package).
package main

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/ses"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"dsrflow/internal/awsenv"
)

func main() {
	var once sync.Once
	var clients []any
	lambda.Start(func(ctx context.Context, _ json.RawMessage) (int, error) {
		var err error
		once.Do(func() {
			cfg, e := awsenv.Load(ctx)
			if e != nil {
				err = e
				return
			}
			clients = []any{dynamodb.NewFromConfig(cfg), sfn.NewFromConfig(cfg), s3.NewFromConfig(cfg), ses.NewFromConfig(cfg)}
		})
		return len(clients), err
	})
}
