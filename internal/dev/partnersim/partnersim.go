// Package partnersim simulates partner systems that speak the signed partner
// protocol (package partner): synchronous and asynchronous, slow, failing
// for a while and then recovering, failing for good, answering garbage; the
// account system's obligations pre-check; and backup systems whose backups
// rotate out with time. Tests serve them with net/http/httptest; the local
// stack (`make run`) serves a Fleet.
//
// A partner given Records holds synthetic data about the people of a
// fixture (see Person, OpenRecords, Fleet.AttachRecords) and acts on it:
// erasure removes it (or keeps what a retention exception covers), export
// returns it, correction and consent withdrawal change it; the account
// system (AccountSystem) also answers /resolve from it. A partner without
// Records answers from its Behavior alone.
//
// A simulated partner verifies every signature it receives (401 otherwise)
// and signs every callback it sends.
package partnersim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"dsrflow/internal/partner"
)

// Behavior is how a simulated partner behaves.
type Behavior struct {
	// Mode: sync answers 200 completed; async answers 202 pending and calls
	// back later.
	Mode partner.Mode
	// Latency delays every answer.
	Latency time.Duration
	// FailFirst answers the first FailFirst requests with FailStatus (default
	// 503) and RetryAfter, then recovers.
	FailFirst  int
	FailStatus int
	RetryAfter string
	// FailRate fails that fraction of requests with FailStatus, drawn from a
	// generator seeded with Seed.
	FailRate float64
	Seed     uint64
	// Permanent, if not zero, answers every request with this status.
	Permanent int
	// Garbage, if set, is returned as the body of a 200 answer.
	Garbage string
	// CallbackDelay is how long an async partner waits before calling back;
	// with ManualCallback it does not call back until Complete is called.
	CallbackDelay  time.Duration
	ManualCallback bool
	// Outcome is the final status (default completed); FailCode goes with failed.
	Outcome  partner.RequestStatus
	FailCode string
	// Export is the data returned for export requests (default: a small
	// record built from the identities received). Ignored with Records.
	Export json.RawMessage
	// Changed is returned for correct and withdraw_consent (default:
	// "profile"). Ignored with Records.
	Changed []string
	// Obligations are the pre-check's answer (account system); with
	// Records, the obligations derived from the subject's records are added.
	Obligations []partner.Obligation
	// BackupRetention: backups taken before a deletion are gone once
	// BackupRetention has passed since it.
	BackupRetention time.Duration
}

// Callback is a callback the partner sent and the status it got back.
type Callback struct {
	RequestID string
	Status    int
	Err       error
}

// Partner is one simulated partner; it is an http.Handler.
type Partner struct {
	ID     string
	Secret []byte
	B      Behavior
	// Now is the partner's business clock (default time.Now): backup
	// rotation and expected completion times. It may run scaled.
	Now func() time.Time
	// NowFor, if set, is the business clock for one subject request,
	// named by its ID (the local stack: the clock of that request's
	// workflow execution, so its backups rotate on its own calendar); it
	// replaces Now wherever a request is at hand.
	NowFor func(requestID string) time.Time
	// SignatureClock is the wall clock signatures are made and checked
	// against (default time.Now): replay protection needs real time.
	SignatureClock func() time.Time
	// HTTP sends callbacks (default http.DefaultClient).
	HTTP *http.Client
	// Records, if set, are the data the partner holds and acts on (set
	// before serving).
	Records *Records
	// AccountSystem partners answer /resolve (from Records; without
	// Records, no identifier has an account). Others answer it 404.
	AccountSystem bool

	mu        sync.Mutex
	rng       *rand.Rand
	calls     int
	received  []partner.Request
	accepted  map[string]partner.Request
	callbacks []Callback
	wg        sync.WaitGroup
}

// New returns a simulated partner.
func New(id string, secret []byte, b Behavior) *Partner {
	return &Partner{ID: id, Secret: secret, B: b, rng: rand.New(rand.NewPCG(b.Seed, b.Seed^0x5eed)), accepted: map[string]partner.Request{}}
}

func (p *Partner) sigNow() time.Time {
	if p.SignatureClock != nil {
		return p.SignatureClock()
	}
	return time.Now()
}

func (p *Partner) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// nowFor is the business clock of request requestID.
func (p *Partner) nowFor(requestID string) time.Time {
	if p.NowFor != nil {
		return p.NowFor(requestID)
	}
	return p.now()
}

// Calls counts the signed requests received on /requests.
func (p *Partner) Calls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls
}

// Received lists the requests received on /requests, in order.
func (p *Partner) Received() []partner.Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]partner.Request(nil), p.received...)
}

// Callbacks lists the callbacks sent so far.
func (p *Partner) Callbacks() []Callback {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Callback(nil), p.callbacks...)
}

// Wait waits for callbacks in flight.
func (p *Partner) Wait() { p.wg.Wait() }

// Receipt is the receipt the partner gives for a request: deterministic, so
// a repeated request gets the same one.
func (p *Partner) Receipt(requestID string) string {
	h := sha256.Sum256([]byte(p.ID + "/" + requestID))
	return p.ID + "-" + hex.EncodeToString(h[:6])
}

func (p *Partner) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "read error", http.StatusBadRequest)
		return
	}
	if err := partner.Verify(p.Secret, r.Header.Get(partner.HeaderTimestamp), r.Header.Get(partner.HeaderSignature), body, p.sigNow()); err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if p.B.Latency > 0 {
		select {
		case <-time.After(p.B.Latency):
		case <-r.Context().Done():
			return
		}
	}
	switch {
	case strings.HasSuffix(r.URL.Path, partner.PathRequests):
		p.serveRequest(w, body)
	case strings.HasSuffix(r.URL.Path, partner.PathPrecheck):
		p.servePrecheck(w, body)
	case p.AccountSystem && strings.HasSuffix(r.URL.Path, partner.PathResolve):
		p.serveResolve(w, body)
	case strings.HasSuffix(r.URL.Path, partner.PathPurgeStatus):
		p.servePurge(w, body)
	default:
		http.NotFound(w, r)
	}
}

func (p *Partner) fail() (status int, retryAfter string, failed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	st := p.B.FailStatus
	if st == 0 {
		st = http.StatusServiceUnavailable
	}
	switch {
	case p.B.Permanent != 0:
		return p.B.Permanent, "", true
	case p.calls <= p.B.FailFirst:
		return st, p.B.RetryAfter, true
	case p.B.FailRate > 0 && p.rng.Float64() < p.B.FailRate:
		return st, p.B.RetryAfter, true
	}
	return 0, "", false
}

func (p *Partner) serveRequest(w http.ResponseWriter, body []byte) {
	var req partner.Request
	if err := json.Unmarshal(body, &req); err != nil || req.SubjectRequestID == "" || !partner.Action(req.SubjectRequestType).Valid() {
		http.Error(w, "malformed request", http.StatusBadRequest)
		return
	}
	if st, ra, failed := p.fail(); failed {
		if ra != "" {
			w.Header().Set("Retry-After", ra)
		}
		http.Error(w, "simulated failure", st)
		return
	}
	p.mu.Lock()
	p.received = append(p.received, req)
	p.mu.Unlock()
	if p.B.Garbage != "" {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, p.B.Garbage)
		return
	}
	if p.B.Mode == partner.ModeAsync {
		p.mu.Lock()
		_, again := p.accepted[req.SubjectRequestID]
		p.accepted[req.SubjectRequestID] = req
		p.mu.Unlock()
		expected := p.nowFor(req.SubjectRequestID).Add(p.B.CallbackDelay)
		writeJSON(w, http.StatusAccepted, partner.Response{SubjectRequestID: req.SubjectRequestID, RequestStatus: partner.StatusPending, ExpectedCompletionTime: &expected})
		if !again && !p.B.ManualCallback {
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				time.Sleep(p.B.CallbackDelay)
				_ = p.Complete(context.Background(), req.SubjectRequestID)
			}()
		}
		return
	}
	resp, err := p.outcome(req)
	if err != nil {
		http.Error(w, "records not stored", http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// outcome is the final answer to req; with Records, it carries req out on
// them first (an error: they could not be stored, and did not change).
func (p *Partner) outcome(req partner.Request) (partner.Response, error) {
	resp := partner.Response{SubjectRequestID: req.SubjectRequestID, RequestStatus: partner.StatusCompleted}
	if p.B.Outcome != "" && p.B.Outcome != partner.StatusCompleted {
		resp.RequestStatus = p.B.Outcome
		resp.ErrorCode = p.B.FailCode
		return resp, nil
	}
	resp.Receipt = p.Receipt(req.SubjectRequestID)
	if p.Records != nil {
		if err := p.Records.act(req, &resp); err != nil {
			return partner.Response{}, err
		}
		return resp, nil
	}
	switch req.SubjectRequestType {
	case partner.ActionExport:
		resp.Export = p.B.Export
		if resp.Export == nil {
			rec := map[string]any{"partner": p.ID, "identities": len(req.SubjectIdentities), "records": []map[string]string{{"kind": "sample", "value": "simulated"}}}
			resp.Export, _ = json.Marshal(rec)
		}
	case partner.ActionCorrect, partner.ActionWithdrawConsent:
		resp.Changed = p.B.Changed
		if resp.Changed == nil {
			resp.Changed = []string{"profile"}
		}
	}
	return resp, nil
}

// Complete sends the callback for an accepted async request now: the
// outcome, signed, to the first status callback URL. If the partner's
// Records cannot be stored, the callback says failed, error_code
// "storage_error".
func (p *Partner) Complete(ctx context.Context, requestID string) error {
	p.mu.Lock()
	req, ok := p.accepted[requestID]
	p.mu.Unlock()
	if !ok {
		return fmt.Errorf("partner %s has not accepted request %s", p.ID, requestID)
	}
	resp, err := p.outcome(req)
	if err != nil {
		resp = partner.Response{SubjectRequestID: req.SubjectRequestID, RequestStatus: partner.StatusFailed, ErrorCode: "storage_error"}
	}
	return p.SendCallback(ctx, req, resp)
}

// SendCallback posts resp, signed, to req's first callback URL; it is
// exported so tests can send redelivered or altered callbacks.
func (p *Partner) SendCallback(ctx context.Context, req partner.Request, resp partner.Response) error {
	if len(req.StatusCallbackURLs) == 0 {
		return fmt.Errorf("request %s has no callback URL", req.SubjectRequestID)
	}
	body, err := json.Marshal(resp)
	if err != nil {
		return err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, req.StatusCallbackURLs[0], bytes.NewReader(body))
	if err != nil {
		return err
	}
	ts, sig := partner.Sign(p.Secret, p.sigNow(), body)
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set(partner.HeaderTimestamp, ts)
	hreq.Header.Set(partner.HeaderSignature, sig)
	hc := p.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	cb := Callback{RequestID: req.SubjectRequestID}
	resp2, err := hc.Do(hreq)
	if err == nil {
		cb.Status = resp2.StatusCode
		_, _ = io.Copy(io.Discard, resp2.Body)
		resp2.Body.Close()
		if resp2.StatusCode >= 300 {
			err = fmt.Errorf("callback for %s: HTTP %d", req.SubjectRequestID, resp2.StatusCode)
		}
	}
	cb.Err = err
	p.mu.Lock()
	p.callbacks = append(p.callbacks, cb)
	p.mu.Unlock()
	return err
}

func (p *Partner) servePrecheck(w http.ResponseWriter, body []byte) {
	var req partner.PrecheckRequest
	if err := json.Unmarshal(body, &req); err != nil || req.SubjectRequestID == "" {
		http.Error(w, "malformed request", http.StatusBadRequest)
		return
	}
	if st, ra, failed := p.fail(); failed {
		if ra != "" {
			w.Header().Set("Retry-After", ra)
		}
		http.Error(w, "simulated failure", st)
		return
	}
	obl := append([]partner.Obligation{}, p.B.Obligations...)
	if p.Records != nil {
		for _, c := range p.Records.obligations(req.SubjectIdentities) {
			if !slices.ContainsFunc(obl, func(o partner.Obligation) bool { return o.Code == c }) {
				obl = append(obl, partner.Obligation{Code: c})
			}
		}
	}
	writeJSON(w, http.StatusOK, partner.PrecheckResponse{SubjectRequestID: req.SubjectRequestID, Obligations: obl})
}

// maxResolveIdentities bounds the identities of one resolve request.
const maxResolveIdentities = 50

// serveResolve answers the account system's /resolve: the accounts of the
// records matching the identities sent (see Records.resolve).
func (p *Partner) serveResolve(w http.ResponseWriter, body []byte) {
	var req partner.ResolveRequest
	if err := json.Unmarshal(body, &req); err != nil || req.SubjectRequestID == "" || len(req.SubjectIdentities) > maxResolveIdentities {
		http.Error(w, "malformed request", http.StatusBadRequest)
		return
	}
	if st, ra, failed := p.fail(); failed {
		if ra != "" {
			w.Header().Set("Retry-After", ra)
		}
		http.Error(w, "simulated failure", st)
		return
	}
	accounts := []partner.ResolvedAccount{}
	if p.Records != nil {
		accounts = p.Records.resolve(req.SubjectIdentities)
	}
	writeJSON(w, http.StatusOK, partner.ResolveResponse{SubjectRequestID: req.SubjectRequestID, Accounts: accounts})
}

func (p *Partner) servePurge(w http.ResponseWriter, body []byte) {
	var req partner.PurgeStatusRequest
	if err := json.Unmarshal(body, &req); err != nil || req.SubjectRequestID == "" || req.DeletedAt.IsZero() {
		http.Error(w, "malformed request", http.StatusBadRequest)
		return
	}
	if st, ra, failed := p.fail(); failed {
		if ra != "" {
			w.Header().Set("Retry-After", ra)
		}
		http.Error(w, "simulated failure", st)
		return
	}
	now := p.nowFor(req.SubjectRequestID)
	purged := !now.Before(req.DeletedAt.Add(p.B.BackupRetention))
	// Daily backups: the oldest kept is the first one after now-retention.
	oldest := now.Add(-p.B.BackupRetention).Truncate(24 * time.Hour).Add(24 * time.Hour)
	writeJSON(w, http.StatusOK, partner.PurgeStatusResponse{SubjectRequestID: req.SubjectRequestID, Purged: &purged, OldestBackup: &oldest})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Fleet serves several simulated partners under one address, each under
// /<partner ID>/ (configure endpoints as <base>/<partner ID>).
type Fleet struct {
	mu       sync.Mutex
	partners map[string]*Partner
}

// NewFleet returns a fleet of the given partners.
func NewFleet(ps ...*Partner) *Fleet {
	f := &Fleet{partners: map[string]*Partner{}}
	for _, p := range ps {
		f.partners[p.ID] = p
	}
	return f
}

// Partner returns the partner with ID id, or nil.
func (f *Fleet) Partner(id string) *Partner {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.partners[id]
}

// AttachRecords gives every partner of cfg its records, kept under dir
// (<dir>/<partner ID>.json; see OpenRecords: loaded if the file exists,
// else seeded from people), and makes cfg.AccountSystem the fleet's account
// system. Every partner of cfg must be in the fleet, and every partner ID a
// person names must be in cfg. Call it before serving; on an error no
// partner is changed.
func (f *Fleet) AttachRecords(dir string, cfg *partner.Config, people []Person) error {
	for i, per := range people {
		for _, id := range per.Partners {
			if _, ok := cfg.Partner(id); !ok {
				return fmt.Errorf("people[%d].partners: partner %s is not configured", i, id)
			}
		}
		for id := range per.Data {
			if _, ok := cfg.Partner(id); !ok {
				return fmt.Errorf("people[%d].data: partner %s is not configured", i, id)
			}
		}
	}
	recs := make([]*Records, len(cfg.Partners))
	for i, pc := range cfg.Partners {
		if f.Partner(pc.ID) == nil {
			return fmt.Errorf("partner %s is not in the fleet", pc.ID)
		}
		r, err := OpenRecords(dir, pc, people)
		if err != nil {
			return err
		}
		recs[i] = r
	}
	for i, pc := range cfg.Partners {
		sim := f.Partner(pc.ID)
		sim.Records = recs[i]
		sim.AccountSystem = pc.ID == cfg.AccountSystem
	}
	return nil
}

// Records is a snapshot of partner id's records: nil for a partner that is
// not in the fleet or has none.
func (f *Fleet) Records(id string) []Record {
	p := f.Partner(id)
	if p == nil || p.Records == nil {
		return nil
	}
	return p.Records.Snapshot()
}

func (f *Fleet) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	p := f.Partner(id)
	if p == nil {
		http.NotFound(w, r)
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/" + rest
	p.ServeHTTP(w, r2)
}

// Local builds simulated partners for a configuration (the local stack,
// `make run`): one per configured partner, in its configured mode, signing
// with secret(id), with behaviours overridden per partner ID; and a copy of
// the configuration whose endpoints point at the fleet served at baseURL
// (each partner under baseURL/<id>).
func Local(cfg *partner.Config, baseURL string, secret func(id string) []byte, overrides map[string]Behavior) (*Fleet, *partner.Config) {
	local := *cfg
	local.Partners = make([]partner.Partner, len(cfg.Partners))
	var sims []*Partner
	for i, p := range cfg.Partners {
		b, ok := overrides[p.ID]
		if !ok {
			b = Behavior{CallbackDelay: 2 * time.Second}
		}
		if b.Mode == "" {
			b.Mode = p.Mode
		}
		sims = append(sims, New(p.ID, secret(p.ID), b))
		p.Endpoint = strings.TrimRight(baseURL, "/") + "/" + p.ID
		local.Partners[i] = p
	}
	return NewFleet(sims...), &local
}
