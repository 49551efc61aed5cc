package workflow

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"dsrflow/internal/dsr"
	"dsrflow/internal/legalhold"
	"dsrflow/internal/notify"
	"dsrflow/internal/partner"
	"dsrflow/internal/partner/export"
	"dsrflow/internal/store"
)

// ReplyOutput is what Reply's token is answered with (the state's result,
// $.replied): whether the reply was final, and for an erasure whose
// partners all acted, when the backups will have rotated out.
type ReplyOutput struct {
	// Complete is false when the reply waited for partners that had not
	// acted and they now have: the definition runs Reply again.
	Complete bool `json:"complete"`
	// WaitForBackups: an erasure or account closure every partner acted
	// on; the workflow waits until PurgeAfter, then confirms the backups.
	WaitForBackups bool       `json:"waitForBackups"`
	PurgeAfter     *time.Time `json:"purgeAfter,omitempty"`
}

// Reply answers the request in the requester's language from the partners'
// outcomes (docs/ARCHITECTURE.md, rule 8), then answers its own token:
//   - every partner settled for good (acted, holds no data, or settled by
//     an operator): the reply, with the export package's link for access
//     and portability, and for erasure the date by which backups will have
//     rotated out. The request moves to replied (erasure: on to
//     awaiting_backup_rotation).
//   - a partner failed or was escalated: the partial reply says what was
//     done and what is open and that we will write again; the request is
//     escalated, in the operators' queue, and the state waits: `dsr retry`,
//     the console or a late callback that settles the last partner answers
//     it (partner.ResumeReply), and Reply runs again to send the reply
//     promised.
//
// Nothing completes on a promise: no "deleted" for a partner that did not
// act, no backup wait and no certificate while one has not.
func (h *Handlers) Reply(ctx context.Context, in TokenInput) (ReplyOutput, error) {
	if err := checkToken(in); err != nil {
		return ReplyOutput{}, err
	}
	id := in.RequestID
	r, err := h.store.GetRequest(ctx, id)
	if err != nil {
		return ReplyOutput{}, named(id, "reply", err)
	}
	switch r.Status {
	case dsr.StatusReplied, dsr.StatusAwaitingBackupRotation, dsr.StatusCompleted:
		// A rerun after the reply went out.
		out := ReplyOutput{Complete: true}
		if r.Status == dsr.StatusAwaitingBackupRotation {
			purge, err := h.purgeWindow(ctx, id)
			if err != nil {
				return ReplyOutput{}, err
			}
			out.WaitForBackups, out.PurgeAfter = true, &purge
		}
		return out, h.answerReply(ctx, id, in.TaskToken, out)
	case dsr.StatusInProgress, dsr.StatusEscalated:
	default:
		return ReplyOutput{}, &StatusConflict{RequestID: id, Step: "reply", Status: r.Status}
	}
	to, err := h.contact(ctx, id)
	if err != nil {
		return ReplyOutput{}, err
	}
	hold, err := h.holds.Find(ctx, r.SubjectKeys)
	if err != nil {
		return ReplyOutput{}, named(id, "look up legal holds", err)
	}
	deferred := r.Kind.ErasesData() && hold != nil && hold.Action == legalhold.ActionDeferErasure
	tasks, err := h.store.ListPartnerTasks(ctx, id)
	if err != nil {
		return ReplyOutput{}, named(id, "list partner tasks", err)
	}
	l := locale(r)
	content := h.replyContent(r, tasks, l)
	if deferred {
		content.Deferred = hold.Reason.Text(l)
	}

	if !content.Complete() {
		return h.replyPartial(ctx, r, to, content, in.TaskToken)
	}

	out := ReplyOutput{Complete: true}
	if (r.Kind == dsr.KindAccess || r.Kind == dsr.KindPortability) && h.assembler != nil && h.exports != nil {
		res, err := h.assembler.Handle(ctx, export.Input{RequestID: id})
		if err != nil {
			return ReplyOutput{}, &ServiceUnavailable{RequestID: id, Op: "assemble export", Err: err}
		}
		if err := h.audit(ctx, id, "export.assembled", ActorReply, map[string]string{"partners": itoa(res.Partners), "missing": itoa(res.Missing)}); err != nil {
			return ReplyOutput{}, err
		}
		// The link is a capability: it goes into the message only, never
		// into the output, the audit trail or the logs.
		link, expires, err := h.exports.Link(ctx, id)
		if err != nil {
			return ReplyOutput{}, &ServiceUnavailable{RequestID: id, Op: "link export package", Err: err}
		}
		content.ExportLink, content.ExportExpires = link, expires
	}
	if r.Kind.ErasesData() && !deferred {
		purge, err := h.purgeWindow(ctx, id)
		if err != nil {
			return ReplyOutput{}, err
		}
		out.WaitForBackups, out.PurgeAfter, content.BackupsGoneBy = true, &purge, &purge
	}
	if _, _, err := h.move(ctx, "reply", id, dsr.StatusReplied, []dsr.Status{dsr.StatusInProgress, dsr.StatusEscalated}, nil); err != nil {
		return ReplyOutput{}, err
	}
	if err := h.sendOnce(ctx, ActorReply, notify.Reply(id, to, l, content, h.team)); err != nil {
		return ReplyOutput{}, err
	}
	data := outcomeCounts(content)
	data["locale"] = string(l)
	if out.PurgeAfter != nil {
		data["purgeAfter"] = out.PurgeAfter.Format(time.RFC3339)
	}
	if deferred {
		data["deferred"] = string(hold.Reason)
	}
	if err := h.audit(ctx, id, "replied", ActorReply, data); err != nil {
		return ReplyOutput{}, err
	}
	if out.WaitForBackups {
		if _, _, err := h.move(ctx, "reply", id, dsr.StatusAwaitingBackupRotation, []dsr.Status{dsr.StatusReplied}, nil); err != nil {
			return ReplyOutput{}, err
		}
	}
	h.log().InfoContext(ctx, "replied", "requestId", id, "kind", string(r.Kind))
	return out, h.answerReply(ctx, id, in.TaskToken, out)
}

// replyPartial sends the partial reply, escalates the request and waits on
// token until the last partner settles.
func (h *Handlers) replyPartial(ctx context.Context, r *dsr.Request, to dsr.Contact, content notify.ReplyContent, token string) (ReplyOutput, error) {
	id := r.ID
	if err := h.store.PutTaskToken(ctx, id, partner.ReplyWait, token); err != nil {
		return ReplyOutput{}, named(id, "store reply token", err)
	}
	_, moved, err := h.move(ctx, "reply partially", id, dsr.StatusEscalated, []dsr.Status{dsr.StatusInProgress}, nil)
	if err != nil {
		return ReplyOutput{}, err
	}
	if err := h.sendOnce(ctx, ActorReply, notify.Reply(id, to, locale(r), content, h.team)); err != nil {
		return ReplyOutput{}, err
	}
	if moved {
		data := outcomeCounts(content)
		if err := h.audit(ctx, id, "replied_partially", ActorReply, data); err != nil {
			return ReplyOutput{}, err
		}
		h.log().WarnContext(ctx, "reply waits for partners", "requestId", id, "pending", data["pending"])
	}
	// The last partner may have settled while the token was being stored:
	// then nobody else will wake the state.
	if _, err := h.partners.ResumeReply(ctx, id); err != nil {
		return ReplyOutput{}, partnerErr(id, "resume reply", err)
	}
	return ReplyOutput{Complete: false}, nil
}

// answerReply answers the Reply state's token with out, and forgets the
// token kept for a resumption.
func (h *Handlers) answerReply(ctx context.Context, id, token string, out ReplyOutput) error {
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	if err := h.answer(ctx, id, token, b); err != nil {
		return err
	}
	if err := h.store.DeleteTaskToken(ctx, id, partner.ReplyWait); err != nil {
		return named(id, "forget reply token", err)
	}
	return nil
}

// replyContent turns the partner tasks into the reply's content: each
// partner's outcome, what is kept as the law requires.
func (h *Handlers) replyContent(r *dsr.Request, tasks []store.PartnerTask, l dsr.Locale) notify.ReplyContent {
	c := notify.ReplyContent{Kind: r.Kind}
	for _, t := range tasks {
		pr := notify.PartnerResult{Name: h.partnerName(t.PartnerID, l), Action: t.Action, Receipt: t.Receipt, Changed: t.Changed}
		switch t.Status {
		case store.PartnerCompleted:
			pr.Outcome = notify.OutcomeActed
			if p, ok := h.partners.Partners().Partner(t.PartnerID); ok && partner.Action(t.Action).Erases() {
				for _, e := range p.RetentionExceptions {
					pr.Kept = append(pr.Kept, e.Text.In(l))
				}
			}
		case store.PartnerNoData:
			pr.Outcome = notify.OutcomeNoData
		case store.PartnerSettledByOperator:
			pr.Outcome, pr.Note = notify.OutcomeSettled, PartnerSettlement(t.OperatorReason).Text(l)
		default:
			pr.Outcome = notify.OutcomePending
		}
		c.Partners = append(c.Partners, pr)
	}
	for _, e := range h.policy.exceptions(r.Kind) {
		c.Kept = append(c.Kept, notify.Exception{What: e.What[l], Reason: e.Reason[l]})
	}
	return c
}

func outcomeCounts(c notify.ReplyContent) map[string]string {
	n := map[notify.Outcome]int{}
	for _, p := range c.Partners {
		n[p.Outcome]++
	}
	return map[string]string{
		"acted": itoa(n[notify.OutcomeActed]), "noData": itoa(n[notify.OutcomeNoData]),
		"pending": itoa(n[notify.OutcomePending]), "settled": itoa(n[notify.OutcomeSettled]),
	}
}

// purgeWindow is when every backup that may hold an erasure's data has
// rotated out: the partners' window (partner.Dispatcher.BackupWindow: the
// last live deletion plus the longest backup retention among the partners
// that deleted data), and no earlier than our own backups' rotation
// (Policy.BackupRotation after the deletion: the request table's
// point-in-time recovery).
func (h *Handlers) purgeWindow(ctx context.Context, id string) (time.Time, error) {
	w, err := h.partners.BackupWindow(ctx, partner.BackupWindowInput{RequestID: id})
	if err != nil {
		return time.Time{}, partnerErr(id, "backup window", err)
	}
	rot := h.policy.BackupRotation
	if rot <= 0 {
		rot = DefaultPolicy().BackupRotation
	}
	purge := w.PurgeAfter
	if own := w.DeletedAt.Add(rot); own.After(purge) {
		purge = own
	}
	return purge.UTC().Truncate(time.Second), nil
}

// PartnerSettlement is why an operator settled a partner outside the
// protocol (store.PartnerTask.OperatorReason).
type PartnerSettlement string

// Settlements an operator may record for an escalated partner.
const (
	// SettledConfirmedOffline: the partner confirmed the action another
	// way (in writing, by phone) and the operator recorded its reference.
	SettledConfirmedOffline PartnerSettlement = "confirmed_offline"
	// SettledNoData: the partner confirmed it holds no data for the person.
	SettledNoData PartnerSettlement = "confirmed_no_data"
	// SettledPartnerGone: the partner no longer exists or processes data
	// for us; its data was returned or destroyed under the contract.
	SettledPartnerGone PartnerSettlement = "partner_terminated"
)

// Settlements lists the settlements, for the console and the CLI.
func Settlements() []PartnerSettlement {
	return []PartnerSettlement{SettledConfirmedOffline, SettledNoData, SettledPartnerGone}
}

// Valid reports whether s is a known settlement.
func (s PartnerSettlement) Valid() bool {
	for _, x := range Settlements() {
		if x == s {
			return true
		}
	}
	return false
}

// Text is the settlement as the requester reads it.
func (s PartnerSettlement) Text(l dsr.Locale) string {
	en := l == dsr.LocaleEn
	switch s {
	case SettledConfirmedOffline:
		if en {
			return "confirmed to our privacy team in writing that it carried out your request"
		}
		return "已书面向我们的隐私团队确认完成您的请求"
	case SettledNoData:
		if en {
			return "confirmed to our privacy team that it holds no personal information about you"
		}
		return "已向我们的隐私团队确认未持有您的个人信息"
	case SettledPartnerGone:
		if en {
			return "no longer processes data for us; under our contract it returned or destroyed the data it held"
		}
		return "已不再为我们处理数据，并已按合同约定返还或销毁其持有的数据"
	}
	return strings.ReplaceAll(string(s), "_", " ")
}
