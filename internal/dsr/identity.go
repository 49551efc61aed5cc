package dsr

import "time"

// Methods by which identity is proved.
const (
	// ProofCode: a one-time code sent to the contact was entered.
	ProofCode = "code"
	// ProofLogin: the app's OpenID Connect ID token names the account.
	ProofLogin = "login"
	// ProofOperator: an operator checked documents and approved.
	ProofOperator = "operator"
)

// Proof is one identifier the requester proved control of.
type Proof struct {
	Type   IdentifierType `json:"type" dynamodbav:"type"`
	Value  string         `json:"value" dynamodbav:"value"` // PII
	Method string         `json:"method" dynamodbav:"method"`
	At     time.Time      `json:"at" dynamodbav:"at"`
}

// Resolution outcomes.
const (
	// ResolutionResolved: the account system named the accounts of the
	// proved identifiers; every hint belongs to them.
	ResolutionResolved = "resolved"
	// ResolutionNoAccount: no account belongs to the proved identifiers;
	// partners get only those.
	ResolutionNoAccount = "no_account"
	// ResolutionMismatch: a typed identifier does not belong to the person
	// whose contact was proved; it reaches no partner, an operator decides.
	ResolutionMismatch = "mismatch"
	// ResolutionApproved: an operator approved the identifiers after
	// checking documents (a mismatch, a guardian, an agent).
	ResolutionApproved = "approved"
)

// Identity is what the identity step established about the data subject:
// what was proved, and what the account system resolved from it. It is
// personal data, on its own item, purged with the request's Personal.
// Partners receive only Subject (docs/ARCHITECTURE.md, rule 7).
type Identity struct {
	Proved []Proof `json:"proved,omitempty" dynamodbav:"proved,omitempty"`
	// Subject is every identifier of the data subject that may reach a
	// partner: proved ones, resolved ones, and ones an operator approved.
	Subject Identifiers `json:"subject" dynamodbav:"subject"`
	// Resolution is one of the Resolution* outcomes ("" before resolution).
	Resolution string `json:"resolution,omitempty" dynamodbav:"resolution,omitempty"`
	// Mismatched counts the typed identifiers that did not resolve to the
	// proved person (their values stay on the Personal item).
	Mismatched int        `json:"mismatched,omitempty" dynamodbav:"mismatched,omitempty"`
	ResolvedAt *time.Time `json:"resolvedAt,omitempty" dynamodbav:"resolvedAt,omitempty"`
}
