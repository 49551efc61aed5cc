package partner

import (
	"bytes"
	"encoding/json"
	"time"
	"unicode"

	"dsrflow/internal/dsr"
)

// The wire protocol, modelled on OpenDSR (github.com/opengdpr/OpenDSR): field
// names are OpenDSR's where OpenDSR has the concept.
//
//	POST {endpoint}/requests                 Request → Response (200 completed | 202 pending)
//	POST {callback}/partners/{id}/callbacks  Response (the partner's later answer)
//	POST {endpoint}/precheck                 PrecheckRequest → PrecheckResponse
//	POST {endpoint}/resolve                  ResolveRequest → ResolveResponse (the account system)
//	POST {endpoint}/backups/purge-status     PurgeStatusRequest → PurgeStatusResponse
//
// Every message is signed (see Sign). Extensions beyond OpenDSR: the
// request_status "failed" with an error_code, receipt, export, changed,
// subject_found, and the resolve call.

// APIVersion is the protocol version sent in requests.
const APIVersion = "1.0"

// Paths appended to a partner's endpoint.
const (
	PathRequests    = "/requests"
	PathPrecheck    = "/precheck"
	PathResolve     = "/resolve"
	PathPurgeStatus = "/backups/purge-status"
)

// Identity is one identifier of the subject (OpenDSR subject_identities).
type Identity struct {
	Type   string `json:"identity_type"`
	Value  string `json:"identity_value"`
	Format string `json:"identity_format"`
}

// OpenDSR identity types for our identifier types.
var wireIdentityType = map[dsr.IdentifierType]string{
	dsr.IdentifierEmail:   "email",
	dsr.IdentifierPhone:   "phone_number",
	dsr.IdentifierAccount: "controller_customer_id",
}

// WireIdentityType is the OpenDSR identity_type of t.
func WireIdentityType(t dsr.IdentifierType) string { return wireIdentityType[t] }

// Request is what a partner is sent. SubjectIdentities hold personal data:
// a Request is never logged.
type Request struct {
	SubjectRequestID   string     `json:"subject_request_id"`
	SubjectRequestType Action     `json:"subject_request_type"`
	SubmittedTime      time.Time  `json:"submitted_time"`
	SubjectIdentities  []Identity `json:"subject_identities"`
	APIVersion         string     `json:"api_version"`
	StatusCallbackURLs []string   `json:"status_callback_urls,omitempty"`
	// Corrections (correct) are the requester's corrections, as written.
	Corrections []string `json:"corrections,omitempty"`
	// ConsentPurposes (withdraw_consent) are the purposes withdrawn.
	ConsentPurposes []string `json:"consent_purposes,omitempty"`
}

// RequestStatus is a partner's answer (OpenDSR request_status, plus failed).
type RequestStatus string

const (
	StatusPending    RequestStatus = "pending"
	StatusInProgress RequestStatus = "in_progress"
	StatusCompleted  RequestStatus = "completed"
	StatusCancelled  RequestStatus = "cancelled"
	StatusFailed     RequestStatus = "failed"
)

// Response is a partner's answer to a request, and the body of its callback.
type Response struct {
	SubjectRequestID       string        `json:"subject_request_id"`
	RequestStatus          RequestStatus `json:"request_status"`
	ExpectedCompletionTime *time.Time    `json:"expected_completion_time,omitempty"`
	// Receipt is the partner's confirmation ID; required with completed.
	Receipt string `json:"receipt,omitempty"`
	// Export is the subject's data (export action), a JSON value.
	Export json.RawMessage `json:"export,omitempty"`
	// Changed lists the fields changed (correct, withdraw_consent).
	Changed []string `json:"changed,omitempty"`
	// ErrorCode says why, with failed or cancelled.
	ErrorCode string `json:"error_code,omitempty"`
	// SubjectFound, when false with completed, says the partner found no
	// data under the identities sent: it holds none for this person (an
	// extension beyond OpenDSR; absent means it did not say).
	SubjectFound *bool `json:"subject_found,omitempty"`
}

// Limits on what partners send.
const (
	MaxReceiptLen  = 200
	MaxCodeLen     = 64
	MaxChanged     = 100
	MaxResponseLen = 16 << 20
)

// ParseResponse decodes and checks a partner's answer for the request
// requestID. Anything else is a *PartnerGarbage with a code saying what is
// wrong: not_json, wrong_shape, wrong_request_id, unknown_status,
// missing_receipt, bad_receipt, bad_export, bad_code.
func ParseResponse(partnerID, requestID string, body []byte) (Response, error) {
	garbage := func(code string) (Response, error) {
		return Response{}, &PartnerGarbage{PartnerID: partnerID, Code: code}
	}
	if !json.Valid(body) {
		return garbage("not_json")
	}
	var r Response
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&r); err != nil {
		return garbage("wrong_shape")
	}
	if r.SubjectRequestID == "" {
		return garbage("missing_request_id")
	}
	if r.SubjectRequestID != requestID {
		return garbage("wrong_request_id")
	}
	switch r.RequestStatus {
	case StatusPending, StatusInProgress:
	case StatusCompleted:
		if r.Receipt == "" {
			return garbage("missing_receipt")
		}
	case StatusFailed, StatusCancelled:
		if r.ErrorCode != "" && !printableCode(r.ErrorCode) {
			return garbage("bad_code")
		}
	default:
		return garbage("unknown_status")
	}
	if r.Receipt != "" && (len(r.Receipt) > MaxReceiptLen || !printable(r.Receipt)) {
		return garbage("bad_receipt")
	}
	if len(r.Export) > 0 && (bytes.Equal(bytes.TrimSpace(r.Export), []byte("null"))) {
		r.Export = nil
	}
	if len(r.Changed) > MaxChanged {
		return garbage("bad_changed")
	}
	for _, c := range r.Changed {
		if !printableCode(c) {
			return garbage("bad_changed")
		}
	}
	return r, nil
}

func printable(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) || r == '<' || r == '>' {
			return false
		}
	}
	return true
}

// printableCode: a short code of letters, digits, '_', '-', '.'.
func printableCode(s string) bool {
	if s == "" || len(s) > MaxCodeLen {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// PrecheckRequest asks the account system about outstanding obligations
// (policy 五.4 履行情况).
type PrecheckRequest struct {
	SubjectRequestID  string     `json:"subject_request_id"`
	SubjectIdentities []Identity `json:"subject_identities"`
	APIVersion        string     `json:"api_version"`
}

// Obligation is an outstanding obligation: a code, with the account
// system's explanation if it has one.
type Obligation struct {
	Code string    `json:"code"`
	Text *dsr.Text `json:"text,omitempty"`
}

// PrecheckResponse is the account system's answer.
type PrecheckResponse struct {
	SubjectRequestID string       `json:"subject_request_id"`
	Obligations      []Obligation `json:"obligations"`
}

// ResolveRequest asks the account system which accounts belong to the
// subject's verified identifiers (docs/ARCHITECTURE.md, rule 7). Only
// verified identifiers are sent: never what a requester typed.
type ResolveRequest struct {
	SubjectRequestID  string     `json:"subject_request_id"`
	SubjectIdentities []Identity `json:"subject_identities"`
	APIVersion        string     `json:"api_version"`
}

// ResolvedAccount is one account and every identifier the account system
// keeps for it.
type ResolvedAccount struct {
	AccountID  string     `json:"account_id"`
	Identities []Identity `json:"identities"`
}

// ResolveResponse is the account system's answer: the accounts of the
// identifiers sent (none: the person has no account).
type ResolveResponse struct {
	SubjectRequestID string            `json:"subject_request_id"`
	Accounts         []ResolvedAccount `json:"accounts"`
}

// Limits on a resolve answer.
const (
	MaxResolvedAccounts   = 20
	MaxResolvedIdentities = 20
	MaxIdentityValueLen   = 320
)

func parseResolve(partnerID, requestID string, body []byte) (ResolveResponse, error) {
	var r ResolveResponse
	if err := decodeStrict(partnerID, requestID, body, &r, func() string { return r.SubjectRequestID }); err != nil {
		return ResolveResponse{}, err
	}
	if r.Accounts == nil {
		return ResolveResponse{}, &PartnerGarbage{PartnerID: partnerID, Code: "missing_accounts"}
	}
	if len(r.Accounts) > MaxResolvedAccounts {
		return ResolveResponse{}, &PartnerGarbage{PartnerID: partnerID, Code: "too_many_accounts"}
	}
	for _, a := range r.Accounts {
		if a.AccountID == "" || len(a.AccountID) > MaxIdentityValueLen || !printable(a.AccountID) || len(a.Identities) > MaxResolvedIdentities {
			return ResolveResponse{}, &PartnerGarbage{PartnerID: partnerID, Code: "bad_account"}
		}
		for _, id := range a.Identities {
			if _, ok := IdentifierTypeOf(id.Type); !ok || id.Value == "" || len(id.Value) > MaxIdentityValueLen || !printable(id.Value) {
				return ResolveResponse{}, &PartnerGarbage{PartnerID: partnerID, Code: "bad_identity"}
			}
		}
	}
	return r, nil
}

// IdentifierTypeOf is our identifier type of an OpenDSR identity_type.
func IdentifierTypeOf(wire string) (dsr.IdentifierType, bool) {
	for t, w := range wireIdentityType {
		if w == wire {
			return t, true
		}
	}
	return "", false
}

// PurgeStatusRequest asks a backup system whether backups older than
// DeletedAt still exist.
type PurgeStatusRequest struct {
	SubjectRequestID string    `json:"subject_request_id"`
	DeletedAt        time.Time `json:"deleted_at"`
	APIVersion       string    `json:"api_version"`
}

// PurgeStatusResponse is a backup system's answer: Purged when no backup
// taken before DeletedAt remains; OldestBackup is the oldest one kept.
type PurgeStatusResponse struct {
	SubjectRequestID string     `json:"subject_request_id"`
	Purged           *bool      `json:"purged"`
	OldestBackup     *time.Time `json:"oldest_backup_time,omitempty"`
}

func decodeStrict(partnerID, requestID string, body []byte, v any, idOf func() string) error {
	if !json.Valid(body) {
		return &PartnerGarbage{PartnerID: partnerID, Code: "not_json"}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &PartnerGarbage{PartnerID: partnerID, Code: "wrong_shape"}
	}
	if id := idOf(); id != requestID {
		if id == "" {
			return &PartnerGarbage{PartnerID: partnerID, Code: "missing_request_id"}
		}
		return &PartnerGarbage{PartnerID: partnerID, Code: "wrong_request_id"}
	}
	return nil
}

func parsePrecheck(partnerID, requestID string, body []byte) (PrecheckResponse, error) {
	var r PrecheckResponse
	if err := decodeStrict(partnerID, requestID, body, &r, func() string { return r.SubjectRequestID }); err != nil {
		return PrecheckResponse{}, err
	}
	if r.Obligations == nil {
		return PrecheckResponse{}, &PartnerGarbage{PartnerID: partnerID, Code: "missing_obligations"}
	}
	for _, o := range r.Obligations {
		if !printableCode(o.Code) {
			return PrecheckResponse{}, &PartnerGarbage{PartnerID: partnerID, Code: "bad_code"}
		}
	}
	return r, nil
}

func parsePurgeStatus(partnerID, requestID string, body []byte) (PurgeStatusResponse, error) {
	var r PurgeStatusResponse
	if err := decodeStrict(partnerID, requestID, body, &r, func() string { return r.SubjectRequestID }); err != nil {
		return PurgeStatusResponse{}, err
	}
	if r.Purged == nil {
		return PurgeStatusResponse{}, &PartnerGarbage{PartnerID: partnerID, Code: "missing_purged"}
	}
	return r, nil
}

// Identities returns the identifiers of the data subject that partner p
// keeps data under, taken from ids: the request's verified and resolved
// identity (dsr.Identity.Subject), never from what was typed (rule 7).
// A partner that keys by account gets only the accounts when the identity
// has one: the most specific identifier, so that a phone number that was
// reassigned, or an address shared by a family, cannot reach someone else's
// records there. Otherwise accounts, emails, phones in that order. They
// are personal data: never log them.
func Identities(p Partner, ids dsr.Identifiers) []Identity {
	var out []Identity
	types := []dsr.IdentifierType{dsr.IdentifierAccount, dsr.IdentifierEmail, dsr.IdentifierPhone}
	if p.Holds(dsr.IdentifierAccount) && len(ids.Accounts) > 0 {
		types = types[:1]
	}
	for _, t := range types {
		if !p.Holds(t) {
			continue
		}
		for _, v := range ids.Of(t) {
			out = append(out, Identity{Type: WireIdentityType(t), Value: v, Format: "raw"})
		}
	}
	return out
}
