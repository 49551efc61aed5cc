package mail

import (
	"slices"
	"strings"
	"testing"

	"dsrflow/internal/dsr"
)

// norm prepares text the way Classify does before the rules read it.
func norm(s string) string { return traditionalToSimplified.Replace(strings.ToLower(s)) }

// TestKindRules checks every kind both ways: wording that must be recognized,
// and close wording that must not be.
func TestKindRules(t *testing.T) {
	tests := []struct {
		kind  dsr.Kind
		text  string
		match bool
	}{
		{dsr.KindErasure, "请删除我的个人信息", true},
		{dsr.KindErasure, "请把我的资料删掉", true},
		{dsr.KindErasure, "請刪除我的個人資料", true},
		{dsr.KindErasure, "Please delete my data", true},
		{dsr.KindErasure, "I request erasure of my personal information", true},
		{dsr.KindErasure, "I invoke my Right to be Forgotten", true},
		{dsr.KindErasure, "Remove my personal data from your servers", true},
		{dsr.KindErasure, "我想了解你们的隐私政策", false},
		{dsr.KindErasure, "Please remove me from this thread", false},
		{dsr.KindErasure, "The deleted scenes were great", false},

		{dsr.KindAccess, "我想查询我的个人信息", true},
		{dsr.KindAccess, "请提供一份我的数据副本", true},
		{dsr.KindAccess, "你们收集了我的哪些信息？", true},
		{dsr.KindAccess, "請查詢我的個人資料", true},
		{dsr.KindAccess, "This is a subject access request", true},
		{dsr.KindAccess, "Send me a copy of my personal data", true},
		{dsr.KindAccess, "What personal data do you hold about me?", true},
		{dsr.KindAccess, "请查看附件", false},
		{dsr.KindAccess, "I cannot access my account", false},
		{dsr.KindAccess, "Copy of the invoice attached", false},

		{dsr.KindPortability, "请导出我的数据", true},
		{dsr.KindPortability, "我要把我的数据转移到另一个平台", true},
		{dsr.KindPortability, "Please export my data", true},
		{dsr.KindPortability, "I ask for data portability", true},
		{dsr.KindPortability, "in a machine-readable format", true},
		{dsr.KindPortability, "请转发给同事", false},
		{dsr.KindPortability, "Please transfer the money", false},

		{dsr.KindCorrection, "请更正我的生日", true},
		{dsr.KindCorrection, "请修改我的手机号", true},
		{dsr.KindCorrection, "我的资料有误", true},
		{dsr.KindCorrection, "Please correct my name", true},
		{dsr.KindCorrection, "I want to rectify my address", true},
		{dsr.KindCorrection, "My birthday is wrong", true},
		{dsr.KindCorrection, "请修改密码", false},
		{dsr.KindCorrection, "Is this the correct address for privacy questions?", false},

		{dsr.KindConsentWithdrawal, "我要撤回同意", true},
		{dsr.KindConsentWithdrawal, "撤回我的授权", true},
		{dsr.KindConsentWithdrawal, "撤回授權", true},
		{dsr.KindConsentWithdrawal, "请关闭个性化推荐", true},
		{dsr.KindConsentWithdrawal, "I withdraw my consent", true},
		{dsr.KindConsentWithdrawal, "I want to opt out of analytics", true},
		{dsr.KindConsentWithdrawal, "Stop processing my personal data", true},
		{dsr.KindConsentWithdrawal, "我同意你们的条款", false},
		{dsr.KindConsentWithdrawal, "I consent to the new terms", false},

		{dsr.KindAccountClosure, "请注销我的账号", true},
		{dsr.KindAccountClosure, "我要销户", true},
		{dsr.KindAccountClosure, "請註銷帳號", true},
		{dsr.KindAccountClosure, "关闭我的账户", true},
		{dsr.KindAccountClosure, "Please close my account", true},
		{dsr.KindAccountClosure, "Delete my account", true},
		{dsr.KindAccountClosure, "account deletion request", true},
		{dsr.KindAccountClosure, "I forgot my account password", false},
		{dsr.KindAccountClosure, "我的账号登录不了", false},

		// Wording added with the labelled corpus (issue 18).
		{dsr.KindErasure, "Please wipe all my recordings", true},
		{dsr.KindErasure, "I still want my data deleted", true},
		{dsr.KindErasure, "麻烦刪除晒我嘅錄音", true},
		{dsr.KindErasure, "I wiped my phone yesterday", false},
		{dsr.KindAccess, "Please send me a copy.", true},
		{dsr.KindAccess, "你们保存了他哪些个人信息", true},
		{dsr.KindAccess, "身份证复印件见附件", false},
		{dsr.KindPortability, "請將我的資料匯出", true},
		{dsr.KindCorrection, "请把手机号改成13700001234", true},
		{dsr.KindCorrection, "请将帐户电邮更新为 a@example.hk", true},
		{dsr.KindCorrection, "我的生日填错了", true},
		{dsr.KindCorrection, "I need my display name changed to SamR", true},
		{dsr.KindCorrection, "My surname is misspelled", true},
		{dsr.KindCorrection, "The app was updated to version 3", false},
		{dsr.KindCorrection, "请把这封邮件转给同事", false},
		{dsr.KindConsentWithdrawal, "唔該你哋停止用我嘅資料做數據統計", true},
		{dsr.KindConsentWithdrawal, "撤回對貴公司蒐集、處理及利用本人個人資料之全部同意", true},
		{dsr.KindConsentWithdrawal, "不想再收到你们的营销短信", true},
		{dsr.KindConsentWithdrawal, "she doesn't want you to use her recordings to train your AI", true},
		{dsr.KindConsentWithdrawal, "I withdraw all my consents", true},
		{dsr.KindConsentWithdrawal, "I consent to sharing", false},
		{dsr.KindAccountClosure, "请注销他的账号", true},
		{dsr.KindAccountClosure, "幫佢申請刪除佢個帳號", true},
		{dsr.KindAccountClosure, "I want his account closed", true},
		{dsr.KindAccountClosure, "删除她账号里所有的录音", false},
		{dsr.KindAccountClosure, "Please keep my account open", false},
	}
	for _, tt := range tests {
		got := slices.Contains(matchKinds(norm(tt.text)), tt.kind)
		if got != tt.match {
			t.Errorf("%q: matches %s = %v, want %v (kinds %v)", tt.text, tt.kind, got, tt.match, matchKinds(norm(tt.text)))
		}
	}
}

func TestEveryKindHasRulesInBothLanguages(t *testing.T) {
	for _, k := range dsr.Kinds() {
		for _, lang := range []string{LanguageZH, LanguageEN} {
			if !slices.ContainsFunc(kindRules(), func(r kindRule) bool { return r.kind == k && r.lang == lang }) {
				t.Errorf("kind %s has no %s rule", k, lang)
			}
		}
	}
	for _, r := range dsr.Roles() {
		if r == dsr.RoleSelf {
			continue
		}
		for _, lang := range []string{LanguageZH, LanguageEN} {
			if !slices.ContainsFunc(roleRules(), func(rr roleRule) bool { return rr.role == r && rr.lang == lang }) {
				t.Errorf("role %s has no %s rule", r, lang)
			}
		}
	}
}

func TestRoleRules(t *testing.T) {
	tests := []struct {
		text string
		want dsr.Role
	}{
		{"请删除我的数据", dsr.RoleSelf},
		{"Please delete my data", dsr.RoleSelf},
		{"我是孩子的监护人", dsr.RoleGuardian},
		{"我的孩子未成年", dsr.RoleGuardian},
		{"I am the legal guardian", dsr.RoleGuardian},
		{"Please delete my son's account", dsr.RoleGuardian},
		{"My daughter is a minor", dsr.RoleGuardian},
		{"This is a minor issue", dsr.RoleSelf},
		{"我受委托代为申请", dsr.RoleAgent},
		{"我是他的代理人", dsr.RoleAgent},
		{"I write on behalf of my client", dsr.RoleAgent},
		{"I am her authorized agent", dsr.RoleAgent},
		{"My behalf is mine", dsr.RoleSelf},
		{"我父亲已故", dsr.RoleRelativeOfDeceased},
		{"我母亲去年去世了", dsr.RoleRelativeOfDeceased},
		{"我父親過世了", dsr.RoleRelativeOfDeceased},
		{"My husband passed away last year", dsr.RoleRelativeOfDeceased},
		{"on behalf of my late father", dsr.RoleRelativeOfDeceased},
		{"on behalf of my son", dsr.RoleGuardian},
		{"I was late for the meeting", dsr.RoleSelf},

		// Issue 18: family acting for an adult is an agent; the word lawyer alone is not.
		{"我妈妈年纪大了，她让我帮她注销她的账号", dsr.RoleAgent},
		{"我替我老婆申请", dsr.RoleAgent},
		{"我爸爸唔識用電郵，叫我幫佢申請", dsr.RoleAgent},
		{"I'm writing for my father, who is 78", dsr.RoleAgent},
		{"my mom asked me to help her with this", dsr.RoleAgent},
		{"我儿子今年25岁，在国外读书，委托我帮他查询", dsr.RoleAgent},
		{"My son is 13 and made an account", dsr.RoleGuardian},
		{"我女儿今年十二岁", dsr.RoleGuardian},
		{"我女儿今年二十岁了", dsr.RoleAgent},
		{"My lawyer says I have the right to ask this", dsr.RoleSelf},
		{"Your customer service agent told me to write here", dsr.RoleSelf},
		{"I used my mother's old phone to register", dsr.RoleSelf},
		{"My brother died last month", dsr.RoleRelativeOfDeceased},
	}
	for _, tt := range tests {
		if got := matchRole(norm(tt.text)); got != tt.want {
			t.Errorf("matchRole(%q) = %s, want %s", tt.text, got, tt.want)
		}
	}
}

// TestNegationAndQuestions: a negated kind, and a kind only asked about,
// are not asked for (issue 18).
func TestNegationAndQuestions(t *testing.T) {
	k := func(ks ...dsr.Kind) []dsr.Kind { return ks }
	tests := []struct {
		text string
		want []dsr.Kind
	}{
		{"不注销", k()},
		{"我并不想注销账号，只是想删除我上传的声音模型", k(dsr.KindErasure)},
		{"暂时不申请注销账号，先帮我把所有的录音删除", k(dsr.KindErasure)},
		{"I am not closing my account, only delete my voice models", k(dsr.KindErasure)},
		{"Don't send me a copy, just delete it", k(dsr.KindErasure)},
		{"不需要发副本给我，直接删除我的数据就行", k(dsr.KindErasure)},
		{"Rather than deleting my account, could you just correct my name?", k(dsr.KindCorrection)},
		{"本来想注销账号，后来决定不注销了", k()},
		{"注销账号的事先不办了，请先把我的数据导出给我", k(dsr.KindPortability)},
		{"副本就不用了，删除吧", k(dsr.KindErasure)},
		{"I do not want my data deleted.", k()},
		{"如何注销账号？", k()},
		{"注销账号以后，我的作品会被删除吗？", k()},
		{"What happens to my songs if I delete my account?", k()},
		{"申请一份我的个人信息副本需要多久？", k()},
		{"能帮我注销账号吗？", k(dsr.KindAccountClosure)},
		{"Could you please deactivate my account?", k(dsr.KindAccountClosure)},
		{"What personal data do you hold about me?", k(dsr.KindAccess)},
		{"Could you explain whether you delete recordings?", k()},
		{"请删除我的数据，不要注销账号", k(dsr.KindErasure)},
		{"I'd like to delete my account and everything in it", k(dsr.KindErasure, dsr.KindAccountClosure)},
	}
	for _, tt := range tests {
		got := findKinds(norm(tt.text)).asked
		if !slices.Equal(got, tt.want) {
			t.Errorf("findKinds(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}
}

func TestCombineKinds(t *testing.T) {
	k := func(ks ...dsr.Kind) []dsr.Kind { return ks }
	tests := []struct {
		in, want []dsr.Kind
	}{
		{k(dsr.KindErasure, dsr.KindAccountClosure), k(dsr.KindAccountClosure)},
		{k(dsr.KindAccess, dsr.KindPortability), k(dsr.KindPortability)},
		{k(dsr.KindErasure), k(dsr.KindErasure)},
		{k(dsr.KindAccess, dsr.KindCorrection), k(dsr.KindAccess, dsr.KindCorrection)},
		{k(dsr.KindErasure, dsr.KindConsentWithdrawal), k(dsr.KindErasure, dsr.KindConsentWithdrawal)},
		{k(), nil},
	}
	for _, tt := range tests {
		if got := combineKinds(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("combineKinds(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestDetectLanguage(t *testing.T) {
	tests := []struct{ text, want string }{
		{"请删除我的数据", LanguageZH},
		{"请删除我的数据 (user id abc123, email zhang@example.cn)", LanguageZH},
		{"Please delete my data. 谢谢", LanguageEN},
		{"Please delete my data.", LanguageEN},
		{"", LanguageZH},
		{"12345", LanguageZH},
		{"請刪除我的個人資料", LanguageZH},
	}
	for _, tt := range tests {
		if got := detectLanguage(tt.text); got != tt.want {
			t.Errorf("detectLanguage(%q) = %s, want %s", tt.text, got, tt.want)
		}
	}
}

func TestStripQuotes(t *testing.T) {
	tests := []struct {
		name, in, keep, drop string
	}{
		{"quoted lines", "erase my data\n> or close my account?\n", "erase my data", "close my account"},
		{"signature", "erase my data\n-- \nSent from my phone, my agent\n", "erase my data", "my agent"},
		{"english attribution", "erase my data\nOn Mon, Bob wrote:\ncorrect my name\n", "erase my data", "correct my name"},
		{"chinese attribution", "请删除数据\n在 2026年11月20日，客服 写道：\n请注销账号\n", "请删除数据", "请注销账号"},
		{"outlook original", "erase my data\n-----Original Message-----\nexport\n", "erase my data", "export"},
		{"chinese original", "请删除数据\n------------------ 原始邮件 ------------------\n导出\n", "请删除数据", "导出"},
		{"dash inside text kept", "erase my data -- all of it\nthanks\n", "all of it", "\x00"},
	}
	for _, tt := range tests {
		got := segmentBody(tt.in, "").Own
		if !strings.Contains(got, tt.keep) || strings.Contains(got, tt.drop) {
			t.Errorf("%s: own text = %q, want %q kept and %q dropped", tt.name, got, tt.keep, tt.drop)
		}
	}
}
