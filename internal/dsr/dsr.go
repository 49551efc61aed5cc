// Package dsr is the domain of data-subject requests: what can be asked, by whom,
// through which channel, the statuses a request moves through, and the rules that
// decide whether a request is well formed.
package dsr

import "time"

// Kind is what the data subject asks for (policy 五.1–五.4).
type Kind string

const (
	KindAccess            Kind = "access"
	KindPortability       Kind = "portability"
	KindCorrection        Kind = "correction"
	KindErasure           Kind = "erasure"
	KindConsentWithdrawal Kind = "consent_withdrawal"
	KindAccountClosure    Kind = "account_closure"
)

// Channel is how the request reached us.
type Channel string

const (
	ChannelWeb      Channel = "web"
	ChannelMail     Channel = "mail"
	ChannelOperator Channel = "operator"
)

// Role is who is asking, relative to the data subject (PIPL art. 49; policy 六).
type Role string

const (
	RoleSelf               Role = "self"
	RoleGuardian           Role = "guardian"
	RoleAgent              Role = "agent"
	RoleRelativeOfDeceased Role = "relative_of_deceased"
)

// Status is where a request is in its life.
type Status string

const (
	StatusReceived               Status = "received"
	StatusAwaitingVerification   Status = "awaiting_verification"
	StatusInReview               Status = "in_review"
	StatusInProgress             Status = "in_progress"
	StatusReplied                Status = "replied"
	StatusAwaitingBackupRotation Status = "awaiting_backup_rotation"
	StatusCompleted              Status = "completed"
	StatusRefused                Status = "refused"
	StatusExpired                Status = "expired"
	StatusDuplicate              Status = "duplicate"
	StatusEscalated              Status = "escalated"
)

// Contact is how we reach the requester. It is personal data: never log it,
// never put it in a workflow's input or output.
type Contact struct {
	Email string `json:"email,omitempty" dynamodbav:"email,omitempty"`
	Phone string `json:"phone,omitempty" dynamodbav:"phone,omitempty"` // E.164
}

// Request is one data-subject request as the request item keeps it: no
// personal data. What the request holds of the person (contact details,
// typed identifiers, free text, corrections, documents) is its Personal,
// stored apart and purged after the follow-up period (docs/ARCHITECTURE.md,
// "The system forgets too").
type Request struct {
	ID      string  `json:"id" dynamodbav:"id"`
	Kind    Kind    `json:"kind" dynamodbav:"kind"`
	Status  Status  `json:"status" dynamodbav:"status"`
	Channel Channel `json:"channel" dynamodbav:"channel"`
	Role    Role    `json:"role" dynamodbav:"role"`
	// Locale is the requester's language for every message we send: "zh-CN" or "en".
	Locale        string        `json:"locale" dynamodbav:"locale"`
	ErasureGround ErasureGround `json:"erasureGround,omitempty" dynamodbav:"erasureGround,omitempty"`

	// HintKeys are keyed hashes (HMAC-SHA256, SubjectKey) of the identifiers
	// the requester typed or a mail named: hints, never proof (rule 7). Only
	// operators search them.
	HintKeys []string `json:"hintKeys,omitempty" dynamodbav:"hintKeys,omitempty"`
	// SubjectKeys are keyed hashes of the subject's verified identifiers:
	// proved by a code or a login, or resolved from those by the account
	// system. Duplicate and repeat checks and legal holds use only these.
	// Set by the identity step; they only grow.
	SubjectKeys []string `json:"subjectKeys,omitempty" dynamodbav:"subjectKeys,omitempty"`
	// ContactChannel is how the requester is reached ("email", "sms", or
	// empty when there is no way), known without reading the personal item.
	ContactChannel string `json:"contactChannel,omitempty" dynamodbav:"contactChannel,omitempty"`
	// Purposes are the consent purposes to withdraw (codes).
	Purposes []string `json:"consentPurposes,omitempty" dynamodbav:"purposes,omitempty"`
	// Documents counts the documents sent as proof (their S3 keys are on
	// the request's document items).
	Documents int `json:"documents,omitempty" dynamodbav:"documents,omitempty"`
	// Source is the natural key the ID was derived from (Message-ID hash, idempotency key hash).
	Source string `json:"source,omitempty" dynamodbav:"source,omitempty"`
	// BodyDigest binds an idempotency key to the body it came with: a keyed
	// hash of the submission (web requests).
	BodyDigest string `json:"-" dynamodbav:"bodyDigest,omitempty"`
	// StatusTokenHash is the SHA-256 of the status-link token; the token itself is never stored.
	StatusTokenHash string `json:"-" dynamodbav:"statusTokenHash,omitempty"`

	CreatedAt  time.Time  `json:"createdAt" dynamodbav:"createdAt"`
	UpdatedAt  time.Time  `json:"updatedAt" dynamodbav:"updatedAt"`
	VerifiedAt *time.Time `json:"verifiedAt,omitempty" dynamodbav:"verifiedAt,omitempty"`
	// VerifiedBy is how identity was proved: "code", "login" or "manual".
	VerifiedBy string     `json:"verifiedBy,omitempty" dynamodbav:"verifiedBy,omitempty"`
	DueAt      *time.Time `json:"dueAt,omitempty" dynamodbav:"dueAt,omitempty"`
	// DueExtension counts the units (months or days, by the jurisdiction's
	// rule) an operator extended DueAt by; the rule caps it.
	DueExtension int `json:"dueExtension,omitempty" dynamodbav:"dueExtension,omitempty"`
	// PausedAt is set while the reply clock is paused: an operator asked
	// the requester for information, where the jurisdiction lets the
	// deadline wait for it. Resuming moves DueAt on by the pause.
	PausedAt *time.Time `json:"pausedAt,omitempty" dynamodbav:"pausedAt,omitempty"`
	// ClosedAt is when the request reached a terminal status.
	ClosedAt *time.Time `json:"closedAt,omitempty" dynamodbav:"closedAt,omitempty"`
	// PersonalPurgedAt is when the personal, identity and document items
	// were deleted (the follow-up period after closing had passed).
	PersonalPurgedAt *time.Time `json:"personalPurgedAt,omitempty" dynamodbav:"personalPurgedAt,omitempty"`
	// ExecutionStarted is set once StartExecution succeeded; the reconciler restarts
	// requests that were written but never started.
	ExecutionStarted bool `json:"executionStarted" dynamodbav:"executionStarted"`

	// LinkedRequestID points at the open request this one duplicates.
	LinkedRequestID string        `json:"linkedRequestId,omitempty" dynamodbav:"linkedRequestId,omitempty"`
	RefusalReason   RefusalReason `json:"refusalReason,omitempty" dynamodbav:"refusalReason,omitempty"`

	// Version increases with every update; guarded writes condition on it.
	Version int `json:"version" dynamodbav:"version"`
}

// Personal is what a request holds of the person while it serves them: the
// requester's contact details, the identifiers typed (or found in a mail)
// about the data subject, free text and corrections. It is personal data:
// never log it, never put it in a workflow's input or output. It lives on its
// own item and is deleted when the follow-up period after closing ends.
type Personal struct {
	// Contact is the requester's own contact: where codes and replies go.
	Contact Contact `json:"contact" dynamodbav:"contact"`
	// Subject holds the identifiers given for the data subject: for a
	// requester acting for themselves, anything typed beside the contact
	// (an account ID); for a guardian or agent, the subject's own
	// identifiers, entered apart from the requester's contact. Hints only.
	Subject Identifiers `json:"subject" dynamodbav:"subject"`
	// SubjectName is the data subject's name as given by a guardian or agent.
	SubjectName string   `json:"subjectName,omitempty" dynamodbav:"subjectName,omitempty"`
	Details     string   `json:"details,omitempty" dynamodbav:"details,omitempty"`
	Corrections []string `json:"corrections,omitempty" dynamodbav:"corrections,omitempty"`
	// ConsentPurposes are the consent purposes (codes) a mail's text named
	// as withdrawn: hints for review, unverified. The request's own
	// Purposes, which partners are sent, are what a form or a reviewer set.
	ConsentPurposes []string `json:"consentPurposes,omitempty" dynamodbav:"consentPurposes,omitempty"`
}

// Identifiers are identifiers of a person: account IDs, email addresses and
// phone numbers (E.164).
type Identifiers struct {
	Accounts []string `json:"accounts,omitempty" dynamodbav:"accounts,omitempty"`
	Emails   []string `json:"emails,omitempty" dynamodbav:"emails,omitempty"`
	Phones   []string `json:"phones,omitempty" dynamodbav:"phones,omitempty"`
}

// Empty reports whether there is no identifier.
func (ids Identifiers) Empty() bool {
	return len(ids.Accounts) == 0 && len(ids.Emails) == 0 && len(ids.Phones) == 0
}

// Of returns the identifiers of type t.
func (ids Identifiers) Of(t IdentifierType) []string {
	switch t {
	case IdentifierAccount:
		return ids.Accounts
	case IdentifierEmail:
		return ids.Emails
	case IdentifierPhone:
		return ids.Phones
	}
	return nil
}

// Add adds v as an identifier of type t, once.
func (ids *Identifiers) Add(t IdentifierType, v string) {
	if v == "" {
		return
	}
	var list *[]string
	switch t {
	case IdentifierAccount:
		list = &ids.Accounts
	case IdentifierEmail:
		list = &ids.Emails
	case IdentifierPhone:
		list = &ids.Phones
	default:
		return
	}
	for _, have := range *list {
		if have == v {
			return
		}
	}
	*list = append(*list, v)
}

// Keys are the keyed hashes of every identifier (SubjectKey), in the order
// accounts, emails, phones.
func (ids Identifiers) Keys(secret []byte) []string {
	var keys []string
	for _, t := range []IdentifierType{IdentifierAccount, IdentifierEmail, IdentifierPhone} {
		for _, v := range ids.Of(t) {
			keys = append(keys, SubjectKey(secret, t, v))
		}
	}
	return keys
}

// ErasureGround is the policy 五.2 situation an erasure request relies on.
type ErasureGround string

// RefusalReason is the stable code of why a request was refused (policy 五.5).
type RefusalReason string
