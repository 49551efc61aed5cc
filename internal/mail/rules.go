package mail

import (
	"regexp"
	"strings"
	"sync"

	"dsrflow/internal/dsr"
)

// kindRule recognizes one kind of request in lower-cased text. Rules are data:
// add a line to extend them, and a case to rules_test.go for it (both ways).
type kindRule struct {
	kind dsr.Kind
	lang string // "zh" or "en": which wording the pattern reads
	re   *regexp.Regexp
}

// kindRules and roleRules compile on first use: at package init they cost
// intake-mail's every cold start a few milliseconds (internal/dev/coldstart).
var kindRules = sync.OnceValue(func() []kindRule {
	return []kindRule{
		{dsr.KindErasure, LanguageZH, regexp.MustCompile(`删除|删掉|清除|抹去|销毁|被遗忘`)},
		{dsr.KindErasure, LanguageEN, regexp.MustCompile(`\b(delete|deletion|erase|erasure)\b|\bremove (all )?(of )?my (personal )?(data|information|info|details|recordings|voice|photos)\b|right to be forgotten|\bforget me\b`)},

		{dsr.KindAccess, LanguageZH, regexp.MustCompile(`查询(我的)?(个人)?(信息|数据|资料)|查阅|访问(我的)?(个人)?(信息|数据|资料)|副本|查看我的(个人)?(信息|数据|资料)|获取我的(个人)?(信息|数据|资料)|(收集|持有|保存|存储)了(我的)?哪些`)},
		{dsr.KindAccess, LanguageEN, regexp.MustCompile(`\b(subject )?access request\b|\bright (of|to) access\b|\baccess (to )?(my|the) (personal )?(data|information|info)\b|\bcopy of (all )?(my|the) (personal )?(data|information|info)\b|\bwhat (personal )?(data|information) (do )?you (hold|have|store|keep|process|collect)`)},

		{dsr.KindPortability, LanguageZH, regexp.MustCompile(`导出|可携|(转移|迁移)(我的)?(个人)?(信息|数据|资料)|(信息|数据|资料)(转移|迁移)`)},
		{dsr.KindPortability, LanguageEN, regexp.MustCompile(`\bexport\b|\bportab(le|ility)\b|\bmachine[- ]readable\b|\btransfer (all )?(of )?my (personal )?(data|information)\b`)},

		{dsr.KindCorrection, LanguageZH, regexp.MustCompile(`更正|纠正|修正|(修改|更新)(我的)?(个人)?(信息|资料|数据|姓名|名字|手机号|邮箱|生日|地址)|(信息|资料|数据)(有误|错误|不正确|不准确)`)},
		{dsr.KindCorrection, LanguageEN, regexp.MustCompile(`\bcorrect (my|the|this|these|it)\b|\bcorrection\b|\brectif(y|ication)\b|\bupdate my (personal )?(data|information|details|name|address|email|phone|birthday|date of birth)\b|\b(is|are) (wrong|incorrect|inaccurate)\b`)},

		{dsr.KindConsentWithdrawal, LanguageZH, regexp.MustCompile(`(撤回|撤销|收回)(我的)?(同意|授权)|取消授权|不再同意|退订|拒绝(接收)?(营销|推送|广告)|关闭(个性化)?(推荐|推送)|停止(使用|处理)我的(个人)?(信息|数据)`)},
		{dsr.KindConsentWithdrawal, LanguageEN, regexp.MustCompile(`\b(withdraw|revoke)( my)? consent\b|\bopt[ -]?out\b|\bstop (using|processing) my (personal )?(data|information)\b|\bobject to (the )?processing\b`)},

		{dsr.KindAccountClosure, LanguageZH, regexp.MustCompile(`注销|销户|(关闭|删除|停用)(我的)?(账号|账户|帐号|帐户)`)},
		{dsr.KindAccountClosure, LanguageEN, regexp.MustCompile(`\b(close|delete|deactivate|cancel|terminate|remove) (my|the) (user )?account\b|\baccount (closure|deletion|cancellation|termination)\b`)},
	}
})

// kindOrder is the order kinds are reported in.
var kindOrder = []dsr.Kind{
	dsr.KindAccess, dsr.KindPortability, dsr.KindCorrection,
	dsr.KindErasure, dsr.KindConsentWithdrawal, dsr.KindAccountClosure,
}

// matchKinds returns every kind whose rules match text, in kindOrder.
func matchKinds(text string) []dsr.Kind {
	found := map[dsr.Kind]bool{}
	for _, r := range kindRules() {
		if !found[r.kind] && r.re.MatchString(text) {
			found[r.kind] = true
		}
	}
	out := []dsr.Kind{}
	for _, k := range kindOrder {
		if found[k] {
			out = append(out, k)
		}
	}
	return out
}

// roleRule recognizes who is asking. The first role with a matching rule wins,
// in this order: a relative of a deceased person, a guardian, an agent (so
// "on behalf of my late father" is relative_of_deceased and "on behalf of my
// son" is guardian); no match is self.
type roleRule struct {
	role dsr.Role
	lang string
	re   *regexp.Regexp
}

var roleRules = sync.OnceValue(func() []roleRule {
	return []roleRule{
		{dsr.RoleRelativeOfDeceased, LanguageZH, regexp.MustCompile(`已故|去世|逝世|过世|离世|身故|亡故|遗属|近亲属`)},
		{dsr.RoleRelativeOfDeceased, LanguageEN, regexp.MustCompile(`\bdeceased\b|\bpassed away\b|\bdied\b|\blate (father|mother|husband|wife|son|daughter|brother|sister|parent|spouse|partner)\b|\bnext of kin\b|\bestate of\b`)},
		{dsr.RoleGuardian, LanguageZH, regexp.MustCompile(`监护人|未成年|我的孩子|我孩子|我家孩子|我儿子|我女儿|孩子的`)},
		{dsr.RoleGuardian, LanguageEN, regexp.MustCompile(`(?m)\bguardian\b|\bmy (child|son|daughter|kid|children|kids)\b|\bparent of\b|\b(is|was) (still )?a minor([.,;!)]|$| and\b| who\b)|\bunder ?age\b|\bunder the age of\b`)},
		{dsr.RoleAgent, LanguageZH, regexp.MustCompile(`代理|代表|委托|律师`)},
		{dsr.RoleAgent, LanguageEN, regexp.MustCompile(`\bon behalf of\b|\bauthori[sz]ed (agent|representative)\b|\bpower of attorney\b|\bmy client\b|\bacting for\b|\battorney\b|\blawyer\b|\bagent\b`)},
	}
})

// matchRole returns the requester's role according to roleRules.
func matchRole(text string) dsr.Role {
	for _, r := range roleRules() {
		if r.re.MatchString(text) {
			return r.role
		}
	}
	return dsr.RoleSelf
}

// traditionalToSimplified folds the traditional characters of the rule words
// into simplified ones, so one rule reads both (Big5 mail from Taiwan and Hong
// Kong). It covers the rule vocabulary only; extend it with the rules.
var traditionalToSimplified = strings.NewReplacer(
	"刪", "删", "註", "注", "銷", "销", "帳", "账", "賬", "账", "號", "号", "戶", "户", "詢", "询",
	"閱", "阅", "訪", "访", "問", "问", "導", "导", "攜", "携", "轉", "转", "遷", "迁", "糾", "纠",
	"資", "资", "訊", "讯", "權", "权", "訂", "订", "監", "监", "護", "护", "們", "们", "託", "托",
	"師", "师", "過", "过", "離", "离", "數", "数", "據", "据", "個", "个", "錯", "错", "誤", "误",
	"確", "确", "準", "准", "遺", "遗", "屬", "属", "親", "亲", "兒", "儿", "關", "关", "閉", "闭",
	"處", "处", "覽", "览", "與", "与", "給", "给", "請", "请", "將", "将", "讓", "让", "談", "谈",
	"統", "统", "計", "计", "薦", "荐", "廣", "广", "營", "营", "歲", "岁", "齡", "龄", "書", "书",
	"證", "证", "復", "复", "製", "制", "碼", "码", "郵", "邮", "無", "无", "驗", "验", "撥", "拨",
	"後", "后", "繼", "继", "種", "种", "歸", "归", "還", "还", "獲", "获", "費", "费", "應", "应",
	"擁", "拥", "儲", "储", "稱", "称", "實", "实", "務", "务",
)
