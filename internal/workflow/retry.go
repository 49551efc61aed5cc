package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"dsrflow/internal/dsr"
	"dsrflow/internal/partner"
	"dsrflow/internal/store"
)

// Errors of the operator's partner and backup actions.
var (
	// ErrNothingToRetry: no partner of the request failed or was
	// escalated, and its backup confirmation is not escalated.
	ErrNothingToRetry = errors.New("nothing to retry")
	// ErrUnknownPartner: the request has no task for that partner.
	ErrUnknownPartner = errors.New("the request has no task for that partner")
	// ErrWorkflowGone: the backups confirmed, but the waiting execution no
	// longer exists; the reconciler restarts it.
	ErrWorkflowGone = errors.New("the workflow no longer waits for the backup confirmation")
	// ErrNotEscalated: only a failed or escalated partner can be settled
	// by an operator.
	ErrNotEscalated = errors.New("the partner is not failed or escalated")
)

// RetryResult is one partner's outcome.
type RetryResult struct {
	PartnerID string              `json:"partnerId"`
	Action    string              `json:"action"`
	Before    store.PartnerStatus `json:"before"`
	Status    store.PartnerStatus `json:"status"`
	Receipt   string              `json:"receipt,omitempty"`
	Error     string              `json:"error,omitempty"`
}

// RetryPartners dispatches request id again to partnerID, or, when
// partnerID is empty, to every failed or escalated partner (with backoff
// and jitter outside Step Functions: `dsr retry` and the console). Partner
// errors are in the results (Status, Error); the error is for failures of
// our own. When the last partner settles, the reply waiting for it goes on
// (partner.ResumeReply).
func (h *Handlers) RetryPartners(ctx context.Context, id, partnerID, actor string, b partner.Backoff) ([]RetryResult, error) {
	tasks, err := h.store.ListPartnerTasks(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("list partner tasks of %s: %w", id, err)
	}
	var targets []store.PartnerTask
	for _, t := range tasks {
		switch {
		case partnerID != "" && t.PartnerID == partnerID:
			targets = append(targets, t)
		case partnerID == "" && (t.Status == store.PartnerFailed || t.Status == store.PartnerEscalated):
			targets = append(targets, t)
		}
	}
	if partnerID != "" && len(targets) == 0 {
		return nil, fmt.Errorf("request %s, partner %s: %w", id, partnerID, ErrUnknownPartner)
	}
	if len(targets) == 0 {
		return nil, fmt.Errorf("request %s: %w", id, ErrNothingToRetry)
	}
	if err := h.audit(ctx, id, "operator_retry", actor, map[string]string{"partners": fmt.Sprint(len(targets))}); err != nil {
		return nil, err
	}
	sort.Slice(targets, func(i, j int) bool { return targets[i].PartnerID < targets[j].PartnerID })
	out := make([]RetryResult, 0, len(targets))
	for _, t := range targets {
		res := RetryResult{PartnerID: t.PartnerID, Action: t.Action, Before: t.Status}
		_, err := h.partners.Retry(ctx, partner.DispatchInput{RequestID: id, PartnerID: t.PartnerID}, b)
		if err != nil && !partner.IsNamed(err) {
			return out, fmt.Errorf("retry partner %s of %s: %w", t.PartnerID, id, err)
		}
		if err != nil {
			// Settle it again as escalated, as the workflow's Catch does.
			if _, eerr := h.partners.Escalate(ctx, partner.EscalateInput{RequestID: id, PartnerID: t.PartnerID, Error: errorName(err)}); eerr != nil {
				return out, fmt.Errorf("escalate partner %s of %s: %w", t.PartnerID, id, eerr)
			}
		}
		nt, gerr := h.store.GetPartnerTask(ctx, id, t.PartnerID)
		if gerr != nil {
			return out, fmt.Errorf("load partner task %s of %s: %w", t.PartnerID, id, gerr)
		}
		res.Status, res.Receipt = nt.Status, nt.Receipt
		if !nt.Status.Final() {
			res.Error = nt.LastError
		}
		out = append(out, res)
	}
	return out, nil
}

// SettlePartner records an operator's decision on a failed or escalated
// partner: how it was settled outside the protocol (a settlement code).
// When it was the last partner, the reply waiting for it goes on.
func (h *Handlers) SettlePartner(ctx context.Context, id, partnerID string, how PartnerSettlement, actor string) (*store.PartnerTask, error) {
	if !how.Valid() {
		return nil, &InvalidInput{Field: "settlement", Problem: fmt.Sprintf("unknown settlement %q", how)}
	}
	for range 5 {
		t, err := h.store.GetPartnerTask(ctx, id, partnerID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("request %s, partner %s: %w", id, partnerID, ErrUnknownPartner)
		}
		if err != nil {
			return nil, err
		}
		if t.Status != store.PartnerFailed && t.Status != store.PartnerEscalated {
			return nil, fmt.Errorf("request %s, partner %s is %s: %w", id, partnerID, t.Status, ErrNotEscalated)
		}
		nt, err := h.store.UpdatePartnerTask(ctx, id, partnerID, t.Version, func(x *store.PartnerTask) {
			x.Status = store.PartnerSettledByOperator
			x.OperatorReason, x.OperatorActor = string(how), actor
		})
		var ce *store.ConflictError
		if errors.As(err, &ce) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := h.audit(ctx, id, "partner.settled_by_operator", actor, map[string]string{"partner": partnerID, "settlement": string(how)}); err != nil {
			return nt, err
		}
		if _, err := h.partners.ResumeReply(ctx, id); err != nil {
			return nt, err
		}
		return nt, nil
	}
	return nil, &ServiceUnavailable{RequestID: id, Op: "settle partner", Err: errors.New("too many concurrent writers")}
}

func errorName(err error) string {
	var (
		r *partner.PartnerRetryable
		j *partner.PartnerRejected
		g *partner.PartnerGarbage
	)
	switch {
	case errors.As(err, &r):
		return "PartnerRetryable"
	case errors.As(err, &j):
		return "PartnerRejected"
	case errors.As(err, &g):
		return "PartnerGarbage"
	}
	return "PartnerFailed"
}

// BackupsEscalated reports whether request id waits in EscalateBackups.
func (h *Handlers) BackupsEscalated(ctx context.Context, id string) (bool, error) {
	tok, err := h.store.TaskToken(ctx, id, BackupsWait)
	if err != nil || tok == "" {
		return false, err
	}
	r, err := h.store.GetRequest(ctx, id)
	if err != nil {
		return false, fmt.Errorf("load request %s: %w", id, err)
	}
	return r.Status == dsr.StatusEscalated, nil
}

// RetryBackups asks the backup systems again. If all confirm, the request
// moves back to awaiting_backup_rotation and the waiting execution is
// answered; otherwise the error is *partner.BackupsNotYetRotated naming
// the systems still holding backups.
func (h *Handlers) RetryBackups(ctx context.Context, id, actor string) (partner.ConfirmOutput, error) {
	tok, err := h.store.TaskToken(ctx, id, BackupsWait)
	if err != nil {
		return partner.ConfirmOutput{}, fmt.Errorf("load backup escalation of %s: %w", id, err)
	}
	if tok == "" {
		return partner.ConfirmOutput{}, fmt.Errorf("request %s: %w", id, ErrNothingToRetry)
	}
	out, err := h.partners.ConfirmBackupPurge(ctx, partner.BackupWindowInput{RequestID: id})
	if err != nil {
		return partner.ConfirmOutput{}, err
	}
	if _, moved, err := h.move(ctx, "retry backups", id, dsr.StatusAwaitingBackupRotation, []dsr.Status{dsr.StatusEscalated}, nil); err != nil {
		return out, err
	} else if moved {
		if err := h.audit(ctx, id, "backup.retry_confirmed", actor, map[string]string{"confirmed": fmt.Sprint(len(out.Confirmed))}); err != nil {
			return out, err
		}
	}
	body, err := json.Marshal(out)
	if err != nil {
		return out, err
	}
	if h.sfn == nil {
		return out, ErrWorkflowGone
	}
	if err := h.answer(ctx, id, tok, body); err != nil {
		return out, err
	}
	if err := h.store.DeleteTaskToken(ctx, id, BackupsWait); err != nil {
		return out, err
	}
	return out, nil
}
