package partner

import (
	"errors"
	"fmt"
	"time"

	"dsrflow/internal/store"
)

// The errors handlers return. aws-lambda-go reports an error's Go type name as
// the Lambda errorType, which Step Functions uses as the error name that
// Retry and Catch match (docs/ARCHITECTURE.md, rule 5); doc.go lists them with the
// recommended Retry and Catch. Messages carry request and partner IDs and
// codes only, never personal data or partner response bodies.

// PartnerRetryable: the partner may answer next time: 5xx, 429, a timeout or
// a connection failure. Code is "http_503", "http_429", "timeout",
// "connection". RetryAfter is the partner's Retry-After, if it sent one.
type PartnerRetryable struct {
	PartnerID  string
	Code       string
	RetryAfter time.Duration
}

func (e *PartnerRetryable) Error() string {
	if e.RetryAfter > 0 {
		return fmt.Sprintf("partner %s: %s (retry after %s)", e.PartnerID, e.Code, e.RetryAfter)
	}
	return fmt.Sprintf("partner %s: %s (retryable)", e.PartnerID, e.Code)
}

// PartnerRejected: the partner refused the request with a 4xx other than 429
// (Code "http_400", ...). Not retried: that partner fails, the others go on.
type PartnerRejected struct {
	PartnerID string
	Code      string
}

func (e *PartnerRejected) Error() string {
	return fmt.Sprintf("partner %s rejected the request: %s", e.PartnerID, e.Code)
}

// PartnerGarbage: the partner's answer is not the protocol: not JSON, the
// wrong shape, another request's ID, an unknown status, no receipt.
// Recorded with its code; not retried.
type PartnerGarbage struct {
	PartnerID string
	Code      string
}

func (e *PartnerGarbage) Error() string {
	return fmt.Sprintf("partner %s answered garbage: %s", e.PartnerID, e.Code)
}

// PartnerFailed: the partner answered that it could not carry the request out
// (request_status failed or cancelled). Not retried.
type PartnerFailed struct {
	PartnerID string
	Code      string
}

func (e *PartnerFailed) Error() string {
	return fmt.Sprintf("partner %s failed the request: %s", e.PartnerID, e.Code)
}

// BackupsNotYetRotated: a backup system still keeps a backup older than the
// deletion. The state machine retries daily up to a limit, then escalates.
type BackupsNotYetRotated struct {
	RequestID string
	Partners  []string
}

func (e *BackupsNotYetRotated) Error() string {
	return fmt.Sprintf("request %s: backups not yet rotated at %v", e.RequestID, e.Partners)
}

// RequestNotFound: the request ID names no request. The workflow's
// RequestNotFound, InvalidInput and ServiceUnavailable are aliases of these.
type RequestNotFound struct{ RequestID string }

func (e *RequestNotFound) Error() string { return fmt.Sprintf("request %s not found", e.RequestID) }

// InvalidInput: the task input is malformed or names an unknown partner.
type InvalidInput struct{ Field, Problem string }

func (e *InvalidInput) Error() string {
	return fmt.Sprintf("invalid task input: %s: %s", e.Field, e.Problem)
}

// ServiceUnavailable: DynamoDB, S3, Step Functions or the secret store
// failed. Transient: retried with backoff.
type ServiceUnavailable struct {
	RequestID string
	Op        string
	Err       error
}

func (e *ServiceUnavailable) Error() string {
	return fmt.Sprintf("%s for request %s: %v", e.Op, e.RequestID, e.Err)
}

func (e *ServiceUnavailable) Unwrap() error { return e.Err }

// ErrorNames lists the error names this package's handlers return.
func ErrorNames() []string {
	return []string{"PartnerRetryable", "PartnerRejected", "PartnerGarbage", "PartnerFailed", "BackupsNotYetRotated", "RequestNotFound", "InvalidInput", "ServiceUnavailable"}
}

// errorCode is the code recorded on a partner task for err.
func errorCode(err error) string {
	var (
		r *PartnerRetryable
		j *PartnerRejected
		g *PartnerGarbage
		f *PartnerFailed
	)
	switch {
	case errors.As(err, &r):
		return r.Code
	case errors.As(err, &j):
		return j.Code
	case errors.As(err, &g):
		return "garbage_" + g.Code
	case errors.As(err, &f):
		return "failed_" + f.Code
	}
	return "internal"
}

// storeErr names an error from the store.
func storeErr(requestID, op string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return &RequestNotFound{RequestID: requestID}
	}
	return &ServiceUnavailable{RequestID: requestID, Op: op, Err: err}
}

// IsNamed reports whether err is one of the partner errors the state
// machine names (PartnerRetryable, PartnerRejected, PartnerGarbage,
// PartnerFailed, BackupsNotYetRotated), which handlers return as they are:
// the definition's Retry and Catch match on those names.
func IsNamed(err error) bool {
	var f *PartnerFailed
	var b *BackupsNotYetRotated
	return isPartnerErr(err) || errors.As(err, &f) || errors.As(err, &b)
}
