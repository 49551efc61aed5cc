package dsr

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"dsrflow/internal/phone"
)

func TestValidateNormalizes(t *testing.T) {
	tests := []struct {
		name string
		in   Submission
		want Validated
	}{
		{
			name: "erasure by phone",
			in:   Submission{Kind: " erasure ", Role: "self", ErasureGround: "stopped_using", Phone: "138 0013 8000"},
			want: Validated{Kind: KindErasure, Role: RoleSelf, ErasureGround: GroundStoppedUsing, Phone: "+8613800138000", Locale: LocaleZhCN},
		},
		{
			name: "access by email in English",
			in:   Submission{Kind: "ACCESS", Role: "Self", Email: " Zhang@QQ.com ", AccountID: " u_42 ", Locale: "en-US", Details: "  all my songs \n"},
			want: Validated{Kind: KindAccess, Role: RoleSelf, Email: "zhang@qq.com", AccountID: "u_42", Locale: LocaleEn, Details: "all my songs"},
		},
		{
			name: "correction drops empty lines",
			in:   Submission{Kind: "correction", Role: "guardian", Email: "p@example.cn", Phone: "+852 6123 4567", Corrections: []string{"", " nickname: 小冰 ", "  "}},
			want: Validated{Kind: KindCorrection, Role: RoleGuardian, Email: "p@example.cn", Phone: "+85261234567", Locale: LocaleZhCN, Corrections: []string{"nickname: 小冰"}},
		},
		{
			name: "consent withdrawal de-duplicates purposes",
			in:   Submission{Kind: "consent_withdrawal", Role: "agent", Email: "a@example.cn", Purposes: []string{"analytics", " Analytics ", "partner_sharing"}, Locale: "zh-Hans"},
			want: Validated{Kind: KindConsentWithdrawal, Role: RoleAgent, Email: "a@example.cn", Locale: LocaleZhCN, Purposes: []string{PurposeAnalytics, PurposePartnerSharing}},
		},
		{
			name: "all purposes absorbs the others",
			in:   Submission{Kind: "consent_withdrawal", Role: "self", Email: "a@example.cn", Purposes: []string{"analytics", "all"}},
			want: Validated{Kind: KindConsentWithdrawal, Role: RoleSelf, Email: "a@example.cn", Locale: LocaleZhCN, Purposes: []string{PurposeAll}},
		},
		{
			name: "account closure by a relative",
			in:   Submission{Kind: "account_closure", Role: "relative_of_deceased", Phone: "13800138000", Details: "第一行\n第二行\t完"},
			want: Validated{Kind: KindAccountClosure, Role: RoleRelativeOfDeceased, Phone: "+8613800138000", Locale: LocaleZhCN, Details: "第一行\n第二行\t完"},
		},
		{
			name: "details at the limit",
			in:   Submission{Kind: "portability", Role: "self", Email: "a@example.cn", Details: strings.Repeat("字", MaxDetails)},
			want: Validated{Kind: KindPortability, Role: RoleSelf, Email: "a@example.cn", Locale: LocaleZhCN, Details: strings.Repeat("字", MaxDetails)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.in.Validate(phone.Parse)
			if err != nil {
				t.Fatalf("Validate() error = %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Validate() =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestValidateReportsEveryError(t *testing.T) {
	tests := []struct {
		name string
		in   Submission
		want FieldErrors
	}{
		{
			name: "empty",
			in:   Submission{},
			want: FieldErrors{{Field: "kind", Code: "required"}, {Field: "role", Code: "required"}, {Field: "contact", Code: "identifier_required"}},
		},
		{
			name: "everything wrong at once",
			in: Submission{
				Kind: "delete_everything", Role: "friend", ErasureGround: "because", Email: "not-an-email",
				Phone: "12345", AccountID: "bad id!", Locale: "!!", Details: "bell\a",
			},
			want: FieldErrors{
				{Field: "kind", Code: "unknown_kind"},
				{Field: "role", Code: "unknown_role"},
				{Field: "erasureGround", Code: "unknown_ground"},
				{Field: "email", Code: "invalid_email"},
				{Field: "phone", Code: "invalid_phone"},
				{Field: "accountId", Code: "invalid_account_id"},
				{Field: "locale", Code: "unknown_locale"},
				{Field: "details", Code: "invalid_text"},
			},
		},
		{
			name: "erasure without ground",
			in:   Submission{Kind: "erasure", Role: "self", Email: "a@example.cn"},
			want: FieldErrors{{Field: "erasureGround", Code: "ground_required"}},
		},
		{
			name: "ground with another kind",
			in:   Submission{Kind: "access", Role: "self", Email: "a@example.cn", ErasureGround: "no_consent"},
			want: FieldErrors{{Field: "erasureGround", Code: "not_applicable"}},
		},
		{
			name: "correction without corrections",
			in:   Submission{Kind: "correction", Role: "self", Email: "a@example.cn", Corrections: []string{" ", ""}},
			want: FieldErrors{{Field: "corrections", Code: "corrections_required"}},
		},
		{
			name: "corrections with another kind",
			in:   Submission{Kind: "access", Role: "self", Email: "a@example.cn", Corrections: []string{"name: x"}},
			want: FieldErrors{{Field: "corrections", Code: "not_applicable"}},
		},
		{
			name: "correction entry too long and too many",
			in: Submission{Kind: "correction", Role: "self", Email: "a@example.cn",
				Corrections: append([]string{strings.Repeat("x", MaxCorrection+1)}, strings.Split(strings.Repeat("c,", MaxCorrections), ",")...)},
			want: FieldErrors{{Field: "corrections[0]", Code: "too_long", Max: MaxCorrection}, {Field: "corrections", Code: "too_many", Max: MaxCorrections}},
		},
		{
			name: "consent withdrawal without purposes",
			in:   Submission{Kind: "consent_withdrawal", Role: "self", Email: "a@example.cn"},
			want: FieldErrors{{Field: "consentPurposes", Code: "purposes_required"}},
		},
		{
			name: "unknown purpose",
			in:   Submission{Kind: "consent_withdrawal", Role: "self", Email: "a@example.cn", Purposes: []string{"analytics", "marketing"}},
			want: FieldErrors{{Field: "consentPurposes[1]", Code: "unknown_purpose"}},
		},
		{
			name: "purposes with another kind",
			in:   Submission{Kind: "erasure", Role: "self", ErasureGround: "no_consent", Email: "a@example.cn", Purposes: []string{"analytics"}},
			want: FieldErrors{{Field: "consentPurposes", Code: "not_applicable"}},
		},
		{
			name: "too many purposes",
			in:   Submission{Kind: "consent_withdrawal", Role: "self", Email: "a@example.cn", Purposes: strings.Split(strings.Repeat("analytics,", MaxPurposeEntries), ",")},
			want: FieldErrors{{Field: "consentPurposes", Code: "too_many", Max: MaxPurposeEntries}},
		},
		{
			name: "details too long",
			in:   Submission{Kind: "access", Role: "self", Phone: "13800138000", Details: strings.Repeat("字", MaxDetails+1)},
			want: FieldErrors{{Field: "details", Code: "too_long", Max: MaxDetails}},
		},
		{
			name: "details not UTF-8",
			in:   Submission{Kind: "access", Role: "self", Phone: "13800138000", Details: "caf\xe9"},
			want: FieldErrors{{Field: "details", Code: "invalid_text"}},
		},
		{
			name: "blank contact",
			in:   Submission{Kind: "access", Role: "self", Email: "  ", Phone: "\t"},
			want: FieldErrors{{Field: "contact", Code: "identifier_required"}},
		},
		{
			name: "valid email does not excuse an invalid phone",
			in:   Submission{Kind: "access", Role: "self", Email: "a@example.cn", Phone: "+86 12"},
			want: FieldErrors{{Field: "phone", Code: "invalid_phone"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.in.Validate(phone.Parse)
			var fe FieldErrors
			if !errors.As(err, &fe) {
				t.Fatalf("Validate() = %+v, %v; want FieldErrors", got, err)
			}
			if !reflect.DeepEqual(fe, tt.want) {
				t.Errorf("FieldErrors =\n%v\nwant\n%v", fe, tt.want)
			}
			if !reflect.DeepEqual(got, Validated{}) {
				t.Errorf("Validated = %+v, want zero on error", got)
			}
		})
	}
}

func TestFieldErrorsCarryNoPII(t *testing.T) {
	in := Submission{Kind: "access", Role: "self", Email: "zhang.san@@qq.com", Phone: "+86 138 0013 800", AccountID: "secret acct", Details: "住址\x00"}
	_, err := in.Validate(phone.Parse)
	if err == nil {
		t.Fatal("Validate() succeeded, want errors")
	}
	b, _ := json.Marshal(err)
	for _, s := range []string{err.Error(), string(b)} {
		for _, pii := range []string{"zhang", "138", "secret", "住址"} {
			if strings.Contains(s, pii) {
				t.Errorf("error output %q contains %q", s, pii)
			}
		}
	}
	var fe FieldErrors
	errors.As(err, &fe)
	for _, e := range fe {
		for _, l := range Locales() {
			if m := e.Message(l); strings.Contains(m, "zhang") || strings.Contains(m, "138") {
				t.Errorf("message %q contains personal data", m)
			}
		}
	}
}

func TestFieldErrorJSONAndText(t *testing.T) {
	fe := FieldErrors{{Field: "email", Code: CodeInvalidEmail}, {Field: "details", Code: CodeTooLong, Max: 2000}}
	b, err := json.Marshal(fe)
	if err != nil {
		t.Fatal(err)
	}
	var got, want any
	_ = json.Unmarshal(b, &got)
	_ = json.Unmarshal([]byte(`[{"field":"email","code":"invalid_email"},{"field":"details","code":"too_long","max":2000}]`), &want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("JSON = %s", b)
	}
	if got, want := fe.Error(), "invalid submission: email: invalid_email; details: too_long"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !fe.Has("details", CodeTooLong) || fe.Has("details", CodeRequired) || fe.Has("phone", CodeInvalidEmail) {
		t.Error("Has() answered wrongly")
	}
}

func TestFieldErrorMessage(t *testing.T) {
	tests := []struct {
		e      FieldError
		l      Locale
		substr string
	}{
		{FieldError{Field: "email", Code: CodeInvalidEmail}, LocaleZhCN, "有效的电子邮件地址"},
		{FieldError{Field: "email", Code: CodeInvalidEmail}, LocaleEn, "valid email address"},
		{FieldError{Field: "phone", Code: CodeInvalidPhone}, LocaleEn, "country code"},
		{FieldError{Field: "details", Code: CodeTooLong, Max: 2000}, LocaleZhCN, "最多 2000 个字符"},
		{FieldError{Field: "details", Code: CodeTooLong, Max: 2000}, LocaleEn, "At most 2000 characters"},
		{FieldError{Field: "corrections", Code: CodeTooMany, Max: 20}, LocaleEn, "At most 20 entries"},
		{FieldError{Field: "contact", Code: CodeIdentifierRequired}, "fr", "电子邮件地址或手机号码"},
		{FieldError{Field: "x", Code: "no_such_code"}, LocaleEn, "not valid"},
	}
	for _, tt := range tests {
		if got := tt.e.Message(tt.l); !strings.Contains(got, tt.substr) {
			t.Errorf("%v.Message(%s) = %q, want it to contain %q", tt.e, tt.l, got, tt.substr)
		}
	}
}

func TestEveryCodeHasMessages(t *testing.T) {
	codes := []Code{
		CodeRequired, CodeUnknownKind, CodeUnknownRole, CodeUnknownGround, CodeGroundRequired, CodeNotApplicable,
		CodeInvalidEmail, CodeInvalidPhone, CodeInvalidAccountID, CodeIdentifierRequired, CodeUnknownLocale,
		CodeTooLong, CodeTooMany, CodeInvalidText, CodeCorrectionsNeeded, CodePurposesRequired, CodeUnknownPurpose,
	}
	if len(codes) != len(codeTexts) {
		t.Errorf("%d codes listed, %d have texts", len(codes), len(codeTexts))
	}
	for _, c := range codes {
		txt, ok := codeTexts[c]
		if !ok || txt.ZhCN == "" || txt.En == "" {
			t.Errorf("code %s: texts %+v", c, txt)
		}
	}
}

func TestValidatedFill(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	v, err := Submission{Kind: "erasure", Role: "self", ErasureGround: "no_consent", Email: "A@Example.cn", Phone: "13800138000", AccountID: "u1", Locale: "en", Details: "d"}.Validate(phone.Parse)
	if err != nil {
		t.Fatal(err)
	}
	var r Request
	var p Personal
	v.Fill(&r, &p, secret)
	want := Request{
		Kind: KindErasure, Role: RoleSelf, Locale: "en", ErasureGround: GroundNoConsent,
		HintKeys: []string{
			SubjectKey(secret, IdentifierAccount, "u1"),
			SubjectKey(secret, IdentifierEmail, "a@example.cn"),
			SubjectKey(secret, IdentifierPhone, "+8613800138000"),
		},
		ContactChannel: "email",
	}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("Fill request =\n%+v\nwant\n%+v", r, want)
	}
	wantP := Personal{
		Contact: Contact{Email: "a@example.cn", Phone: "+8613800138000"},
		Subject: Identifiers{Accounts: []string{"u1"}, Emails: []string{"a@example.cn"}, Phones: []string{"+8613800138000"}},
		Details: "d",
	}
	if !reflect.DeepEqual(p, wantP) {
		t.Errorf("Fill personal =\n%+v\nwant\n%+v", p, wantP)
	}
	// A guardian's own contact is not a hint about the subject.
	g, err := Submission{Kind: "access", Role: "guardian", Email: "parent@example.cn", AccountID: "u2", Locale: "en"}.Validate(phone.Parse)
	if err != nil {
		t.Fatal(err)
	}
	var gr Request
	var gp Personal
	g.Fill(&gr, &gp, secret)
	if want := (Identifiers{Accounts: []string{"u2"}}); !reflect.DeepEqual(gp.Subject, want) {
		t.Errorf("guardian's subject hints = %+v, want %+v", gp.Subject, want)
	}
	// The request's JSON (what may reach logs and the workflow) has no PII.
	b, _ := json.Marshal(r)
	for _, pii := range []string{"example.cn", "138", "u1", `"d"`} {
		if strings.Contains(string(b), pii) {
			t.Errorf("Request JSON %s contains %q", b, pii)
		}
	}
}

// TestValidateSubjectFields: a requester acting for someone else may give
// the data subject's name and identifiers, checked and normalized as the
// contact fields are; they become hints about the subject (never the
// contact), and the name goes to the personal item. A requester acting for
// themselves gives none.
func TestValidateSubjectFields(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	in := Submission{Kind: "access", Role: "guardian", Email: "parent@example.cn", Locale: "en",
		SubjectName: "  小明 Xiao Ming ", SubjectEmail: " Kid@Example.CN ", SubjectPhone: "139 0013 9000", SubjectAccountID: " kid_7 "}
	v, err := in.Validate(phone.Parse)
	if err != nil {
		t.Fatal(err)
	}
	if v.SubjectName != "小明 Xiao Ming" || v.SubjectEmail != "kid@example.cn" || v.SubjectPhone != "+8613900139000" || v.SubjectAccountID != "kid_7" {
		t.Errorf("subject fields = %q %q %q %q", v.SubjectName, v.SubjectEmail, v.SubjectPhone, v.SubjectAccountID)
	}
	var r Request
	var p Personal
	v.Fill(&r, &p, secret)
	wantIDs := Identifiers{Accounts: []string{"kid_7"}, Emails: []string{"kid@example.cn"}, Phones: []string{"+8613900139000"}}
	if !reflect.DeepEqual(p.Subject, wantIDs) || p.SubjectName != "小明 Xiao Ming" || p.Contact != (Contact{Email: "parent@example.cn"}) {
		t.Errorf("personal = %+v, want subject %+v, the name and the guardian's contact", p, wantIDs)
	}
	wantKeys := []string{
		SubjectKey(secret, IdentifierAccount, "kid_7"),
		SubjectKey(secret, IdentifierEmail, "kid@example.cn"),
		SubjectKey(secret, IdentifierEmail, "parent@example.cn"),
		SubjectKey(secret, IdentifierPhone, "+8613900139000"),
	}
	if !reflect.DeepEqual(r.HintKeys, wantKeys) {
		t.Errorf("hint keys = %v, want %v", r.HintKeys, wantKeys)
	}

	for _, tc := range []struct {
		name string
		sub  Submission
		want FieldErrors
	}{
		{"self gives none", Submission{Kind: "access", Role: "self", Email: "a@example.cn", SubjectName: "x", SubjectEmail: "b@example.cn", SubjectPhone: "13800138000", SubjectAccountID: "u"},
			FieldErrors{{Field: FieldSubjectName, Code: CodeNotApplicable}, {Field: FieldSubjectEmail, Code: CodeNotApplicable}, {Field: FieldSubjectPhone, Code: CodeNotApplicable}, {Field: FieldSubjectAccountID, Code: CodeNotApplicable}}},
		{"bad values", Submission{Kind: "access", Role: "agent", Email: "a@example.cn", SubjectName: "a\nb", SubjectEmail: "kid@", SubjectPhone: "12", SubjectAccountID: "k d"},
			FieldErrors{{Field: FieldSubjectName, Code: CodeInvalidText}, {Field: FieldSubjectEmail, Code: CodeInvalidEmail}, {Field: FieldSubjectPhone, Code: CodeInvalidPhone}, {Field: FieldSubjectAccountID, Code: CodeInvalidAccountID}}},
		{"name too long", Submission{Kind: "access", Role: "relative_of_deceased", Phone: "13800138000", SubjectName: strings.Repeat("名", MaxSubjectName+1)},
			FieldErrors{{Field: FieldSubjectName, Code: CodeTooLong, Max: MaxSubjectName}}},
		{"control character in the name", Submission{Kind: "access", Role: "guardian", Phone: "13800138000", SubjectName: "a\x00b"},
			FieldErrors{{Field: FieldSubjectName, Code: CodeInvalidText}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.sub.Validate(phone.Parse)
			var got FieldErrors
			if !errors.As(err, &got) || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Validate() error = %v, want %v", err, tc.want)
			}
		})
	}
	// Blank subject fields are no fields, for every role.
	if _, err := (Submission{Kind: "access", Role: "self", Email: "a@example.cn", SubjectName: " ", SubjectEmail: "\t"}).Validate(phone.Parse); err != nil {
		t.Errorf("blank subject fields: %v", err)
	}
}

func BenchmarkValidate(b *testing.B) {
	s := Submission{Kind: "erasure", Role: "self", ErasureGround: "stopped_using", Email: "Zhang.San@QQ.com", Phone: "+86 138 0013 8000", AccountID: "u_42", Locale: "zh-CN", Details: "请删除我的全部数据"}
	for b.Loop() {
		if _, err := s.Validate(phone.Parse); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSubjectKey(b *testing.B) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	for b.Loop() {
		_ = SubjectKey(secret, IdentifierPhone, "+8613800138000")
	}
}
