package partner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
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

// The data subject every fixture request is about: what the identity step
// verified and resolved (dsr.Identity.Subject), the only identifiers a
// partner may receive.
const (
	subjectAccount = "acct-42"
	subjectEmail   = "person@example.com"
	subjectPhone   = "+8613800138000"
)

// sfnCall is one answer sent to Step Functions: Output for SendTaskSuccess,
// Error for SendTaskFailure.
type sfnCall struct {
	Token, Output, Error string
}

// recordingSFN stands in for Step Functions' task-token API. err, when set,
// is returned by every call (and the call is still recorded).
type recordingSFN struct {
	mu    sync.Mutex
	calls []sfnCall
	err   error
}

func (r *recordingSFN) SendTaskSuccess(_ context.Context, in *sfn.SendTaskSuccessInput, _ ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, sfnCall{Token: aws.ToString(in.TaskToken), Output: aws.ToString(in.Output)})
	if r.err != nil {
		return nil, r.err
	}
	return &sfn.SendTaskSuccessOutput{}, nil
}

func (r *recordingSFN) SendTaskFailure(_ context.Context, in *sfn.SendTaskFailureInput, _ ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, sfnCall{Token: aws.ToString(in.TaskToken), Error: aws.ToString(in.Error)})
	if r.err != nil {
		return nil, r.err
	}
	return &sfn.SendTaskFailureOutput{}, nil
}

func (r *recordingSFN) setErr(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = err
}

func (r *recordingSFN) Calls() []sfnCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sfnCall(nil), r.calls...)
}

// For returns the answers sent for token.
func (r *recordingSFN) For(token string) []sfnCall {
	var out []sfnCall
	for _, c := range r.Calls() {
		if c.Token == token {
			out = append(out, c)
		}
	}
	return out
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

func (m *memExports) get(k string) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.data[k]
}

// fixture is a store on dynalite, simulated partners on httptest, and the
// callback endpoint (partner.Callback, an http.Handler) on httptest, all
// wired into one Dispatcher built with NewDispatcher.
type fixture struct {
	st      *store.Store
	cfg     *partner.Config
	sims    map[string]*partnersim.Partner
	secrets map[string][]byte
	d       *partner.Dispatcher
	cb      *partner.Callback
	cbURL   string
	sfn     *recordingSFN
	exports *memExports
	logs    *syncBuffer
}

// simSpec is one partner of a fixture: a simulated partner, or handler
// when set (then sims has no entry for it).
type simSpec struct {
	id       string
	mode     partner.Mode
	ids      []dsr.IdentifierType
	actions  []partner.Action
	purposes []string
	b        partnersim.Behavior
	handler  http.Handler
}

// fixtureOpts are what some tests change in the dispatcher's construction.
type fixtureOpts struct {
	// accountSystem names the account system (Config.AccountSystem).
	accountSystem string
	// clock is the dispatcher's business clock (default time.Now).
	clock func() time.Time
	// sfn answers waiting states (default the fixture's recordingSFN).
	sfn partner.TaskSender
}

func newFixture(t testing.TB, specs ...simSpec) *fixture {
	return newFixtureOpts(t, fixtureOpts{}, specs...)
}

// newBenchFixture is newFixture for benchmarks: one sync partner "acct".
func newBenchFixture(b *testing.B) *fixture {
	return newFixture(b, simSpec{id: "acct", mode: partner.ModeSync, ids: acctOnly})
}

func newFixtureOpts(t testing.TB, o fixtureOpts, specs ...simSpec) *fixture {
	t.Helper()
	f := &fixture{
		st:      store.New(store.Config{Table: emu.NewTable(t)}, store.Deps{DB: emu.Client()}),
		cfg:     &partner.Config{AccountSystem: o.accountSystem},
		sims:    map[string]*partnersim.Partner{},
		secrets: map[string][]byte{},
		sfn:     &recordingSFN{},
		exports: &memExports{},
		logs:    &syncBuffer{},
	}
	env := map[string]string{}
	for _, s := range specs {
		sec := []byte("secret-of-" + s.id + "-0123456789")
		f.secrets[s.id] = sec
		envName := "SECRET_" + strings.ToUpper(strings.ReplaceAll(s.id, "-", "_"))
		env[envName] = string(sec)
		h := s.handler
		if h == nil {
			s.b.Mode = s.mode
			sim := partnersim.New(s.id, sec, s.b)
			f.sims[s.id] = sim
			h = sim
		}
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
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
	// httptest partners listen on http://127.0.0.1, as the local stack's.
	f.cfg.AllowHTTPEndpoints = true
	if err := f.cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	secrets := partner.NewSecrets(nil)
	secrets.Schemes["env"] = partner.Env{Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	// The callback endpoint needs the dispatcher, the dispatcher needs the
	// endpoint's URL: the server asks for the handler on every request.
	cbSrv := partnertest.CallbackServer(t, func() *partner.Callback { return f.cb })
	f.cbURL = cbSrv.URL
	var sender partner.TaskSender = f.sfn
	if o.sfn != nil {
		sender = o.sfn
	}
	f.d = partner.NewDispatcher(partner.DispatcherConfig{Partners: f.cfg, CallbackBaseURL: cbSrv.URL}, partner.DispatcherDeps{
		Store: f.st, Secrets: secrets, Client: &partner.Client{TryTimeout: 2 * time.Second},
		SFN: sender, Exports: f.exports, Clock: o.clock,
		Logger: slog.New(slog.NewJSONHandler(f.logs, nil)),
	})
	f.cb = partner.NewCallback(f.d)
	// Callbacks in flight finish before the servers close (cleanups run
	// last registered first).
	for _, sim := range f.sims {
		t.Cleanup(sim.Wait)
	}
	return f
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger
// shared by handlers and callbacks.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var reqSeq atomic.Int64

// newRequest is what f.request stores: the request item (no personal data),
// its personal item (what the requester typed: contact, hints,
// corrections) and its identity item (what was verified and resolved).
type newRequest struct {
	*dsr.Request
	Personal *dsr.Personal
	Identity *dsr.Identity
}

// request stores a request of kind with its personal data and its
// identity: by default the requester acts for themselves, proved their
// email, and the account system resolved it to subjectAccount with
// subjectEmail and subjectPhone; a correction carries one correction.
// mutate may change any of the three before they are stored.
func (f *fixture) request(t testing.TB, kind dsr.Kind, mutate func(*newRequest)) *dsr.Request {
	t.Helper()
	n := reqSeq.Add(1)
	verified := time.Now().UTC().Truncate(time.Second)
	nr := &newRequest{
		Request: &dsr.Request{
			ID: fmt.Sprintf("req-%s-%d", kind, n), Kind: kind, Status: dsr.StatusInProgress, Channel: dsr.ChannelWeb, Role: dsr.RoleSelf, Locale: "zh-CN",
			ContactChannel: "email", VerifiedAt: &verified, VerifiedBy: dsr.ProofCode,
		},
		Personal: &dsr.Personal{Contact: dsr.Contact{Email: subjectEmail, Phone: subjectPhone}},
		Identity: &dsr.Identity{
			Proved:     []dsr.Proof{{Type: dsr.IdentifierEmail, Value: subjectEmail, Method: dsr.ProofCode, At: verified}},
			Subject:    dsr.Identifiers{Accounts: []string{subjectAccount}, Emails: []string{subjectEmail}, Phones: []string{subjectPhone}},
			Resolution: dsr.ResolutionResolved, ResolvedAt: &verified,
		},
	}
	if kind == dsr.KindCorrection {
		nr.Personal.Corrections = []string{"nickname: 小明"}
	}
	if mutate != nil {
		mutate(nr)
	}
	return f.store(t, nr)
}

// store writes nr's three items.
func (f *fixture) store(t testing.TB, nr *newRequest) *dsr.Request {
	t.Helper()
	ctx := context.Background()
	got, _, err := f.st.CreateRequest(ctx, nr.Request, nr.Personal)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.UpdateIdentity(ctx, got.ID, func(idn *dsr.Identity) error {
		*idn = *nr.Identity
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

var tokenSeq atomic.Int64

// iteration is one Map iteration run by hand: the token its
// .waitForTaskToken state waits on, Run's output and error, and what Step
// Functions was told for that token while Run ran.
type iteration struct {
	Token   string
	Out     partner.DispatchOutput
	Err     error
	Answers []sfnCall
}

// run runs one Map iteration for partnerID with a fresh task token.
func (f *fixture) run(t testing.TB, requestID, partnerID string) iteration {
	t.Helper()
	tok := fmt.Sprintf("tok-%s-%d", partnerID, tokenSeq.Add(1))
	out, err := f.d.Run(context.Background(), partner.RunInput{RequestID: requestID, PartnerID: partnerID, TaskToken: tok})
	return iteration{Token: tok, Out: out, Err: err, Answers: f.sfn.For(tok)}
}

// answeredWith checks that exactly one answer went to it.Token: success
// with status want, or failure named wantErr.
func (it iteration) answeredWith(t testing.TB, calls []sfnCall, want store.PartnerStatus, wantErr string) {
	t.Helper()
	if len(calls) != 1 {
		t.Fatalf("token %s got %d answers %+v, want 1", it.Token, len(calls), calls)
	}
	c := calls[0]
	if wantErr != "" {
		if c.Error != wantErr || c.Output != "" {
			t.Errorf("token %s answered %+v, want SendTaskFailure %s", it.Token, c, wantErr)
		}
		return
	}
	if c.Error != "" {
		t.Fatalf("token %s answered with failure %s, want success %s", it.Token, c.Error, want)
	}
	var out partner.DispatchOutput
	decodeJSON(t, c.Output, &out)
	if out.Status != want {
		t.Errorf("token %s answered status %s, want %s", it.Token, out.Status, want)
	}
}

func (f *fixture) task(t testing.TB, reqID, partnerID string) *store.PartnerTask {
	t.Helper()
	got, err := f.st.GetPartnerTask(context.Background(), reqID, partnerID)
	if err != nil {
		t.Fatalf("GetPartnerTask(%s, %s): %v", reqID, partnerID, err)
	}
	return got
}

// head checks request reqID's audit chain and returns its head.
func (f *fixture) head(t testing.TB, reqID string) int {
	t.Helper()
	rep, err := f.st.VerifyChain(context.Background(), reqID)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("audit chain of %s: %+v", reqID, rep.Problems)
	}
	return rep.HeadSeq
}

// events returns the types of request reqID's audit events about
// partnerID ("" for every event), in order.
func (f *fixture) events(t testing.TB, reqID, partnerID string) []store.Event {
	t.Helper()
	evs, err := f.st.ListEvents(context.Background(), reqID)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Event
	for _, e := range evs {
		if partnerID == "" || e.Data["partner"] == partnerID {
			out = append(out, e)
		}
	}
	return out
}

func eventTypes(evs []store.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

// post sends body to the callback endpoint of partnerID, signed with
// ts and sig when given, and returns the status and the decoded answer.
func (f *fixture) post(t testing.TB, partnerID, body, ts, sig string) (int, partner.CallbackResult) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.cbURL+"/partners/"+partnerID+"/callbacks", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if ts != "" {
		req.Header.Set(partner.HeaderTimestamp, ts)
	}
	if sig != "" {
		req.Header.Set(partner.HeaderSignature, sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var res partner.CallbackResult
	if resp.Header.Get("Content-Type") == "application/json" {
		decodeJSON(t, string(b), &res)
	}
	return resp.StatusCode, res
}

// signed sends body to partnerID's callback endpoint signed with its
// secret now.
func (f *fixture) signed(t testing.TB, partnerID, body string) (int, partner.CallbackResult) {
	t.Helper()
	ts, sig := partner.Sign(f.secrets[partnerID], time.Now(), []byte(body))
	return f.post(t, partnerID, body, ts, sig)
}

// noPersonalData fails when s holds one of the subject's identifiers.
func noPersonalData(t testing.TB, what, s string, extra ...string) {
	t.Helper()
	for _, pii := range append([]string{subjectEmail, strings.TrimPrefix(subjectPhone, "+86"), subjectAccount}, extra...) {
		if strings.Contains(s, pii) {
			t.Errorf("%s contains personal data %q", what, pii)
		}
	}
}

func decodeJSON(t testing.TB, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
}
