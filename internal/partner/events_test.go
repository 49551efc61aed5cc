package partner_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dev/partnersim"
	"dsrflow/internal/dsr"
	"dsrflow/internal/lambdaedge"
	"dsrflow/internal/lazyinit"
	"dsrflow/internal/partner"
	"dsrflow/internal/store"
)

// sampleSecret signs the sample events in events/partner-callback*.json.
const sampleSecret = "sample-partner-secret-do-not-use"

// sampleSignedAt is 30 seconds after the sample callbacks were signed.
func sampleSignedAt() time.Time { return time.Unix(1795841892, 0).Add(30 * time.Second) }

func readEvent(t *testing.T, name string) []byte {
	t.Helper()
	root, err := dynamotest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sampleDispatcher is a dispatcher over the example configuration, every
// secret the samples' one, on a fresh table; clientNow is the signature
// clock (nil: the wall clock), and the partners are simulated locally.
func sampleDispatcher(t *testing.T, clientNow func() time.Time, overrides map[string]partnersim.Behavior) (*partner.Dispatcher, *store.Store, *recordingSFN, *partnersim.Fleet) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	fleet, cfg := partnersim.Local(loadExample(t), "http://"+srv.Listener.Addr().String(), func(string) []byte { return []byte(sampleSecret) }, overrides)
	srv.Config.Handler = fleet
	srv.Start()
	t.Cleanup(srv.Close)
	st := store.New(store.Config{Table: emu.NewTable(t)}, store.Deps{DB: emu.Client()})
	rec := &recordingSFN{}
	logs := &syncBuffer{}
	secrets := partner.NewSecrets(map[string]partner.SecretResolver{
		partner.SecretStoreScheme: partner.SecretStore{Getter: everySecret(sampleSecret), Default: "sample-partner-secrets"},
	})
	secrets.Schemes["env"] = partner.Env{Lookup: func(string) (string, bool) { return sampleSecret, true }}
	d := partner.NewDispatcher(partner.DispatcherConfig{Partners: cfg, CallbackBaseURL: "https://a1b2c3d4e5.execute-api.cn-north-1.amazonaws.com.cn"},
		partner.DispatcherDeps{Store: st, Secrets: secrets, Client: &partner.Client{Now: clientNow}, SFN: rec, Exports: &memExports{}, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	t.Cleanup(func() { noPersonalData(t, "logs", logs.String()) })
	return d, st, rec, fleet
}

// sampleRequest stores the samples' request (an erasure) with the usual
// identity.
func sampleRequest(t *testing.T, st *store.Store, id string) {
	t.Helper()
	f := &fixture{st: st}
	f.store(t, &newRequest{
		Request:  &dsr.Request{ID: id, Kind: dsr.KindErasure, Status: dsr.StatusInProgress, Channel: dsr.ChannelWeb, Role: dsr.RoleSelf, Locale: "zh-CN"},
		Personal: &dsr.Personal{Contact: dsr.Contact{Email: subjectEmail}},
		Identity: &dsr.Identity{Subject: dsr.Identifiers{Accounts: []string{subjectAccount}, Emails: []string{subjectEmail}, Phones: []string{subjectPhone}}, Resolution: dsr.ResolutionResolved},
	})
}

// TestSampleCallbackEvents runs the sample callback events (API Gateway
// HTTP API, payload 2.0) through the deployed wiring: lambdaedge serving
// partner.NewCallback on partner.CallbackRoute. They are correctly signed,
// one is base64-encoded, and each gets the documented answer.
func TestSampleCallbackEvents(t *testing.T) {
	t.Parallel()
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
	d, st, rec, _ := sampleDispatcher(t, sampleSignedAt, nil)
	ctx := t.Context()
	const id = "dsr-7f3a9c2e41b05d68"
	sampleRequest(t, st, id)
	for _, p := range []string{"voice-model-store", "analytics", "cloud-storage"} {
		if _, _, err := st.PutPartnerTask(ctx, store.PartnerTask{RequestID: id, PartnerID: p, Action: "erase", Status: store.PartnerAwaitingCallback, TaskToken: "token-" + p}); err != nil {
			t.Fatal(err)
		}
	}
	handler := lambdaedge.Lazy(partner.CallbackRoute, lazyinit.New(func(context.Context) (*partner.Dispatcher, error) { return d, nil }), partner.NewCallback)
	for _, tt := range tests {
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(readEvent(t, tt.file), &ev); err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		resp, err := handler(ctx, ev)
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		var res partner.CallbackResult
		decodeJSON(t, resp.Body, &res)
		if resp.StatusCode != tt.want || res.Result != tt.result || res.SubjectRequestID != id {
			t.Errorf("%s: %d %s, want %d %s", tt.file, resp.StatusCode, resp.Body, tt.want, tt.result)
		}
		if resp.Headers["Content-Type"] != "application/json" {
			t.Errorf("%s: Content-Type %q", tt.file, resp.Headers["Content-Type"])
		}
		tk, err := st.GetPartnerTask(ctx, id, tt.partner)
		if err != nil {
			t.Fatal(err)
		}
		if tk.Status != tt.status {
			t.Errorf("%s: task %s, want %s", tt.file, tk.Status, tt.status)
		}
	}
	calls := rec.Calls()
	if len(calls) != 2 || calls[0].Token != "token-voice-model-store" || calls[0].Error != "" || calls[1].Token != "token-analytics" || calls[1].Error != "PartnerFailed" {
		t.Errorf("SFN calls %+v, want success for voice-model-store and PartnerFailed for analytics", calls)
	}

	// Replayed later than the replay window, the same events are refused.
	late, _, _, _ := sampleDispatcher(t, func() time.Time { return sampleSignedAt().Add(time.Hour) }, nil)
	stale := lambdaedge.Lazy(partner.CallbackRoute, lazyinit.New(func(context.Context) (*partner.Dispatcher, error) { return late, nil }), partner.NewCallback)
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(readEvent(t, "partner-callback.json"), &ev); err != nil {
		t.Fatal(err)
	}
	if resp, err := stale(ctx, ev); err != nil || resp.StatusCode != 401 {
		t.Errorf("replayed sample = %d %s (%v), want 401", resp.StatusCode, resp.Body, err)
	}
}

// TestSampleTaskEvents runs the sample task inputs through the Lambda
// handlers of partner.Functions: partner.json is one Map iteration for an
// async partner (it waits for the callback); the escalation samples are
// the iteration's Catch after retries ran out and after the deadline.
func TestSampleTaskEvents(t *testing.T) {
	t.Parallel()
	const id = "r-7kq3m2xw4pz6vfb5hd2nc3jt4a"
	handlers := func(d *partner.Dispatcher) map[string]lambda.Handler {
		hs := map[string]lambda.Handler{}
		for _, fn := range partner.Functions(d) {
			hs[fn.Name] = lambda.NewHandler(fn.Handler)
		}
		return hs
	}
	ctx := t.Context()

	t.Run("partner.json", func(t *testing.T) {
		t.Parallel()
		d, st, rec, fleet := sampleDispatcher(t, nil, map[string]partnersim.Behavior{"voice-model-store": {ManualCallback: true}})
		sampleRequest(t, st, id)
		out, err := handlers(d)["partner"].Invoke(ctx, readEvent(t, "partner.json"))
		if err != nil {
			t.Fatal(err)
		}
		var o partner.DispatchOutput
		decodeJSON(t, string(out), &o)
		if o.RequestID != id || o.PartnerID != "voice-model-store" || o.Status != store.PartnerAwaitingCallback || o.DeadlineSeconds < 72*3600-60 || o.DeadlineSeconds > 72*3600 {
			t.Errorf("output %s, want voice-model-store awaiting its callback for 72h", out)
		}
		tk, err := st.GetPartnerTask(ctx, id, "voice-model-store")
		if err != nil {
			t.Fatal(err)
		}
		if tk.TaskToken != "AQBEAAAAKgAAAAMAAAAAAAAAAf1example-task-token" || tk.TokenAnswered {
			t.Errorf("task token %q answered=%v, want the sample's, not answered", tk.TaskToken, tk.TokenAnswered)
		}
		got := fleet.Partner("voice-model-store").Received()
		if len(got) != 1 || !slices.Equal(wireIDs(got[0]), []string{"controller_customer_id=" + subjectAccount}) {
			t.Errorf("voice-model-store received %+v, want the account only", got)
		}
		if got[0].StatusCallbackURLs[0] != "https://a1b2c3d4e5.execute-api.cn-north-1.amazonaws.com.cn/partners/voice-model-store/callbacks" {
			t.Errorf("callback URL %v", got[0].StatusCallbackURLs)
		}
		if len(rec.Calls()) != 0 {
			t.Errorf("an async iteration answered its token at once: %+v", rec.Calls())
		}
	})

	for _, tt := range []struct {
		file  string
		b     partnersim.Behavior
		token string
		code  string
	}{
		{"partner-escalate.json", partnersim.Behavior{Permanent: 503}, "", "http_503"},
		{"partner-escalate-deadline.json", partnersim.Behavior{ManualCallback: true}, "tok", "deadline_passed"},
	} {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			d, st, _, _ := sampleDispatcher(t, nil, map[string]partnersim.Behavior{"analytics": tt.b})
			sampleRequest(t, st, id)
			hs := handlers(d)
			in, _ := json.Marshal(partner.RunInput{RequestID: id, PartnerID: "analytics", TaskToken: "tok-analytics"})
			_, err := hs["partner"].Invoke(ctx, in)
			if tt.code == "http_503" && (err == nil || errorName(err) != "PartnerRetryable") {
				t.Fatalf("Run = %v, want PartnerRetryable", err)
			}
			out, err := hs["partner-escalate"].Invoke(ctx, readEvent(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			var o partner.DispatchOutput
			decodeJSON(t, string(out), &o)
			if o.PartnerID != "analytics" || o.Status != store.PartnerEscalated || o.Error != tt.code {
				t.Errorf("output %s, want analytics escalated %s", out, tt.code)
			}
		})
	}
}

// everySecret is a secret store holding one value under every name.
type everySecret string

func (e everySecret) Secret(context.Context, string) ([]byte, error) { return []byte(e), nil }
