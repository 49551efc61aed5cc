package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"dsrflow/internal/dsr"
	"dsrflow/internal/partner"
	"dsrflow/internal/store"
)

// Errors of Retrier.
var (
	// ErrNothingToRetry: no partner of the request failed or was
	// escalated, and its backup confirmation is not escalated.
	ErrNothingToRetry = errors.New("nothing to retry")
	// ErrUnknownPartner: the request has no task for that partner.
	ErrUnknownPartner = errors.New("the request has no task for that partner")
	// ErrWorkflowGone: the backups confirmed, but the waiting execution no
	// longer exists; the reconciler restarts it.
	ErrWorkflowGone = errors.New("the workflow no longer waits for the backup confirmation")
)

// TaskSender answers a waiting state.
type TaskSender interface {
	SendTaskSuccess(ctx context.Context, in *sfn.SendTaskSuccessInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error)
}

// Retrier is `dsr retry`: it dispatches a request to failed or escalated
// partners again (partner.Dispatcher.Retry, with backoff and jitter outside
// Step Functions), and retries an escalated backup confirmation.
//
// How the workflow learns of it:
//   - A partner: the execution went on without it (the reply named it as
//     not done). The retried partner's outcome is recorded on its task and
//     in the audit trail; an erasure still waiting for backup rotation then
//     includes it in ConfirmBackupPurge, and its receipt in the deletion
//     certificate. An asynchronous partner's later callback is recorded the
//     same way (there is no waiting state to answer).
//   - The backup confirmation: the execution waits in EscalateBackups on a
//     task token. Once every backup system confirms, the request moves back
//     to awaiting_backup_rotation and the token is answered, so the
//     execution goes on to Close (certificate, final confirmation).
type Retrier struct {
	Partners *partner.Dispatcher
	Store    *store.Store
	DB       DB
	Table    string
	SFN      TaskSender
	Backoff  partner.Backoff
	// Actor is the operator, for the audit trail.
	Actor string
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

// RetryPartners dispatches request id again to partnerID, or, when partnerID
// is empty, to every failed or escalated partner. Partner errors are in
// the results (Status, Error); the error is for failures of our own.
func (rt *Retrier) RetryPartners(ctx context.Context, id, partnerID string) ([]RetryResult, error) {
	tasks, err := rt.Store.ListPartnerTasks(ctx, id)
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
	sort.Slice(targets, func(i, j int) bool { return targets[i].PartnerID < targets[j].PartnerID })
	out := make([]RetryResult, 0, len(targets))
	for _, t := range targets {
		res := RetryResult{PartnerID: t.PartnerID, Action: t.Action, Before: t.Status}
		_, err := rt.Partners.Retry(ctx, partner.DispatchInput{RequestID: id, PartnerID: t.PartnerID}, rt.Backoff)
		if err != nil && !isPartnerError(err) {
			return out, fmt.Errorf("retry partner %s of %s: %w", t.PartnerID, id, err)
		}
		if err != nil {
			// Settle it again as escalated, as the workflow's Catch does.
			if _, eerr := rt.Partners.Escalate(ctx, partner.EscalateInput{RequestID: id, PartnerID: t.PartnerID, Error: errorName(err)}); eerr != nil {
				return out, fmt.Errorf("escalate partner %s of %s: %w", t.PartnerID, id, eerr)
			}
		}
		nt, gerr := rt.Store.GetPartnerTask(ctx, id, t.PartnerID)
		if gerr != nil {
			return out, fmt.Errorf("load partner task %s of %s: %w", t.PartnerID, id, gerr)
		}
		res.Status, res.Receipt = nt.Status, nt.Receipt
		if nt.Status != store.PartnerCompleted {
			res.Error = nt.LastError
		}
		out = append(out, res)
	}
	return out, nil
}

func isPartnerError(err error) bool {
	var (
		r *partner.PartnerRetryable
		j *partner.PartnerRejected
		g *partner.PartnerGarbage
		f *partner.PartnerFailed
	)
	return errors.As(err, &r) || errors.As(err, &j) || errors.As(err, &g) || errors.As(err, &f)
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
func (rt *Retrier) BackupsEscalated(ctx context.Context, id string) (bool, error) {
	tok, err := BackupToken(ctx, rt.DB, rt.Table, id)
	if err != nil {
		return false, fmt.Errorf("load backup escalation of %s: %w", id, err)
	}
	if tok == "" {
		return false, nil
	}
	r, err := rt.Store.GetRequest(ctx, id)
	if err != nil {
		return false, fmt.Errorf("load request %s: %w", id, err)
	}
	return r.Status == dsr.StatusEscalated, nil
}

// RetryBackups asks the backup systems again (partner.Dispatcher.ConfirmBackupPurge).
// If all confirm, the request moves back to awaiting_backup_rotation and
// the waiting execution is answered; otherwise the error is
// *partner.BackupsNotYetRotated naming the systems still holding backups.
func (rt *Retrier) RetryBackups(ctx context.Context, id string) (partner.ConfirmOutput, error) {
	tok, err := BackupToken(ctx, rt.DB, rt.Table, id)
	if err != nil {
		return partner.ConfirmOutput{}, fmt.Errorf("load backup escalation of %s: %w", id, err)
	}
	if tok == "" {
		return partner.ConfirmOutput{}, fmt.Errorf("request %s: %w", id, ErrNothingToRetry)
	}
	out, err := rt.Partners.ConfirmBackupPurge(ctx, partner.BackupWindowInput{RequestID: id})
	if err != nil {
		return partner.ConfirmOutput{}, err
	}
	r, err := rt.Store.GetRequest(ctx, id)
	if err != nil {
		return out, fmt.Errorf("load request %s: %w", id, err)
	}
	if r.Status == dsr.StatusEscalated {
		if _, err := rt.Store.TransitionStatus(ctx, id, dsr.StatusEscalated, dsr.StatusAwaitingBackupRotation, r.Version, nil); err != nil {
			return out, fmt.Errorf("move %s back to %s: %w", id, dsr.StatusAwaitingBackupRotation, err)
		}
		if _, err := rt.Store.AppendEvent(ctx, id, store.Event{Type: "backup.retry_confirmed", Actor: rt.Actor, Data: map[string]string{"confirmed": fmt.Sprint(len(out.Confirmed))}}); err != nil {
			return out, fmt.Errorf("audit %s: %w", id, err)
		}
	}
	body, err := json.Marshal(out)
	if err != nil {
		return out, err
	}
	_, err = rt.SFN.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(tok), Output: aws.String(string(body))})
	if partner.TokenGone(err) {
		return out, fmt.Errorf("request %s: %w", id, ErrWorkflowGone)
	}
	if err != nil {
		return out, fmt.Errorf("answer the waiting workflow of %s: %w", id, err)
	}
	return out, nil
}
