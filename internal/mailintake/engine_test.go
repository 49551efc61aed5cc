package mailintake_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"dsrflow/internal/dsr"
	"dsrflow/internal/intake"
	"dsrflow/internal/intake/intaketest"
	"dsrflow/internal/mailintake"
)

// TestAgainstLocalStepFunctions runs the handler against the project's Step
// Functions API (internal/dev/sfnapi in front of the local engine) instead of the
// recording endpoint: the executions it starts are real, named by request ID,
// with {"requestId": ...} as their whole input, one per request however often
// the mail is delivered.
func TestAgainstLocalStepFunctions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	client, smArn := intaketest.NewLocal(t)

	table := emu.NewTable(t)
	s3c, _ := fakeS3(t)
	h, err := mailintake.New(mailintake.Config{TableName: table, StateMachineArn: smArn, SubjectKeySecret: secret, MaxOpenPerSubject: 3},
		mailintake.Clients{DynamoDB: emu.Client(), S3: s3c, SFN: client}, logger)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{s3: s3c}

	two := readEvent(t, "intake-mail-two-objects.json")
	one := readEvent(t, "intake-mail.json")
	f.put(t, two.Records[0].S3.Object.URLDecodedKey, corpus(t, "duplicate_a.eml"))
	f.put(t, two.Records[1].S3.Object.URLDecodedKey, corpus(t, "duplicate_b.eml"))
	f.put(t, one.Records[0].S3.Object.URLDecodedKey, corpus(t, "zh_utf8_erasure.eml"))
	for _, ev := range []string{"intake-mail-two-objects.json", "intake-mail.json", "intake-mail.json"} {
		if err := h.Handle(ctx, readEvent(t, ev)); err != nil {
			t.Fatalf("Handle %s: %v", ev, err)
		}
	}

	list, err := client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(smArn)})
	if err != nil {
		t.Fatalf("ListExecutions: %v", err)
	}
	want := map[string]bool{
		intake.RequestID(dsr.ChannelMail, dedupeKey(corpus(t, "duplicate_a.eml"), two.Records[0].S3.Object.URLDecodedKey)):     true,
		intake.RequestID(dsr.ChannelMail, dedupeKey(corpus(t, "zh_utf8_erasure.eml"), one.Records[0].S3.Object.URLDecodedKey)): true,
	}
	if len(list.Executions) != len(want) {
		t.Fatalf("executions = %d, want %d (one per request)", len(list.Executions), len(want))
	}
	for _, x := range list.Executions {
		name := aws.ToString(x.Name)
		if !want[name] {
			t.Errorf("execution named %q, want a request ID of %v", name, want)
			continue
		}
		d, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: x.ExecutionArn})
		if err != nil {
			t.Fatalf("DescribeExecution: %v", err)
		}
		var in map[string]any
		if err := json.Unmarshal([]byte(aws.ToString(d.Input)), &in); err != nil || !reflect.DeepEqual(in, map[string]any{"requestId": name}) {
			t.Errorf("execution %s input = %s, want exactly {\"requestId\":%q}", name, aws.ToString(d.Input), name)
		}
	}
}
