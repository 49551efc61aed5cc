package partner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"dsrflow/internal/dsr"
)

// Action is what a partner is asked to do.
type Action string

const (
	ActionErase           Action = "erase"
	ActionExport          Action = "export"
	ActionCorrect         Action = "correct"
	ActionWithdrawConsent Action = "withdraw_consent"
	ActionCloseAccount    Action = "close_account"
)

// Actions lists every action.
func Actions() []Action {
	return []Action{ActionErase, ActionExport, ActionCorrect, ActionWithdrawConsent, ActionCloseAccount}
}

// Valid reports whether a is a known action.
func (a Action) Valid() bool { return slices.Contains(Actions(), a) }

// Erases reports whether the action deletes the subject's data at the partner.
func (a Action) Erases() bool { return a == ActionErase || a == ActionCloseAccount }

// Mode is how a partner answers.
type Mode string

const (
	// ModeSync partners finish within the call (200 completed).
	ModeSync Mode = "sync"
	// ModeAsync partners accept (202 pending) and answer on the callback endpoint.
	ModeAsync Mode = "async"
)

// Duration is a length of time written as a Go duration ("90m", "72h") or
// in whole days ("35d").
type Duration time.Duration

// D is the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// ParseDuration reads "35d" or a Go duration.
func ParseDuration(s string) (Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, fmt.Errorf("duration %q: want a whole number of days before d", s)
		}
		return Duration(time.Duration(n) * 24 * time.Hour), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q: want e.g. 72h or 35d", s)
	}
	return Duration(d), nil
}

// MarshalJSON writes whole days as "Nd", anything else as a Go duration.
func (d Duration) MarshalJSON() ([]byte, error) {
	day := 24 * time.Hour
	if d != 0 && time.Duration(d)%day == 0 {
		return json.Marshal(fmt.Sprintf("%dd", time.Duration(d)/day))
	}
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want a string such as \"72h\" or \"35d\"")
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// RetentionException is data a partner keeps despite erasure because a law
// requires it (policy 五.1: legally required logs). Replies state them.
type RetentionException struct {
	// Code is stable, e.g. "sms_delivery_logs".
	Code string `json:"code"`
	// Text explains it to the requester, in every locale.
	Text dsr.Text `json:"text"`
	// Period is how long the data is kept.
	Period Duration `json:"period"`
	// Basis is the law it rests on (e.g. "《网络安全法》第二十一条").
	Basis string `json:"basis,omitempty"`
}

// Partner is one system outside this service that holds the subject's data.
type Partner struct {
	ID   string   `json:"id"`
	Name dsr.Text `json:"name"`
	// Endpoint is the base URL; the protocol's paths are appended to it.
	Endpoint string   `json:"endpoint"`
	Actions  []Action `json:"actions"`
	// IdentityTypes are the identifiers the partner holds; it is sent only these.
	IdentityTypes []dsr.IdentifierType `json:"identityTypes"`
	// Purposes are the consent purposes (dsr.Purposes) the partner serves:
	// a consent withdrawal reaches only the partners of the purposes withdrawn.
	Purposes []string `json:"purposes,omitempty"`
	Mode     Mode     `json:"mode"`
	// CompletionDeadline is how long an asynchronous partner may take.
	CompletionDeadline Duration `json:"completionDeadline"`
	// SecretRef names the signing secret (see Secrets), never the secret itself.
	SecretRef string `json:"secretRef"`
	// BackupRetention is how long the partner's backups keep deleted data;
	// zero for a partner without backups.
	BackupRetention     Duration             `json:"backupRetention"`
	RetentionExceptions []RetentionException `json:"retentionExceptions,omitempty"`
}

// Supports reports whether the partner accepts action a.
func (p Partner) Supports(a Action) bool { return slices.Contains(p.Actions, a) }

// Holds reports whether the partner holds identifiers of type t.
func (p Partner) Holds(t dsr.IdentifierType) bool { return slices.Contains(p.IdentityTypes, t) }

// Config is the partner configuration (docs/ARCHITECTURE.md, rule 6).
type Config struct {
	// AccountSystem is the ID of the partner that keeps accounts: account
	// closure pre-checks obligations with it.
	AccountSystem string    `json:"accountSystem"`
	Partners      []Partner `json:"partners"`
	// AllowHTTPEndpoints lets partner endpoints be http:// URLs. Only the
	// local stack's own configuration sets it (internal/dev/devstack writes
	// it into .local/partners.json, whose simulated partners listen on
	// loopback): partners receive identifiers and sign with shared
	// secrets, so everywhere else an endpoint must be https://, and `make
	// build` refuses to bundle a configuration that sets it.
	AllowHTTPEndpoints bool `json:"allowHttpEndpoints,omitempty"`
}

// Partner returns the partner with ID id.
func (c *Config) Partner(id string) (Partner, bool) {
	for _, p := range c.Partners {
		if p.ID == id {
			return p, true
		}
	}
	return Partner{}, false
}

// Problem is one thing wrong with a configuration, at a JSON path.
type Problem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

func (p Problem) String() string { return p.Path + ": " + p.Message }

// ConfigError lists every problem found in a configuration.
type ConfigError struct{ Problems []Problem }

func (e *ConfigError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "partner configuration: %d problem(s)", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// validID reports whether id is a partner ID: 1 to 63 of [a-z0-9_-],
// starting with a letter or digit. A loop, not a regular expression: the
// {0,62} repetition compiles to 62 copies of its class, which every
// function paid for while reading its configuration at init.
func validID(id string) bool {
	if len(id) == 0 || len(id) > 63 || id[0] == '_' || id[0] == '-' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// validSecretRef reports whether ref looks like <scheme>:<name>, the scheme
// [a-z][a-z0-9]*.
func validSecretRef(ref string) bool {
	scheme, name, ok := strings.Cut(ref, ":")
	if !ok || name == "" || strings.ContainsRune(name, '\n') || scheme == "" || scheme[0] < 'a' || scheme[0] > 'z' {
		return false
	}
	for i := 1; i < len(scheme); i++ {
		if c := scheme[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// Validate checks the configuration and returns a *ConfigError listing every
// problem, or nil.
func (c *Config) Validate() error {
	var probs []Problem
	add := func(path, format string, args ...any) {
		probs = append(probs, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	if len(c.Partners) == 0 {
		add("partners", "no partners configured")
	}
	seen := map[string]int{}
	for i, p := range c.Partners {
		at := fmt.Sprintf("partners[%d]", i)
		switch {
		case p.ID == "":
			add(at+".id", "required")
		case !validID(p.ID):
			add(at+".id", "%q: want 1-63 of a-z, 0-9, _ and -, starting with a letter or digit", p.ID)
		default:
			if j, dup := seen[p.ID]; dup {
				add(at+".id", "duplicate ID %q (also partners[%d])", p.ID, j)
			} else {
				seen[p.ID] = i
			}
		}
		if p.Name.ZhCN == "" || p.Name.En == "" {
			add(at+".name", "want a name in zh-CN and en")
		}
		if p.Endpoint == "" {
			add(at+".endpoint", "required")
		} else if u, err := url.Parse(p.Endpoint); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			add(at+".endpoint", "%q is not an absolute http(s) URL without query or fragment", p.Endpoint)
		} else if u.Scheme == "http" && !c.AllowHTTPEndpoints {
			add(at+".endpoint", "%q: partner endpoints must be https:// (http:// only in the local stack's configuration)", p.Endpoint)
		}
		if len(p.Actions) == 0 {
			add(at+".actions", "at least one action is required")
		}
		for j, a := range p.Actions {
			if !a.Valid() {
				add(fmt.Sprintf("%s.actions[%d]", at, j), "unknown action %q (want one of %s)", a, joinActions())
			}
		}
		if len(p.IdentityTypes) == 0 {
			add(at+".identityTypes", "at least one identity type is required")
		}
		for j, t := range p.IdentityTypes {
			if t != dsr.IdentifierEmail && t != dsr.IdentifierPhone && t != dsr.IdentifierAccount {
				add(fmt.Sprintf("%s.identityTypes[%d]", at, j), "unknown identity type %q (want email, phone or account)", t)
			}
		}
		for j, pu := range p.Purposes {
			if !dsr.ValidPurpose(pu) || pu == dsr.PurposeAll {
				add(fmt.Sprintf("%s.purposes[%d]", at, j), "unknown consent purpose %q", pu)
			}
		}
		if p.Supports(ActionWithdrawConsent) && len(p.Purposes) == 0 {
			add(at+".purposes", "a partner that supports withdraw_consent must name the purposes it serves")
		}
		switch p.Mode {
		case ModeSync:
		case ModeAsync:
			if p.CompletionDeadline <= 0 {
				add(at+".completionDeadline", "an async partner needs a positive completion deadline")
			}
		default:
			add(at+".mode", "unknown mode %q (want sync or async)", p.Mode)
		}
		if p.CompletionDeadline < 0 {
			add(at+".completionDeadline", "negative")
		}
		if p.SecretRef == "" {
			add(at+".secretRef", "required")
		} else if !validSecretRef(p.SecretRef) {
			add(at+".secretRef", "want a reference such as env:NAME or ssm:/path, not a secret")
		}
		if p.BackupRetention < 0 {
			add(at+".backupRetention", "negative")
		}
		for j, x := range p.RetentionExceptions {
			xat := fmt.Sprintf("%s.retentionExceptions[%d]", at, j)
			if x.Code == "" {
				add(xat+".code", "required")
			}
			if x.Text.ZhCN == "" || x.Text.En == "" {
				add(xat+".text", "want a text in zh-CN and en")
			}
			if x.Period < 0 {
				add(xat+".period", "negative")
			}
		}
	}
	if c.AccountSystem != "" {
		p, ok := c.Partner(c.AccountSystem)
		switch {
		case !ok:
			add("accountSystem", "names no configured partner: %q", c.AccountSystem)
		case !p.Supports(ActionCloseAccount):
			add("accountSystem", "partner %q does not support close_account", c.AccountSystem)
		}
	}
	if len(probs) > 0 {
		return &ConfigError{Problems: probs}
	}
	return nil
}

func joinActions() string {
	var s []string
	for _, a := range Actions() {
		s = append(s, string(a))
	}
	return strings.Join(s, ", ")
}

// ParseConfig reads a JSON configuration strictly (unknown fields are
// errors) and validates it.
func ParseConfig(r io.Reader) (*Config, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("partner configuration: %w", err)
	}
	if dec.More() {
		return nil, errors.New("partner configuration: trailing data after the JSON object")
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// LoadConfig reads and validates the configuration file at path.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("partner configuration: %w", err)
	}
	c, err := ParseConfig(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Assignment is one partner's part of a request: which action it gets.
type Assignment struct {
	Partner Partner
	Action  Action
}

// PartnersFor lists the partners a request of kind reaches, with the action
// each gets, in configuration order:
//
//	erasure             erase
//	account_closure     close_account where supported (the account system),
//	                    erase everywhere else
//	access, portability export
//	correction          correct
//	consent_withdrawal  withdraw_consent, only at partners serving one of
//	                    purposes (every such partner for "all")
func (c *Config) PartnersFor(kind dsr.Kind, purposes []string) []Assignment {
	var out []Assignment
	for _, p := range c.Partners {
		switch kind {
		case dsr.KindErasure:
			if p.Supports(ActionErase) {
				out = append(out, Assignment{p, ActionErase})
			}
		case dsr.KindAccountClosure:
			if p.Supports(ActionCloseAccount) {
				out = append(out, Assignment{p, ActionCloseAccount})
			} else if p.Supports(ActionErase) {
				out = append(out, Assignment{p, ActionErase})
			}
		case dsr.KindAccess, dsr.KindPortability:
			if p.Supports(ActionExport) {
				out = append(out, Assignment{p, ActionExport})
			}
		case dsr.KindCorrection:
			if p.Supports(ActionCorrect) {
				out = append(out, Assignment{p, ActionCorrect})
			}
		case dsr.KindConsentWithdrawal:
			if p.Supports(ActionWithdrawConsent) && concerned(p, purposes) {
				out = append(out, Assignment{p, ActionWithdrawConsent})
			}
		}
	}
	return out
}

func concerned(p Partner, purposes []string) bool {
	for _, pu := range purposes {
		if pu == dsr.PurposeAll || slices.Contains(p.Purposes, pu) {
			return true
		}
	}
	return false
}

// PurgeAfter is when every backup that may hold data deleted at deletedAt
// has rotated out: deletedAt plus the longest backup retention among
// partners.
func PurgeAfter(deletedAt time.Time, partners []Partner) time.Time {
	var longest time.Duration
	for _, p := range partners {
		longest = max(longest, p.BackupRetention.D())
	}
	return deletedAt.Add(longest)
}
