package partner_test

import (
	"errors"
	"slices"
	"testing"

	"dsrflow/internal/dsr"
	"dsrflow/internal/partner"
)

// TestIdentities: a partner gets the identifiers it keeps data under,
// accounts, emails, phones in that order, from the identity given.
func TestIdentities(t *testing.T) {
	all := partner.Partner{IdentityTypes: []dsr.IdentifierType{dsr.IdentifierEmail, dsr.IdentifierPhone, dsr.IdentifierAccount}}
	phoneOnly := partner.Partner{IdentityTypes: []dsr.IdentifierType{dsr.IdentifierPhone}}
	acct := partner.Partner{IdentityTypes: []dsr.IdentifierType{dsr.IdentifierAccount}}
	full := dsr.Identifiers{Accounts: []string{"u1", "u2"}, Emails: []string{"a@example.com"}, Phones: []string{"+8613800138000"}}
	wire := func(ids []partner.Identity) []string {
		var out []string
		for _, id := range ids {
			if id.Format != "raw" {
				t.Errorf("identity format %q, want raw", id.Format)
			}
			out = append(out, id.Type+"="+id.Value)
		}
		return out
	}
	tests := []struct {
		name string
		p    partner.Partner
		ids  dsr.Identifiers
		want []string
	}{
		// A partner keyed by account gets only the accounts when there are
		// some: a reassigned phone or a shared address cannot reach
		// someone else's records there.
		{"all types", all, full, []string{"controller_customer_id=u1", "controller_customer_id=u2"}},
		{"all types, no account", all, dsr.Identifiers{Emails: []string{"a@example.com"}, Phones: []string{"+8613800138000"}}, []string{"email=a@example.com", "phone_number=+8613800138000"}},
		{"phone partner", phoneOnly, full, []string{"phone_number=+8613800138000"}},
		{"account partner, no account", acct, dsr.Identifiers{Emails: []string{"a@example.com"}}, nil},
		{"empty identity", all, dsr.Identifiers{}, nil},
	}
	for _, tt := range tests {
		if got := wire(partner.Identities(tt.p, tt.ids)); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	for _, typ := range []dsr.IdentifierType{dsr.IdentifierAccount, dsr.IdentifierEmail, dsr.IdentifierPhone} {
		w := partner.WireIdentityType(typ)
		if back, ok := partner.IdentifierTypeOf(w); !ok || back != typ {
			t.Errorf("IdentifierTypeOf(WireIdentityType(%s)) = %s, %v", typ, back, ok)
		}
	}
	if _, ok := partner.IdentifierTypeOf("passport"); ok {
		t.Errorf("IdentifierTypeOf(passport) accepted")
	}
}

// FuzzParseResponse: a partner's answer is either accepted, meeting the
// protocol's limits, or refused as garbage with a code; never anything
// else.
func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{
		`{"subject_request_id":"r1","request_status":"completed","receipt":"R-1"}`,
		`{"subject_request_id":"r1","request_status":"pending","expected_completion_time":"2026-05-01T00:00:00Z"}`,
		`{"subject_request_id":"r1","request_status":"failed","error_code":"no_such_user"}`,
		`{"subject_request_id":"r1","request_status":"completed","receipt":"R","export":{"a":1},"changed":["x"]}`,
		`{"subject_request_id":"r2","request_status":"completed","receipt":"R"}`,
		`{"subject_request_id":"r1","request_status":"completed","receipt":"<R>"}`,
		`{"subject_request_id":"r1","request_status":7}`,
		`<html>`, ``, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := partner.ParseResponse("p", "r1", body)
		if err != nil {
			var g *partner.PartnerGarbage
			if !errors.As(err, &g) || g.Code == "" || g.PartnerID != "p" {
				t.Fatalf("ParseResponse(%q) = %v, want PartnerGarbage with a code", body, err)
			}
			return
		}
		if r.SubjectRequestID != "r1" || len(r.Receipt) > partner.MaxReceiptLen || len(r.Changed) > partner.MaxChanged {
			t.Fatalf("ParseResponse(%q) accepted %+v", body, r)
		}
		if r.RequestStatus == partner.StatusCompleted && r.Receipt == "" {
			t.Fatalf("completed without a receipt accepted: %q", body)
		}
	})
}
