package partner

import (
	"errors"
	"testing"
)

// FuzzParseResolve: the account system's answer is either accepted within
// the limits (accounts, identities per account, value lengths, known
// identity types) or refused as garbage with a code.
func FuzzParseResolve(f *testing.F) {
	for _, s := range []string{
		`{"subject_request_id":"r1","accounts":[]}`,
		`{"subject_request_id":"r1","accounts":[{"account_id":"a1","identities":[{"identity_type":"email","identity_value":"x@example.com","identity_format":"raw"}]}]}`,
		`{"subject_request_id":"r1","accounts":[{"account_id":"a1","identities":[{"identity_type":"passport","identity_value":"E1"}]}]}`,
		`{"subject_request_id":"r1","accounts":[{"account_id":""}]}`,
		`{"subject_request_id":"r1"}`,
		`{"subject_request_id":"r2","accounts":[]}`,
		`{"accounts":[]}`,
		`[]`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := parseResolve("account", "r1", body)
		if err != nil {
			var g *PartnerGarbage
			if !errors.As(err, &g) || g.Code == "" || g.PartnerID != "account" {
				t.Fatalf("parseResolve(%q) = %v, want PartnerGarbage with a code", body, err)
			}
			return
		}
		if r.SubjectRequestID != "r1" || r.Accounts == nil || len(r.Accounts) > MaxResolvedAccounts {
			t.Fatalf("parseResolve(%q) accepted %+v", body, r)
		}
		for _, a := range r.Accounts {
			if a.AccountID == "" || len(a.AccountID) > MaxIdentityValueLen || len(a.Identities) > MaxResolvedIdentities {
				t.Fatalf("parseResolve(%q) accepted account %+v", body, a)
			}
			for _, id := range a.Identities {
				if _, ok := IdentifierTypeOf(id.Type); !ok || id.Value == "" || len(id.Value) > MaxIdentityValueLen {
					t.Fatalf("parseResolve(%q) accepted identity %+v", body, id)
				}
			}
		}
	})
}
