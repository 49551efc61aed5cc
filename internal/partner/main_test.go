package partner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dev/partnersim"
	"dsrflow/internal/dsr"
	"dsrflow/internal/partner"
	"dsrflow/internal/partner/partnertest"
	"dsrflow/internal/store"
)

var emu *dynamotest.Emulator

func TestMain(m *testing.M) { os.Exit(dynamotest.Main(m, &emu)) }

// sfnCall is one answer sent to Step Functions.
type sfnCall struct {
	Token, Output, Error string
}

// recordingSFN stands in for Step Functions' task-token API.
type recordingSFN struct {
	mu    sync.Mutex
	calls []sfnCall
	err   error
}

func (r *recordingSFN) SendTaskSuccess(_ context.Context, in *sfn.SendTaskSuccessInput, _ ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, sfnCall{Token: aws.ToString(in.TaskToken), Output: aws.ToString(in.Output)})
	return &sfn.SendTaskSuccessOutput{}, r.err
}

func (r *recordingSFN) SendTaskFailure(_ context.Context, in *sfn.SendTaskFailureInput, _ ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, sfnCall{Token: aws.ToString(in.TaskToken), Error: aws.ToString(in.Error)})
	return &sfn.SendTaskFailureOutput{}, r.err
}

func (r *recordingSFN) Calls() []sfnCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sfnCall(nil), r.calls...)
}

// memExports keeps exports in memory.
type memExports struct {
	mu   sync.Mutex
	data map[string][]byte
}

func (m *memExports) PutPartnerExport(_ context.Context, requestID, partnerID string, data []byte) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.data == nil {
		m.data = map[string][]byte{}
	}
	k := "exports/" + requestID + "/partners/" + partnerID + ".json"
	m.data[k] = append([]byte(nil), data...)
	return k, nil
}

// fixture is a store on dynalite, simulated partners on httptest, and the
// callback endpoint on httptest in front of Callback.Handle.
type fixture struct {
	st      *store.Store
	cfg     *partner.Config
	sims    map[string]*partnersim.Partner
	secrets map[string][]byte
	d       *partner.Dispatcher
	cb      *partner.Callback
	sfn     *recordingSFN
	exports *memExports
	logs    *bytes.Buffer
}

type simSpec struct {
	id       string
	mode     partner.Mode
	ids      []dsr.IdentifierType
	actions  []partner.Action
	purposes []string
	b        partnersim.Behavior
}

func newFixture(t *testing.T, specs ...simSpec) *fixture { return newFixtureTB(t, specs...) }

// newBenchFixture is newFixture for benchmarks: one sync partner "acct".
func newBenchFixture(b *testing.B) *fixture {
	return newFixtureTB(b, simSpec{id: "acct", mode: partner.ModeSync, ids: acctOnly})
}

func newFixtureTB(t testing.TB, specs ...simSpec) *fixture {
	t.Helper()
	f := &fixture{
		st:      store.New(emu.Client(), emu.NewTable(t)),
		cfg:     &partner.Config{},
		sims:    map[string]*partnersim.Partner{},
		secrets: map[string][]byte{},
		sfn:     &recordingSFN{},
		exports: &memExports{},
		logs:    &bytes.Buffer{},
	}
	env := map[string]string{}
	for _, s := range specs {
		sec := []byte("secret-of-" + s.id + "-0123456789")
		f.secrets[s.id] = sec
		envName := "SECRET_" + strings.ToUpper(strings.ReplaceAll(s.id, "-", "_"))
		env[envName] = string(sec)
		s.b.Mode = s.mode
		sim := partnersim.New(s.id, sec, s.b)
		srv := httptest.NewServer(sim)
		t.Cleanup(srv.Close)
		t.Cleanup(sim.Wait)
		f.sims[s.id] = sim
		actions := s.actions
		if actions == nil {
			actions = []partner.Action{partner.ActionErase, partner.ActionExport, partner.ActionCorrect}
		}
		f.cfg.Partners = append(f.cfg.Partners, partner.Partner{
			ID: s.id, Name: dsr.Text{ZhCN: s.id, En: s.id}, Endpoint: srv.URL + "/dsr", Actions: actions,
			IdentityTypes: s.ids, Purposes: s.purposes, Mode: s.mode, CompletionDeadline: partner.Duration(time.Hour),
			SecretRef: "env:" + envName, BackupRetention: partner.Duration(30 * 24 * time.Hour),
		})
	}
	if err := f.cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	secrets := partner.NewSecrets(nil)
	secrets.Schemes["env"] = partner.Env{Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	f.d = &partner.Dispatcher{
		Store: f.st, Config: f.cfg, Secrets: secrets, Client: &partner.Client{TryTimeout: 2 * time.Second},
		SFN: f.sfn, Exports: f.exports,
		Log: slog.New(slog.NewJSONHandler(f.logs, nil)),
	}
	f.cb = &partner.Callback{D: f.d}
	cbSrv := partnertest.CallbackServer(t, func() *partner.Callback { return f.cb })
	f.d.CallbackBaseURL = cbSrv.URL
	return f
}

var reqSeq atomic.Int64

func (f *fixture) request(t *testing.T, kind dsr.Kind, mutate func(*dsr.Request)) *dsr.Request {
	t.Helper()
	n := reqSeq.Add(1)
	r := &dsr.Request{
		ID: fmt.Sprintf("req-%s-%d", kind, n), Kind: kind, Status: dsr.StatusInProgress, Channel: dsr.ChannelWeb, Role: dsr.RoleSelf, Locale: "zh-CN",
		Contact:   dsr.Contact{Email: "person@example.com", Phone: "+8613800138000"},
		AccountID: "acct-42",
	}
	if mutate != nil {
		mutate(r)
	}
	got, _, err := f.st.CreateRequest(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func (f *fixture) task(t *testing.T, reqID, partnerID string) *store.PartnerTask {
	t.Helper()
	got, err := f.st.GetPartnerTask(t.Context(), reqID, partnerID)
	if err != nil {
		t.Fatalf("GetPartnerTask(%s, %s): %v", reqID, partnerID, err)
	}
	return got
}

func (f *fixture) head(t *testing.T, reqID string) int {
	t.Helper()
	rep, err := f.st.VerifyChain(t.Context(), reqID)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("audit chain of %s: %+v", reqID, rep.Problems)
	}
	return rep.HeadSeq
}

func decodeJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
}
