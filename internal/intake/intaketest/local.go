package intaketest

import (
	"context"
	"log/slog"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"dsrflow/internal/dev/asl"
	"dsrflow/internal/dev/sfnapi"
	"dsrflow/internal/dev/sfnapi/sfnapitest"
)

// NewLocal starts the project's Step Functions API (internal/dev/sfnapi in front
// of the local engine, internal/dev/asl) instead of the recording endpoint, with
// one state machine, "dsrflow-requests", whose single Pass state ends at
// once; it closes it when tb ends. It returns a client for the API (dummy
// credentials, us-east-1) and the state machine's ARN: the executions intake
// starts there are real and can be listed and described.
func NewLocal(tb testing.TB) (client *sfn.Client, stateMachineArn string) {
	tb.Helper()
	logger := slog.New(slog.DiscardHandler)
	srv := sfnapi.New(sfnapi.ASL(asl.NewEngine(asl.Options{Logger: logger})), sfnapi.Options{Logger: logger})
	client, _ = sfnapitest.Serve(tb, srv, "us-east-1")
	smArn, err := srv.CreateStateMachine(context.Background(), "dsrflow-requests",
		`{"StartAt":"Admit","States":{"Admit":{"Type":"Pass","End":true}}}`,
		"arn:aws:iam::123456789012:role/dsrflow-requests")
	if err != nil {
		tb.Fatalf("CreateStateMachine: %v", err)
	}
	return client, smArn
}
