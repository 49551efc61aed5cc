package workflow

import (
	"context"

	"dsrflow/internal/dsr"
	"dsrflow/internal/partner"
)

// ActorBackups is the audit actor of the backup escalation.
const ActorBackups = "workflow:escalate-backups"

// BackupsWait is the name of the task token EscalateBackups waits on.
const BackupsWait = "backups"

// ConfirmBackupPurge asks every backup system whether a backup taken before
// the deletion remains (partner.Dispatcher.ConfirmBackupPurge): the state
// machine retries BackupsNotYetRotated daily, then escalates.
func (h *Handlers) ConfirmBackupPurge(ctx context.Context, in RequestInput) (partner.ConfirmOutput, error) {
	if err := checkID(in.RequestID); err != nil {
		return partner.ConfirmOutput{}, err
	}
	out, err := h.partners.ConfirmBackupPurge(ctx, partner.BackupWindowInput{RequestID: in.RequestID})
	if err != nil {
		return partner.ConfirmOutput{}, partnerErr(in.RequestID, "confirm backup purge", err)
	}
	return out, nil
}

// EscalateBackupsInput is the input of the .waitForTaskToken state that
// follows a backup confirmation given up on.
type EscalateBackupsInput struct {
	RequestID string `json:"requestId"`
	TaskToken string `json:"taskToken"`
	// Error is the caught error's name (BackupsNotYetRotated, ...).
	Error string `json:"error"`
}

// EscalateBackups records that the backup confirmation was given up on
// after its daily retries: the request moves to escalated and the task
// token is kept for `dsr retry ID` (and the console), which asks the backup
// systems again and, once they confirm, moves the request back to
// awaiting_backup_rotation and answers the waiting state, so the workflow
// goes on to Close.
func (h *Handlers) EscalateBackups(ctx context.Context, in EscalateBackupsInput) (StatusOutput, error) {
	if err := checkToken(TokenInput{RequestID: in.RequestID, TaskToken: in.TaskToken}); err != nil {
		return StatusOutput{}, err
	}
	id := in.RequestID
	if err := h.store.PutTaskToken(ctx, id, BackupsWait, in.TaskToken); err != nil {
		return StatusOutput{}, named(id, "store backup escalation token", err)
	}
	r, moved, err := h.move(ctx, "escalate backups", id, dsr.StatusEscalated, []dsr.Status{dsr.StatusAwaitingBackupRotation}, nil)
	if err != nil {
		return StatusOutput{}, err
	}
	if moved {
		if err := h.audit(ctx, id, "backup.escalated", ActorBackups, map[string]string{"error": in.Error}); err != nil {
			return StatusOutput{}, err
		}
	}
	h.log().WarnContext(ctx, "backup confirmation escalated", "requestId", id, "error", in.Error)
	return StatusOutput{Status: r.Status}, nil
}
