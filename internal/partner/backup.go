package partner

import (
	"context"
	"errors"
	"time"

	"dsrflow/internal/store"
)

// BackupWindowInput is the input of BackupWindow and ConfirmBackupPurge.
type BackupWindowInput struct {
	RequestID string `json:"requestId"`
}

// BackupWindowOutput is when live deletion finished and when every backup
// that may hold the data will have rotated out (the Wait state's
// TimestampPath reads PurgeAfter).
type BackupWindowOutput struct {
	DeletedAt  time.Time `json:"deletedAt"`
	PurgeAfter time.Time `json:"purgeAfter"`
	// Systems are the partners whose backups are awaited.
	Systems []string `json:"systems"`
}

// BackupWindow computes purgeAfter for an erasure or account closure: the
// time of live deletion (the last partner confirmation) plus the longest
// backup retention among the partners that confirmed deleting data.
func (d *Dispatcher) BackupWindow(ctx context.Context, in BackupWindowInput) (BackupWindowOutput, error) {
	if in.RequestID == "" {
		return BackupWindowOutput{}, &InvalidInput{Field: "requestId", Problem: "required"}
	}
	tasks, err := d.store.ListPartnerTasks(ctx, in.RequestID)
	if err != nil {
		return BackupWindowOutput{}, storeErr(in.RequestID, "list partner tasks", err)
	}
	var held []Partner
	out := BackupWindowOutput{Systems: []string{}}
	for _, t := range tasks {
		if !Action(t.Action).Erases() || t.Status != store.PartnerCompleted || t.CompletedAt == nil {
			continue
		}
		if t.CompletedAt.After(out.DeletedAt) {
			out.DeletedAt = t.CompletedAt.UTC()
		}
		if p, ok := d.partners.Partner(t.PartnerID); ok {
			held = append(held, p)
			if p.BackupRetention > 0 {
				out.Systems = append(out.Systems, p.ID)
			}
		}
	}
	if out.DeletedAt.IsZero() {
		out.DeletedAt = d.now()
	}
	out.PurgeAfter = PurgeAfter(out.DeletedAt, held)
	return out, nil
}

// ConfirmOutput lists the backup systems that confirmed.
type ConfirmOutput struct {
	Confirmed []string `json:"confirmed"`
}

// ConfirmBackupPurge asks the backup system of every partner that deleted
// the subject's data and keeps backups whether a backup taken before the
// deletion remains (POST {endpoint}/backups/purge-status). Each
// confirmation is recorded on the partner task (BackupConfirmedAt,
// OldestBackup) and in the audit trail, once: a later run asks only those
// not yet confirmed. If any system still holds such a backup, or cannot be
// asked, it returns *BackupsNotYetRotated naming them: the state machine
// retries daily up to a limit, then escalates.
func (d *Dispatcher) ConfirmBackupPurge(ctx context.Context, in BackupWindowInput) (ConfirmOutput, error) {
	if in.RequestID == "" {
		return ConfirmOutput{}, &InvalidInput{Field: "requestId", Problem: "required"}
	}
	tasks, err := d.store.ListPartnerTasks(ctx, in.RequestID)
	if err != nil {
		return ConfirmOutput{}, storeErr(in.RequestID, "list partner tasks", err)
	}
	out := ConfirmOutput{Confirmed: []string{}}
	var pending []string
	for _, t := range tasks {
		if !Action(t.Action).Erases() || t.Status != store.PartnerCompleted || t.CompletedAt == nil {
			continue
		}
		p, ok := d.partners.Partner(t.PartnerID)
		if !ok || p.BackupRetention <= 0 {
			continue
		}
		if t.BackupConfirmedAt != nil {
			out.Confirmed = append(out.Confirmed, p.ID)
			continue
		}
		purged, oldest, code, err := d.askPurge(ctx, p, t)
		if err != nil {
			return ConfirmOutput{}, err
		}
		if !purged {
			pending = append(pending, p.ID)
			if err := d.audit(ctx, t.RequestID, "backup.not_yet_rotated", p.ID, map[string]string{"code": code}); err != nil {
				return ConfirmOutput{}, err
			}
			continue
		}
		now := d.now()
		if _, err := d.store.UpdatePartnerTask(ctx, t.RequestID, t.PartnerID, t.Version, func(x *store.PartnerTask) {
			x.BackupConfirmedAt = &now
			x.OldestBackup = oldest
		}); err != nil {
			return ConfirmOutput{}, storeErr(t.RequestID, "record backup confirmation", err)
		}
		data := map[string]string{}
		if oldest != nil {
			data["oldestBackup"] = oldest.UTC().Format(time.RFC3339)
		}
		if err := d.audit(ctx, t.RequestID, "backup.confirmed", p.ID, data); err != nil {
			return ConfirmOutput{}, err
		}
		out.Confirmed = append(out.Confirmed, p.ID)
	}
	if len(pending) > 0 {
		return ConfirmOutput{}, &BackupsNotYetRotated{RequestID: in.RequestID, Partners: pending}
	}
	return out, nil
}

// askPurge asks one backup system. A partner error counts as "not yet"
// (code says why); only a failure of our own is returned as an error.
func (d *Dispatcher) askPurge(ctx context.Context, p Partner, t store.PartnerTask) (purged bool, oldest *time.Time, code string, err error) {
	secret, err := d.secrets.Resolve(ctx, p.SecretRef)
	if err != nil {
		return false, nil, "", &ServiceUnavailable{RequestID: t.RequestID, Op: "resolve secret of partner " + p.ID, Err: err}
	}
	resp, err := d.client.PurgeStatus(ctx, p, secret, PurgeStatusRequest{SubjectRequestID: t.RequestID, DeletedAt: t.CompletedAt.UTC(), APIVersion: APIVersion})
	if err != nil {
		if !isPartnerErr(err) {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return false, nil, "", &ServiceUnavailable{RequestID: t.RequestID, Op: "purge status", Err: err}
			}
		}
		return false, nil, errorCode(err), nil
	}
	if !*resp.Purged {
		return false, nil, "backups_remain", nil
	}
	if resp.OldestBackup != nil && resp.OldestBackup.Before(*t.CompletedAt) {
		// The partner says purged, yet keeps a backup from before the deletion.
		return false, nil, "inconsistent_oldest_backup", nil
	}
	return true, resp.OldestBackup, "", nil
}
