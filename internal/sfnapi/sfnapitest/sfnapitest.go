// Package sfnapitest serves the project's Step Functions API (an
// sfnapi.Server, or any handler speaking the protocol) on a local httptest
// server for tests, with an AWS SDK client pointed at it, in the spirit of
// net/http/httptest.
package sfnapitest

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

// DefaultRegion is the client's region when Serve is given none.
const DefaultRegion = "us-east-1"

// Serve serves api until tb ends and returns a Step Functions client for it
// (region, or DefaultRegion when empty; static dummy credentials) and the
// server's URL.
func Serve(tb testing.TB, api http.Handler, region string) (client *sfn.Client, url string) {
	tb.Helper()
	hs := httptest.NewServer(api)
	tb.Cleanup(hs.Close)
	if region == "" {
		region = DefaultRegion
	}
	client = sfn.New(sfn.Options{
		Region:       region,
		BaseEndpoint: aws.String(hs.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDLOCAL", "secret", ""),
	})
	return client, hs.URL
}
