package workflow

import (
	"context"
	"strings"
	"time"

	"dsrflow/internal/dsr"
	"dsrflow/internal/legalhold"
	"dsrflow/internal/notify"
	"dsrflow/internal/store"
	"dsrflow/internal/workday"
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
	// Escalated lists the partners that failed (the reply says so; an
	// operator follows up with `dsr retry`).
	Escalated []string `json:"escalated,omitempty"`
	// ExportLinked is true when the reply carries the link to an export
	// package (the link itself is in the message only).
	ExportLinked bool `json:"exportLinked,omitempty"`
}

// exportLine offers the export package by its time-limited link.
func exportLine(l dsr.Locale, link string, expires time.Time) string {
	at := expires.In(workday.ChinaTime).Format("2006-01-02 15:04")
	if l == dsr.LocaleEn {
		return "Your data package (JSON, with a readable HTML page) can be downloaded until " + at + " (China time): " + link
	}
	return "您的个人信息副本（JSON 格式，附可直接阅读的 HTML 页面）可在 " + at + "（北京时间）前通过以下链接下载：" + link
}

// done lists what was done for a kind, in general terms, in the requester's
// language; the partners' own results follow it line by line.
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
// was done where (each partner's result, what a correction or consent
// withdrawal changed), what could not be done and why (retention
// exceptions, partners that failed, a legal hold deferring erasure), the
// export package's time-limited link for access and portability, and, for
// erasure, the date by which backups will have rotated out. The request moves to replied, and erasure and account
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
	tasks, err := h.Store.ListPartnerTasks(ctx, id)
	if err != nil {
		return ReplyOutput{}, named(id, "list partner tasks", err)
	}
	partnerDone, partnerNotDone := h.partnerResults(tasks, l)
	content.Done = append(content.Done, partnerDone...)
	for _, e := range h.Policy.exceptions(r.Kind) {
		content.NotDone = append(content.NotDone, notify.Exception{What: e.What[l], Reason: e.Reason[l]})
	}
	content.NotDone = append(content.NotDone, partnerNotDone...)
	out.Exceptions = len(content.NotDone)
	for _, t := range tasks {
		if t.Status == store.PartnerFailed || t.Status == store.PartnerEscalated {
			out.Escalated = append(out.Escalated, t.PartnerID)
		}
	}
	if (r.Kind == dsr.KindAccess || r.Kind == dsr.KindPortability) && h.Exports != nil {
		// The link is a capability: it goes into the message only, never
		// into the output, the audit trail or the logs.
		link, expires, err := h.Exports.Link(ctx, id)
		if err != nil {
			return ReplyOutput{}, &ServiceUnavailable{RequestID: id, Op: "link export package", Err: err}
		}
		content.Done = append(content.Done, exportLine(l, link, expires))
		out.ExportLinked = true
	}
	if out.Deferred {
		content.Deferred = hold.Reason.Text(l)
	} else if r.Kind.ErasesData() {
		purge, err := h.purgeWindow(ctx, id)
		if err != nil {
			return ReplyOutput{}, err
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
	}
	if out.Deferred {
		data["deferred"] = string(hold.Reason)
	}
	if len(out.Escalated) > 0 {
		data["escalatedPartners"] = strings.Join(out.Escalated, ",")
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
