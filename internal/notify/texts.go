package notify

import (
	"fmt"
	"strings"
	"time"

	"dsrflow/internal/dsr"
	"dsrflow/internal/workday"
)

// Templates, the names in Message.Template.
const (
	TemplateVerificationCode   = "verification_code"
	TemplateVerificationLocked = "verification_locked"
	TemplateExpired            = "expired"
	TemplateRefused            = "refused"
	TemplateDuplicate          = "duplicate"
	TemplateReply              = "reply"
	// TemplateReplyPartial is the reply sent while a partner has not acted:
	// what was done, what is still open, and a promise to write again.
	TemplateReplyPartial = "reply_partial"
	// TemplateFinalConfirmation tells the requester an erasure is complete,
	// backups included, with the signed deletion certificate attached.
	TemplateFinalConfirmation = "final_confirmation"
	// TemplateMailReceived acknowledges a mail that a person will read (the
	// privacy mailbox's triage): no request, email only.
	TemplateMailReceived = "mail_received"
)

// chinaTime formats t as the requester reads it: mainland China time.
func chinaTime(t time.Time, l dsr.Locale) string {
	s := t.In(workday.ChinaTime).Format("2006-01-02 15:04")
	if l == dsr.LocaleEn {
		return s + " (China Standard Time, UTC+8)"
	}
	return s + "（北京时间）"
}

func chinaDate(t time.Time) string { return t.In(workday.ChinaTime).Format("2006-01-02") }

func locale(l dsr.Locale) dsr.Locale {
	if l == dsr.LocaleEn {
		return dsr.LocaleEn
	}
	return dsr.LocaleZhCN
}

// Contact is how requesters reach the privacy team, quoted in messages.
type Contact struct {
	// Email is the privacy mailbox (policy 十).
	Email string
}

func (c Contact) or(l dsr.Locale) string {
	if c.Email != "" {
		return c.Email
	}
	if l == dsr.LocaleEn {
		return "our privacy team"
	}
	return "我们的隐私团队"
}

// VerificationCode is the one-time code message. link is the verification
// page (empty: none is quoted).
func VerificationCode(id string, to dsr.Contact, l dsr.Locale, code string, expiresAt time.Time, link string) Message {
	l = locale(l)
	m := Message{RequestID: id, Template: TemplateVerificationCode, To: to, Locale: l}
	var b strings.Builder
	if l == dsr.LocaleEn {
		m.Subject = "Your verification code for privacy request " + id
		fmt.Fprintf(&b, "We received a request about your personal information (reference %s).\n\n", id)
		fmt.Fprintf(&b, "To confirm that it is you, enter this code: %s\n\n", code)
		fmt.Fprintf(&b, "The code is valid until %s. Do not share it with anyone; we will never ask for it by phone.\n", chinaTime(expiresAt, l))
		if link != "" {
			fmt.Fprintf(&b, "Enter the code here: %s\n", link)
		}
		b.WriteString("\nIf you did not make this request, you can ignore this message.\n")
	} else {
		m.Subject = "您的个人信息请求验证码（编号 " + id + "）"
		fmt.Fprintf(&b, "我们收到了一项关于您个人信息的请求（编号 %s）。\n\n", id)
		fmt.Fprintf(&b, "为确认是您本人，请输入验证码：%s\n\n", code)
		fmt.Fprintf(&b, "验证码有效期至 %s。请勿将验证码告知他人，我们不会通过电话向您索取验证码。\n", chinaTime(expiresAt, l))
		if link != "" {
			fmt.Fprintf(&b, "请在此页面输入验证码：%s\n", link)
		}
		b.WriteString("\n如果这不是您提出的请求，请忽略本消息。\n")
	}
	m.Body = b.String()
	m.SMS = smsFor(TemplateVerificationCode, id, l, code, expiresAt)
	return m
}

// VerificationLocked tells the requester that too many wrong codes were
// entered and what to do next.
func VerificationLocked(id string, to dsr.Contact, l dsr.Locale, resendsLeft int, link string, team Contact) Message {
	l = locale(l)
	m := Message{RequestID: id, Template: TemplateVerificationLocked, To: to, Locale: l}
	m.Body = LockedText(l, resendsLeft, team)
	if link != "" {
		if l == dsr.LocaleEn {
			m.Body += "\nVerification page: " + link + "\n"
		} else {
			m.Body += "\n验证页面：" + link + "\n"
		}
	}
	if l == dsr.LocaleEn {
		m.Subject = "Verification locked for privacy request " + id
	} else {
		m.Subject = "您的个人信息请求（编号 " + id + "）验证已锁定"
	}
	m.SMS = smsFor(TemplateVerificationLocked, id, l, "", time.Time{})
	return m
}

// LockedText says what to do once verification is locked: ask for a new
// code while resends are left, otherwise contact the privacy team.
func LockedText(l dsr.Locale, resendsLeft int, team Contact) string {
	if locale(l) == dsr.LocaleEn {
		s := "The verification code was entered wrongly too many times, so it no longer works.\n"
		if resendsLeft > 0 {
			return s + fmt.Sprintf("Please ask for a new code on the verification page (%d more may be sent), or contact %s.\n", resendsLeft, team.or(l))
		}
		return s + fmt.Sprintf("No more codes can be sent. Please contact %s to verify your identity another way.\n", team.or(l))
	}
	s := "验证码输入错误次数过多，该验证码已失效。\n"
	if resendsLeft > 0 {
		return s + fmt.Sprintf("请在验证页面重新获取验证码（还可获取 %d 次），或联系%s。\n", resendsLeft, team.or(l))
	}
	return s + fmt.Sprintf("验证码已无法再次发送。请联系%s，以其他方式验证您的身份。\n", team.or(l))
}

// Expired tells the requester that their request lapsed because identity
// was not verified in time.
func Expired(id string, to dsr.Contact, l dsr.Locale, days int, team Contact) Message {
	l = locale(l)
	m := Message{RequestID: id, Template: TemplateExpired, To: to, Locale: l}
	if l == dsr.LocaleEn {
		m.Subject = "Your privacy request " + id + " has expired"
		m.Body = fmt.Sprintf("Thank you for contacting us. We could not confirm your identity within %d days, so we have closed request %s without acting on it.\n\n"+
			"You are welcome to make a new request at any time. If you need help, please contact %s.\n", days, id, team.or(l))
	} else {
		m.Subject = "您的个人信息请求（编号 " + id + "）已过期"
		m.Body = fmt.Sprintf("感谢您与我们联系。由于在 %d 天内未能完成身份验证，我们已关闭编号为 %s 的请求，未对其进行处理。\n\n"+
			"您可以随时重新提交请求。如需帮助，请联系%s。\n", days, id, team.or(l))
	}
	m.SMS = smsFor(TemplateExpired, id, l, "", time.Time{})
	return m
}

// Refused tells the requester that the request is refused, and why (PIPL art. 50).
//
// A reason that must not be disclosed (reason.Undisclosed: national
// security, criminal proceedings) is never named: the message gives the
// neutral text dsr.NeutralRefusal under the umbrella clause 五.5, with no
// code, and reads the same for every such reason, so that it cannot tip off
// the person an investigation is about. The real reason stays on the request
// and in its audit chain.
func Refused(id string, to dsr.Contact, l dsr.Locale, kind dsr.Kind, reason dsr.RefusalReason, team Contact) Message {
	l = locale(l)
	m := Message{RequestID: id, Template: TemplateRefused, To: to, Locale: l}
	// why is the reason line's text in parentheses: the clause, and the
	// code of a reason that may be told.
	why := reason.Policy() + "；代码 " + string(reason)
	if l == dsr.LocaleEn {
		why = reason.Policy() + "; code " + string(reason)
	}
	if reason.Undisclosed() {
		why = dsr.NeutralPolicy
	}
	if l == dsr.LocaleEn {
		m.Subject = "Your privacy request " + id + " could not be carried out"
		m.Body = fmt.Sprintf("We have reviewed your request %s (%s) and cannot carry it out.\n\n"+
			"Reason: %s (privacy policy %s)\n\n"+
			"If you disagree, or can give us more information, please contact %s.\n",
			id, kind.Text(l), reason.Text(l), why, team.or(l))
	} else {
		m.Subject = "您的个人信息请求（编号 " + id + "）未能处理"
		m.Body = fmt.Sprintf("我们已审核您编号为 %s 的请求（%s），但无法予以处理。\n\n"+
			"原因：%s（隐私政策 %s）\n\n"+
			"如您有异议或可以补充信息，请联系%s。\n",
			id, kind.Text(l), reason.Text(l), why, team.or(l))
	}
	m.SMS = smsFor(TemplateRefused, id, l, "", time.Time{})
	return m
}

// Duplicate tells the requester that an open request already covers this one.
func Duplicate(id string, to dsr.Contact, l dsr.Locale, kind dsr.Kind, linkedID string, team Contact) Message {
	l = locale(l)
	m := Message{RequestID: id, Template: TemplateDuplicate, To: to, Locale: l}
	if l == dsr.LocaleEn {
		m.Subject = "Your privacy request " + id + " is already being handled"
		m.Body = fmt.Sprintf("You already have an open request of the same kind (%s): %s. We are handling it, so request %s has been closed as a duplicate and you do not need to do anything.\n\n"+
			"We will answer you under request %s. If you have questions, please contact %s.\n",
			kind.Text(l), linkedID, id, linkedID, team.or(l))
	} else {
		m.Subject = "您的个人信息请求（编号 " + id + "）已在处理中"
		m.Body = fmt.Sprintf("您已有一项同类（%s）且尚在处理中的请求：%s。我们正在处理该请求，因此编号为 %s 的请求作为重复请求关闭，您无需进行任何操作。\n\n"+
			"我们将在请求 %s 下答复您。如有疑问，请联系%s。\n",
			kind.Text(l), linkedID, id, linkedID, team.or(l))
	}
	m.SMS = smsFor(TemplateDuplicate, id, l, "", time.Time{})
	return m
}

// MailReceived acknowledges a message to the privacy mailbox that a person
// will read. It belongs to no request and repeats nothing of the message (a
// forged sender must not be able to relay text through it); the mailbox
// sends it at most once per sender and window, and only to an
// authenticated sender.
func MailReceived(to dsr.Contact, l dsr.Locale, team Contact) Message {
	l = locale(l)
	m := Message{Template: TemplateMailReceived, To: to, Locale: l}
	if l == dsr.LocaleEn {
		m.Subject = "We have received your message"
		m.Body = "Thank you for writing to our privacy team. This automatic message confirms that your message has arrived; a member of the team will read it and answer you if it needs an answer.\n\n" +
			"To ask for a copy of your personal information, a correction, its deletion, the withdrawal of a consent or the closing of your account, say which in your message, or use the privacy center in the app.\n\n" +
			"If you need help, please contact " + team.or(l) + ".\n"
	} else {
		m.Subject = "我们已收到您的邮件"
		m.Body = "感谢您联系我们的隐私团队。本邮件为自动确认：您的邮件已送达，团队成员将会阅读，如需答复，我们会回复您。\n\n" +
			"如您希望获取个人信息副本、更正、删除个人信息、撤回同意或注销账号，请在邮件中写明您的请求，或在应用内的隐私中心提交。\n\n" +
			"如需帮助，请联系" + team.or(l) + "。\n"
	}
	return m
}
