package partner_test

import (
	"slices"
	"testing"

	"dsrflow/internal/dsr"
	"dsrflow/internal/partner"
)

func TestIdentities(t *testing.T) {
	all := partner.Partner{IdentityTypes: []dsr.IdentifierType{dsr.IdentifierEmail, dsr.IdentifierPhone, dsr.IdentifierAccount}}
	phoneOnly := partner.Partner{IdentityTypes: []dsr.IdentifierType{dsr.IdentifierPhone}}
	req := func(role dsr.Role, acct string) *dsr.Request {
		return &dsr.Request{Role: role, AccountID: acct, Contact: dsr.Contact{Email: "a@example.com", Phone: "+8613800138000"}}
	}
	types := func(ids []partner.Identity) []string {
		var out []string
		for _, id := range ids {
			out = append(out, id.Type+"="+id.Value)
		}
		return out
	}
	tests := []struct {
		name string
		p    partner.Partner
		r    *dsr.Request
		want []string
	}{
		{"self, all types", all, req(dsr.RoleSelf, "u1"), []string{"email=a@example.com", "phone_number=+8613800138000", "controller_customer_id=u1"}},
		{"self, phone partner", phoneOnly, req(dsr.RoleSelf, "u1"), []string{"phone_number=+8613800138000"}},
		{"guardian: the contact is the guardian's", all, req(dsr.RoleGuardian, "child-1"), []string{"controller_customer_id=child-1"}},
		{"agent without account: nothing", phoneOnly, req(dsr.RoleAgent, ""), nil},
	}
	for _, tt := range tests {
		if got := types(partner.Identities(tt.p, tt.r)); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
