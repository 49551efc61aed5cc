package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"dsrflow/internal/dsr"
	"dsrflow/internal/partner"
	"dsrflow/internal/store"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
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

// Operations are what an operator does about a request's partners and
// backups outside the state machine (`dsr retry`, the console): retry a
// partner, record how one was settled, retry the backup confirmation. They
// need the store, the partner dispatcher and Step Functions, not the
// workflow's secrets.
type Operations struct {
	store    *store.Store
	partners *partner.Dispatcher
	sfn      SFN
	clock    func() time.Time
}

// OperationsDeps are what Operations work with.
type OperationsDeps struct {
	Store    *store.Store
	Partners *partner.Dispatcher
	SFN      SFN
	Clock    func() time.Time
}

// NewOperations returns the operator's operations.
func NewOperations(d OperationsDeps) *Operations {
	o := &Operations{store: d.Store, partners: d.Partners, sfn: d.SFN, clock: d.Clock}
	if o.clock == nil {
		o.clock = time.Now
	}
	return o
}

// Operations are the handlers' operator operations.
func (h *Handlers) Operations() *Operations {
	return NewOperations(OperationsDeps{Store: h.store, Partners: h.partners, SFN: h.sfn, Clock: h.clock})
}

func (o *Operations) audit(ctx context.Context, id, typ, actor string, data map[string]string) error {
	if _, err := o.store.AppendEvent(ctx, id, store.Event{Type: typ, At: o.clock().UTC(), Actor: actor, Data: data}); err != nil {
		return named(id, "audit "+typ, err)
	}
	return nil
}

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
func (o *Operations) RetryPartners(ctx context.Context, id, partnerID, actor string, b partner.Backoff) ([]RetryResult, error) {
	tasks, err := o.store.ListPartnerTasks(ctx, id)
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
	if err := o.audit(ctx, id, "operator_retry", actor, map[string]string{"partners": fmt.Sprint(len(targets))}); err != nil {
		return nil, err
	}
	sort.Slice(targets, func(i, j int) bool { return targets[i].PartnerID < targets[j].PartnerID })
	out := make([]RetryResult, 0, len(targets))
	for _, t := range targets {
		res := RetryResult{PartnerID: t.PartnerID, Action: t.Action, Before: t.Status}
		_, err := o.partners.Retry(ctx, partner.DispatchInput{RequestID: id, PartnerID: t.PartnerID}, b)
		if err != nil && !partner.IsNamed(err) {
			return out, fmt.Errorf("retry partner %s of %s: %w", t.PartnerID, id, err)
		}
		if err != nil {
			// Settle it again as escalated, as the workflow's Catch does.
			if _, eerr := o.partners.Escalate(ctx, partner.EscalateInput{RequestID: id, PartnerID: t.PartnerID, Error: errorName(err)}); eerr != nil {
				return out, fmt.Errorf("escalate partner %s of %s: %w", t.PartnerID, id, eerr)
			}
		}
		nt, gerr := o.store.GetPartnerTask(ctx, id, t.PartnerID)
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
func (o *Operations) SettlePartner(ctx context.Context, id, partnerID string, how PartnerSettlement, actor string) (*store.PartnerTask, error) {
	if !how.Valid() {
		return nil, &InvalidInput{Field: "settlement", Problem: fmt.Sprintf("unknown settlement %q", how)}
	}
	for range 5 {
		t, err := o.store.GetPartnerTask(ctx, id, partnerID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("request %s, partner %s: %w", id, partnerID, ErrUnknownPartner)
		}
		if err != nil {
			return nil, err
		}
		if t.Status != store.PartnerFailed && t.Status != store.PartnerEscalated {
			return nil, fmt.Errorf("request %s, partner %s is %s: %w", id, partnerID, t.Status, ErrNotEscalated)
		}
		nt, err := o.store.UpdatePartnerTask(ctx, id, partnerID, t.Version, func(x *store.PartnerTask) {
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
		if err := o.audit(ctx, id, "partner.settled_by_operator", actor, map[string]string{"partner": partnerID, "settlement": string(how)}); err != nil {
			return nt, err
		}
		if _, err := o.partners.ResumeReply(ctx, id); err != nil {
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
func (o *Operations) BackupsEscalated(ctx context.Context, id string) (bool, error) {
	tok, err := o.store.TaskToken(ctx, id, BackupsWait)
	if err != nil || tok == "" {
		return false, err
	}
	r, err := o.store.GetRequest(ctx, id)
	if err != nil {
		return false, fmt.Errorf("load request %s: %w", id, err)
	}
	return r.Status == dsr.StatusEscalated, nil
}

// RetryBackups asks the backup systems again. If all confirm, the request
// moves back to awaiting_backup_rotation and the waiting execution is
// answered; otherwise the error is *partner.BackupsNotYetRotated naming
// the systems still holding backups.
func (o *Operations) RetryBackups(ctx context.Context, id, actor string) (partner.ConfirmOutput, error) {
	tok, err := o.store.TaskToken(ctx, id, BackupsWait)
	if err != nil {
		return partner.ConfirmOutput{}, fmt.Errorf("load backup escalation of %s: %w", id, err)
	}
	if tok == "" {
		return partner.ConfirmOutput{}, fmt.Errorf("request %s: %w", id, ErrNothingToRetry)
	}
	out, err := o.partners.ConfirmBackupPurge(ctx, partner.BackupWindowInput{RequestID: id})
	if err != nil {
		return partner.ConfirmOutput{}, err
	}
	r, err := o.store.GetRequest(ctx, id)
	if err != nil {
		return out, fmt.Errorf("load request %s: %w", id, err)
	}
	if r.Status == dsr.StatusEscalated {
		if _, err := o.store.TransitionStatus(ctx, id, dsr.StatusEscalated, dsr.StatusAwaitingBackupRotation, r.Version, nil); err != nil {
			return out, fmt.Errorf("move %s back to %s: %w", id, dsr.StatusAwaitingBackupRotation, err)
		}
		if err := o.audit(ctx, id, "backup.retry_confirmed", actor, map[string]string{"confirmed": fmt.Sprint(len(out.Confirmed))}); err != nil {
			return out, err
		}
	}
	body, err := json.Marshal(out)
	if err != nil {
		return out, err
	}
	_, err = o.sfn.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(tok), Output: aws.String(string(body))})
	if partner.TokenGone(err) {
		return out, fmt.Errorf("request %s: %w", id, ErrWorkflowGone)
	}
	if err != nil {
		return out, fmt.Errorf("answer the waiting workflow of %s: %w", id, err)
	}
	if err := o.store.DeleteTaskToken(ctx, id, BackupsWait); err != nil {
		return out, err
	}
	return out, nil
}
