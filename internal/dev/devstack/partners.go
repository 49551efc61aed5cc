package devstack

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"dsrflow/internal/dev/partnersim"
	"dsrflow/internal/partner"
)

// PartnerConfigFile is the example partner configuration the simulated
// partners are modelled on, relative to the repository root.
const PartnerConfigFile = "config/partners.example.json"

// PeopleFile are the synthetic people the simulated partners hold data
// about (partnersim.Person), relative to the repository root: request
// erasure or access for one of them and the partners act on their records,
// kept in <data>/partners/<partner ID>.json.
const PeopleFile = "config/local-people.json"

// PartnerOptions shape the simulated partners.
type PartnerOptions struct {
	// Latency delays every answer.
	Latency time.Duration
	// FailureRate fails that fraction of calls with 503 (retried by the workflow).
	FailureRate float64
	// Mode: "sync", "async", or "mixed" (each partner as configured).
	Mode string
	// CallbackDelay is how long an async partner takes to call back (default 1 s).
	CallbackDelay time.Duration
	// Seed seeds the failure draws (default 1).
	Seed uint64
}

func (o *PartnerOptions) check() error {
	switch o.Mode {
	case "":
		o.Mode = "mixed"
	case "sync", "async", "mixed":
	default:
		return fmt.Errorf("partner mode %q: want sync, async or mixed", o.Mode)
	}
	if o.FailureRate < 0 || o.FailureRate >= 1 {
		return fmt.Errorf("partner failure rate %v: want 0 <= rate < 1", o.FailureRate)
	}
	if o.Latency < 0 {
		return fmt.Errorf("partner latency %v: must not be negative", o.Latency)
	}
	if o.CallbackDelay == 0 {
		o.CallbackDelay = time.Second
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	return nil
}

// Partners are the simulated partners and the configuration that points at them.
type Partners struct {
	Fleet  *partnersim.Fleet
	Config *partner.Config
	// ConfigPath is the rewritten configuration (<dir>/partners.json).
	ConfigPath string
	// RecordsDir holds what each partner keeps about the people of
	// PeopleFile (<dir>/partners/<partner ID>.json).
	RecordsDir string
	sims       []*partnersim.Partner
	desc       map[string]string
}

// PartnerInfo describes one simulated partner for the banner.
type PartnerInfo struct {
	ID, Endpoint, Desc string
}

// partnerSecretNames lists the names the example configuration's
// secretRefs give the partners' secrets: keys of the partner secret
// (secretsmanager:#NAME), or variables (env:NAME).
func partnerSecretNames(root string) ([]string, error) {
	cfg, err := partner.LoadConfig(filepath.Join(root, PartnerConfigFile))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, p := range cfg.Partners {
		if name, ok := localSecretName(p.SecretRef); ok {
			names = append(names, name)
		}
	}
	return names, nil
}

// localSecretName is the name under which the local stack keeps the secret
// ref names: a key of the partner secret, or an environment variable.
func localSecretName(ref string) (string, bool) {
	if name, ok := strings.CutPrefix(ref, partner.SecretStoreScheme+":#"); ok {
		return name, true
	}
	return strings.CutPrefix(ref, "env:")
}

// newPartners builds a simulated partner for each partner of the example
// configuration, served under base/<id>, and writes the configuration with
// the endpoints rewritten to dir/partners.json.
func newPartners(root, dir, base string, o PartnerOptions, secrets map[string]string) (*Partners, error) {
	cfg, err := partner.LoadConfig(filepath.Join(root, PartnerConfigFile))
	if err != nil {
		return nil, err
	}
	// The simulated partners listen on http://127.0.0.1: allowed in this
	// configuration only (partner endpoints must be https:// elsewhere).
	cfg.AllowHTTPEndpoints = true
	ps := &Partners{Config: cfg, ConfigPath: filepath.Join(dir, "partners.json"), desc: map[string]string{}}
	for i := range cfg.Partners {
		p := &cfg.Partners[i]
		name, ok := localSecretName(p.SecretRef)
		if !ok || secrets[name] == "" {
			return nil, fmt.Errorf("partner %s: secretRef %q is not a secretsmanager:#KEY or env: reference the local stack can fill", p.ID, p.SecretRef)
		}
		mode := p.Mode
		if o.Mode != "mixed" {
			mode = partner.Mode(o.Mode)
		}
		p.Mode = mode
		p.Endpoint = base + "/" + p.ID
		sim := partnersim.New(p.ID, []byte(secrets[name]), partnersim.Behavior{
			Mode: mode, Latency: o.Latency, FailRate: o.FailureRate, FailStatus: 503, Seed: o.Seed + uint64(i),
			CallbackDelay: o.CallbackDelay, BackupRetention: time.Duration(p.BackupRetention),
		})
		ps.sims = append(ps.sims, sim)
		ps.desc[p.ID] = fmt.Sprintf("%s, latency %s, failure rate %g", mode, o.Latency, o.FailureRate)
	}
	ps.Fleet = partnersim.NewFleet(ps.sims...)
	people, err := partnersim.LoadPeople(filepath.Join(root, PeopleFile))
	if err != nil {
		return nil, err
	}
	ps.RecordsDir = filepath.Join(dir, "partners")
	if err := ps.Fleet.AttachRecords(ps.RecordsDir, cfg, people); err != nil {
		return nil, fmt.Errorf("partner records: %w", err)
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(ps.ConfigPath, append(b, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("write partner configuration: %w", err)
	}
	return ps, nil
}

// followExecutions makes each partner's business clock (backup rotation,
// expected completion) for a request that request's: now(requestID), its
// execution's clock. Signatures stay on the wall clock.
func (ps *Partners) followExecutions(now func(requestID string) time.Time) {
	for _, sim := range ps.sims {
		sim.NowFor = now
	}
}

// List describes the partners in configuration order.
func (ps *Partners) List() []PartnerInfo {
	out := make([]PartnerInfo, 0, len(ps.Config.Partners))
	for _, p := range ps.Config.Partners {
		out = append(out, PartnerInfo{ID: p.ID, Endpoint: p.Endpoint, Desc: ps.desc[p.ID]})
	}
	return out
}

// Sim returns the simulated partner id, or nil.
func (ps *Partners) Sim(id string) *partnersim.Partner { return ps.Fleet.Partner(id) }

// wait waits for callbacks in flight.
func (ps *Partners) wait() {
	for _, s := range ps.sims {
		s.Wait()
	}
}
