package workflow

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"dsrflow/internal/dsr"
	"dsrflow/internal/notify"
	"dsrflow/internal/partner"
	"dsrflow/internal/store"
)

// The errors task handlers return. aws-lambda-go reports an error's Go type
// name as the Lambda errorType, which Step Functions uses as the error name
// that Retry and Catch match (docs/ARCHITECTURE.md, rule 5). statemachines/ERRORS.md
// lists them with their meaning and handling; keep the two in step.
//
// Error messages carry request IDs, statuses and codes only, never personal
// data: they appear in the execution history as the error's cause.

// RequestNotFound, InvalidInput and ServiceUnavailable are the partner
// handlers' types (aliases: the same Go type, so the same Step Functions
// error name and message); the workflow cannot be imported by partner.

// RequestNotFound: the request ID in the task input names no request.
// Not retried; the execution fails.
type RequestNotFound = partner.RequestNotFound

// InvalidInput: the task input is malformed (a missing request ID, an
// unknown outcome or refusal reason). Not retried; the execution fails.
type InvalidInput = partner.InvalidInput

// StatusConflict: the request is in a status this step cannot act on (an
// operator closed it meanwhile, or it was verified in the last second before
// expiring). Not retried; the execution fails and the request keeps the
// status someone else gave it.
type StatusConflict struct {
	RequestID string
	Step      string
	Status    dsr.Status
}

func (e *StatusConflict) Error() string {
	return fmt.Sprintf("request %s is %s; %s cannot act on it", e.RequestID, e.Status, e.Step)
}

// ServiceUnavailable: DynamoDB or Step Functions failed or was unreachable
// (throttling, timeouts, lost races beyond the retries inside the handler).
// Transient: retried with backoff.
type ServiceUnavailable = partner.ServiceUnavailable

// DeliveryFailed: a message to the requester could not be sent (SES
// throttling, the SMS gateway down, the outbox folder not writable).
// Transient: retried with backoff.
type DeliveryFailed struct {
	RequestID string
	Channel   string
	Code      string
}

func (e *DeliveryFailed) Error() string {
	return fmt.Sprintf("deliver %s message for request %s: %s", e.Channel, e.RequestID, e.Code)
}

// NoDeliveryChannel: the requester cannot be reached to receive a code (no
// email address and no phone, or a phone only and no SMS provider). The
// workflow catches it in VerifyIdentity and verifies by hand.
type NoDeliveryChannel struct{ RequestID string }

func (e *NoDeliveryChannel) Error() string {
	return fmt.Sprintf("request %s: no channel to send a verification code", e.RequestID)
}

// Names lists every error name a handler returns, the partner task
// handlers' included (partner.ErrorNames), for tests that check
// statemachines/ERRORS.md and the definition against the code.
func Names() []string {
	names := []string{"RequestNotFound", "InvalidInput", "StatusConflict", "ServiceUnavailable", "DeliveryFailed", "NoDeliveryChannel"}
	for _, n := range partner.ErrorNames() {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names
}

// named converts any error from the layers below into one of the named
// errors above.
func named(id, op string, err error) error {
	if err == nil {
		return nil
	}
	var (
		rnf *RequestNotFound
		ii  *InvalidInput
		sc  *StatusConflict
		su  *ServiceUnavailable
		df  *DeliveryFailed
		nd  *NoDeliveryChannel
	)
	if errors.As(err, &rnf) || errors.As(err, &ii) || errors.As(err, &sc) || errors.As(err, &su) || errors.As(err, &df) || errors.As(err, &nd) {
		return err
	}
	var conflict *store.ConflictError
	var te *dsr.TransitionError
	var de *notify.DeliveryError
	switch {
	case errors.Is(err, store.ErrNotFound):
		return &RequestNotFound{RequestID: id}
	case errors.As(err, &conflict):
		return &StatusConflict{RequestID: id, Step: op, Status: conflict.Status}
	case errors.As(err, &te):
		return &StatusConflict{RequestID: id, Step: op, Status: te.From}
	case errors.As(err, &de):
		if errors.Is(err, notify.ErrNoChannel) {
			return &NoDeliveryChannel{RequestID: id}
		}
		return &DeliveryFailed{RequestID: id, Channel: string(de.Channel), Code: de.Code}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &ServiceUnavailable{RequestID: id, Op: op, Err: err}
	}
	return &ServiceUnavailable{RequestID: id, Op: op, Err: err}
}
