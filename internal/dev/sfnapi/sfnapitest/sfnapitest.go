// Package sfnapitest serves the project's Step Functions API (an
// sfnapi.Server, or any handler speaking the protocol) on a local httptest
// server for tests, with an AWS SDK client pointed at it, in the spirit of
// net/http/httptest.
package sfnapitest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
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

// History returns every event of execution arn (all pages, oldest first,
// with input and output data), failing tb on an error.
func History(ctx context.Context, tb testing.TB, client *sfn.Client, arn string) []sfntypes.HistoryEvent {
	tb.Helper()
	var out []sfntypes.HistoryEvent
	p := sfn.NewGetExecutionHistoryPaginator(client, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), IncludeExecutionData: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			tb.Fatalf("GetExecutionHistory %s: %v", arn, err)
		}
		out = append(out, page.Events...)
	}
	return out
}
