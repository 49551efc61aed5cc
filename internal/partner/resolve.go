package partner

import (
	"context"
	"errors"

	"dsrflow/internal/dsr"
)

// ErrNoAccountSystem is returned by Resolve when the configuration names no
// account system: nobody can tell which accounts a person has.
var ErrNoAccountSystem = errors.New("no account system configured")

// Resolution is what the account system said about verified identifiers:
// the accounts they belong to, with every identifier of each.
type Resolution struct {
	// Accounts are the account IDs found, in the account system's order.
	Accounts []string
	// Identifiers are every identifier of those accounts (accounts,
	// emails, phones), deduplicated.
	Identifiers dsr.Identifiers
	// ByAccount are each account's identifiers.
	ByAccount map[string]dsr.Identifiers
}

// Resolve asks the account system which accounts belong to verified
// identifiers (POST {endpoint}/resolve). Only verified identifiers are
// sent, never typed ones (docs/ARCHITECTURE.md, rule 7). A partner error is
// returned as a named error (PartnerRetryable, ...); without an account
// system it is ErrNoAccountSystem.
func (d *Dispatcher) Resolve(ctx context.Context, requestID string, verified dsr.Identifiers) (Resolution, error) {
	p, ok := d.partners.Partner(d.partners.AccountSystem)
	if !ok || d.partners.AccountSystem == "" {
		return Resolution{}, ErrNoAccountSystem
	}
	var ids []Identity
	for _, t := range []dsr.IdentifierType{dsr.IdentifierAccount, dsr.IdentifierEmail, dsr.IdentifierPhone} {
		for _, v := range verified.Of(t) {
			ids = append(ids, Identity{Type: WireIdentityType(t), Value: v, Format: "raw"})
		}
	}
	if len(ids) == 0 {
		return Resolution{}, &InvalidInput{Field: "identity", Problem: "request " + requestID + " has no verified identifier"}
	}
	secret, err := d.secrets.Resolve(ctx, p.SecretRef)
	if err != nil {
		return Resolution{}, &ServiceUnavailable{RequestID: requestID, Op: "resolve secret of partner " + p.ID, Err: err}
	}
	resp, err := d.client.Resolve(ctx, p, secret, ResolveRequest{SubjectRequestID: requestID, SubjectIdentities: ids, APIVersion: APIVersion})
	if err != nil {
		if ctx.Err() != nil && !isPartnerErr(err) {
			return Resolution{}, &ServiceUnavailable{RequestID: requestID, Op: "resolve", Err: err}
		}
		return Resolution{}, err
	}
	out := Resolution{ByAccount: map[string]dsr.Identifiers{}}
	for _, a := range resp.Accounts {
		out.Accounts = append(out.Accounts, a.AccountID)
		var ids dsr.Identifiers
		ids.Add(dsr.IdentifierAccount, a.AccountID)
		for _, id := range a.Identities {
			t, _ := IdentifierTypeOf(id.Type)
			ids.Add(t, id.Value)
		}
		out.ByAccount[a.AccountID] = ids
		for _, t := range []dsr.IdentifierType{dsr.IdentifierAccount, dsr.IdentifierEmail, dsr.IdentifierPhone} {
			for _, v := range ids.Of(t) {
				out.Identifiers.Add(t, v)
			}
		}
	}
	return out, nil
}
