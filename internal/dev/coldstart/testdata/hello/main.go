// Command hello is the cold-start baseline: the smallest aws-lambda-go
// function, built like the real ones.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(_ context.Context, _ json.RawMessage) (string, error) { return "hello", nil })
}
