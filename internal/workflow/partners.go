package workflow

import (
	"context"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dsrflow/internal/dsr"
	"dsrflow/internal/legalhold"
	"dsrflow/internal/notify"
	"dsrflow/internal/partner"
	"dsrflow/internal/partner/export"
	"dsrflow/internal/store"
)

// The partner task functions of the definition (issue 6): FanOut's plan,
// dispatch, callback wait and escalation, the account closure pre-check,
// the backup confirmation and the export package. Their handlers are the
// partner package's (partner.Functions), over Handlers.Partners; the ones
// the workflow adapts (Precheck, ExportAssemble) are wrapped below.
var partnerTaskKeys = []string{
	"PartnerPlanFunctionArn",
	"PartnerDispatchFunctionArn",
	"PartnerAwaitFunctionArn",
	"PartnerEscalateFunctionArn",
	"AccountPrecheckFunctionArn",
	"ConfirmBackupPurgeFunctionArn",
	"ExportAssembleFunctionArn",
}

// partnerUsesExports marks the partner task functions that touch the
// export bucket: a partner's answer may carry its export (dispatch, and
// escalate's last try), and the assembler packs them.
var partnerUsesExports = map[string]bool{
	"PartnerDispatchFunctionArn": true,
	"PartnerEscalateFunctionArn": true,
	"ExportAssembleFunctionArn":  true,
}

// partnerFunctions lists the partner task functions with their names from
// partner.Functions without the "dsr-" prefix (the functions/ folder).
func partnerFunctions() []Function {
	byKey := map[string]string{}
	for _, f := range partner.Functions(nil, &export.Assembler{}) {
		byKey[f.ArnKey] = strings.TrimPrefix(f.Name, "dsr-")
	}
	out := make([]Function, 0, len(partnerTaskKeys))
	for _, key := range partnerTaskKeys {
		out = append(out, Function{Name: byKey[key], ArnKey: key, UsesExports: partnerUsesExports[key], Handler: func(h *Handlers) any { return h.partnerHandler(key) }})
	}
	return out
}

// partnerHandler is the handler of the partner task function key.
func (h *Handlers) partnerHandler(key string) any {
	switch key {
	case "PartnerPlanFunctionArn":
		return h.PlanFanOut
	case "AccountPrecheckFunctionArn":
		return h.AccountPrecheck
	case "ExportAssembleFunctionArn":
		return h.ExportAssemble
	}
	if h.Partners == nil {
		// Handlers built without New: a dispatcher that reaches nobody.
		h.Partners = &partner.Dispatcher{Store: h.Store, Config: &partner.Config{}, Secrets: partner.NewSecrets(nil), Client: &partner.Client{}, Now: h.now, Log: h.Logger}
	}
	for _, f := range partner.Functions(h.Partners, nil) {
		if f.ArnKey == key {
			return f.Handler
		}
	}
	return nil
}

// PlanFanOut plans the partner fan-out (partner.Dispatcher.Plan), except
// for an erasure or account closure a legal hold defers (policy 五.1/五.2
// 除非法律法规另有规定): then no partner is asked to delete anything, and
// the reply says erasure is deferred.
func (h *Handlers) PlanFanOut(ctx context.Context, in partner.PlanInput) (partner.PlanOutput, error) {
	if err := checkID(in.RequestID); err != nil {
		return partner.PlanOutput{}, err
	}
	r, err := h.Store.GetRequest(ctx, in.RequestID)
	if err != nil {
		return partner.PlanOutput{}, named(in.RequestID, "plan fan-out", err)
	}
	if r.Kind.ErasesData() && h.Holds != nil {
		hold, err := h.Holds.Find(ctx, r.SubjectKeys)
		if err != nil {
			return partner.PlanOutput{}, named(r.ID, "look up legal holds", err)
		}
		if hold != nil && hold.Action == legalhold.ActionDeferErasure {
			if err := h.audit(ctx, r.ID, "fanout.deferred", partner.Actor, map[string]string{"reason": string(hold.Reason)}); err != nil {
				return partner.PlanOutput{}, err
			}
			return partner.PlanOutput{Partners: []partner.PlanItem{}}, nil
		}
	}
	return h.Partners.Plan(ctx, in)
}

// AccountPrecheck asks the account system whether the account may be
// closed (policy 五.4 履行情况): partner.Dispatcher.Precheck. Without a
// configured account system (a deployment with no partners) there is
// nobody to ask: the account is taken as clear and the audit trail says so.
func (h *Handlers) AccountPrecheck(ctx context.Context, in partner.PrecheckInput) (partner.PrecheckOutput, error) {
	if err := checkID(in.RequestID); err != nil {
		return partner.PrecheckOutput{}, err
	}
	if h.Partners == nil || h.Partners.Config == nil || h.Partners.Config.AccountSystem == "" {
		if err := h.audit(ctx, in.RequestID, "account.precheck_skipped", "partner-fanout", map[string]string{"code": "no_account_system"}); err != nil {
			return partner.PrecheckOutput{}, err
		}
		return partner.PrecheckOutput{Clear: true, Obligations: []string{}}, nil
	}
	return h.Partners.Precheck(ctx, in)
}

// ExportAssemble gathers the partners' exports of an access or
// portability request into one package (JSON and an HTML page in the
// requester's language), stored encrypted in S3 (export.Assembler). The
// output names the package's key and counts; the link is made by Reply
// and goes only into the message. Without export storage no partner export
// can have been stored (Dispatch refuses them), so there is nothing to
// assemble.
func (h *Handlers) ExportAssemble(ctx context.Context, in export.Input) (export.Output, error) {
	if err := checkID(in.RequestID); err != nil {
		return export.Output{}, err
	}
	if h.Assembler == nil {
		return export.Output{}, nil
	}
	out, err := h.Assembler.Handle(ctx, in)
	if err != nil {
		return export.Output{}, named(in.RequestID, "assemble export", &ServiceUnavailable{RequestID: in.RequestID, Op: "assemble export", Err: err})
	}
	if err := h.audit(ctx, in.RequestID, "export.assembled", ActorReply, map[string]string{"partners": itoa(out.Partners), "missing": itoa(out.Missing)}); err != nil {
		return export.Output{}, err
	}
	return out, nil
}

// partnerName is a partner's display name in l (its ID when unknown).
func (h *Handlers) partnerName(id string, l dsr.Locale) string {
	if h.Partners != nil && h.Partners.Config != nil {
		if p, ok := h.Partners.Config.Partner(id); ok {
			if n := p.Name.In(l); n != "" {
				return n
			}
		}
	}
	return id
}

// partnerResults turns the request's partner tasks into reply lines: what
// was done where, what could not be done and why (a partner's failure, its
// retention exceptions).
func (h *Handlers) partnerResults(tasks []store.PartnerTask, l dsr.Locale) (doneLines []string, notDone []notify.Exception) {
	en := l == dsr.LocaleEn
	pick := func(zh, e string) string {
		if en {
			return e
		}
		return zh
	}
	for _, t := range tasks {
		name := h.partnerName(t.PartnerID, l)
		switch t.Status {
		case store.PartnerCompleted:
			var what string
			switch partner.Action(t.Action) {
			case partner.ActionErase:
				what = pick("已删除您的个人信息", "deleted your personal information")
			case partner.ActionCloseAccount:
				what = pick("已注销您的账户", "closed your account")
			case partner.ActionExport:
				what = pick("已提供您的个人信息副本", "provided a copy of your personal information")
			case partner.ActionCorrect:
				what = pick("已更正您的个人信息", "corrected your personal information")
			case partner.ActionWithdrawConsent:
				what = pick("已停止基于您所撤回授权的处理", "stopped the processing you withdrew consent for")
			default:
				what = t.Action
			}
			line := name + pick("：", ": ") + what
			if len(t.Changed) > 0 {
				line += pick("（变更项："+strings.Join(t.Changed, "、")+"）", " (changed: "+strings.Join(t.Changed, ", ")+")")
			}
			if t.Receipt != "" {
				line += pick("，回执编号 ", "; receipt ") + t.Receipt
			}
			doneLines = append(doneLines, line)
		case store.PartnerFailed, store.PartnerEscalated:
			notDone = append(notDone, notify.Exception{
				What:   name,
				Reason: pick("该合作方未能完成处理（"+t.LastError+"），我们正在跟进，完成后会再通知您。", "this partner could not complete the request ("+t.LastError+"); we are following up and will tell you when it is done."),
			})
		}
		if h.Partners == nil || h.Partners.Config == nil {
			continue
		}
		if p, ok := h.Partners.Config.Partner(t.PartnerID); ok && t.Status != store.PartnerNoData {
			for _, e := range p.RetentionExceptions {
				notDone = append(notDone, notify.Exception{What: name, Reason: e.Text.In(l)})
			}
		}
	}
	return doneLines, notDone
}

// purgeWindow is when every backup that may hold an erasure's data has
// rotated out: the partners' window (partner.Dispatcher.BackupWindow: the
// last live deletion plus the longest backup retention among the partners
// that deleted data), and no earlier than our own backups' rotation
// (Policy.BackupRotation after the deletion: the request table's
// point-in-time recovery).
func (h *Handlers) purgeWindow(ctx context.Context, id string) (time.Time, error) {
	deletedAt, purge := h.now(), time.Time{}
	if h.Partners != nil && h.Partners.Store != nil {
		w, err := h.Partners.BackupWindow(ctx, partner.BackupWindowInput{RequestID: id})
		if err != nil {
			return time.Time{}, err
		}
		deletedAt, purge = w.DeletedAt, w.PurgeAfter
	}
	rot := h.Policy.BackupRotation
	if rot <= 0 {
		rot = DefaultPolicy().BackupRotation
	}
	if own := deletedAt.Add(rot); own.After(purge) {
		purge = own
	}
	return purge.UTC().Truncate(time.Second), nil
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
// token is kept for `dsr retry ID`, which asks the backup systems again
// and, once they confirm, moves the request back to
// awaiting_backup_rotation and answers the waiting state, so the workflow
// goes on to Close.
func (h *Handlers) EscalateBackups(ctx context.Context, in EscalateBackupsInput) (StatusOutput, error) {
	if err := checkID(in.RequestID); err != nil {
		return StatusOutput{}, err
	}
	if in.TaskToken == "" {
		return StatusOutput{}, &InvalidInput{Field: "taskToken", Problem: "required"}
	}
	id := in.RequestID
	if err := h.putBackupToken(ctx, id, in.TaskToken); err != nil {
		return StatusOutput{}, err
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

// ActorBackups is the audit actor of the backup escalation.
const ActorBackups = "workflow:escalate-backups"

// BackupTokenSK is the sort key of the item holding the task token of an
// escalated backup confirmation.
const BackupTokenSK = "ESCALATION#backups"

func (h *Handlers) putBackupToken(ctx context.Context, id, token string) error {
	_, err := h.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(h.Table), Item: map[string]dbtypes.AttributeValue{
		"PK":        &dbtypes.AttributeValueMemberS{Value: "REQ#" + id},
		"SK":        &dbtypes.AttributeValueMemberS{Value: BackupTokenSK},
		"taskToken": &dbtypes.AttributeValueMemberS{Value: token},
		"at":        &dbtypes.AttributeValueMemberS{Value: h.now().Format(time.RFC3339Nano)},
	}})
	if err != nil {
		return named(id, "store backup escalation token", err)
	}
	return nil
}

// BackupToken returns the task token of request id's escalated backup
// confirmation ("" when there is none).
func BackupToken(ctx context.Context, db DB, table, id string) (string, error) {
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true), Key: map[string]dbtypes.AttributeValue{
		"PK": &dbtypes.AttributeValueMemberS{Value: "REQ#" + id},
		"SK": &dbtypes.AttributeValueMemberS{Value: BackupTokenSK},
	}})
	if err != nil {
		return "", err
	}
	if v, ok := out.Item["taskToken"].(*dbtypes.AttributeValueMemberS); ok {
		return v.Value, nil
	}
	return "", nil
}
