package operator

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dsr"
	"dsrflow/internal/store"
)

var emu *dynamotest.Emulator

func TestMain(m *testing.M) { os.Exit(dynamotest.Main(m, &emu)) }

type fakeSFN struct {
	outputs map[string]string
	gone    map[string]bool
	fail    int // fail this many calls with a transient error
}

func (f *fakeSFN) SendTaskSuccess(ctx context.Context, in *sfn.SendTaskSuccessInput, _ ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error) {
	if f.fail > 0 {
		f.fail--
		return nil, errors.New("connection reset")
	}
	if f.gone[*in.TaskToken] {
		return nil, &sfntypes.TaskTimedOut{Message: aws.String("gone")}
	}
	f.outputs[*in.TaskToken] = *in.Output
	return &sfn.SendTaskSuccessOutput{}, nil
}

func TestDecide(t *testing.T) {
	ctx := context.Background()
	table := emu.NewTable(t)
	now := time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st := store.New(store.Config{Table: table}, store.Deps{DB: emu.Client(), Clock: clock})
	if _, _, err := st.CreateRequest(ctx, &dsr.Request{ID: "r-1", Kind: dsr.KindAccess, Status: dsr.StatusInReview, SubjectKeys: []string{"k"}}, nil); err != nil {
		t.Fatal(err)
	}
	f := &fakeSFN{outputs: map[string]string{}, gone: map[string]bool{}}
	s := New(Deps{Store: st, SFN: f, Clock: clock})

	invalid := []Decision{
		{RequestID: "r-1", Stage: StageVerification, Actor: "li"},                                           // refuse without reason
		{RequestID: "r-1", Stage: StageVerification, Actor: "li", Reason: "bored"},                          // unknown reason
		{RequestID: "r-1", Stage: "lunch", Actor: "li", Approve: true},                                      // unknown stage
		{RequestID: "r-1", Stage: StageReview, Approve: true},                                               // no actor
		{RequestID: "r-1", Stage: StageReview, Approve: true, Actor: "li", Note: string(make([]byte, 501))}, // long note
	}
	for _, d := range invalid {
		if err := s.Decide(ctx, d); !errors.Is(err, ErrInvalid) {
			t.Errorf("Decide(%+v) = %v, want ErrInvalid", d, err)
		}
	}
	approve := Decision{RequestID: "r-1", Stage: StageVerification, Approve: true, Actor: "li", Note: "ID checked"}
	if err := s.Decide(ctx, approve); !errors.Is(err, ErrNotWaiting) {
		t.Errorf("Decide before any wait = %v, want ErrNotWaiting", err)
	}
	if first, err := s.Await(ctx, "r-1", StageVerification, "role_agent", "tok-1"); err != nil || !first {
		t.Fatalf("Await: %v, %v", first, err)
	}
	if err := s.Decide(ctx, approve); err != nil {
		t.Fatal(err)
	}
	var out TaskOutput
	if err := json.Unmarshal([]byte(f.outputs["tok-1"]), &out); err != nil || out.Result != ResultApproved || out.Method != "manual" || out.VerifiedAt == "" || out.Reason != "" {
		t.Errorf("task output %s (%v)", f.outputs["tok-1"], err)
	}
	if err := s.Decide(ctx, approve); !errors.Is(err, ErrAlreadyDecided) {
		t.Errorf("second Decide = %v, want ErrAlreadyDecided", err)
	}
	// A retried task (new token) gets the decision at once.
	if first, err := s.Await(ctx, "r-1", StageVerification, "role_agent", "tok-2"); err != nil || first {
		t.Fatalf("Await again: %v, %v", first, err)
	}
	if f.outputs["tok-2"] != f.outputs["tok-1"] {
		t.Errorf("retried task got %q, want the recorded decision %q", f.outputs["tok-2"], f.outputs["tok-1"])
	}
	// A wait the workflow left (timed out) is ErrNotWaiting.
	if _, err := s.Await(ctx, "r-1", StageReview, "repeat_limit", "tok-3"); err != nil {
		t.Fatal(err)
	}
	f.gone["tok-3"] = true
	if err := s.Decide(ctx, Decision{RequestID: "r-1", Stage: StageReview, Reason: dsr.RefusalGroundlessRepetition, Actor: "li"}); !errors.Is(err, ErrNotWaiting) {
		t.Errorf("Decide on a gone task = %v, want ErrNotWaiting", err)
	}

	// A decision Step Functions did not get is sent again by the next Decide.
	if _, _, err := st.CreateRequest(ctx, &dsr.Request{ID: "r-2", Kind: dsr.KindAccess, Status: dsr.StatusInReview, SubjectKeys: []string{"k"}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Await(ctx, "r-2", StageReview, "repeat_limit", "tok-4"); err != nil {
		t.Fatal(err)
	}
	f.fail = 1
	refuse := Decision{RequestID: "r-2", Stage: StageReview, Reason: dsr.RefusalGroundlessRepetition, Actor: "li"}
	if err := s.Decide(ctx, refuse); err == nil {
		t.Fatal("Decide with Step Functions down succeeded")
	}
	if err := s.Decide(ctx, refuse); err != nil {
		t.Fatalf("Decide again: %v", err)
	}
	if err := json.Unmarshal([]byte(f.outputs["tok-4"]), &out); err != nil || out.Result != ResultRefused || out.Reason != "groundless_repetition" {
		t.Errorf("resent output %q (%v)", f.outputs["tok-4"], err)
	}
	if err := s.Decide(ctx, refuse); !errors.Is(err, ErrAlreadyDecided) {
		t.Errorf("Decide after delivery = %v, want ErrAlreadyDecided", err)
	}
}
