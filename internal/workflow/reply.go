package workflow

import (
	"context"
	"time"

	"dsrflow/internal/dsr"
	"dsrflow/internal/legalhold"
	"dsrflow/internal/notify"
)

// ReplyOutput is the state after Reply.
type ReplyOutput struct {
	RepliedAt time.Time `json:"repliedAt"`
	// PurgeAfter, for erasure and account closure, is when every backup that
	// may hold the data has rotated out; the workflow waits until then.
	// Absent for other kinds, and when a legal hold defers erasure.
	PurgeAfter *time.Time `json:"purgeAfter,omitempty"`
	// Exceptions counts the retention exceptions stated in the reply.
	Exceptions int `json:"exceptions"`
	// Deferred is true when a legal hold defers erasure.
	Deferred bool `json:"deferred"`
}

// done lists what was done for a kind, in the requester's language. Until
// the partner fan-out (issue 6) reports per-partner results, it states what
// the workflow itself carried out.
func done(k dsr.Kind, l dsr.Locale, deferred bool) []string {
	en := l == dsr.LocaleEn
	pick := func(zh, e string) string {
		if en {
			return e
		}
		return zh
	}
	switch k {
	case dsr.KindAccess:
		return []string{pick("我们已汇总我们及我们的合作方所持有的您的个人信息副本。", "We have compiled a copy of the personal information that we and our partners hold about you.")}
	case dsr.KindPortability:
		return []string{pick("我们已按通用的机器可读格式导出您的个人信息副本。", "We have exported a copy of your personal information in a common machine-readable format.")}
	case dsr.KindCorrection:
		return []string{pick("我们已按您的要求更正您的个人信息，并通知了从我们处获得这些信息的合作方。", "We have corrected your personal information as you asked, and told the partners who received it from us.")}
	case dsr.KindConsentWithdrawal:
		return []string{pick("我们已停止基于您所撤回授权的处理，撤回不影响此前基于授权已进行的处理。", "We have stopped the processing you withdrew consent for; this does not affect processing carried out before the withdrawal.")}
	case dsr.KindErasure, dsr.KindAccountClosure:
		var out []string
		if k == dsr.KindAccountClosure {
			out = append(out, pick("我们已注销您的账户。", "We have closed your account."))
		}
		if deferred {
			return append(out, pick("我们已停止除存储和必要的安全保护措施之外的处理。", "We have stopped all processing other than storage and necessary security measures."))
		}
		return append(out,
			pick("我们已从在线系统中删除您的个人信息。", "We have deleted your personal information from our live systems."),
			pick("我们已通知从我们处获得您个人信息的实体，要求其及时删除。", "We have told the parties who received your personal information from us to delete it promptly."))
	}
	return nil
}

// Reply answers the request in the requester's language (policy 五.5): what
// was done, what could not be done and why (retention exceptions, a legal
// hold deferring erasure), and, for erasure, the date by which backups will
// have rotated out. The request moves to replied, and erasure and account
// closure on to awaiting_backup_rotation.
func (h *Handlers) Reply(ctx context.Context, in RequestInput) (ReplyOutput, error) {
	if err := checkID(in.RequestID); err != nil {
		return ReplyOutput{}, err
	}
	id := in.RequestID
	r, err := h.Store.GetRequest(ctx, id)
	if err != nil {
		return ReplyOutput{}, named(id, "reply", err)
	}
	hold, err := h.Holds.Find(ctx, r.SubjectKeys)
	if err != nil {
		return ReplyOutput{}, named(id, "look up legal holds", err)
	}
	now := h.now()
	l := locale(r)
	out := ReplyOutput{RepliedAt: now}
	out.Deferred = r.Kind.ErasesData() && hold != nil && hold.Action == legalhold.ActionDeferErasure
	content := notify.ReplyContent{Kind: r.Kind, Done: done(r.Kind, l, out.Deferred)}
	for _, e := range h.Policy.exceptions(r.Kind) {
		content.NotDone = append(content.NotDone, notify.Exception{What: e.What[l], Reason: e.Reason[l]})
	}
	out.Exceptions = len(content.NotDone)
	if out.Deferred {
		content.Deferred = hold.Reason.Text(l)
	} else if r.Kind.ErasesData() {
		purge := now.Add(h.Policy.BackupRotation).Truncate(time.Second)
		if h.Policy.BackupRotation <= 0 {
			purge = now.Add(DefaultPolicy().BackupRotation).Truncate(time.Second)
		}
		out.PurgeAfter, content.BackupsGoneBy = &purge, &purge
	}

	if _, _, err := h.move(ctx, "reply", id, dsr.StatusReplied, []dsr.Status{dsr.StatusInProgress}, nil); err != nil {
		var sc *StatusConflict
		// A reply run twice finds the request already waiting for backups.
		if !(asConflict(err, &sc) && sc.Status == dsr.StatusAwaitingBackupRotation && out.PurgeAfter != nil) {
			return ReplyOutput{}, err
		}
	}
	if err := h.sendOnce(ctx, ActorReply, notify.Reply(id, r.Contact, l, content, h.Team)); err != nil {
		return ReplyOutput{}, err
	}
	data := map[string]string{"exceptions": itoa(out.Exceptions), "locale": string(l)}
	if out.PurgeAfter != nil {
		data["purgeAfter"] = out.PurgeAfter.Format(time.RFC3339)
		data["purgeAfterSource"] = "policy placeholder (issue 6: backup systems)"
	}
	if out.Deferred {
		data["deferred"] = string(hold.Reason)
	}
	if err := h.audit(ctx, id, "replied", ActorReply, data); err != nil {
		return ReplyOutput{}, err
	}
	if out.PurgeAfter != nil {
		if _, _, err := h.move(ctx, "reply", id, dsr.StatusAwaitingBackupRotation, []dsr.Status{dsr.StatusReplied}, nil); err != nil {
			return ReplyOutput{}, err
		}
	}
	h.log().InfoContext(ctx, "replied", "requestId", id, "kind", string(r.Kind))
	return out, nil
}
