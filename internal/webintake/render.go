package webintake

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/a-h/templ"

	"dsrflow/internal/dsr"
)

// The pages are templ components (pages.templ, form.templ, compiled by
// `make generate`), not html/template: executing a text/template makes the
// linker keep every exported method of every reachable type.

//go:embed templates/style.css
var templateFS embed.FS

// styleSheet is the inline CSS, written into each page as it is (styleHash
// is its CSP source).
var styleSheet = sync.OnceValues(func() (string, error) {
	b, err := templateFS.ReadFile("templates/style.css")
	if err != nil {
		return "", fmt.Errorf("read style sheet: %w", err)
	}
	if strings.Contains(strings.ToLower(string(b)), "</style") {
		return "", errors.New("style sheet contains </style")
	}
	return string(b), nil
})

// styleHash is the CSP hash source of the inline style sheet.
func styleHash(css string) string {
	sum := sha256.Sum256([]byte(css))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// page is what every page component gets.
type page struct {
	Locale    dsr.Locale
	Title     string
	SwitchURL string // the same page in the other language; empty for none

	Form      *formView
	Accepted  *acceptedView
	Status    *statusView
	Verify    *verifyView
	Documents *documentsView
	Message   string
	BackURL   string
}

// T is the catalog text for key in the page's language.
func (p *page) T(key string, args ...any) string { return text(p.Locale, key, args...) }

// Lang is the page's language tag.
func (p *page) Lang() string { return string(p.Locale) }

// OtherLang is the language the switch link leads to.
func (p *page) OtherLang() string { return string(otherLocale(p.Locale)) }

func otherLocale(l dsr.Locale) dsr.Locale {
	if l == dsr.LocaleEn {
		return dsr.LocaleZhCN
	}
	return dsr.LocaleEn
}

// render renders page name ("form", "accepted", "status", "message",
// "verify" or "documents") as a whole document.
func render(name string, p *page) (string, error) {
	css, err := styleSheet()
	if err != nil {
		return "", err
	}
	var content templ.Component
	switch name {
	case "form":
		content = formMain(p)
	case "accepted":
		content = acceptedMain(p)
	case "status":
		content = statusMain(p)
	case "message":
		content = messageMain(p)
	case "verify":
		content = verifyMain(p)
	case "documents":
		content = documentsMain(p)
	default:
		return "", fmt.Errorf("render %s: no such page", name)
	}
	var buf strings.Builder
	// Rendering writes to memory and does no I/O to cancel.
	if err := basePage(p, css, content).Render(context.Background(), &buf); err != nil {
		return "", fmt.Errorf("render %s: %w", name, err)
	}
	return buf.String(), nil
}

type acceptedView struct {
	RequestID string
	StatusURL string
	VerifyURL string // the verification page; empty when no code is awaited
	// ForOthers: the requester acts for someone else; the privacy team
	// checks their documents and authority (no code).
	ForOthers bool
	// Upload is where they send those documents (ForOthers only).
	Upload *uploadView
}

type statusView struct {
	RequestID           string
	Kind, Status        string
	Created, CreatedISO string
	Due, DueISO         string
	// Reason is why a refused request was refused, as the requester is told
	// it (dsr.RefusalReason.Text: neutral for an undisclosed ground).
	Reason    string
	VerifyURL string // the verification page, while a code is awaited
	// DocumentsURL is the documents page, while a requester acting for
	// someone else may send documents.
	DocumentsURL string
}

// formView is the request form: its sections in order, the error summary,
// and the hidden fields.
type formView struct {
	Action   string
	Nonce    string
	Summary  []summaryItem
	Sections []section
}

type summaryItem struct {
	Href string // "#f-email"; empty for an error of the whole form
	Text string
}

// section is one card of the form: a fieldset, or loose fields. Class
// adds a class to the card: "for-others" (hidden while the role self is
// chosen) or "for-self" (hidden while another role is chosen), by CSS
// alone: the pages run no script.
type section struct {
	Group  *group
	Fields []field
	Class  string
}

// CardClass is the card's class attribute.
func (s section) CardClass() string {
	if s.Class == "" {
		return "card"
	}
	return "card " + s.Class
}

// group is a fieldset: radio buttons, check boxes, or fields that belong together.
type group struct {
	Name, Type   string // input name; "radio" or "checkbox"
	Legend, Tag  string
	Applies      string // which kind the group is for, when not for all
	Hint, HintID string
	Errors       []string
	ErrID        string
	DescribedBy  string
	Choices      []choice
	Fields       []field
}

type choice struct {
	ID, Value, Label string
	Checked          bool
}

// field is one labelled text input or text area.
type field struct {
	Name, ID, Type      string
	Label, Tag, Applies string
	Hint, HintID        string
	Value               string
	Errors              []string
	ErrID               string
	DescribedBy         string
	Max                 int
	Autocomplete        string
	InputMode           string
	Textarea            bool
	Rows                int
}

// formInput is what the user typed into the form, kept verbatim so that a
// form shown again after an error loses nothing.
type formInput struct {
	Kind, Role, ErasureGround string
	Email, Phone, AccountID   string
	// The data subject's, for a requester acting for someone else.
	SubjectName, SubjectAccountID, SubjectEmail, SubjectPhone string
	Corrections, Details                                      string
	Purposes                                                  []string
}

// Form-only field caps, in characters: the web layer's own limits on input the
// domain validation checks only for form. They keep a form post of CJK text
// (9 bytes per character once URL-encoded) under the body limit.
const (
	maxEmailInput       = 254 // RFC 5321 path limit
	maxPhoneInput       = 32
	maxAccountIDInput   = 64
	maxCorrectionsInput = 4000 // the whole text area
)

// fieldAnchor is where an error on a Submission field sends the reader.
func fieldAnchor(name string) string {
	switch name {
	case dsr.FieldKind:
		return "f-kind-" + string(dsr.Kinds()[0])
	case dsr.FieldRole:
		return "f-role-" + string(dsr.Roles()[0])
	case dsr.FieldErasureGround:
		return "f-erasureGround-none"
	case dsr.FieldPurposes:
		return "f-consentPurposes-" + dsr.Purposes()[0]
	case dsr.FieldContact:
		return "f-email"
	}
	return "f-" + name
}

// fieldLabels name each field in the error summary, where the message alone
// ("this field does not apply") would not say which field.
var fieldLabels = map[string]string{
	dsr.FieldKind:          "form.kind",
	dsr.FieldRole:          "form.role",
	dsr.FieldErasureGround: "form.ground",
	dsr.FieldEmail:         "form.email",
	dsr.FieldPhone:         "form.phone",
	dsr.FieldContact:       "form.identifiers",
	dsr.FieldAccountID:     "form.accountId",
	dsr.FieldCorrections:   "form.corrections",
	dsr.FieldPurposes:      "form.purposes",
	dsr.FieldDetails:       "form.details",

	dsr.FieldSubjectName:      "form.subjectName",
	dsr.FieldSubjectAccountID: "form.subjectAccountId",
	dsr.FieldSubjectEmail:     "form.subjectEmail",
	dsr.FieldSubjectPhone:     "form.subjectPhone",
}

// formErrors sorts field errors by form field, with messages in l. List
// entries ("corrections[2]") go to their list, a text-area line saying
// which line.
func formErrors(errs dsr.FieldErrors, l dsr.Locale) (byField map[string][]string, summary []summaryItem) {
	byField = map[string][]string{}
	for _, e := range errs {
		name, msg := e.Field, message(e, l)
		if base, idx, ok := listEntry(e.Field); ok {
			name = base
			if base == dsr.FieldCorrections {
				msg = text(l, "form.line", idx+1) + msg
			}
		}
		if name == dsr.FieldLocale {
			continue // the form sets it; nothing to show
		}
		byField[name] = append(byField[name], msg)
		item := msg
		if key, ok := fieldLabels[name]; ok {
			label := strings.TrimRight(text(l, key), "?？")
			item = text(l, "errors.item", label, msg)
		}
		summary = append(summary, summaryItem{Href: "#" + fieldAnchor(name), Text: item})
	}
	return byField, summary
}

// listEntry splits "corrections[2]" into "corrections" and 2.
func listEntry(f string) (string, int, bool) {
	open := strings.IndexByte(f, '[')
	if open < 0 || !strings.HasSuffix(f, "]") {
		return "", 0, false
	}
	var idx int
	if _, err := fmt.Sscanf(f[open+1:len(f)-1], "%d", &idx); err != nil {
		return "", 0, false
	}
	return f[:open], idx, true
}

func describedBy(ids ...string) string {
	var out []string
	for _, id := range ids {
		if id != "" {
			out = append(out, id)
		}
	}
	return strings.Join(out, " ")
}

// newForm lays out the form in locale l with the user's input in, errors by
// field, and form-wide errors (no field) at the top of the summary.
func newForm(l dsr.Locale, in formInput, nonce string, byField map[string][]string, summary []summaryItem) *formView {
	t := func(key string, args ...any) string { return text(l, key, args...) }
	mkGroup := func(name, typ, legend, tag, applies, hint string) *group {
		g := &group{Name: name, Type: typ, Legend: legend, Tag: tag, Applies: applies, Hint: hint, Errors: byField[name]}
		if hint != "" {
			g.HintID = "hint-" + name
		}
		if len(g.Errors) > 0 {
			g.ErrID = "err-" + name
		}
		g.DescribedBy = describedBy(g.HintID, g.ErrID)
		return g
	}
	mkField := func(name, typ, label, tag, applies, hint, value string, max int) field {
		f := field{Name: name, ID: "f-" + name, Type: typ, Label: label, Tag: tag, Applies: applies, Hint: hint, Value: value, Max: max, Errors: byField[name]}
		if hint != "" {
			f.HintID = "hint-" + name
		}
		if len(f.Errors) > 0 {
			f.ErrID = "err-" + name
		}
		f.DescribedBy = describedBy(f.HintID, f.ErrID)
		return f
	}
	required, optional := t("form.required"), t("form.optional")

	kind := mkGroup(dsr.FieldKind, "radio", t("form.kind"), required, "", "")
	for _, k := range dsr.Kinds() {
		kind.Choices = append(kind.Choices, choice{ID: "f-kind-" + string(k), Value: string(k), Label: k.Text(l), Checked: in.Kind == string(k)})
	}
	role := mkGroup(dsr.FieldRole, "radio", t("form.role"), required, "", t("form.role.hint"))
	for _, r := range dsr.Roles() {
		role.Choices = append(role.Choices, choice{ID: "f-role-" + string(r), Value: string(r), Label: r.Text(l), Checked: in.Role == string(r)})
	}

	contact := mkGroup(dsr.FieldContact, "", t("form.identifiers"), required, "", t("form.identifiers.hint"))
	email := mkField(dsr.FieldEmail, "email", t("form.email"), "", "", "", in.Email, maxEmailInput)
	email.Autocomplete, email.InputMode = "email", "email"
	phone := mkField(dsr.FieldPhone, "tel", t("form.phone"), "", "", t("form.phone.hint"), in.Phone, maxPhoneInput)
	phone.Autocomplete, phone.InputMode = "tel", "tel"
	// The "enter one of them" error belongs to both inputs.
	if contact.ErrID != "" {
		email.DescribedBy = describedBy(email.DescribedBy, contact.ErrID)
		phone.DescribedBy = describedBy(phone.DescribedBy, contact.ErrID)
	}
	contact.Fields = []field{email, phone}
	account := mkField(dsr.FieldAccountID, "text", t("form.accountId"), optional, t("form.appliesTo", dsr.RoleSelf.Text(l)), "", in.AccountID, maxAccountIDInput)

	// The data subject's name and identifiers, for a requester acting for
	// someone else: other people's details, so no autofill.
	var others []string
	for _, r := range dsr.Roles() {
		if r.NeedsManualReview() {
			others = append(others, r.Text(l))
		}
	}
	subject := mkGroup("subject", "", t("form.subject"), "", t("form.appliesTo", strings.Join(others, t("form.listSep"))), t("form.subject.hint"))
	subjectName := mkField(dsr.FieldSubjectName, "text", t("form.subjectName"), optional, "", "", in.SubjectName, dsr.MaxSubjectName)
	subjectAccount := mkField(dsr.FieldSubjectAccountID, "text", t("form.subjectAccountId"), optional, "", "", in.SubjectAccountID, maxAccountIDInput)
	subjectEmail := mkField(dsr.FieldSubjectEmail, "email", t("form.subjectEmail"), optional, "", "", in.SubjectEmail, maxEmailInput)
	subjectEmail.InputMode = "email"
	subjectPhone := mkField(dsr.FieldSubjectPhone, "tel", t("form.subjectPhone"), optional, "", t("form.phone.hint"), in.SubjectPhone, maxPhoneInput)
	subjectPhone.InputMode = "tel"
	subject.Fields = []field{subjectName, subjectAccount, subjectEmail, subjectPhone}
	for i := range subject.Fields {
		subject.Fields[i].Autocomplete = "off"
	}
	// A card with an error stays visible whatever the role, so that the
	// summary's link leads somewhere.
	selfClass, othersClass := "for-self", "for-others"
	if len(account.Errors) > 0 {
		selfClass = ""
	}
	for _, f := range subject.Fields {
		if len(f.Errors) > 0 {
			othersClass = ""
		}
	}

	appliesTo := func(k dsr.Kind) string { return t("form.appliesTo", k.Text(l)) }
	ground := mkGroup(dsr.FieldErasureGround, "radio", t("form.ground"), "", appliesTo(dsr.KindErasure), t("form.ground.hint"))
	ground.Choices = append(ground.Choices, choice{ID: "f-erasureGround-none", Value: "", Label: t("form.ground.none"), Checked: in.ErasureGround == ""})
	for _, g := range dsr.ErasureGrounds() {
		ground.Choices = append(ground.Choices, choice{ID: "f-erasureGround-" + string(g), Value: string(g), Label: g.Text(l), Checked: in.ErasureGround == string(g)})
	}

	corrections := mkField(dsr.FieldCorrections, "", t("form.corrections"), "", appliesTo(dsr.KindCorrection), t("form.corrections.hint"), in.Corrections, maxCorrectionsInput)
	corrections.Textarea, corrections.Rows = true, 4

	purposes := mkGroup(dsr.FieldPurposes, "checkbox", t("form.purposes"), "", appliesTo(dsr.KindConsentWithdrawal), "")
	for _, p := range dsr.Purposes() {
		purposes.Choices = append(purposes.Choices, choice{ID: "f-consentPurposes-" + p, Value: p, Label: dsr.PurposeText(p, l), Checked: containsString(in.Purposes, p)})
	}

	details := mkField(dsr.FieldDetails, "", t("form.details"), optional, "", t("form.maxChars", dsr.MaxDetails), in.Details, dsr.MaxDetails)
	details.Textarea, details.Rows = true, 5

	return &formView{
		Action:  "/requests",
		Nonce:   nonce,
		Summary: summary,
		Sections: []section{
			{Group: kind},
			{Group: role},
			{Group: contact},
			{Fields: []field{account}, Class: selfClass},
			{Group: subject, Class: othersClass},
			{Group: ground},
			{Fields: []field{corrections}},
			{Group: purposes},
			{Fields: []field{details}},
		},
	}
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
