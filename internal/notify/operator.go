package notify

import (
	"fmt"
	"strings"
	"time"

	"dsrflow/internal/dsr"
)

// Templates of the messages an operator sends from the console. They are
// email only: they have no SMS form (SMSTemplates, whose provider
// templates must be registered ahead), so a requester reachable only by
// phone is contacted another way.
const (
	// TemplateDeadlineExtended tells the requester the reply deadline was
	// extended, by how much and why (GDPR art. 12(3), CCPA
	// §1798.130(a)(2)).
	TemplateDeadlineExtended = "deadline_extended"
	// TemplateMoreInformation asks the requester for documents or
	// details, with a link to the privacy center's form.
	TemplateMoreInformation = "more_information"
)

// InfoNeeded is what an operator asks a requester for.
type InfoNeeded string

const (
	// InfoIdentityDocument: proof of the requester's own identity.
	InfoIdentityDocument InfoNeeded = "identity_document"
	// InfoAuthorityDocument: proof of a guardian's or agent's authority
	// (guardianship, a power of attorney, kinship and death).
	InfoAuthorityDocument InfoNeeded = "authority_document"
	// InfoSubjectIdentifiers: the data subject's account ID, email or
	// phone, so that their data can be found.
	InfoSubjectIdentifiers InfoNeeded = "subject_identifiers"
	// InfoClarification: what the request asks for is unclear.
	InfoClarification InfoNeeded = "clarification"
)

var infoTexts = map[InfoNeeded]dsr.Text{
	InfoIdentityDocument:   {ZhCN: "能够证明您身份的材料（例如身份证件的照片或扫描件）", En: "a document that proves your identity (such as a photo or scan of an identity document)"},
	InfoAuthorityDocument:  {ZhCN: "您有权代其提出请求的证明材料（例如监护关系证明、授权委托书，或亲属关系及死亡证明）", En: "proof that you may act for the person (such as proof of guardianship, a power of attorney, or proof of kinship and of death)"},
	InfoSubjectIdentifiers: {ZhCN: "该数据主体的账户 ID、电子邮件地址或手机号码，以便我们找到其个人信息", En: "the account ID, email address or phone number of the person the request is about, so that we can find their information"},
	InfoClarification:      {ZhCN: "对您请求内容的进一步说明（您希望我们对哪些个人信息做什么）", En: "more detail on what you are asking for (which personal information, and what we should do with it)"},
}

// InfoNeededList lists what may be asked, in the console's order.
func InfoNeededList() []InfoNeeded {
	return []InfoNeeded{InfoIdentityDocument, InfoAuthorityDocument, InfoSubjectIdentifiers, InfoClarification}
}

// Valid reports whether n is known.
func (n InfoNeeded) Valid() bool { _, ok := infoTexts[n]; return ok }

// Text is what is asked for, as the requester reads it.
func (n InfoNeeded) Text(l dsr.Locale) string { return infoTexts[n].In(l) }

// DeadlineExtended tells the requester that the reply to request id is now
// due on due, because of reason (already in the requester's language).
func DeadlineExtended(id string, to dsr.Contact, l dsr.Locale, kind dsr.Kind, due time.Time, reason string, team Contact) Message {
	l = locale(l)
	m := Message{RequestID: id, Template: TemplateDeadlineExtended, To: to, Locale: l}
	if l == dsr.LocaleEn {
		m.Subject = "We need more time for your privacy request " + id
		m.Body = fmt.Sprintf("We are working on your request %s (%s). Because %s, we need more time than usual to answer it.\n\n"+
			"We will reply by %s at the latest.\n\n"+
			"If you have questions, please contact %s.\n",
			id, kind.Text(l), reason, chinaDate(due), team.or(l))
	} else {
		m.Subject = "您的个人信息请求（编号 " + id + "）需要延长处理时间"
		m.Body = fmt.Sprintf("我们正在处理您编号为 %s 的请求（%s）。由于%s，我们需要比通常更长的时间答复您。\n\n"+
			"我们将最迟于 %s 前答复您。\n\n"+
			"如有疑问，请联系%s。\n",
			id, kind.Text(l), reason, chinaDate(due), team.or(l))
	}
	return m
}

// MoreInformation asks the requester for what request id still needs,
// with link to the privacy center's form where they add it (empty: they
// reply to this message). paused says the reply deadline waits until
// they answer.
func MoreInformation(id string, to dsr.Contact, l dsr.Locale, kind dsr.Kind, needed []InfoNeeded, link string, paused bool, team Contact) Message {
	l = locale(l)
	m := Message{RequestID: id, Template: TemplateMoreInformation, To: to, Locale: l}
	var b strings.Builder
	if l == dsr.LocaleEn {
		m.Subject = "We need more information for your privacy request " + id
		fmt.Fprintf(&b, "To go on with your request %s (%s), we need:\n\n", id, kind.Text(l))
		for _, n := range needed {
			fmt.Fprintf(&b, "- %s\n", n.Text(l))
		}
		if link != "" {
			fmt.Fprintf(&b, "\nPlease add it here, quoting reference %s: %s\n", id, link)
		} else {
			fmt.Fprintf(&b, "\nPlease reply to this message with it, keeping reference %s in the subject.\n", id)
		}
		if paused {
			b.WriteString("\nThe time we have to answer your request is paused until we receive it.\n")
		}
		fmt.Fprintf(&b, "\nIf you have questions, please contact %s.\n", team.or(l))
	} else {
		m.Subject = "您的个人信息请求（编号 " + id + "）需要补充信息"
		fmt.Fprintf(&b, "为继续处理您编号为 %s 的请求（%s），我们需要：\n\n", id, kind.Text(l))
		for _, n := range needed {
			fmt.Fprintf(&b, "- %s\n", n.Text(l))
		}
		if link != "" {
			fmt.Fprintf(&b, "\n请在此页面补充，并注明请求编号 %s：%s\n", id, link)
		} else {
			fmt.Fprintf(&b, "\n请直接回复本邮件提供，并在主题中保留请求编号 %s。\n", id)
		}
		if paused {
			b.WriteString("\n在收到您的补充信息之前，答复期限暂停计算。\n")
		}
		fmt.Fprintf(&b, "\n如有疑问，请联系%s。\n", team.or(l))
	}
	m.Body = b.String()
	return m
}
