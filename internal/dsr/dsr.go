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

// Request is one data-subject request. Fields marked PII never leave the store
// except to reach the requester or a partner that already holds them.
type Request struct {
	ID      string  `json:"id" dynamodbav:"id"`
	Kind    Kind    `json:"kind" dynamodbav:"kind"`
	Status  Status  `json:"status" dynamodbav:"status"`
	Channel Channel `json:"channel" dynamodbav:"channel"`
	Role    Role    `json:"role" dynamodbav:"role"`
	// Locale is the requester's language for every message we send: "zh-CN" or "en".
	Locale        string        `json:"locale" dynamodbav:"locale"`
	ErasureGround ErasureGround `json:"erasureGround,omitempty" dynamodbav:"erasureGround,omitempty"`

	// SubjectKeys are keyed hashes (HMAC-SHA256) of the subject's normalized
	// identifiers (email, phone, account ID); the raw values are in Contact/AccountID.
	SubjectKeys []string `json:"subjectKeys" dynamodbav:"subjectKeys"`
	Contact     Contact  `json:"-" dynamodbav:"contact"`                                    // PII
	AccountID   string   `json:"-" dynamodbav:"accountId,omitempty"`                        // PII
	Details     string   `json:"-" dynamodbav:"details,omitempty"`                          // PII: free text
	Corrections []string `json:"-" dynamodbav:"corrections,omitempty"`                      // PII: fields to correct, with new values
	Purposes    []string `json:"consentPurposes,omitempty" dynamodbav:"purposes,omitempty"` // consent purposes to withdraw

	// Attachments are S3 keys of documents sent as proof; the documents stay in S3.
	Attachments []string `json:"attachments,omitempty" dynamodbav:"attachments,omitempty"`
	// Source is the natural key the ID was derived from (Message-ID hash, idempotency key hash).
	Source string `json:"source,omitempty" dynamodbav:"source,omitempty"`
	// StatusTokenHash is the SHA-256 of the status-link token; the token itself is never stored.
	StatusTokenHash string `json:"-" dynamodbav:"statusTokenHash,omitempty"`

	CreatedAt  time.Time  `json:"createdAt" dynamodbav:"createdAt"`
	UpdatedAt  time.Time  `json:"updatedAt" dynamodbav:"updatedAt"`
	VerifiedAt *time.Time `json:"verifiedAt,omitempty" dynamodbav:"verifiedAt,omitempty"`
	DueAt      *time.Time `json:"dueAt,omitempty" dynamodbav:"dueAt,omitempty"`
	// ExecutionStarted is set once StartExecution succeeded; the reconciler restarts
	// requests that were written but never started.
	ExecutionStarted bool `json:"executionStarted" dynamodbav:"executionStarted"`

	// LinkedRequestID points at the open request this one duplicates.
	LinkedRequestID string        `json:"linkedRequestId,omitempty" dynamodbav:"linkedRequestId,omitempty"`
	RefusalReason   RefusalReason `json:"refusalReason,omitempty" dynamodbav:"refusalReason,omitempty"`

	// Version increases with every update; guarded writes condition on it.
	Version int `json:"version" dynamodbav:"version"`
}

// ErasureGround is the policy 五.2 situation an erasure request relies on.
type ErasureGround string

// RefusalReason is the stable code of why a request was refused (policy 五.5).
type RefusalReason string
