package dsr

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Submission is a request as a web form or a classified mail gives it: raw,
// untrusted strings. Validate checks it and normalizes it.
type Submission struct {
	Kind          string   `json:"kind"`
	Role          string   `json:"role"`
	ErasureGround string   `json:"erasureGround,omitempty"`
	Email         string   `json:"email,omitempty"`
	Phone         string   `json:"phone,omitempty"`
	AccountID     string   `json:"accountId,omitempty"`
	Locale        string   `json:"locale,omitempty"`
	Details       string   `json:"details,omitempty"`
	Corrections   []string `json:"corrections,omitempty"`
	Purposes      []string `json:"consentPurposes,omitempty"`

	// The data subject's name and identifiers, given by a requester who
	// acts for someone else (guardian, agent, relative of a deceased
	// person), each optional: hints for finding the subject's data, never
	// proof. A requester acting for themselves gives none of them.
	SubjectName      string `json:"subjectName,omitempty"`
	SubjectEmail     string `json:"subjectEmail,omitempty"`
	SubjectPhone     string `json:"subjectPhone,omitempty"`
	SubjectAccountID string `json:"subjectAccountId,omitempty"`
}

// Field names used in FieldError.Field: the Submission's JSON names, "contact"
// for the rule that needs an email or a phone, and "corrections[i]" /
// "consentPurposes[i]" for one entry of a list.
const (
	FieldKind          = "kind"
	FieldRole          = "role"
	FieldErasureGround = "erasureGround"
	FieldEmail         = "email"
	FieldPhone         = "phone"
	FieldAccountID     = "accountId"
	FieldContact       = "contact"
	FieldLocale        = "locale"
	FieldDetails       = "details"
	FieldCorrections   = "corrections"
	FieldPurposes      = "consentPurposes"

	FieldSubjectName      = "subjectName"
	FieldSubjectEmail     = "subjectEmail"
	FieldSubjectPhone     = "subjectPhone"
	FieldSubjectAccountID = "subjectAccountId"
)

// Limits on free text, in characters (runes), and on list lengths.
const (
	MaxDetails        = 2000
	MaxCorrection     = 500
	MaxCorrections    = 20
	MaxPurposeEntries = 10
	MaxSubjectName    = 100
)

// Code is the stable code of a field error. Codes are API: the web form, the
// mail replies and the tests match on them; add codes, never rename them.
type Code string

const (
	CodeRequired           Code = "required"
	CodeUnknownKind        Code = "unknown_kind"
	CodeUnknownRole        Code = "unknown_role"
	CodeUnknownGround      Code = "unknown_ground"
	CodeGroundRequired     Code = "ground_required"
	CodeNotApplicable      Code = "not_applicable" // the field does not belong to the chosen kind
	CodeInvalidEmail       Code = "invalid_email"
	CodeInvalidPhone       Code = "invalid_phone"
	CodeInvalidAccountID   Code = "invalid_account_id"
	CodeIdentifierRequired Code = "identifier_required" // neither email nor phone given
	CodeUnknownLocale      Code = "unknown_locale"
	CodeTooLong            Code = "too_long" // Max is the limit in characters
	CodeTooMany            Code = "too_many" // Max is the limit in entries
	CodeInvalidText        Code = "invalid_text"
	CodeCorrectionsNeeded  Code = "corrections_required"
	CodePurposesRequired   Code = "purposes_required"
	CodeUnknownPurpose     Code = "unknown_purpose"
)

var codeTexts = map[Code]Text{
	CodeRequired:           {ZhCN: "此项为必填项。", En: "This field is required."},
	CodeUnknownKind:        {ZhCN: "请选择有效的请求类型。", En: "Choose a valid request type."},
	CodeUnknownRole:        {ZhCN: "请选择有效的申请人身份。", En: "Choose a valid requester role."},
	CodeUnknownGround:      {ZhCN: "请选择有效的删除情形。", En: "Choose a valid reason for deletion."},
	CodeGroundRequired:     {ZhCN: "删除请求须选择适用的删除情形。", En: "Choose the situation in which you ask for deletion."},
	CodeNotApplicable:      {ZhCN: "此项不适用于所选的请求类型。", En: "This field does not apply to the chosen request type."},
	CodeInvalidEmail:       {ZhCN: "请输入有效的电子邮件地址，例如 name@example.com。", En: "Enter a valid email address, such as name@example.com."},
	CodeInvalidPhone:       {ZhCN: "请输入有效的手机号码；中国大陆以外的号码请加国家或地区代码，例如 +852。如果无法填写，请改填电子邮件地址。", En: "Enter a valid mobile number; outside mainland China, include the country code, such as +852. If your number is not accepted, give an email address instead."},
	CodeInvalidAccountID:   {ZhCN: "账户 ID 只能包含字母、数字、下划线和连字符，最多 64 个字符。", En: "An account ID has only letters, digits, _ and -, at most 64 characters."},
	CodeIdentifierRequired: {ZhCN: "请至少填写电子邮件地址或手机号码中的一项。", En: "Enter an email address or a phone number."},
	CodeUnknownLocale:      {ZhCN: "请选择有效的语言。", En: "Choose a valid language."},
	CodeTooLong:            {ZhCN: "最多 %d 个字符。", En: "At most %d characters."},
	CodeTooMany:            {ZhCN: "最多 %d 项。", En: "At most %d entries."},
	CodeInvalidText:        {ZhCN: "内容包含不允许的字符。", En: "The text contains characters that are not allowed."},
	CodeCorrectionsNeeded:  {ZhCN: "请说明需要更正的信息及正确的内容。", En: "Say which information to correct and what it should be."},
	CodePurposesRequired:   {ZhCN: "请选择要撤回授权的用途。", En: "Choose the purposes you withdraw consent for."},
	CodeUnknownPurpose:     {ZhCN: "请选择有效的用途。", En: "Choose a valid purpose."},
}

// FieldError is one problem with one field. It never contains the field's value.
type FieldError struct {
	Field string `json:"field"`
	Code  Code   `json:"code"`
	Max   int    `json:"max,omitempty"` // the limit, for too_long and too_many
}

// Message is the error as shown next to the field, in locale l.
func (e FieldError) Message(l Locale) string {
	t, ok := codeTexts[e.Code]
	if !ok {
		return Text{ZhCN: "此项无效。", En: "This field is not valid."}.In(l)
	}
	if e.Code == CodeTooLong || e.Code == CodeTooMany {
		return fmt.Sprintf(t.In(l), e.Max)
	}
	return t.In(l)
}

func (e FieldError) String() string { return e.Field + ": " + string(e.Code) }

// FieldErrors is every problem found in a Submission, in field order.
type FieldErrors []FieldError

func (fe FieldErrors) Error() string {
	parts := make([]string, len(fe))
	for i, e := range fe {
		parts[i] = e.String()
	}
	return "invalid submission: " + strings.Join(parts, "; ")
}

// Has reports whether field has an error with code.
func (fe FieldErrors) Has(field string, code Code) bool {
	return slices.ContainsFunc(fe, func(e FieldError) bool { return e.Field == field && e.Code == code })
}

// Validated is a Submission that passed Validate, normalized: known kind, role
// and ground; email lower-cased (ParseEmail), phone in E.164 (the PhoneParser);
// free text trimmed; empty list entries dropped; purposes de-duplicated.
type Validated struct {
	Kind          Kind
	Role          Role
	ErasureGround ErasureGround // set for erasure only
	Email         string        // PII
	Phone         string        // PII, E.164
	AccountID     string        // PII
	Locale        Locale
	Details       string   // PII
	Corrections   []string // PII; correction only
	Purposes      []string // consent_withdrawal only; just ["all"] when all is chosen

	// The data subject's name and identifiers (roles other than self
	// only), normalized as the contact fields are: PII, hints only.
	SubjectName      string
	SubjectEmail     string
	SubjectPhone     string // E.164
	SubjectAccountID string
}

// Validate checks every field and returns either the normalized submission
// and nil, or a zero Validated and FieldErrors listing every problem at once.
//
// Rules: kind and role are required and known; erasure needs one of the five
// grounds, other kinds must not give one; at least one of email and phone is
// given and each given one is valid; an account ID is optional; the locale is
// optional (default zh-CN) but must be a language tag; correction needs at
// least one correction, consent_withdrawal at least one purpose, and other
// kinds must not give them; free text must be valid UTF-8 with no control
// characters other than tab and newline, within the Max* limits.
//
// parsePhone reads the phone field (phone.Parse in the programs that take
// submissions); when it is nil, a given phone number is reported invalid.
func (s Submission) Validate(parsePhone PhoneParser) (Validated, error) {
	var errs FieldErrors
	add := func(field string, code Code) { errs = append(errs, FieldError{Field: field, Code: code}) }
	addMax := func(field string, code Code, max int) {
		errs = append(errs, FieldError{Field: field, Code: code, Max: max})
	}
	var v Validated

	kindText := strings.ToLower(strings.TrimSpace(s.Kind))
	v.Kind = Kind(kindText)
	switch {
	case kindText == "":
		add(FieldKind, CodeRequired)
	case !v.Kind.Valid():
		add(FieldKind, CodeUnknownKind)
	}
	kindKnown := v.Kind.Valid()

	roleText := strings.ToLower(strings.TrimSpace(s.Role))
	v.Role = Role(roleText)
	switch {
	case roleText == "":
		add(FieldRole, CodeRequired)
	case !v.Role.Valid():
		add(FieldRole, CodeUnknownRole)
	}

	groundText := strings.ToLower(strings.TrimSpace(s.ErasureGround))
	v.ErasureGround = ErasureGround(groundText)
	switch {
	case groundText != "" && !v.ErasureGround.Valid():
		add(FieldErasureGround, CodeUnknownGround)
	case groundText == "" && v.Kind == KindErasure:
		add(FieldErasureGround, CodeGroundRequired)
	case groundText != "" && kindKnown && v.Kind != KindErasure:
		add(FieldErasureGround, CodeNotApplicable)
	}

	email, phone := strings.TrimSpace(s.Email), strings.TrimSpace(s.Phone)
	if email != "" {
		var err error
		if v.Email, err = ParseEmail(email); err != nil {
			add(FieldEmail, CodeInvalidEmail)
		}
	}
	if phone != "" {
		var err error
		if parsePhone == nil {
			add(FieldPhone, CodeInvalidPhone)
		} else if v.Phone, err = parsePhone(phone); err != nil {
			add(FieldPhone, CodeInvalidPhone)
		}
	}
	if email == "" && phone == "" {
		add(FieldContact, CodeIdentifierRequired)
	}
	if acct := strings.TrimSpace(s.AccountID); acct != "" {
		var err error
		if v.AccountID, err = ParseAccountID(acct); err != nil {
			add(FieldAccountID, CodeInvalidAccountID)
		}
	}

	v.validateSubject(s, parsePhone, add, addMax)

	loc, ok := ParseLocale(s.Locale)
	if !ok {
		add(FieldLocale, CodeUnknownLocale)
	}
	v.Locale = loc

	v.Details = strings.TrimSpace(s.Details)
	if code, ok := checkText(v.Details, MaxDetails); !ok {
		addMax(FieldDetails, code, maxFor(code, MaxDetails))
	}

	v.Corrections = nil
	for i, c := range s.Corrections {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		if code, ok := checkText(c, MaxCorrection); !ok {
			addMax(fmt.Sprintf("%s[%d]", FieldCorrections, i), code, maxFor(code, MaxCorrection))
		}
		v.Corrections = append(v.Corrections, c)
	}
	switch {
	case len(v.Corrections) > MaxCorrections:
		addMax(FieldCorrections, CodeTooMany, MaxCorrections)
	case len(v.Corrections) == 0 && v.Kind == KindCorrection:
		add(FieldCorrections, CodeCorrectionsNeeded)
	case len(v.Corrections) > 0 && kindKnown && v.Kind != KindCorrection:
		add(FieldCorrections, CodeNotApplicable)
	}

	v.Purposes = nil
	for i, p := range s.Purposes {
		p = strings.ToLower(strings.TrimSpace(p))
		if p == "" {
			continue
		}
		if !ValidPurpose(p) {
			add(fmt.Sprintf("%s[%d]", FieldPurposes, i), CodeUnknownPurpose)
			continue
		}
		if !slices.Contains(v.Purposes, p) {
			v.Purposes = append(v.Purposes, p)
		}
	}
	switch {
	case len(s.Purposes) > MaxPurposeEntries:
		addMax(FieldPurposes, CodeTooMany, MaxPurposeEntries)
	case len(v.Purposes) == 0 && v.Kind == KindConsentWithdrawal && !errs.hasPrefix(FieldPurposes):
		add(FieldPurposes, CodePurposesRequired)
	case len(v.Purposes) > 0 && kindKnown && v.Kind != KindConsentWithdrawal:
		add(FieldPurposes, CodeNotApplicable)
	}
	if slices.Contains(v.Purposes, PurposeAll) {
		v.Purposes = []string{PurposeAll}
	}

	if len(errs) > 0 {
		return Validated{}, errs
	}
	return v, nil
}

// validateSubject checks the data subject's fields: each optional, each
// checked as its contact counterpart is (the name as one line of text), and
// none given by a requester acting for themselves (not_applicable).
func (v *Validated) validateSubject(s Submission, parsePhone PhoneParser, add func(string, Code), addMax func(string, Code, int)) {
	forSelf := v.Role == RoleSelf
	given := func(field, raw string) (string, bool) {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			return "", false
		}
		if forSelf {
			add(field, CodeNotApplicable)
			return "", false
		}
		return raw, true
	}
	if name, ok := given(FieldSubjectName, s.SubjectName); ok {
		if code, ok := checkText(name, MaxSubjectName); !ok || strings.ContainsAny(name, "\n\r\t") {
			if ok {
				code = CodeInvalidText
			}
			addMax(FieldSubjectName, code, maxFor(code, MaxSubjectName))
		} else {
			v.SubjectName = name
		}
	}
	if email, ok := given(FieldSubjectEmail, s.SubjectEmail); ok {
		var err error
		if v.SubjectEmail, err = ParseEmail(email); err != nil {
			add(FieldSubjectEmail, CodeInvalidEmail)
		}
	}
	if phone, ok := given(FieldSubjectPhone, s.SubjectPhone); ok {
		var err error
		if parsePhone == nil {
			add(FieldSubjectPhone, CodeInvalidPhone)
		} else if v.SubjectPhone, err = parsePhone(phone); err != nil {
			add(FieldSubjectPhone, CodeInvalidPhone)
		}
	}
	if acct, ok := given(FieldSubjectAccountID, s.SubjectAccountID); ok {
		var err error
		if v.SubjectAccountID, err = ParseAccountID(acct); err != nil {
			add(FieldSubjectAccountID, CodeInvalidAccountID)
		}
	}
}

// hasPrefix reports whether some error is on field or one of its entries.
func (fe FieldErrors) hasPrefix(field string) bool {
	return slices.ContainsFunc(fe, func(e FieldError) bool {
		return e.Field == field || strings.HasPrefix(e.Field, field+"[")
	})
}

// checkText accepts valid UTF-8 of at most max runes, without control
// characters other than tab, newline and carriage return.
func checkText(s string, max int) (Code, bool) {
	if !utf8.ValidString(s) {
		return CodeInvalidText, false
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' {
			return CodeInvalidText, false
		}
	}
	if utf8.RuneCountInString(s) > max {
		return CodeTooLong, false
	}
	return "", true
}

func maxFor(code Code, max int) int {
	if code == CodeTooLong {
		return max
	}
	return 0
}

// Contact is how to reach the requester.
func (v Validated) Contact() Contact { return Contact{Email: v.Email, Phone: v.Phone} }

// Hints are the identifiers given about the data subject: the account ID
// typed beside the contact; for a requester acting for themselves, the
// contact itself; for one acting for someone else, the subject's own
// identifiers (SubjectAccountID, SubjectEmail, SubjectPhone). Hints only:
// nothing is done on them before verification (rule 7).
func (v Validated) Hints() Identifiers {
	var ids Identifiers
	ids.Add(IdentifierAccount, v.AccountID)
	if v.Role == RoleSelf {
		ids.Add(IdentifierEmail, v.Email)
		ids.Add(IdentifierPhone, v.Phone)
	}
	ids.Add(IdentifierAccount, v.SubjectAccountID)
	ids.Add(IdentifierEmail, v.SubjectEmail)
	ids.Add(IdentifierPhone, v.SubjectPhone)
	return ids
}

// Fill copies the validated fields into r and p: kind, role, locale, ground
// and purposes into the request; contact, typed identifiers (Hints), the
// subject's name, details and corrections into its personal data. r.HintKeys are the keyed hashes of the
// contact and the typed identifiers. Identity, status, channel and times are
// the caller's.
func (v Validated) Fill(r *Request, p *Personal, secret []byte) {
	r.Kind = v.Kind
	r.Role = v.Role
	r.Locale = string(v.Locale)
	r.ErasureGround = v.ErasureGround
	r.Purposes = slices.Clone(v.Purposes)
	p.Contact = v.Contact()
	p.Subject = v.Hints()
	p.SubjectName = v.SubjectName
	p.Details = v.Details
	p.Corrections = slices.Clone(v.Corrections)
	all := p.Subject
	all.Add(IdentifierEmail, v.Email)
	all.Add(IdentifierPhone, v.Phone)
	r.HintKeys = all.Keys(secret)
	r.ContactChannel = ContactChannelOf(p.Contact)
}

// ContactChannelOf is how c is reached: "email" when there is an address,
// else "sms" when there is a phone, else "".
func ContactChannelOf(c Contact) string {
	switch {
	case c.Email != "":
		return "email"
	case c.Phone != "":
		return "sms"
	}
	return ""
}
