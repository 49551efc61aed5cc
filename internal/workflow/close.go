package workflow

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"dsrflow/internal/dsr"
	"dsrflow/internal/notify"
	"dsrflow/internal/partner"
	"dsrflow/internal/workday"
)

// Outcomes, in CloseInput.Outcome.
const (
	OutcomeCompleted = "completed"
	OutcomeExpired   = "expired"
)

// CloseInput is the input of Close and Expire.
type CloseInput struct {
	RequestID string `json:"requestId"`
	Outcome   string `json:"outcome"`
	// Certificate (a completed erasure or account closure, after the
	// backup confirmation) issues the signed deletion certificate and sends
	// the final confirmation with it attached.
	Certificate bool `json:"certificate,omitempty"`
}

// CloseOutput is the state after a request closed: when its personal data
// is purged (the Wait before Purge reads PurgeAt).
type CloseOutput struct {
	Status  dsr.Status `json:"status"`
	PurgeAt time.Time  `json:"purgeAt"`
}

func itoa(n int) string { return strconv.Itoa(n) }

// Close brings the request to its terminal status:
//   - completed: after the reply, and for erasure and account closure after
//     the backup confirmation, with the signed deletion certificate and a
//     final confirmation to the requester. A deletion certificate is issued
//     only when every partner acted for good (rule 8).
//   - expired: identity not verified in time, with a polite notice.
//
// Refusals and duplicates are closed by Review (closeRefused,
// closeDuplicate). The output says when personal data is purged.
func (h *Handlers) Close(ctx context.Context, in CloseInput) (CloseOutput, error) {
	if err := checkID(in.RequestID); err != nil {
		return CloseOutput{}, err
	}
	id := in.RequestID
	switch in.Outcome {
	case OutcomeCompleted:
		r, err := h.store.GetRequest(ctx, id)
		if err != nil {
			return CloseOutput{}, named(id, "close", err)
		}
		var msg *notify.Message
		if in.Certificate {
			if !r.Kind.ErasesData() {
				return CloseOutput{}, &InvalidInput{Field: "certificate", Problem: "request " + id + " is not an erasure or account closure"}
			}
			signed, c, err := h.issueCertificate(ctx, r)
			if err != nil {
				return CloseOutput{}, err
			}
			to, err := h.contact(ctx, id)
			if err != nil {
				return CloseOutput{}, err
			}
			m := h.finalConfirmation(r, to, c, signed)
			msg = &m
		}
		return h.closeAs(ctx, id, dsr.StatusCompleted, []dsr.Status{dsr.StatusReplied, dsr.StatusAwaitingBackupRotation}, nil, nil, msg)
	case OutcomeExpired:
		r, err := h.store.GetRequest(ctx, id)
		if err != nil {
			return CloseOutput{}, named(id, "close", err)
		}
		to, err := h.contact(ctx, id)
		if err != nil {
			return CloseOutput{}, err
		}
		m := notify.Expired(id, to, locale(r), h.policy.expireAfterDays(), h.team)
		return h.closeAs(ctx, id, dsr.StatusExpired, []dsr.Status{dsr.StatusAwaitingVerification, dsr.StatusReceived, dsr.StatusInReview}, nil, nil, &m)
	}
	return CloseOutput{}, &InvalidInput{Field: "outcome", Problem: fmt.Sprintf("unknown outcome %q", in.Outcome)}
}

// closeAs moves request id to status to (from one of from), stops its
// verification, records the closing and sends msg once; personal data then
// expires after the follow-up period (a TTL backstop to Purge).
func (h *Handlers) closeAs(ctx context.Context, id string, to dsr.Status, from []dsr.Status, mutate func(*dsr.Request), data map[string]string, msg *notify.Message) (CloseOutput, error) {
	r, moved, err := h.move(ctx, "close as "+string(to), id, to, from, mutate)
	if err != nil {
		return CloseOutput{}, err
	}
	if to != dsr.StatusCompleted {
		if err := h.verification.Close(ctx, id); err != nil {
			return CloseOutput{}, named(id, "close verification", err)
		}
	}
	purgeAt := *h.purgeAt(r)
	if moved {
		if data == nil {
			data = map[string]string{}
		}
		data["personalDataPurgeAt"] = purgeAt.Format(time.RFC3339)
		if err := h.audit(ctx, id, string(to), ActorClose, data); err != nil {
			return CloseOutput{}, err
		}
	}
	if h.anchors != nil {
		// Anchored as it closes; on failure the chain stays in the store's
		// unanchored index and the daily anchor takes it.
		if _, err := h.anchors.AnchorRequest(ctx, id); err != nil {
			h.log().WarnContext(ctx, "audit chain not anchored at close", "requestId", id, "error", err.Error())
		}
	}
	if err := h.store.ExpirePersonal(ctx, id, purgeAt.Add(24*time.Hour)); err != nil {
		return CloseOutput{}, named(id, "expire personal data", err)
	}
	if msg != nil && msg.To != (dsr.Contact{}) {
		if err := h.sendOnce(ctx, ActorClose, *msg); err != nil {
			return CloseOutput{}, err
		}
	}
	h.log().InfoContext(ctx, "closed", "requestId", id, "status", string(r.Status))
	return CloseOutput{Status: r.Status, PurgeAt: purgeAt}, nil
}

// closeRefused refuses request r with reason and tells the requester why
// (PIPL art. 50); obligations explain an account closure refused for them.
func (h *Handlers) closeRefused(ctx context.Context, r *dsr.Request, reason dsr.RefusalReason, obligations []string) (ReviewOutput, error) {
	id := r.ID
	if !reason.Valid() {
		return ReviewOutput{}, &InvalidInput{Field: "reason", Problem: fmt.Sprintf("unknown refusal reason %q", reason)}
	}
	to, err := h.contact(ctx, id)
	if err != nil {
		return ReviewOutput{}, err
	}
	l := locale(r)
	m := notify.Refused(id, to, l, r.Kind, reason, h.team)
	m.Verified = r.VerifiedAt != nil
	if len(obligations) > 0 {
		m.Body += obligationsText(l, obligations)
	}
	data := map[string]string{"reason": string(reason), "policy": reason.Policy()}
	if len(obligations) > 0 {
		data["obligations"] = strings.Join(obligations, ",")
	}
	out, err := h.closeAs(ctx, id, dsr.StatusRefused,
		[]dsr.Status{dsr.StatusReceived, dsr.StatusAwaitingVerification, dsr.StatusInReview, dsr.StatusInProgress, dsr.StatusEscalated},
		func(q *dsr.Request) { q.RefusalReason = reason }, data, &m)
	if err != nil {
		return ReviewOutput{}, err
	}
	return ReviewOutput{Result: ResultClosed, PurgeAt: &out.PurgeAt}, nil
}

// closeDuplicate closes r as a duplicate of linked, the open verified
// request of the same subject and kind.
func (h *Handlers) closeDuplicate(ctx context.Context, r *dsr.Request, linked string) (ReviewOutput, error) {
	id := r.ID
	to, err := h.contact(ctx, id)
	if err != nil {
		return ReviewOutput{}, err
	}
	m := notify.Duplicate(id, to, locale(r), r.Kind, linked, h.team)
	out, err := h.closeAs(ctx, id, dsr.StatusDuplicate, []dsr.Status{dsr.StatusReceived, dsr.StatusAwaitingVerification, dsr.StatusInReview},
		func(q *dsr.Request) { q.LinkedRequestID, q.RefusalReason = linked, dsr.RefusalDuplicate }, map[string]string{"linkedRequestId": linked}, &m)
	if err != nil {
		return ReviewOutput{}, err
	}
	return ReviewOutput{Result: ResultClosed, PurgeAt: &out.PurgeAt}, nil
}

// Purge deletes a closed request's personal data once its follow-up period
// has passed: its documents (in S3), then the personal, identity and
// document items. What stays proves the request was handled: keyed hashes,
// kind, dates, outcome, partner receipts and the audit chain. Running it
// again changes nothing.
func (h *Handlers) Purge(ctx context.Context, in RequestInput) (StatusOutput, error) {
	if err := checkID(in.RequestID); err != nil {
		return StatusOutput{}, err
	}
	id := in.RequestID
	r, err := h.store.GetRequest(ctx, id)
	if err != nil {
		return StatusOutput{}, named(id, "purge", err)
	}
	if !r.Status.Terminal() {
		return StatusOutput{}, &StatusConflict{RequestID: id, Step: "purge personal data", Status: r.Status}
	}
	if r.PersonalPurgedAt != nil {
		return StatusOutput{Status: r.Status}, nil
	}
	docs, err := h.store.ListDocuments(ctx, id)
	if err != nil {
		return StatusOutput{}, named(id, "list documents", err)
	}
	for _, d := range docs {
		if h.documents == nil {
			break
		}
		if err := h.documents.Delete(ctx, d.Bucket, d.Key); err != nil {
			return StatusOutput{}, &ServiceUnavailable{RequestID: id, Op: "delete document", Err: err}
		}
	}
	if _, err := h.store.PurgePersonal(ctx, id); err != nil {
		return StatusOutput{}, named(id, "purge personal data", err)
	}
	if err := h.audit(ctx, id, "personal_data_purged", ActorPurge, map[string]string{"documents": itoa(len(docs))}); err != nil {
		return StatusOutput{}, err
	}
	h.log().InfoContext(ctx, "personal data purged", "requestId", id, "documents", len(docs))
	return StatusOutput{Status: r.Status}, nil
}

// dueAt computes the reply deadline from the verification time.
func (h *Handlers) dueAt(verifiedAt time.Time) (time.Time, error) {
	rule := h.policy.DueRule
	if rule.Period == 0 {
		r, err := workday.RuleFor(workday.CN)
		if err != nil {
			return time.Time{}, err
		}
		rule = r
	}
	return workday.DueAt(rule, verifiedAt)
}

// obligationsText explains outstanding obligations (policy 五.4 履行情况)
// in the requester's language, one line each.
func obligationsText(l dsr.Locale, codes []string) string {
	var b strings.Builder
	if l == dsr.LocaleEn {
		b.WriteString("\nBefore we can close your account:\n")
	} else {
		b.WriteString("\n注销账户前，请先处理以下事项：\n")
	}
	for _, c := range codes {
		fmt.Fprintf(&b, "- %s\n", partner.ObligationText(c, l))
	}
	return b.String()
}
