package partner_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"dsrflow/internal/dsr"
	"dsrflow/internal/partner"
)

// accountSystem serves POST {endpoint}/resolve for the account system
// "account" of a fixture: it checks the signature with the fixture's
// secret for it (401 otherwise), records what it was asked, and answers
// with answer(request).
type accountSystem struct {
	mu     sync.Mutex
	asked  []partner.ResolveRequest
	paths  []string
	answer func(partner.ResolveRequest) (int, string)
}

// accountSecret is the fixture's secret of the partner "account".
var accountSecret = []byte("secret-of-account-0123456789")

func (a *accountSystem) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || r.Method != http.MethodPost {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if err := partner.Verify(accountSecret, r.Header.Get(partner.HeaderTimestamp), r.Header.Get(partner.HeaderSignature), body, time.Now()); err != nil {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var req partner.ResolveRequest
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		http.Error(w, "malformed", http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	a.asked = append(a.asked, req)
	a.paths = append(a.paths, r.URL.Path)
	a.mu.Unlock()
	status, answer := a.answer(req)
	w.Header().Set("Content-Type", "application/json")
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "30")
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, answer)
}

func resolveAnswer(id string, accounts ...partner.ResolvedAccount) string {
	if accounts == nil {
		accounts = []partner.ResolvedAccount{}
	}
	b, _ := json.Marshal(partner.ResolveResponse{SubjectRequestID: id, Accounts: accounts})
	return string(b)
}

func ident(typ, v string) partner.Identity {
	return partner.Identity{Type: typ, Value: v, Format: "raw"}
}

// TestResolve: the account system is asked, with the verified identifiers
// only, which accounts they belong to; each kind of answer becomes a
// Resolution or a named error.
func TestResolve(t *testing.T) {
	t.Parallel()
	verified := dsr.Identifiers{Emails: []string{"person@example.com"}, Phones: []string{"+8613800138000"}}
	many := make([]partner.ResolvedAccount, partner.MaxResolvedAccounts+1)
	for i := range many {
		many[i] = partner.ResolvedAccount{AccountID: fmt.Sprintf("acct-%d", i), Identities: []partner.Identity{}}
	}
	tests := []struct {
		name    string
		answer  func(partner.ResolveRequest) (int, string)
		want    partner.Resolution
		wantErr string // "Name code"
	}{
		{"accounts found", func(r partner.ResolveRequest) (int, string) {
			return 200, resolveAnswer(r.SubjectRequestID,
				partner.ResolvedAccount{AccountID: "acct-42", Identities: []partner.Identity{ident("email", "person@example.com"), ident("phone_number", "+8613800138000"), ident("email", "old@example.com")}},
				partner.ResolvedAccount{AccountID: "acct-43", Identities: []partner.Identity{ident("email", "person@example.com"), ident("controller_customer_id", "acct-42")}})
		}, partner.Resolution{
			Accounts:    []string{"acct-42", "acct-43"},
			Identifiers: dsr.Identifiers{Accounts: []string{"acct-42", "acct-43"}, Emails: []string{"person@example.com", "old@example.com"}, Phones: []string{"+8613800138000"}},
		}, ""},
		{"no account", func(r partner.ResolveRequest) (int, string) { return 200, resolveAnswer(r.SubjectRequestID) }, partner.Resolution{}, ""},
		{"too many accounts", func(r partner.ResolveRequest) (int, string) { return 200, resolveAnswer(r.SubjectRequestID, many...) }, partner.Resolution{}, "PartnerGarbage too_many_accounts"},
		{"bad identity type", func(r partner.ResolveRequest) (int, string) {
			return 200, resolveAnswer(r.SubjectRequestID, partner.ResolvedAccount{AccountID: "acct-42", Identities: []partner.Identity{ident("passport", "E1234")}})
		}, partner.Resolution{}, "PartnerGarbage bad_identity"},
		{"identity value too long", func(r partner.ResolveRequest) (int, string) {
			return 200, resolveAnswer(r.SubjectRequestID, partner.ResolvedAccount{AccountID: "acct-42", Identities: []partner.Identity{ident("email", strings.Repeat("a", partner.MaxIdentityValueLen+1))}})
		}, partner.Resolution{}, "PartnerGarbage bad_identity"},
		{"empty account ID", func(r partner.ResolveRequest) (int, string) {
			return 200, resolveAnswer(r.SubjectRequestID, partner.ResolvedAccount{AccountID: ""})
		}, partner.Resolution{}, "PartnerGarbage bad_account"},
		{"accounts missing", func(r partner.ResolveRequest) (int, string) {
			return 200, `{"subject_request_id":"` + r.SubjectRequestID + `"}`
		}, partner.Resolution{}, "PartnerGarbage missing_accounts"},
		{"another request", func(partner.ResolveRequest) (int, string) { return 200, resolveAnswer("someone-else") }, partner.Resolution{}, "PartnerGarbage wrong_request_id"},
		{"not JSON", func(partner.ResolveRequest) (int, string) { return 200, `<html>ok</html>` }, partner.Resolution{}, "PartnerGarbage not_json"},
		{"unavailable", func(partner.ResolveRequest) (int, string) { return 503, `{}` }, partner.Resolution{}, "PartnerRetryable http_503"},
		{"refused", func(partner.ResolveRequest) (int, string) { return 403, `{}` }, partner.Resolution{}, "PartnerRejected http_403"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			as := &accountSystem{answer: tt.answer}
			f := newFixtureOpts(t, fixtureOpts{accountSystem: "account"}, simSpec{id: "account", mode: partner.ModeSync, ids: allIDs, actions: closeActions, handler: as})
			if !slices.Equal(f.secrets["account"], accountSecret) {
				t.Fatalf("fixture secret of account changed: update accountSecret")
			}
			got, err := f.d.Resolve(t.Context(), "req-resolve-1", verified)
			if tt.wantErr != "" {
				name, code, _ := classify(err)
				if name+" "+code != tt.wantErr {
					t.Fatalf("Resolve = %+v, %v; want %s", got, err, tt.wantErr)
				}
				if name == "PartnerRetryable" {
					var re *partner.PartnerRetryable
					if errors.As(err, &re); re.RetryAfter != 30*time.Second {
						t.Errorf("Retry-After %v, want 30s", re.RetryAfter)
					}
				}
				noPersonalData(t, "error", err.Error())
			} else if err != nil || !slices.Equal(got.Accounts, tt.want.Accounts) || !sameIdentifiers(got.Identifiers, tt.want.Identifiers) {
				t.Fatalf("Resolve = %+v, %v; want %+v", got, err, tt.want)
			}
			as.mu.Lock()
			defer as.mu.Unlock()
			if len(as.asked) != 1 || as.paths[0] != "/dsr"+partner.PathResolve {
				t.Fatalf("account system asked %d times at %v, want once at /dsr/resolve", len(as.asked), as.paths)
			}
			asked := as.asked[0]
			wantIDs := []partner.Identity{ident("email", "person@example.com"), ident("phone_number", "+8613800138000")}
			if asked.SubjectRequestID != "req-resolve-1" || asked.APIVersion != partner.APIVersion || !slices.Equal(asked.SubjectIdentities, wantIDs) {
				t.Errorf("account system asked %+v, want the verified identifiers of req-resolve-1", asked)
			}
		})
	}
}

func sameIdentifiers(a, b dsr.Identifiers) bool {
	return slices.Equal(a.Accounts, b.Accounts) && slices.Equal(a.Emails, b.Emails) && slices.Equal(a.Phones, b.Phones)
}

// TestResolveRefuses: without an account system nobody can resolve; with
// no verified identifier there is nothing to ask; without the account
// system's secret nothing is sent.
func TestResolveRefuses(t *testing.T) {
	t.Parallel()
	as := &accountSystem{answer: func(r partner.ResolveRequest) (int, string) { return 200, resolveAnswer(r.SubjectRequestID) }}
	verified := dsr.Identifiers{Accounts: []string{"acct-42"}}

	none := newFixture(t, simSpec{id: "account", mode: partner.ModeSync, ids: allIDs, actions: closeActions, handler: as})
	if _, err := none.d.Resolve(t.Context(), "r1", verified); !errors.Is(err, partner.ErrNoAccountSystem) {
		t.Errorf("Resolve without an account system = %v, want ErrNoAccountSystem", err)
	}
	unknown := partner.NewDispatcher(partner.DispatcherConfig{Partners: &partner.Config{AccountSystem: "ghost"}}, partner.DispatcherDeps{})
	if _, err := unknown.Resolve(t.Context(), "r1", verified); !errors.Is(err, partner.ErrNoAccountSystem) {
		t.Errorf("Resolve with an unknown account system = %v, want ErrNoAccountSystem", err)
	}

	f := newFixtureOpts(t, fixtureOpts{accountSystem: "account"}, simSpec{id: "account", mode: partner.ModeSync, ids: allIDs, actions: closeActions, handler: as})
	if _, err := f.d.Resolve(t.Context(), "r1", dsr.Identifiers{}); !isNamed[*partner.InvalidInput](err) {
		t.Errorf("Resolve(nothing verified) = %v, want InvalidInput", err)
	}
	noSecret := partner.NewDispatcher(partner.DispatcherConfig{Partners: f.cfg}, partner.DispatcherDeps{Store: f.st})
	if _, err := noSecret.Resolve(t.Context(), "r1", verified); !isNamed[*partner.ServiceUnavailable](err) {
		t.Errorf("Resolve without the secret = %v, want ServiceUnavailable", err)
	}
	as.mu.Lock()
	defer as.mu.Unlock()
	if len(as.asked) != 0 {
		t.Errorf("refused resolutions asked the account system %d times", len(as.asked))
	}
}
