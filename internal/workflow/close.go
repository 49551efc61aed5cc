package workflow

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"dsrflow/internal/dsr"
	"dsrflow/internal/notify"
)

// Outcomes, in CloseInput.Outcome.
const (
	OutcomeCompleted = "completed"
	OutcomeRefused   = "refused"
	OutcomeDuplicate = "duplicate"
	OutcomeExpired   = "expired"
)

// CloseInput is the input of the terminal steps.
type CloseInput struct {
	RequestID string `json:"requestId"`
	Outcome   string `json:"outcome"`
	// Reason is the refusal reason code (refused).
	Reason dsr.RefusalReason `json:"reason,omitempty"`
	// LinkedRequestID is the open request this one duplicates (duplicate).
	LinkedRequestID string `json:"linkedRequestId,omitempty"`
	// Obligations are the account system's outstanding obligation codes
	// (refused, reason outstanding_obligations): the refusal explains them.
	Obligations []string `json:"obligations,omitempty"`
	// Certificate (completed erasure or account closure, after the backup
	// confirmation) issues the deletion certificate and sends the final
	// confirmation.
	Certificate bool `json:"certificate,omitempty"`
}

func itoa(n int) string { return strconv.Itoa(n) }

func asConflict(err error, sc **StatusConflict) bool { return errors.As(err, sc) }

// Close brings the request to its terminal status and, except for
// completion (the reply was the answer), tells the requester why:
//   - completed: after the reply; for erasure and account closure, after
//     the backup confirmation, with the deletion certificate and a final
//     confirmation to the requester;
//   - refused: with the reason code and its text (PIPL art. 50);
//   - duplicate: linked to the open request that covers it;
//   - expired: identity not verified in time, with a polite notice.
func (h *Handlers) Close(ctx context.Context, in CloseInput) (StatusOutput, error) {
	if err := checkID(in.RequestID); err != nil {
		return StatusOutput{}, err
	}
	id := in.RequestID
	var (
		to     dsr.Status
		from   []dsr.Status
		mutate func(*dsr.Request)
		data   = map[string]string{}
	)
	switch in.Outcome {
	case OutcomeCompleted:
		to, from = dsr.StatusCompleted, []dsr.Status{dsr.StatusReplied, dsr.StatusAwaitingBackupRotation}
	case OutcomeRefused:
		if !in.Reason.Valid() {
			return StatusOutput{}, &InvalidInput{Field: "reason", Problem: fmt.Sprintf("unknown refusal reason %q", in.Reason)}
		}
		to = dsr.StatusRefused
		from = []dsr.Status{dsr.StatusReceived, dsr.StatusAwaitingVerification, dsr.StatusInReview, dsr.StatusInProgress, dsr.StatusEscalated}
		mutate = func(r *dsr.Request) { r.RefusalReason = in.Reason }
		data["reason"], data["policy"] = string(in.Reason), in.Reason.Policy()
		if len(in.Obligations) > 0 {
			data["obligations"] = strings.Join(in.Obligations, ",")
		}
	case OutcomeDuplicate:
		if in.LinkedRequestID == "" || in.LinkedRequestID == id {
			return StatusOutput{}, &InvalidInput{Field: "linkedRequestId", Problem: "required, and not the request itself"}
		}
		to = dsr.StatusDuplicate
		from = []dsr.Status{dsr.StatusReceived, dsr.StatusAwaitingVerification, dsr.StatusInReview}
		mutate = func(r *dsr.Request) {
			r.LinkedRequestID = in.LinkedRequestID
			r.RefusalReason = dsr.RefusalDuplicate
		}
		data["linkedRequestId"] = in.LinkedRequestID
	case OutcomeExpired:
		to, from = dsr.StatusExpired, []dsr.Status{dsr.StatusAwaitingVerification}
	default:
		return StatusOutput{}, &InvalidInput{Field: "outcome", Problem: fmt.Sprintf("unknown outcome %q", in.Outcome)}
	}
	r, moved, err := h.move(ctx, "close as "+in.Outcome, id, to, from, mutate)
	if err != nil {
		return StatusOutput{}, err
	}
	if to != dsr.StatusCompleted {
		if err := h.Verification.Close(ctx, id); err != nil {
			return StatusOutput{}, named(id, "close verification", err)
		}
	}
	if moved {
		if err := h.audit(ctx, id, string(to), ActorClose, data); err != nil {
			return StatusOutput{}, err
		}
	}
	l := locale(r)
	var msg *notify.Message
	switch to {
	case dsr.StatusRefused:
		m := notify.Refused(id, r.Contact, l, r.Kind, r.RefusalReason, h.Team)
		if len(in.Obligations) > 0 {
			m.Body += obligationsText(l, in.Obligations)
		}
		msg = &m
	case dsr.StatusCompleted:
		if in.Certificate {
			if !r.Kind.ErasesData() {
				return StatusOutput{}, &InvalidInput{Field: "certificate", Problem: "request " + id + " is not an erasure or account closure"}
			}
			c, err := h.issueCertificate(ctx, r)
			if err != nil {
				return StatusOutput{}, err
			}
			m := h.finalConfirmation(r, c)
			msg = &m
		}
	case dsr.StatusDuplicate:
		m := notify.Duplicate(id, r.Contact, l, r.Kind, r.LinkedRequestID, h.Team)
		msg = &m
	case dsr.StatusExpired:
		m := notify.Expired(id, r.Contact, l, h.Policy.expireAfterDays(), h.Team)
		msg = &m
	}
	if msg != nil && notify.ChannelFor(r.Contact) != "" {
		if err := h.sendOnce(ctx, ActorClose, *msg); err != nil {
			return StatusOutput{}, err
		}
	}
	h.log().InfoContext(ctx, "closed", "requestId", id, "status", string(r.Status))
	return StatusOutput{Status: r.Status}, nil
}
