// Command hellophone is hello-world that reads a phone number with
// internal/phone (upstream libphonenumber) on each invocation: the gap to
// hello-world is what libphonenumber's initialisation costs a function.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"

	"dsrflow/internal/phone"
)

func main() {
	lambda.Start(func(_ context.Context, _ json.RawMessage) (string, error) {
		return phone.Parse("138 0013 8000")
	})
}
