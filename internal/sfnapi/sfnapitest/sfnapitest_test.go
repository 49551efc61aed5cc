package sfnapitest_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"dsrflow/internal/asl"
	"dsrflow/internal/sfnapi"
	"dsrflow/internal/sfnapi/sfnapitest"
)

// TestServe: the client reaches the served API in the region asked for (the
// default when none is given).
func TestServe(t *testing.T) {
	for _, tt := range []struct{ region, want string }{
		{"", sfnapitest.DefaultRegion},
		{"cn-north-1", "cn-north-1"},
	} {
		logger := slog.New(slog.DiscardHandler)
		api := sfnapi.New(sfnapi.ASL(asl.NewEngine(asl.Options{Logger: logger})), sfnapi.Options{Region: tt.want, Logger: logger})
		client, url := sfnapitest.Serve(t, api, tt.region)
		if !strings.HasPrefix(url, "http://127.0.0.1:") {
			t.Errorf("url = %q, want a local httptest URL", url)
		}
		if got := client.Options().Region; got != tt.want {
			t.Errorf("Serve(%q): client region %q, want %q", tt.region, got, tt.want)
		}
		out, err := client.CreateStateMachine(context.Background(), &sfn.CreateStateMachineInput{
			Name:       aws.String("m"),
			Definition: aws.String(`{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}`),
			RoleArn:    aws.String("arn:aws:iam::123456789012:role/r"),
		})
		if err != nil {
			t.Fatalf("CreateStateMachine through the client: %v", err)
		}
		if arn := aws.ToString(out.StateMachineArn); !strings.Contains(arn, ":"+tt.want+":") {
			t.Errorf("state machine ARN %s, want it in %s", arn, tt.want)
		}
	}
}
