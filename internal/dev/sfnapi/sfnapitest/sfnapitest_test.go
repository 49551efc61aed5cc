package sfnapitest_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"dsrflow/internal/dev/asl"
	"dsrflow/internal/dev/sfnapi"
	"dsrflow/internal/dev/sfnapi/sfnapitest"
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

// TestHistory: every event of an execution, across pages, oldest first.
func TestHistory(t *testing.T) {
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	api := sfnapi.New(sfnapi.ASL(asl.NewEngine(asl.Options{Logger: logger})), sfnapi.Options{Logger: logger})
	client, _ := sfnapitest.Serve(t, api, "")
	// 150 Pass states: more events than one page (100) holds.
	var states []string
	for i := range 150 {
		next := `"End":true`
		if i < 149 {
			next = fmt.Sprintf(`"Next":"S%d"`, i+1)
		}
		states = append(states, fmt.Sprintf(`"S%d":{"Type":"Pass",%s}`, i, next))
	}
	sm, err := client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name:       aws.String("long"),
		Definition: aws.String(`{"StartAt":"S0","States":{` + strings.Join(states, ",") + `}}`),
		RoleArn:    aws.String("arn:aws:iam::123456789012:role/r"),
	})
	if err != nil {
		t.Fatal(err)
	}
	x, err := client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Name: aws.String("x"), Input: aws.String(`{"a":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	var h []sfntypes.HistoryEvent
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		h = sfnapitest.History(ctx, t, client, aws.ToString(x.ExecutionArn))
		if n := len(h); n > 0 && h[n-1].Type == sfntypes.HistoryEventTypeExecutionSucceeded {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Started, 150 × (entered, exited), succeeded.
	if got, want := len(h), 2+2*150; got != want {
		t.Fatalf("History: %d events, want %d", got, want)
	}
	if h[0].Type != sfntypes.HistoryEventTypeExecutionStarted || aws.ToString(h[0].ExecutionStartedEventDetails.Input) != `{"a":1}` {
		t.Errorf("first event %s with input %v, want ExecutionStarted with the input data", h[0].Type, h[0].ExecutionStartedEventDetails)
	}
	for i := 1; i < len(h); i++ {
		if h[i].Id <= h[i-1].Id {
			t.Fatalf("event %d has ID %d after %d: not oldest first", i, h[i].Id, h[i-1].Id)
		}
	}
}
