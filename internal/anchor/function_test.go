package anchor

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dsrflow/internal/dev/dynamotest"
)

func TestFunctionConfigFrom(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		want    FunctionConfig
		wantErr string
	}{
		{"defaults", map[string]string{"TABLE_NAME": "t", "ANCHOR_BUCKET": "b"}, FunctionConfig{TableName: "t", AnchorBucket: "b", MaxChains: DefaultMaxChains}, ""},
		{"max chains", map[string]string{"TABLE_NAME": "t", "ANCHOR_BUCKET": "b", "ANCHOR_MAX_CHAINS": "10"}, FunctionConfig{TableName: "t", AnchorBucket: "b", MaxChains: 10}, ""},
		{"no bucket", map[string]string{"TABLE_NAME": "t"}, FunctionConfig{}, "ANCHOR_BUCKET"},
		{"no table", map[string]string{"ANCHOR_BUCKET": "b"}, FunctionConfig{}, "TABLE_NAME"},
		{"max chains over the limit", map[string]string{"TABLE_NAME": "t", "ANCHOR_BUCKET": "b", "ANCHOR_MAX_CHAINS": "100001"}, FunctionConfig{}, "ANCHOR_MAX_CHAINS"},
		{"max chains not a number", map[string]string{"TABLE_NAME": "t", "ANCHOR_BUCKET": "b", "ANCHOR_MAX_CHAINS": "many"}, FunctionConfig{}, "ANCHOR_MAX_CHAINS"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := FunctionConfigFrom(tc.env)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("FunctionConfigFrom = %+v, %v; want an error naming %s", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("FunctionConfigFrom = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// TestHandleSampleEvents: the function's sample events decode strictly into
// Input; the schedule's anchors every changed chain, {"requestId"} one.
func TestHandleSampleEvents(t *testing.T) {
	t.Parallel()
	root, err := dynamotest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	decode := func(file string) Input {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(root, "events", file))
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		var in Input
		if err := dec.Decode(&in); err != nil {
			t.Fatalf("%s does not decode strictly into Input: %v", file, err)
		}
		return in
	}
	f := newFixture(t)
	scheduled := decode("anchor-audit.json")
	byID := decode("anchor-audit-request.json")
	f.request("r1", 2)
	f.request(byID.RequestID, 3)
	if scheduled.DetailType != "Scheduled Event" || scheduled.RequestID != "" {
		t.Fatalf("scheduled event decoded as %+v", scheduled)
	}
	a := f.anchorer(Config{})
	res, err := a.Handle(f.ctx, byID)
	if err != nil || len(res.Anchors) != 1 || !strings.Contains(res.Anchors[0], "-closed-") {
		t.Errorf("Handle(%s) = %+v, %v; want one closed anchor", byID.RequestID, res, err)
	}
	res, err = a.Handle(f.ctx, scheduled)
	if err != nil || len(res.Anchors) != 1 || res.Chains != 1 || !strings.Contains(res.Anchors[0], "-daily-") {
		t.Errorf("Handle(schedule) = %+v, %v; want one daily anchor of r1", res, err)
	}
}
