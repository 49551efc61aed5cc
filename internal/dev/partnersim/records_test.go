package partnersim_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"dsrflow/internal/dev/partnersim"
	"dsrflow/internal/dsr"
	"dsrflow/internal/partner"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const (
	exampleConfig = "../../../config/partners.example.json"
	peopleFixture = "../../../config/local-people.json"
)

func exampleCfg(t testing.TB) *partner.Config {
	t.Helper()
	cfg, err := partner.LoadConfig(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func fixturePeople(t testing.TB) []partnersim.Person {
	t.Helper()
	people, err := partnersim.LoadPeople(peopleFixture)
	if err != nil {
		t.Fatal(err)
	}
	return people
}

// stack is the example configuration's partners, simulated with records,
// served by httptest, and called through the real partner.Client.
type stack struct {
	cfg    *partner.Config
	fleet  *partnersim.Fleet
	srv    *httptest.Server
	client *partner.Client
	dir    string
}

// newStack serves the example partners with records under dir (a new
// temporary directory if empty), every partner synchronous unless modes
// says otherwise.
func newStack(t testing.TB, dir string, people []partnersim.Person, modes map[string]partnersim.Behavior) *stack {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	cfg := exampleCfg(t)
	var sims []*partnersim.Partner
	for _, p := range cfg.Partners {
		b, ok := modes[p.ID]
		if !ok {
			b = partnersim.Behavior{Mode: partner.ModeSync}
		}
		sims = append(sims, partnersim.New(p.ID, secret, b))
	}
	fleet := partnersim.NewFleet(sims...)
	if err := fleet.AttachRecords(dir, cfg, people); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(fleet)
	t.Cleanup(srv.Close)
	for i := range cfg.Partners {
		cfg.Partners[i].Endpoint = srv.URL + "/" + cfg.Partners[i].ID
	}
	return &stack{cfg: cfg, fleet: fleet, srv: srv, client: &partner.Client{}, dir: dir}
}

func (s *stack) partner(t *testing.T, id string) partner.Partner {
	t.Helper()
	p, ok := s.cfg.Partner(id)
	if !ok {
		t.Fatalf("no partner %s", id)
	}
	return p
}

func (s *stack) dispatch(t *testing.T, id string, req partner.Request) partner.Response {
	t.Helper()
	resp, err := s.client.Dispatch(context.Background(), s.partner(t, id), secret, req)
	if err != nil {
		t.Fatalf("%s %s at %s: %v", req.SubjectRequestType, req.SubjectRequestID, id, err)
	}
	return resp
}

// fileRecords reads a partner's records file.
func fileRecords(t *testing.T, dir, id string) []partnersim.Record {
	t.Helper()
	b, err := os.ReadFile(partnersim.RecordsPath(dir, id))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := exampleCfg(t).Partner(id)
	recs, err := partnersim.ParseRecords(p, b)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func ident(t dsr.IdentifierType, v string) partner.Identity {
	return partner.Identity{Type: partner.WireIdentityType(t), Value: v, Format: "raw"}
}

func jsonEqual(t *testing.T, got, want []byte) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got is not JSON: %v", err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("want is not JSON: %v", err)
	}
	return reflect.DeepEqual(g, w)
}

// TestSeedGolden: seeding from config/local-people.json writes
// {"records": [...]} per partner with only the identifier fields the
// partner keys by, as in testdata/seed/<id>.json (-update rewrites them).
func TestSeedGolden(t *testing.T) {
	cfg := exampleCfg(t)
	st := newStack(t, "", fixturePeople(t), nil)
	for _, p := range cfg.Partners {
		t.Run(p.ID, func(t *testing.T) {
			got, err := os.ReadFile(partnersim.RecordsPath(st.dir, p.ID))
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "seed", p.ID+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !jsonEqual(t, got, want) {
				t.Errorf("%s differs from %s (run with -update if intended):\n%s", p.ID, golden, got)
			}
			// The shape: only the top-level key "records"; each record only
			// the fields the partner keys by, and data.
			var shape map[string][]map[string]json.RawMessage
			if err := json.Unmarshal(got, &shape); err != nil || len(shape) != 1 || shape["records"] == nil {
				t.Fatalf("file shape: %v, keys %v", err, slices.Collect(mapKeys(shape)))
			}
			allowed := map[string]bool{"data": true}
			for _, ty := range p.IdentityTypes {
				allowed[map[dsr.IdentifierType]string{dsr.IdentifierAccount: "account", dsr.IdentifierPhone: "phone", dsr.IdentifierEmail: "email"}[ty]] = true
			}
			for i, rec := range shape["records"] {
				for k := range rec {
					if !allowed[k] {
						t.Errorf("records[%d] has %q; partner %s keys by %v", i, k, p.ID, p.IdentityTypes)
					}
				}
				if _, ok := rec["data"]; !ok {
					t.Errorf("records[%d] has no data", i)
				}
			}
			if _, err := partnersim.ParseRecords(p, got); err != nil {
				t.Errorf("ParseRecords(seeded file): %v", err)
			}
		})
	}
	// Who is held where (see holdsPerson and the fixture's notes).
	for _, tt := range []struct {
		id   string
		want int
	}{{"music-account", 7}, {"voice-model-store", 5}, {"analytics", 7}, {"sms-provider", 7}, {"cloud-storage", 6}} {
		if got := len(st.fleet.Records(tt.id)); got != tt.want {
			t.Errorf("%s holds %d records, want %d", tt.id, got, tt.want)
		}
	}
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestSeedDeterministic: two seedings of the same fixture write the same
// bytes.
func TestSeedDeterministic(t *testing.T) {
	a := newStack(t, "", fixturePeople(t), nil)
	b := newStack(t, "", fixturePeople(t), nil)
	for _, p := range a.cfg.Partners {
		x, _ := os.ReadFile(partnersim.RecordsPath(a.dir, p.ID))
		y, _ := os.ReadFile(partnersim.RecordsPath(b.dir, p.ID))
		if string(x) != string(y) || len(x) == 0 {
			t.Errorf("%s: seeding is not deterministic", p.ID)
		}
	}
}

// TestRestartLoadsFiles: a second start loads the files (with the changes
// made) instead of reseeding; a deleted file is seeded again.
func TestRestartLoadsFiles(t *testing.T) {
	dir := t.TempDir()
	people := fixturePeople(t)
	first := newStack(t, dir, people, nil)
	first.dispatch(t, "cloud-storage", partner.Request{SubjectRequestID: "r1", SubjectRequestType: partner.ActionErase,
		SubjectIdentities: []partner.Identity{ident(dsr.IdentifierAccount, "10000001")}})
	afterErase := first.fleet.Records("cloud-storage")
	first.srv.Close()

	// Another fixture on restart changes nothing: the files are loaded.
	second := newStack(t, dir, people[:1], nil)
	for _, p := range second.cfg.Partners {
		if got, want := second.fleet.Records(p.ID), first.fleet.Records(p.ID); !reflect.DeepEqual(got, want) {
			t.Errorf("%s after restart: %d records, want the %d of before", p.ID, len(got), len(want))
		}
	}
	if got := second.fleet.Records("cloud-storage"); !reflect.DeepEqual(got, afterErase) || len(got) != 5 {
		t.Errorf("cloud-storage after restart holds %d records, want the 5 left by the erasure", len(got))
	}
	if err := os.Remove(partnersim.RecordsPath(dir, "cloud-storage")); err != nil {
		t.Fatal(err)
	}
	third := newStack(t, dir, people[:1], nil)
	if got := third.fleet.Records("cloud-storage"); len(got) != 1 || got[0].Account != "10000001" {
		t.Errorf("reseeded cloud-storage = %+v, want the one person of the fixture", got)
	}
}

// testPeople have the data the action tests rely on, laid over the
// generated data.
func testPeople(t *testing.T) []partnersim.Person {
	t.Helper()
	raw := `{"people": [
	  {"account": "20000001", "name": "甲", "email": "a@example.cn", "phone": "+8613900139001",
	   "data": {"music-account": {"orders": [{"id": "ord-1", "status": "paid"}], "profile": {"nickname": "旧名", "city": "北京", "signature": "hi"}}}},
	  {"account": "20000002", "name": "乙", "phone": "+8613900139002",
	   "data": {"music-account": {"orders": []}, "sms-provider": {"sms_log": []}}},
	  {"account": "20000003", "name": "丙", "email": "c@example.cn", "phone": "+8613900139003",
	   "data": {"music-account": {"orders": [{"id": "ord-3", "status": "pending"}], "subscription": {"status": "unpaid"}}}}
	]}`
	people, err := partnersim.ParsePeople(stringsReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return people
}

func find(recs []partnersim.Record, account, phone string) *partnersim.Record {
	for i := range recs {
		if (account == "" || recs[i].Account == account) && (phone == "" || recs[i].Phone == phone) {
			return &recs[i]
		}
	}
	return nil
}

func dataOf(t *testing.T, rec *partnersim.Record, key string, v any) {
	t.Helper()
	if err := json.Unmarshal(rec.Data[key], v); err != nil {
		t.Fatalf("data.%s: %v", key, err)
	}
}

// TestActions: each action changes the records (in memory and in the
// file) as documented, through the real client.
func TestActions(t *testing.T) {
	acct := func(v string) []partner.Identity { return []partner.Identity{ident(dsr.IdentifierAccount, v)} }
	ph := func(v string) []partner.Identity { return []partner.Identity{ident(dsr.IdentifierPhone, v)} }
	for _, tt := range []struct {
		name    string
		partner string
		req     partner.Request
		check   func(t *testing.T, resp partner.Response, before, after []partnersim.Record)
	}{
		{"erase removes the record", "cloud-storage",
			partner.Request{SubjectRequestType: partner.ActionErase, SubjectIdentities: acct("20000001")},
			func(t *testing.T, _ partner.Response, before, after []partnersim.Record) {
				if find(after, "20000001", "") != nil || len(after) != len(before)-1 {
					t.Errorf("after erase: %d records (were %d), 20000001 still there: %v", len(after), len(before), find(after, "20000001", "") != nil)
				}
			}},
		{"close_account keeps the orders under transaction_records", "music-account",
			partner.Request{SubjectRequestType: partner.ActionCloseAccount, SubjectIdentities: acct("20000001")},
			func(t *testing.T, _ partner.Response, _, after []partnersim.Record) {
				rec := find(after, "20000001", "")
				if rec == nil || rec.Retained != "transaction_records" || len(rec.Data) != 1 || rec.Data["orders"] == nil {
					t.Fatalf("after close_account: %+v, want retained transaction_records with data.orders only", rec)
				}
				if rec.Email != "a@example.cn" || rec.Phone != "+8613900139001" {
					t.Errorf("retained record lost its identifiers: %+v", rec)
				}
			}},
		{"erase without orders keeps nothing at the account system", "music-account",
			partner.Request{SubjectRequestType: partner.ActionErase, SubjectIdentities: ph("+8613900139002")},
			func(t *testing.T, _ partner.Response, before, after []partnersim.Record) {
				if find(after, "20000002", "") != nil || len(after) != len(before)-1 {
					t.Errorf("after erase: 20000002 kept: %+v", find(after, "20000002", ""))
				}
			}},
		{"erase at the SMS provider keeps the delivery log", "sms-provider",
			partner.Request{SubjectRequestType: partner.ActionErase, SubjectIdentities: ph("+8613900139001")},
			func(t *testing.T, _ partner.Response, _, after []partnersim.Record) {
				rec := find(after, "", "+8613900139001")
				if rec == nil || rec.Retained != "sms_delivery_logs" || len(rec.Data) != 1 || rec.Data["sms_log"] == nil {
					t.Errorf("after erase: %+v, want retained sms_delivery_logs with data.sms_log only", rec)
				}
			}},
		{"erase matches any identifier", "analytics",
			partner.Request{SubjectRequestType: partner.ActionErase, SubjectIdentities: append(acct("nobody"), ph("+8613900139003")...)},
			func(t *testing.T, _ partner.Response, _, after []partnersim.Record) {
				if find(after, "20000003", "") != nil {
					t.Errorf("erase by phone left the record")
				}
			}},
		{"export returns the records", "analytics",
			partner.Request{SubjectRequestType: partner.ActionExport, SubjectIdentities: ph("+8613900139002")},
			func(t *testing.T, resp partner.Response, before, after []partnersim.Record) {
				want, _ := json.Marshal(map[string]any{"partner": "analytics", "records": []partnersim.Record{*find(before, "20000002", "")}})
				if !jsonEqual(t, resp.Export, want) {
					t.Errorf("export = %s\nwant %s", resp.Export, want)
				}
				if !reflect.DeepEqual(before, after) {
					t.Errorf("export changed the records")
				}
			}},
		{"export of nobody", "analytics",
			partner.Request{SubjectRequestType: partner.ActionExport, SubjectIdentities: acct("99999999")},
			func(t *testing.T, resp partner.Response, _, _ []partnersim.Record) {
				if !jsonEqual(t, resp.Export, []byte(`{"partner": "analytics", "records": []}`)) {
					t.Errorf("export = %s, want no records", resp.Export)
				}
			}},
		{"correct changes the profile", "music-account",
			partner.Request{SubjectRequestType: partner.ActionCorrect, SubjectIdentities: acct("20000001"),
				Corrections: []string{"昵称: 新名字", "city：上海\n签名改为「hello」", "unknown: x", "nickname = same", "nickname: 新名字"}},
			func(t *testing.T, resp partner.Response, _, after []partnersim.Record) {
				if want := []string{"profile.city", "profile.nickname", "profile.signature"}; !slices.Equal(resp.Changed, want) {
					t.Errorf("changed = %v, want %v", resp.Changed, want)
				}
				var prof map[string]string
				dataOf(t, find(after, "20000001", ""), "profile", &prof)
				if prof["nickname"] != "新名字" || prof["city"] != "上海" || prof["signature"] != "hello" || len(prof) != 3 {
					t.Errorf("profile = %v", prof)
				}
			}},
		{"correct touches only fields the partner has", "voice-model-store",
			partner.Request{SubjectRequestType: partner.ActionCorrect, SubjectIdentities: acct("20000001"), Corrections: []string{"nickname: New", "city: 上海"}},
			func(t *testing.T, resp partner.Response, _, after []partnersim.Record) {
				var prof map[string]string
				dataOf(t, find(after, "20000001", ""), "profile", &prof)
				if !slices.Equal(resp.Changed, []string{"profile.nickname"}) || prof["nickname"] != "New" || len(prof) != 1 {
					t.Errorf("changed %v, profile %v", resp.Changed, prof)
				}
			}},
		{"correct to the same value changes nothing", "music-account",
			partner.Request{SubjectRequestType: partner.ActionCorrect, SubjectIdentities: acct("20000001"), Corrections: []string{"昵称: 旧名"}},
			func(t *testing.T, resp partner.Response, before, after []partnersim.Record) {
				if len(resp.Changed) != 0 || !reflect.DeepEqual(before, after) {
					t.Errorf("changed = %v", resp.Changed)
				}
			}},
		{"withdraw records the purposes", "analytics",
			partner.Request{SubjectRequestType: partner.ActionWithdrawConsent, SubjectIdentities: acct("20000002"), ConsentPurposes: []string{"analytics", "analytics", "no-such-purpose"}},
			func(t *testing.T, resp partner.Response, _, after []partnersim.Record) {
				var got []string
				dataOf(t, find(after, "20000002", ""), "consent_withdrawn", &got)
				if !slices.Equal(got, []string{"analytics"}) || !slices.Equal(resp.Changed, []string{"consent_withdrawn"}) {
					t.Errorf("consent_withdrawn = %v, changed %v", got, resp.Changed)
				}
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := newStack(t, "", testPeople(t), nil)
			before := st.fleet.Records(tt.partner)
			tt.req.SubjectRequestID = "req-1"
			resp := st.dispatch(t, tt.partner, tt.req)
			if resp.RequestStatus != partner.StatusCompleted {
				t.Fatalf("status %s", resp.RequestStatus)
			}
			after := st.fleet.Records(tt.partner)
			tt.check(t, resp, before, after)
			if file := fileRecords(t, st.dir, tt.partner); !reflect.DeepEqual(file, after) {
				t.Errorf("the file holds %d records, memory %d: not the same", len(file), len(after))
			}
			// Doing it again changes nothing more (a retried request).
			again := st.dispatch(t, tt.partner, tt.req)
			if got := st.fleet.Records(tt.partner); !reflect.DeepEqual(got, after) {
				t.Errorf("repeating the request changed the records again")
			}
			if tt.req.SubjectRequestType == partner.ActionWithdrawConsent && len(again.Changed) != 0 {
				t.Errorf("repeated withdrawal: changed %v, want none", again.Changed)
			}
		})
	}
}

// TestRetainedRecordsStay: a retained record is exported but not erased
// again, corrected or resolved.
func TestRetainedRecordsStay(t *testing.T) {
	st := newStack(t, "", testPeople(t), nil)
	ids := []partner.Identity{ident(dsr.IdentifierEmail, "A@Example.cn")}
	st.dispatch(t, "music-account", partner.Request{SubjectRequestID: "r1", SubjectRequestType: partner.ActionCloseAccount, SubjectIdentities: ids})
	retained := st.fleet.Records("music-account")
	st.dispatch(t, "music-account", partner.Request{SubjectRequestID: "r2", SubjectRequestType: partner.ActionCorrect, SubjectIdentities: ids, Corrections: []string{"nickname: x"}})
	st.dispatch(t, "music-account", partner.Request{SubjectRequestID: "r3", SubjectRequestType: partner.ActionErase, SubjectIdentities: ids})
	if got := st.fleet.Records("music-account"); !reflect.DeepEqual(got, retained) {
		t.Errorf("a retained record changed")
	}
	exp := st.dispatch(t, "music-account", partner.Request{SubjectRequestID: "r4", SubjectRequestType: partner.ActionExport, SubjectIdentities: ids})
	var e struct{ Records []partnersim.Record }
	if err := json.Unmarshal(exp.Export, &e); err != nil || len(e.Records) != 1 || e.Records[0].Retained != "transaction_records" {
		t.Errorf("export after closure = %s, want the retained record", exp.Export)
	}
	res, err := st.client.Resolve(context.Background(), st.partner(t, "music-account"), secret, partner.ResolveRequest{SubjectRequestID: "r5", SubjectIdentities: ids})
	if err != nil || len(res.Accounts) != 0 {
		t.Errorf("resolve of a closed account = %+v, %v; want no account", res, err)
	}
}

// TestAsyncActsOnCallback: an asynchronous partner changes its records
// when it completes, and says so in the callback.
func TestAsyncActsOnCallback(t *testing.T) {
	var mu sync.Mutex
	var got []partner.Response
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var resp partner.Response
		_ = json.NewDecoder(r.Body).Decode(&resp)
		mu.Lock()
		got = append(got, resp)
		mu.Unlock()
	}))
	defer cb.Close()
	st := newStack(t, "", testPeople(t), map[string]partnersim.Behavior{"voice-model-store": {Mode: partner.ModeAsync, ManualCallback: true}})
	req := partner.Request{SubjectRequestID: "r1", SubjectRequestType: partner.ActionErase, StatusCallbackURLs: []string{cb.URL},
		SubjectIdentities: []partner.Identity{ident(dsr.IdentifierAccount, "20000002")}}
	if resp := st.dispatch(t, "voice-model-store", req); resp.RequestStatus != partner.StatusPending {
		t.Fatalf("status %s, want pending", resp.RequestStatus)
	}
	if find(st.fleet.Records("voice-model-store"), "20000002", "") == nil {
		t.Fatal("an accepted request acted before completing")
	}
	if err := st.fleet.Partner("voice-model-store").Complete(context.Background(), "r1"); err != nil {
		t.Fatal(err)
	}
	if find(st.fleet.Records("voice-model-store"), "20000002", "") != nil {
		t.Error("completed erasure left the record")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0].RequestStatus != partner.StatusCompleted {
		t.Errorf("callbacks = %+v", got)
	}
}

// TestStorageError: when the file cannot be replaced, a synchronous
// partner answers 500 (retried) and keeps its records as they were.
func TestStorageError(t *testing.T) {
	st := newStack(t, "", testPeople(t), nil)
	path := partnersim.RecordsPath(st.dir, "cloud-storage")
	before := st.fleet.Records("cloud-storage")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o700); err != nil { // a rename cannot replace a directory
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(path, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := st.client.Dispatch(context.Background(), st.partner(t, "cloud-storage"), secret, partner.Request{SubjectRequestID: "r1", SubjectRequestType: partner.ActionErase,
		SubjectIdentities: []partner.Identity{ident(dsr.IdentifierAccount, "20000001")}})
	var retry *partner.PartnerRetryable
	if !errors.As(err, &retry) || retry.Code != "http_500" {
		t.Errorf("Dispatch = %v, want retryable http_500", err)
	}
	if got := st.fleet.Records("cloud-storage"); !reflect.DeepEqual(got, before) {
		t.Errorf("records changed although they were not stored")
	}
	tmps, _ := filepath.Glob(filepath.Join(st.dir, ".cloud-storage-*.tmp"))
	if len(tmps) != 0 {
		t.Errorf("temporary files left: %v", tmps)
	}
}

// TestConcurrentRequests: concurrent corrections and withdrawals all land,
// in memory and in the file.
func TestConcurrentRequests(t *testing.T) {
	st := newStack(t, "", testPeople(t), nil)
	ids := []partner.Identity{ident(dsr.IdentifierAccount, "20000001")}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			_, err := st.client.Dispatch(context.Background(), st.partner(t, "music-account"), secret, partner.Request{
				SubjectRequestID: fmt.Sprintf("c%d", i), SubjectRequestType: partner.ActionCorrect, SubjectIdentities: ids, Corrections: []string{fmt.Sprintf("nickname: n%d", i)}})
			if err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			_, err := st.client.Dispatch(context.Background(), st.partner(t, "analytics"), secret, partner.Request{
				SubjectRequestID: fmt.Sprintf("w%d", i), SubjectRequestType: partner.ActionWithdrawConsent, SubjectIdentities: ids, ConsentPurposes: []string{[]string{"analytics", "partner_sharing"}[i%2]}})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, id := range []string{"music-account", "analytics"} {
		if file, mem := fileRecords(t, st.dir, id), st.fleet.Records(id); !reflect.DeepEqual(file, mem) {
			t.Errorf("%s: file and memory differ", id)
		}
	}
	var got []string
	dataOf(t, find(st.fleet.Records("analytics"), "20000001", ""), "consent_withdrawn", &got)
	slices.Sort(got)
	if !slices.Equal(got, []string{"analytics", "partner_sharing"}) {
		t.Errorf("consent_withdrawn = %v", got)
	}
}

// TestResolve: the account system resolves an email, a phone and an
// account to the account and all its identifiers; a recycled phone to both
// accounts that list it; an unknown identifier or a person without an
// account to none. Other partners do not resolve.
func TestResolve(t *testing.T) {
	st := newStack(t, "", fixturePeople(t), nil)
	zhang := partner.ResolvedAccount{AccountID: "10000001", Identities: []partner.Identity{
		ident(dsr.IdentifierAccount, "10000001"), ident(dsr.IdentifierEmail, "zhang.wei@example.cn"), ident(dsr.IdentifierPhone, "+8613800138001")}}
	liu := partner.ResolvedAccount{AccountID: "10000005", Identities: []partner.Identity{
		ident(dsr.IdentifierAccount, "10000005"), ident(dsr.IdentifierEmail, "liu.yang@example.cn"), ident(dsr.IdentifierPhone, "+8613800138005")}}
	zhao := partner.ResolvedAccount{AccountID: "10000006", Identities: []partner.Identity{
		ident(dsr.IdentifierAccount, "10000006"), ident(dsr.IdentifierPhone, "+8613800138005")}}
	for _, tt := range []struct {
		name string
		ids  []partner.Identity
		want []partner.ResolvedAccount
	}{
		{"email", []partner.Identity{ident(dsr.IdentifierEmail, "zhang.wei@example.cn")}, []partner.ResolvedAccount{zhang}},
		{"phone", []partner.Identity{ident(dsr.IdentifierPhone, "+8613800138001")}, []partner.ResolvedAccount{zhang}},
		{"account", []partner.Identity{ident(dsr.IdentifierAccount, "10000001")}, []partner.ResolvedAccount{zhang}},
		{"email and phone of one account", []partner.Identity{ident(dsr.IdentifierPhone, "+8613800138001"), ident(dsr.IdentifierEmail, "zhang.wei@example.cn")}, []partner.ResolvedAccount{zhang}},
		{"recycled phone", []partner.Identity{ident(dsr.IdentifierPhone, "+8613800138005")}, []partner.ResolvedAccount{liu, zhao}},
		{"unknown email", []partner.Identity{ident(dsr.IdentifierEmail, "nobody@example.cn")}, []partner.ResolvedAccount{}},
		{"phone without an account", []partner.Identity{ident(dsr.IdentifierPhone, "+8613800138007")}, []partner.ResolvedAccount{}},
		{"no identities", nil, []partner.ResolvedAccount{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := st.client.Resolve(context.Background(), st.partner(t, "music-account"), secret, partner.ResolveRequest{SubjectRequestID: "r1", SubjectIdentities: tt.ids})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Accounts, tt.want) {
				t.Errorf("accounts = %+v\nwant %+v", got.Accounts, tt.want)
			}
		})
	}
	_, err := st.client.Resolve(context.Background(), st.partner(t, "analytics"), secret, partner.ResolveRequest{SubjectRequestID: "r1"})
	var rej *partner.PartnerRejected
	if !errors.As(err, &rej) || rej.Code != "http_404" {
		t.Errorf("resolve at analytics = %v, want rejected http_404", err)
	}
	if s, _ := post(t, st.srv.URL+"/music-account/resolve", partner.ResolveRequest{SubjectRequestID: "r1"}, []byte("another-secret-0123456789"), time.Now()); s != 401 {
		t.Errorf("unsigned resolve: %d, want 401", s)
	}
}

// TestPrecheckFromRecords: the account system's pre-check adds the
// obligations found in the subject's records to its Behavior's.
func TestPrecheckFromRecords(t *testing.T) {
	st := newStack(t, "", testPeople(t), map[string]partnersim.Behavior{
		"music-account": {Mode: partner.ModeSync, Obligations: []partner.Obligation{{Code: partner.ObligationPendingOrder}, {Code: "open_dispute"}}},
	})
	plain := newStack(t, "", fixturePeople(t), nil)
	for _, tt := range []struct {
		name string
		st   *stack
		ids  []partner.Identity
		want []string
	}{
		{"no identities", plain, nil, []string{}},
		{"from records and behavior", st, []partner.Identity{ident(dsr.IdentifierEmail, "c@example.cn")}, []string{partner.ObligationPendingOrder, "open_dispute", partner.ObligationUnpaidSubscription}},
		{"behavior only", st, []partner.Identity{ident(dsr.IdentifierAccount, "20000001")}, []string{partner.ObligationPendingOrder, "open_dispute"}},
		{"fixture: 刘洋's pending order", plain, []partner.Identity{ident(dsr.IdentifierAccount, "10000005")}, []string{partner.ObligationPendingOrder}},
		{"fixture: 张伟", plain, []partner.Identity{ident(dsr.IdentifierAccount, "10000001")}, []string{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := tt.st.client.Precheck(context.Background(), tt.st.partner(t, "music-account"), secret, partner.PrecheckRequest{SubjectRequestID: "r1", SubjectIdentities: tt.ids})
			if err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, o := range res.Obligations {
				got = append(got, o.Code)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("obligations = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestAttachRecordsErrors: a fixture naming an unknown partner, a partner
// missing from the fleet and a corrupt file are errors, and nothing is
// attached.
func TestAttachRecordsErrors(t *testing.T) {
	cfg := exampleCfg(t)
	newFleet := func() *partnersim.Fleet {
		var sims []*partnersim.Partner
		for _, p := range cfg.Partners {
			sims = append(sims, partnersim.New(p.ID, secret, partnersim.Behavior{}))
		}
		return partnersim.NewFleet(sims...)
	}
	people := fixturePeople(t)
	unknown := append(slices.Clone(people), partnersim.Person{Account: "1", Name: "x", Partners: []string{"no-such-partner"}})
	corrupt := t.TempDir()
	if err := os.WriteFile(partnersim.RecordsPath(corrupt, "analytics"), []byte(`{"records": [{"email": "x@example.cn", "data": {}}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		fleet  *partnersim.Fleet
		dir    string
		people []partnersim.Person
	}{
		{"unknown partner in fixture", newFleet(), t.TempDir(), unknown},
		{"partner not in fleet", partnersim.NewFleet(partnersim.New("music-account", secret, partnersim.Behavior{})), t.TempDir(), people},
		{"corrupt file", newFleet(), corrupt, people},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.fleet.AttachRecords(tt.dir, cfg, tt.people); err == nil {
				t.Fatal("no error")
			}
			if p := tt.fleet.Partner("music-account"); p.Records != nil || p.AccountSystem {
				t.Error("a partner was changed although AttachRecords failed")
			}
		})
	}
}

// TestAsyncStorageError: an asynchronous partner whose records cannot be
// stored calls back failed, error_code storage_error.
func TestAsyncStorageError(t *testing.T) {
	var mu sync.Mutex
	var got []partner.Response
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var resp partner.Response
		_ = json.NewDecoder(r.Body).Decode(&resp)
		mu.Lock()
		got = append(got, resp)
		mu.Unlock()
	}))
	defer cb.Close()
	st := newStack(t, "", testPeople(t), map[string]partnersim.Behavior{"voice-model-store": {Mode: partner.ModeAsync, ManualCallback: true}})
	path := partnersim.RecordsPath(st.dir, "voice-model-store")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(path, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	st.dispatch(t, "voice-model-store", partner.Request{SubjectRequestID: "r1", SubjectRequestType: partner.ActionErase, StatusCallbackURLs: []string{cb.URL},
		SubjectIdentities: []partner.Identity{ident(dsr.IdentifierAccount, "20000001")}})
	if err := st.fleet.Partner("voice-model-store").Complete(context.Background(), "r1"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0].RequestStatus != partner.StatusFailed || got[0].ErrorCode != "storage_error" {
		t.Errorf("callbacks = %+v, want one failed storage_error", got)
	}
}

// TestResolveWithoutRecords: an account system without records knows no
// account; a partner that is not the account system does not resolve.
func TestResolveWithoutRecords(t *testing.T) {
	acct := partnersim.New("acct", secret, partnersim.Behavior{})
	acct.AccountSystem = true
	other := partnersim.New("other", secret, partnersim.Behavior{})
	srv := httptest.NewServer(partnersim.NewFleet(acct, other))
	defer srv.Close()
	c := &partner.Client{}
	ids := []partner.Identity{ident(dsr.IdentifierEmail, "a@example.cn")}
	res, err := c.Resolve(context.Background(), partner.Partner{ID: "acct", Endpoint: srv.URL + "/acct"}, secret, partner.ResolveRequest{SubjectRequestID: "r1", SubjectIdentities: ids})
	if err != nil || res.Accounts == nil || len(res.Accounts) != 0 {
		t.Errorf("resolve without records = %+v, %v; want accounts: []", res, err)
	}
	if s, _ := post(t, srv.URL+"/other/resolve", partner.ResolveRequest{SubjectRequestID: "r1"}, secret, time.Now()); s != 404 {
		t.Errorf("resolve at a partner that is not the account system: %d, want 404", s)
	}
}
