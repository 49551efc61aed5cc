package partner_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dsr"
	"dsrflow/internal/partner"
	"dsrflow/internal/store"
)

// sampleSecret signs the sample events in events/partner-callback*.json.
const sampleSecret = "sample-partner-secret-do-not-use"

// TestSampleEvents runs the sample callback events through the handler: they
// are in API Gateway's shape, correctly signed, and recorded.
func TestSampleEvents(t *testing.T) {
	t.Parallel()
	root, err := dynamotest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file, partner string
		want          int
		result        string
		status        store.PartnerStatus
	}{
		{"partner-callback.json", "voice-model-store", 200, "recorded", store.PartnerCompleted},
		{"partner-callback-base64.json", "voice-model-store", 200, "already_recorded", store.PartnerCompleted},
		{"partner-callback-failed.json", "analytics", 200, "recorded", store.PartnerFailed},
		{"partner-callback-progress.json", "cloud-storage", 200, "noted", store.PartnerAwaitingCallback},
	}
	cfg := loadExample(t)
	st := store.New(emu.Client(), emu.NewTable(t))
	sfnRec := &recordingSFN{}
	secrets := partner.NewSecrets(nil)
	secrets.Schemes["env"] = partner.Env{Lookup: func(string) (string, bool) { return sampleSecret, true }}
	signedAt := func() time.Time { return time.Unix(1795841892, 0).Add(30 * time.Second) }
	d := &partner.Dispatcher{Store: st, Config: cfg, Secrets: secrets, Client: &partner.Client{Now: signedAt}, SFN: sfnRec}
	cb := &partner.Callback{D: d}
	ctx := t.Context()
	const id = "dsr-7f3a9c2e41b05d68"
	if _, _, err := st.CreateRequest(ctx, &dsr.Request{ID: id, Kind: dsr.KindErasure, Status: dsr.StatusInProgress, Channel: dsr.ChannelWeb, Role: dsr.RoleSelf, Locale: "zh-CN"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"voice-model-store", "analytics", "cloud-storage"} {
		if _, _, err := st.PutPartnerTask(ctx, store.PartnerTask{RequestID: id, PartnerID: p, Action: "erase", Status: store.PartnerAwaitingCallback, TaskToken: "token-" + p}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range tests {
		b, err := os.ReadFile(filepath.Join(root, "events", tt.file))
		if err != nil {
			t.Fatal(err)
		}
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		resp, err := cb.Handle(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		var res partner.CallbackResult
		decodeJSON(t, resp.Body, &res)
		if resp.StatusCode != tt.want || res.Result != tt.result {
			t.Errorf("%s: %d %s, want %d %s", tt.file, resp.StatusCode, resp.Body, tt.want, tt.result)
		}
		tk, err := st.GetPartnerTask(ctx, id, tt.partner)
		if err != nil {
			t.Fatal(err)
		}
		if tk.Status != tt.status {
			t.Errorf("%s: task %s, want %s", tt.file, tk.Status, tt.status)
		}
	}
	calls := sfnRec.Calls()
	if len(calls) != 2 || calls[0].Token != "token-voice-model-store" || calls[1].Error != "PartnerFailed" {
		t.Errorf("SFN calls %+v, want success for voice-model-store and PartnerFailed for analytics", calls)
	}
}
