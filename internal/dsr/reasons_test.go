package dsr

import (
	"strings"
	"testing"
)

func TestErasureGrounds(t *testing.T) {
	want := []struct {
		g    ErasureGround
		zhCN string // the policy's 五.2 wording
	}{
		{"unlawful_processing", "违反法律法规"},
		{"no_consent", "未征得您的同意"},
		{"breach_of_agreement", "违反了与您的约定"},
		{"stopped_using", "不再使用我们的产品或服务"},
		{"service_terminated", "终止服务及运营"},
	}
	got := ErasureGrounds()
	if len(got) != len(want) {
		t.Fatalf("ErasureGrounds() = %v, want %d grounds", got, len(want))
	}
	for i, w := range want {
		if got[i] != w.g || !got[i].Valid() {
			t.Errorf("ground %d = %q (valid %v), want %q", i+1, got[i], got[i].Valid(), w.g)
		}
		if zh := got[i].Text(LocaleZhCN); !strings.Contains(zh, w.zhCN) {
			t.Errorf("%s zh-CN text %q, want it to contain %q", w.g, zh, w.zhCN)
		}
		if en := got[i].Text(LocaleEn); en == "" || en == got[i].Text(LocaleZhCN) {
			t.Errorf("%s en text %q", w.g, en)
		}
	}
	if ErasureGround("other").Valid() {
		t.Error(`ErasureGround("other").Valid() = true`)
	}
}

func TestRefusalReasons(t *testing.T) {
	want := []struct {
		r        RefusalReason
		category RefusalCategory
		policy   string
		zhCN     string
	}{
		{"national_security", RefusalLegal, "五.5(1)", "与国家安全、国防安全有关"},
		{"public_interest", RefusalLegal, "五.5(2)", "与公共安全、公共卫生、重大公共利益有关"},
		{"criminal_proceedings", RefusalLegal, "五.5(3)", "与犯罪侦查、起诉和审判等有关"},
		{"malice_or_abuse", RefusalLegal, "五.5(4)", "有充分证据表明您存在主观恶意或滥用权利"},
		{"serious_harm", RefusalLegal, "五.5(5)", "响应您的请求将导致您或其他个人、组织的合法权益受到严重损害"},
		{"groundless_repetition", RefusalUnreasonable, "五.5", "无端重复"},
		{"excessive_technical_means", RefusalUnreasonable, "五.5", "需要过多技术手段"},
		{"risk_to_others", RefusalUnreasonable, "五.5", "给他人合法权益带来风险"},
		{"impractical", RefusalUnreasonable, "五.5", "非常不切实际"},
		{"identity_not_verified", RefusalOperational, "五.5", "身份"},
		{"authority_not_proven", RefusalOperational, "六", "代表"},
		{"legal_hold", RefusalOperational, "五.2", "法律法规"},
		{"outstanding_obligations", RefusalOperational, "五.4", "注销"},
		{"duplicate", RefusalOperational, "五.5", "相同的请求"},
	}
	got := RefusalReasons()
	if len(got) != len(want) || len(got) != len(refusalInfos) {
		t.Fatalf("RefusalReasons() has %d reasons, %d described; want %d", len(got), len(refusalInfos), len(want))
	}
	for i, w := range want {
		r := got[i]
		if r != w.r || !r.Valid() || r.Category() != w.category || r.Policy() != w.policy {
			t.Errorf("reason %d = %q valid=%v category=%q policy=%q; want %q %q %q", i, r, r.Valid(), r.Category(), r.Policy(), w.r, w.category, w.policy)
		}
		if zh := r.Label(LocaleZhCN); !strings.Contains(zh, w.zhCN) {
			t.Errorf("%s zh-CN label %q, want it to contain %q", r, zh, w.zhCN)
		}
		if en := r.Label(LocaleEn); en == "" || en == r.Label(LocaleZhCN) {
			t.Errorf("%s en label %q", r, en)
		}
		if !r.Undisclosed() {
			for _, l := range Locales() {
				if r.Text(l) != r.Label(l) {
					t.Errorf("%s (disclosed) %s: Text %q, Label %q; want the same", r, l, r.Text(l), r.Label(l))
				}
			}
		}
	}
	if RefusalReason("because").Valid() || RefusalReason("because").Label(LocaleEn) != "" {
		t.Error(`RefusalReason("because") is valid or has a label`)
	}
}

// TestUndisclosedReasons: national security and criminal proceedings are
// never told to the requester (no tipping-off): their Text is the neutral
// text, the same for both and in both languages free of the real ground;
// operators see the real ground, marked, in Label.
func TestUndisclosedReasons(t *testing.T) {
	var got []RefusalReason
	for _, r := range RefusalReasons() {
		if r.Undisclosed() {
			got = append(got, r)
		}
	}
	want := []RefusalReason{RefusalNationalSecurity, RefusalCriminalProceedings}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("undisclosed reasons = %v, want %v", got, want)
	}
	for _, r := range want {
		if r.Category() != RefusalLegal {
			t.Errorf("%s: category %s, want legal", r, r.Category())
		}
		for _, l := range Locales() {
			text, label := r.Text(l), r.Label(l)
			if text != NeutralRefusal.In(l) {
				t.Errorf("%s %s: Text = %q, want the neutral text %q", r, l, text, NeutralRefusal.In(l))
			}
			ground := refusalInfos[r].text.In(l)
			if !strings.HasPrefix(label, ground) || label == ground {
				t.Errorf("%s %s: Label = %q, want the ground %q marked as undisclosed", r, l, label, ground)
			}
			for _, leak := range []string{ground, string(r), r.Policy(), "国家安全", "犯罪", "national security", "criminal"} {
				if strings.Contains(strings.ToLower(text), strings.ToLower(leak)) {
					t.Errorf("%s %s: Text %q reveals %q", r, l, text, leak)
				}
			}
		}
	}
	if NeutralPolicy != "五.5" || RefusalNationalSecurity.Policy() != "五.5(1)" {
		t.Errorf("NeutralPolicy = %q, national_security policy = %q", NeutralPolicy, RefusalNationalSecurity.Policy())
	}
}

func TestKindsRolesChannels(t *testing.T) {
	if got := len(Kinds()); got != 6 {
		t.Errorf("%d kinds, want 6", got)
	}
	for _, k := range Kinds() {
		if !k.Valid() || k.Text(LocaleZhCN) == "" || k.Text(LocaleEn) == "" {
			t.Errorf("kind %s: valid %v, texts %q %q", k, k.Valid(), k.Text(LocaleZhCN), k.Text(LocaleEn))
		}
		if want := k == KindErasure || k == KindAccountClosure; k.ErasesData() != want {
			t.Errorf("%s.ErasesData() = %v, want %v", k, k.ErasesData(), want)
		}
	}
	for _, r := range Roles() {
		if !r.Valid() || r.Text(LocaleEn) == "" {
			t.Errorf("role %s: valid %v", r, r.Valid())
		}
		if want := r != RoleSelf; r.NeedsManualReview() != want {
			t.Errorf("%s.NeedsManualReview() = %v, want %v", r, r.NeedsManualReview(), want)
		}
	}
	if len(Roles()) != 4 || len(Channels()) != 3 {
		t.Errorf("%d roles, %d channels; want 4 and 3", len(Roles()), len(Channels()))
	}
	for _, c := range Channels() {
		if !c.Valid() {
			t.Errorf("channel %s not valid", c)
		}
	}
	if Kind("delete").Valid() || Role("friend").Valid() || Role("").NeedsManualReview() || Channel("fax").Valid() {
		t.Error("an unknown kind, role or channel was accepted")
	}
}

func TestPurposes(t *testing.T) {
	for _, p := range Purposes() {
		if !ValidPurpose(p) || PurposeText(p, LocaleZhCN) == "" || PurposeText(p, LocaleEn) == "" {
			t.Errorf("purpose %s lacks texts", p)
		}
	}
	if PurposeText(PurposeAnalytics, LocaleZhCN) != "数据统计服务" {
		t.Errorf("analytics zh-CN = %q, want the policy's 数据统计服务", PurposeText(PurposeAnalytics, LocaleZhCN))
	}
	if ValidPurpose("marketing") {
		t.Error("ValidPurpose(marketing) = true")
	}
}

func TestLocale(t *testing.T) {
	match := []struct {
		in   []string
		want Locale
	}{
		{nil, LocaleZhCN},
		{[]string{"en"}, LocaleEn},
		{[]string{"en-GB"}, LocaleEn},
		{[]string{"en-US,en;q=0.9,zh-CN;q=0.8"}, LocaleEn},
		{[]string{"zh-CN,zh;q=0.9,en;q=0.8"}, LocaleZhCN},
		{[]string{"zh-Hans-CN"}, LocaleZhCN},
		{[]string{"fr-FR"}, LocaleZhCN},
		{[]string{"fr", "en"}, LocaleEn},
	}
	for _, tt := range match {
		if got := MatchLocale(tt.in...); got != tt.want {
			t.Errorf("MatchLocale(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
	parse := []struct {
		in     string
		want   Locale
		wantOK bool
	}{
		{"", LocaleZhCN, true},
		{"en", LocaleEn, true},
		{" EN-us ", LocaleEn, true},
		{"zh-CN", LocaleZhCN, true},
		{"de", LocaleZhCN, true},
		{"!!", LocaleZhCN, false},
		{"english please", LocaleZhCN, false},
	}
	for _, tt := range parse {
		got, ok := ParseLocale(tt.in)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("ParseLocale(%q) = %s, %v; want %s, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
	for _, l := range Locales() {
		if !l.Valid() {
			t.Errorf("%s not valid", l)
		}
	}
	if Locale("en-US").Valid() {
		t.Error(`Locale("en-US").Valid() = true; only exact supported locales are valid`)
	}
	txt := Text{ZhCN: "中", En: "en"}
	if txt.In(LocaleEn) != "en" || txt.In(LocaleZhCN) != "中" || txt.In("ja") != "中" {
		t.Error("Text.In picked the wrong language")
	}
}
