package notify

import (
	"fmt"
	"time"

	"dsrflow/internal/dsr"
	"dsrflow/internal/workday"
)

// SMSContent is the text message form of a Message: what a requester who
// gave only a phone number receives. It carries the code, the request
// reference and, when the caller adds one, the status link, never what the
// request is about (its kind, its details, a refusal reason, a reply's
// content): those are on the status page behind the requester's token.
//
// Texts are written to fit one SMS where possible: in Chinese at most
// SMSMaxZhText characters, leaving room for the sender signature
// (【…】, added by the provider) within the 70 characters of one UCS-2 SMS;
// in English GSM-7 characters only, at most SMSMaxEnText, leaving room for
// a sender name within the 160 characters of one GSM-7 SMS. A status link
// (WithStatusLink) makes a message longer than one SMS; it is the
// caller's choice.
type SMSContent struct {
	// Template is the provider template the text corresponds to: the
	// message template's name ("verification_code", "reply", ...). The
	// Alibaba Cloud client maps it to a registered TemplateCode.
	Template string
	// Text is the whole message as sent by providers that take free text
	// (AWS End User Messaging) and as written to the outbox; without the
	// sender signature.
	Text string
	// Params are the values of the provider template's variables, for
	// providers that send registered templates (Alibaba Cloud SMS): "code"
	// for the one-time code, "ref" for the request reference, "link" for
	// the status link when one was added.
	Params map[string]string
}

// Sizes of SMS texts, in characters (runes): see SMSContent.
const (
	// SMSMaxZhText leaves 10 characters of the 70 of one UCS-2 SMS for
	// the signature 【…】 that the provider puts in front.
	SMSMaxZhText = 60
	// SMSMaxEnText leaves 25 characters of the 160 of one GSM-7 SMS for a
	// sender name ("Example Music: ").
	SMSMaxEnText = 135
)

// SMSTemplates lists the message templates that have an SMS form: the
// templates a provider with registered templates must map.
func SMSTemplates() []string {
	return []string{TemplateVerificationCode, TemplateVerificationLocked, TemplateExpired, TemplateRefused, TemplateDuplicate, TemplateReply, TemplateReplyPartial, TemplateFinalConfirmation}
}

// smsFor is the SMS form of a message of template tmpl about request id;
// code is set only for verification_code.
func smsFor(tmpl, id string, l dsr.Locale, code string, expiresAt time.Time) SMSContent {
	en := locale(l) == dsr.LocaleEn
	s := SMSContent{Template: tmpl, Params: map[string]string{}}
	pick := func(zh, english string) string {
		if en {
			return english
		}
		return zh
	}
	switch tmpl {
	case TemplateVerificationCode:
		hm := expiresAt.In(workday.ChinaTime).Format("15:04")
		s.Params["code"] = code
		s.Text = pick(
			fmt.Sprintf("验证码：%s，用于核验您的个人信息请求，%s前有效，请勿告知他人。", code, hm),
			fmt.Sprintf("Enter this code: %s to verify your privacy request. Valid until %s China time (UTC+8). Never share it.", code, hm))
		return s
	case TemplateVerificationLocked:
		s.Text = pick(
			fmt.Sprintf("个人信息请求%s的验证码输错次数过多，已失效，请重新获取或联系我们。", id),
			fmt.Sprintf("Privacy request %s: too many wrong codes, so the code no longer works. Ask for a new one or contact us.", id))
	case TemplateExpired:
		s.Text = pick(
			fmt.Sprintf("个人信息请求%s未在期限内完成验证，已关闭。您可随时重新提交。", id),
			fmt.Sprintf("Privacy request %s was closed as your identity was not verified in time. You may make a new one at any time.", id))
	case TemplateRefused:
		s.Text = pick(
			fmt.Sprintf("个人信息请求%s未能处理，原因请查看请求状态页面。", id),
			fmt.Sprintf("We could not carry out privacy request %s. The reason is on the request's status page.", id))
	case TemplateDuplicate:
		s.Text = pick(
			fmt.Sprintf("个人信息请求%s与您在处理中的请求重复，已关闭，无需操作。", id),
			fmt.Sprintf("Privacy request %s repeats one of yours that we are handling, so it was closed. You need not do anything.", id))
	case TemplateReply:
		s.Text = pick(
			fmt.Sprintf("个人信息请求%s已处理完毕，答复请查看请求状态页面。", id),
			fmt.Sprintf("We have answered privacy request %s. Our answer is on the request's status page.", id))
	case TemplateReplyPartial:
		s.Text = pick(
			fmt.Sprintf("个人信息请求%s部分已完成，其余完成后我们会再通知您。", id),
			fmt.Sprintf("Privacy request %s is partly done; we will write again when the rest is done.", id))
	case TemplateFinalConfirmation:
		s.Text = pick(
			fmt.Sprintf("个人信息请求%s已全部完成，备份也已删除。", id),
			fmt.Sprintf("Privacy request %s is complete; the backups are deleted too.", id))
	default:
		return SMSContent{}
	}
	s.Params["ref"] = id
	return s
}

// WithStatusLink returns m with link (the request's status page, with its
// token) added to its SMS text and to its SMS parameters as "link". The
// email body is unchanged: it already says what the status page would. A
// link makes the SMS longer than one message; without it the SMS points
// to the status page by name. An empty link, or a message without an SMS
// form, returns m as it is.
func (m Message) WithStatusLink(link string) Message {
	if link == "" || m.SMS.Text == "" {
		return m
	}
	params := make(map[string]string, len(m.SMS.Params)+1)
	for k, v := range m.SMS.Params {
		params[k] = v
	}
	params["link"] = link
	sep := " "
	if locale(m.Locale) != dsr.LocaleEn {
		sep = "详见："
	}
	m.SMS = SMSContent{Template: m.SMS.Template, Text: m.SMS.Text + sep + link, Params: params}
	return m
}

// SMSFor is the SMS form of a message of template tmpl about request id
// that carries no code (for messages built outside this package).
func SMSFor(tmpl, id string, l dsr.Locale) SMSContent {
	return smsFor(tmpl, id, l, "", time.Time{})
}
