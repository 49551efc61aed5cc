package notify

import (
	"fmt"
	"strings"
	"time"

	"dsrflow/internal/dsr"
)

// Outcome is what one partner did about a request, as the reply states it.
// Replies are built from outcomes only (docs/ARCHITECTURE.md, rule 8):
// never "deleted" or "stopped" for a partner that did not act, and no raw
// error code ever reaches the requester.
type Outcome string

const (
	// OutcomeActed: the partner did what was asked (deleted, exported,
	// corrected, recorded the consent withdrawal, closed the account).
	OutcomeActed Outcome = "acted"
	// OutcomeNoData: the partner holds no data for this person (the
	// verified identity has none of the identifiers it keeps data under).
	OutcomeNoData Outcome = "no_data"
	// OutcomePending: the partner has not acted yet (it failed or was
	// escalated); we follow up and write again.
	OutcomePending Outcome = "pending"
	// OutcomeSettled: an operator recorded how it was settled (Note says
	// how, in the requester's language).
	OutcomeSettled Outcome = "settled"
)

// PartnerResult is one partner's line in a reply.
type PartnerResult struct {
	// Name is the partner's display name in the requester's language.
	Name    string
	Action  string // erase, close_account, export, correct, withdraw_consent
	Outcome Outcome
	Receipt string
	// Changed lists the fields changed (correct, withdraw_consent).
	Changed []string
	// Note explains an operator's settlement.
	Note string
	// Kept lists what the partner keeps despite an erasure because a law
	// requires it (its retention exceptions), in the requester's language.
	Kept []string
}

// Exception is something we keep despite the request, and why.
type Exception struct {
	What   string
	Reason string
}

// ReplyContent is what a reply states.
type ReplyContent struct {
	Kind dsr.Kind
	// Partners are the partners the request reached, with their outcomes.
	Partners []PartnerResult
	// Kept lists what we keep ourselves despite the request (the record of
	// the request for regulators, network logs).
	Kept []Exception
	// ExportLink and ExportExpires offer the export package (access,
	// portability); the link is a capability and appears only here.
	ExportLink    string
	ExportExpires time.Time
	// BackupsGoneBy, for an erasure every partner acted on, is the date by
	// which every backup holding the data will have rotated out.
	BackupsGoneBy *time.Time
	// Deferred, when not empty, is why erasure is deferred (a legal hold).
	Deferred string
}

// Complete reports whether every partner's outcome is final (no pending).
func (c ReplyContent) Complete() bool {
	for _, p := range c.Partners {
		if p.Outcome == OutcomePending {
			return false
		}
	}
	return true
}

func (c ReplyContent) count(o Outcome) int {
	n := 0
	for _, p := range c.Partners {
		if p.Outcome == o {
			n++
		}
	}
	return n
}

// actedText is what a partner that acted did, in l.
func actedText(action string, l dsr.Locale) string {
	en := l == dsr.LocaleEn
	pick := func(zh, e string) string {
		if en {
			return e
		}
		return zh
	}
	switch action {
	case "erase":
		return pick("已删除您的个人信息", "deleted your personal information")
	case "close_account":
		return pick("已注销您的账户并删除其中的个人信息", "closed your account and deleted the personal information in it")
	case "export":
		return pick("已提供其持有的您的个人信息副本", "provided a copy of the personal information it holds about you")
	case "correct":
		return pick("已更正您的个人信息", "corrected your personal information")
	case "withdraw_consent":
		return pick("已记录您撤回的授权，并停止相应处理", "recorded your consent withdrawal and stopped that processing")
	}
	return action
}

// summary is the reply's opening, from the outcomes alone.
func summary(c ReplyContent, l dsr.Locale) string {
	acted, none, pending := c.count(OutcomeActed), c.count(OutcomeNoData), c.count(OutcomePending)
	settled := c.count(OutcomeSettled)
	en := l == dsr.LocaleEn
	switch {
	case len(c.Partners) == 0 && c.Deferred != "":
		if en {
			return "Erasure of your personal information is deferred; no system was asked to delete it yet."
		}
		return "您的个人信息删除暂缓执行，目前尚未要求任何系统删除。"
	case len(c.Partners) == 0, acted == 0 && settled == 0 && pending == 0:
		if en {
			return "None of our systems or partners holds personal information under the identity you verified, so there was nothing to " + verb(c.Kind, l) + "."
		}
		return "我们及合作方均未持有与您已验证身份相关的个人信息，因此没有需要" + verb(c.Kind, l) + "的内容。"
	}
	if en {
		s := fmt.Sprintf("Of the %d systems that may hold your personal information, %d acted on your request", len(c.Partners), acted)
		if none > 0 {
			s += fmt.Sprintf(", %d hold none", none)
		}
		if settled > 0 {
			s += fmt.Sprintf(", %d were settled by our privacy team", settled)
		}
		if pending > 0 {
			s += fmt.Sprintf(", and %d have not confirmed yet", pending)
		}
		return s + "."
	}
	s := fmt.Sprintf("在可能持有您个人信息的 %d 个系统中，%d 个已按您的请求处理", len(c.Partners), acted)
	if none > 0 {
		s += fmt.Sprintf("，%d 个未持有您的个人信息", none)
	}
	if settled > 0 {
		s += fmt.Sprintf("，%d 个已由我们的隐私团队处理完毕", settled)
	}
	if pending > 0 {
		s += fmt.Sprintf("，%d 个尚未确认完成", pending)
	}
	return s + "。"
}

// verb is what the kind asks, as a verb phrase.
func verb(k dsr.Kind, l dsr.Locale) string {
	en := l == dsr.LocaleEn
	switch k {
	case dsr.KindErasure, dsr.KindAccountClosure:
		if en {
			return "delete"
		}
		return "删除"
	case dsr.KindAccess, dsr.KindPortability:
		if en {
			return "send you"
		}
		return "提供"
	case dsr.KindCorrection:
		if en {
			return "correct"
		}
		return "更正"
	case dsr.KindConsentWithdrawal:
		if en {
			return "stop"
		}
		return "停止处理"
	}
	if en {
		return "do"
	}
	return "处理"
}

// Reply is the answer to a request (policy 五.5), in the requester's
// language, built from the partners' outcomes. A content with a pending
// partner is the partial reply (TemplateReplyPartial): it says what is open
// and that we will write again; otherwise the reply (TemplateReply).
func Reply(id string, to dsr.Contact, l dsr.Locale, c ReplyContent, team Contact) Message {
	l = locale(l)
	complete := c.Complete()
	m := Message{RequestID: id, Template: TemplateReply, To: to, Locale: l}
	if !complete {
		m.Template = TemplateReplyPartial
	}
	en := l == dsr.LocaleEn
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	if en {
		if complete {
			m.Subject = "Our answer to your privacy request " + id
			line("We have handled your request %s (%s).\n\n", id, c.Kind.Text(l))
		} else {
			m.Subject = "An update on your privacy request " + id
			line("We are still handling your request %s (%s): part of it is done, part is not yet.\n\n", id, c.Kind.Text(l))
		}
	} else {
		if complete {
			m.Subject = "关于您的个人信息请求（编号 " + id + "）的答复"
			line("我们已处理您编号为 %s 的请求（%s）。\n\n", id, c.Kind.Text(l))
		} else {
			m.Subject = "您的个人信息请求（编号 " + id + "）的处理进展"
			line("您编号为 %s 的请求（%s）仍在处理中：部分已完成，部分尚未完成。\n\n", id, c.Kind.Text(l))
		}
	}
	line("%s\n", summary(c, l))
	section := func(title string, o Outcome, text func(PartnerResult) string) {
		first := true
		for _, p := range c.Partners {
			if p.Outcome != o {
				continue
			}
			if first {
				line("\n%s\n", title)
				first = false
			}
			line("- %s%s%s\n", p.Name, pick(en, "：", ": "), text(p))
		}
	}
	section(pick(en, "已完成的处理：", "Done:"), OutcomeActed, func(p PartnerResult) string {
		s := actedText(p.Action, l)
		if len(p.Changed) > 0 {
			s += pick(en, "（变更项："+strings.Join(p.Changed, "、")+"）", " (changed: "+strings.Join(p.Changed, ", ")+")")
		}
		if p.Receipt != "" {
			s += pick(en, "，回执编号 ", "; receipt ") + p.Receipt
		}
		return s
	})
	section(pick(en, "由我们的隐私团队处理完毕：", "Settled by our privacy team:"), OutcomeSettled, func(p PartnerResult) string { return p.Note })
	section(pick(en, "未持有您的个人信息：", "Hold no personal information about you:"), OutcomeNoData, func(PartnerResult) string {
		return pick(en, "按您已验证的身份查询，未持有您的个人信息", "holds none under the identity you verified")
	})
	section(pick(en, "尚未完成：", "Not done yet:"), OutcomePending, func(PartnerResult) string {
		return pick(en, "尚未确认完成，我们正在跟进，完成后会再通知您", "has not confirmed yet; we are following up and will write to you again when it has")
	})
	if c.ExportLink != "" {
		at := chinaTime(c.ExportExpires, l)
		if en {
			line("\nYour data package (JSON, with a readable HTML page) can be downloaded until %s: %s\n", at, c.ExportLink)
		} else {
			line("\n您的个人信息副本（JSON 格式，附可直接阅读的 HTML 页面）可在 %s 前通过以下链接下载：%s\n", at, c.ExportLink)
		}
	}
	var kept []Exception
	for _, p := range c.Partners {
		if p.Outcome == OutcomeActed {
			for _, k := range p.Kept {
				kept = append(kept, Exception{What: p.Name, Reason: k})
			}
		}
	}
	kept = append(kept, c.Kept...)
	if len(kept) > 0 {
		line("\n%s\n", pick(en, "依法保留的信息及原因：", "What is kept as the law requires, and why:"))
		for _, e := range kept {
			line("- %s%s%s\n", e.What, pick(en, "：", ": "), e.Reason)
		}
	}
	if c.Deferred != "" {
		line("\n%s%s\n", pick(en, "删除暂缓执行：", "Erasure is deferred: "), c.Deferred)
	}
	if c.BackupsGoneBy != nil && complete {
		if en {
			line("\nCopies in backups are deleted when the backups are refreshed; every backup that may hold your data will have rotated out by %s. We will confirm it then.\n", chinaDate(*c.BackupsGoneBy))
		} else {
			line("\n备份中的副本将在备份更新时删除；所有可能包含您数据的备份将于 %s 前完成轮换，届时我们会再次向您确认。\n", chinaDate(*c.BackupsGoneBy))
		}
	}
	if en {
		line("\nIf you have questions, please contact %s.\n", team.or(l))
	} else {
		line("\n如有疑问，请联系%s。\n", team.or(l))
	}
	m.Body = b.String()
	m.SMS = smsFor(m.Template, id, l, "", time.Time{})
	return m
}

func pick(en bool, zh, e string) string {
	if en {
		return e
	}
	return zh
}
