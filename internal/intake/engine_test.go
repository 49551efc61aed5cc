package intake_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"dsrflow/internal/dsr"
	"dsrflow/internal/intake"
	"dsrflow/internal/intake/intaketest"
)

// TestRestartAfterLostFlag runs against the project's Step Functions API and
// local engine: a request whose execution ran but whose ExecutionStarted flag
// was never written (the function died in between) is submitted again. The
// second StartExecution meets the existing execution, which counts as started:
// still one execution, and the flag is set.
func TestRestartAfterLostFlag(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client, smArn := intaketest.NewLocal(t)
	f := newFixtureSFN(t, 3, client, smArn)

	sub := intake.Submission{Validated: validated(t, "h@example.cn", ""), Channel: dsr.ChannelMail, NaturalKey: "m"}
	first, err := f.svc.Submit(ctx, sub)
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	// Lose the flag, as if the function died after StartExecution.
	if _, err := f.st.UpdateRequest(ctx, first.Request.ID, first.Request.Version, func(r *dsr.Request) { r.ExecutionStarted = false }); err != nil {
		t.Fatalf("reset flag: %v", err)
	}
	again, err := f.svc.Submit(ctx, sub)
	if err != nil {
		t.Fatalf("second Submit: %v", err)
	}
	if !again.Duplicate || !again.Started || !again.Request.ExecutionStarted {
		t.Errorf("second Submit = dup %v started %v flag %v, want all true", again.Duplicate, again.Started, again.Request.ExecutionStarted)
	}
	list, err := client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(smArn)})
	if err != nil {
		t.Fatalf("ListExecutions: %v", err)
	}
	if len(list.Executions) != 1 || aws.ToString(list.Executions[0].Name) != first.Request.ID {
		t.Errorf("executions = %d, want 1 named %s", len(list.Executions), first.Request.ID)
	}
}
