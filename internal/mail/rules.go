package mail

import (
	"regexp"
	"strings"
	"sync"

	"dsrflow/internal/dsr"
)

// The rules read text prepared by fold: lower-cased, traditional and
// Cantonese characters of the rule vocabulary folded into simplified Mandarin
// ones. Each table is data: a new phrase is one line, with a case beside it
// in rules_test.go (both ways: what must match and what must not).

// kindRule recognizes one kind of request in a clause.
type kindRule struct {
	kind dsr.Kind
	lang string // "zh" or "en": which wording the pattern reads
	re   *regexp.Regexp
	// asks means the wording asks for the kind even as a question ("what
	// data do you hold about me?" is an access request).
	asks bool
}

// kindRules compile on first use: at package init they cost intake-mail's
// every cold start a few milliseconds (internal/dev/coldstart).
var kindRules = sync.OnceValue(func() []kindRule {
	return []kindRule{
		{dsr.KindErasure, LanguageZH, regexp.MustCompile(`删除|删掉|删了|删光|删晒|删去|清除|抹去|销毁|移除|被遗忘|删数据`), false},
		{dsr.KindErasure, LanguageEN, regexp.MustCompile(`\b(delete|deletion|erase|erasure)\b|\b(data|recordings|information|everything|it|them) (be |being )?(deleted|erased)\b|\bremove (all )?(of )?(my|her|his|their) (personal )?(data|information|info|details|recordings|voice|photos)\b|\bremove everything\b|\b(wipe|purge)\b|\bget rid of (all )?(my|her|his|their)\b|right to be forgotten|\bforget me\b`), false},

		{dsr.KindAccess, LanguageZH, regexp.MustCompile(`查询.{0,12}(信息|数据|资料)|查阅|访问(我|她|他)?的?(个人)?(信息|数据|资料)|副本|复本|查看(我|她|他)的(个人)?(信息|数据|资料)|获取(我|她|他)的(个人)?(信息|数据|资料)`), false},
		{dsr.KindAccess, LanguageZH, regexp.MustCompile(`(收集|蒐集|持有|保存|存储)了?(我|她|他)(的)?哪些`), true},
		{dsr.KindAccess, LanguageEN, regexp.MustCompile(`\b(subject )?access request\b|\bright (of|to) access\b|\baccess (to )?(my|the|her|his|their) (personal )?(data|information|info)\b|\bcopy of (all )?(of )?(my|the|her|his|their|all the) (personal )?(data|information|info)\b|\b(send|give|provide) (me|us) (with )?a copy\b`), false},
		{dsr.KindAccess, LanguageEN, regexp.MustCompile(`\bwhat (personal )?(data|information) (do )?you (hold|have|store|keep|process|collect)`), true},

		{dsr.KindPortability, LanguageZH, regexp.MustCompile(`导出|汇出|可携|(转移|迁移)(我的)?(个人)?(信息|数据|资料)|(信息|数据|资料)(转移|迁移)`), false},
		{dsr.KindPortability, LanguageEN, regexp.MustCompile(`\bexport\b|\bportab(le|ility)\b|\bmachine[- ]readable\b|\btransfer (all )?(of )?my (personal )?(data|information)\b`), false},

		{dsr.KindCorrection, LanguageZH, regexp.MustCompile(`更正|纠正|修正|改正|(修改|更新|更改|变更)(一下)?(我|她|他)?的?(账号|账户)?(绑定的)?(个人)?(信息|资料|数据|姓名|名字|手机号|手机|邮箱|电邮|生日|地址|昵称|电话)|(把|将).{0,15}(改成|改为|修改为|更新为|更改为|换成)|(信息|资料|数据|名字|姓名|生日)(有误|错误|错了|不正确|不准确|录错|登记错)|(填|录|登记|写|输入)错了?|正确的是|改一下|应为`), false},
		{dsr.KindCorrection, LanguageEN, regexp.MustCompile(`\bcorrect (my|the|this|these|it|his|her)\b|\bcorrection\b|\brectif(y|ication)\b|\bupdate (my|his|her) (personal )?(data|information|details|name|address|email|phone|birthday|date of birth)\b|\b(is|are) (wrong|incorrect|inaccurate|misspelt|misspelled)\b|\b(name|number|email|address|birthday|date of birth|nickname|surname|phone)( to be| be)? (changed|updated|corrected) to\b|\b(change|update) my [a-z ]{1,20} to\b`), false},

		{dsr.KindConsentWithdrawal, LanguageZH, regexp.MustCompile(`(撤回|撤销|收回).{0,30}(同意|授权)|取消授权|不再同意|退订|拒绝(接收)?(营销|推送|广告)|关闭(对我的)?(个性化)?(推荐|推送)|停止(使用|处理|用)(我|她|他)的?(个人)?(信息|数据|资料|录音|声音)|不(想|要)再?(收到|接收).{0,8}(营销|推送|广告|短信)|不要再(把|将)?(我|她|他)的(个人)?(数据|信息|资料|录音|声音)用于`), false},
		{dsr.KindConsentWithdrawal, LanguageEN, regexp.MustCompile(`\b(withdraw|withdraws|withdrawing|revoke|revokes|revoking) (all )?(of )?((my|his|her|their) )?consents?\b|\bopt[ -]?(me |him |her )?out\b|\bstop (using|processing) (my|her|his|their) (personal )?(data|information|recordings)\b|\bobject to (the )?processing\b|\b(don't|do not|doesn't|does not|no longer) want (you |them )?to use (my|her|his|their) (data|recordings|voice)|\b(don't|do not|doesn't|does not) want (my|her|his) [a-z ]{0,20}used\b|\bunsubscribe\b`), false},

		{dsr.KindAccountClosure, LanguageZH, regexp.MustCompile(`注销|销户|删号|(关闭|删除|停用|取消)(我|她|他|其)?(的|个)?(在.{0,10})?(账号|账户)([^里中内上下]|$)`), false},
		{dsr.KindAccountClosure, LanguageEN, regexp.MustCompile(`\b(close|delete|deactivate|cancel|terminate|remove) (my|the|her|his|their|this) (user )?account\b|\b(clos|delet|cancel)ing (my|her|his|their) account\b|\b(my|her|his|their) account (closed|deleted|cancel+ed|deactivated|terminated)\b|\baccount (closure|deletion|cancellation|termination)\b`), false},
	}
})

// kindOrder is the order kinds are reported in.
var kindOrder = []dsr.Kind{
	dsr.KindAccess, dsr.KindPortability, dsr.KindCorrection,
	dsr.KindErasure, dsr.KindConsentWithdrawal, dsr.KindAccountClosure,
}

// negationBefore are cues that negate a kind named after them in the same
// clause ("不注销", "I am not closing", "rather than deleting", "本来想注销").
// Only the words between the cue and the kind count: a contrast word there
// ("只", "only", "but") ends the negation.
var negationBefore = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`不|没|别|勿|无需|未|并非|本来想|原本想|原来想|本想|\bnot\b|n't\b|\bnever\b|\bno need\b|\bno longer need\b|\brather than\b|\binstead of\b|\bwithout\b|\bnor\b|\bneither\b`)
})

// contrast ends a negation's scope within a clause.
var contrast = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`只|仅|而是|但|就|直接|\bonly\b|\bjust\b|\bbut\b|\binstead\b`)
})

// negationAfter are cues after the kind that negate it ("副本就不用了").
var negationAfter = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^.{0,8}(不用了|不必了|不需要了|算了|就免了|不办了|先不办|先不|暂时不)|^.{0,20}\b(is not (needed|necessary)|not needed)\b`)
})

// maxNegationGap is how far (in bytes of folded text) a negation cue may be
// before the kind it negates.
const maxNegationGap = 40

// questionCue marks a sentence that asks something ("如何注销账号？",
// "what happens if I delete my account?").
var questionCue = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`[?？]|吗\s*$|呢\s*$|如何|怎么|怎样|是否|会不会|能不能|可不可以|有没有|多久|多长时间|什么|为什么|哪些|请问|^(how|what|when|where|why|which|who|whether|is|are|do|does|did|will|would|can|could|should|may)\b`)
})

// requestCue marks a sentence that asks us to do something even in question
// form ("能帮我注销账号吗？", "could you delete my data?"); infoCue words after
// it make it a question again ("could you explain ...").
var (
	requestCue = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`请(?:[^问]|$)|帮(我|她|他|忙)|麻烦|劳烦|我要|我想(?:[^知了问咨确]|$)|我希望|要求|申请|\bplease\b|\bkindly\b|\b(can|could|would|will) you\b|\bi (want|would like|wish|request|ask)\b|\bi'd like\b`)
	})
	infoCue = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`告诉我|说明|解释|介绍|需要多久|多长时间|\bhow long\b|\b(tell|explain|clarify|advise|inform)\b|\blet (me|us) know\b|\bconfirm (whether|if)\b`)
	})
)

// roleRule recognizes who is asking. The first role with a matching rule wins,
// in this order: a relative of a deceased person, a guardian, an agent (so
// "on behalf of my late father" is relative_of_deceased and "on behalf of my
// son" is guardian); no match is self. A guardian's child stated to be an
// adult (18 or older, "成年") makes the writer an agent.
type roleRule struct {
	role dsr.Role
	lang string
	re   *regexp.Regexp
}

var roleRules = sync.OnceValue(func() []roleRule {
	family := `妈妈|母亲|妈|爸爸|父亲|爸|老公|丈夫|老婆|妻子|太太|先生|哥哥|姐姐|弟弟|妹妹|爷爷|奶奶|外公|外婆|家人|朋友|婆婆|岳母|公公|岳父`
	familyEn := `mother|father|mom|mum|dad|sister|brother|wife|husband|grandmother|grandfather|grandma|grandpa|uncle|aunt|friend|partner`
	return []roleRule{
		{dsr.RoleRelativeOfDeceased, LanguageZH, regexp.MustCompile(`已故|去世|逝世|过世|离世|身故|亡故|遗属|近亲属|先父|先母|死亡证明`)},
		{dsr.RoleRelativeOfDeceased, LanguageEN, regexp.MustCompile(`\bdeceased\b|\bpassed away\b|\bdied\b|\blate (father|mother|husband|wife|son|daughter|brother|sister|parent|spouse|partner)\b|\bnext of kin\b|\bestate of\b|\bexecutor\b|\bdeath certificate\b|\bprobate\b`)},
		{dsr.RoleGuardian, LanguageZH, regexp.MustCompile(`监护人|未成年|我的孩子|我孩子|我家孩子|我儿子|我女儿|孩子的|孩子今年`)},
		{dsr.RoleGuardian, LanguageEN, regexp.MustCompile(`(?m)\bguardian\b|\bmy (child|son|daughter|kid|children|kids)\b|\bparent of\b|\bas (his|her|their) parents?\b|\b(is|was) (still )?a minor([.,;!)]|$| and\b| who\b)|\bunder ?age\b|\bunder the age of\b`)},
		{dsr.RoleAgent, LanguageZH, regexp.MustCompile(`代理人|代理|委托|受.{0,12}授权|授权书|当事人|律师事务所|法律事务所|本律师|本所|代为|代其|代(她|他)|帮(她|他)|替(我的?)?(` + family + `)|替(她|他)|(` + family + `)(让|叫|请|委托|托)我`)},
		{dsr.RoleAgent, LanguageEN, regexp.MustCompile(`\bon behalf of\b|\bauthori[sz]ed (agent|representative)\b|\bpower of attorney\b|\bletter of authority\b|\b(my|our) client\b|\bwe act for\b|\bwe represent\b|\bacting for\b|\bas (her|his|their) (agent|representative|lawyer|attorney|solicitor)\b|\bwriting for my (` + familyEn + `)\b|\bmy (` + familyEn + `) (asked|wants|would like)\b|\bhelp (her|him) with\b|\bfor (her|him) since\b|\bcontact you for (her|him)\b`)},
	}
})

// adultAge finds an age in role text: "25岁", "二十五岁", "is 25", "25 years old".
var adultAge = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(\d{1,3}|[一二三四五六七八九十两]{1,3})\s*(岁|周岁)|\b(is|aged|age) (\d{1,3})\b|\b(\d{1,3})[- ]years?[- ]old\b|成年`)
})

// matchRole returns the requester's role according to roleRules.
func matchRole(text string) dsr.Role {
	for _, r := range roleRules() {
		if !r.re.MatchString(text) {
			continue
		}
		if r.role == dsr.RoleGuardian && statesAdult(text) {
			return dsr.RoleAgent
		}
		return r.role
	}
	return dsr.RoleSelf
}

// statesAdult reports whether text gives an age of 18 or more (or says 成年
// without 未).
func statesAdult(text string) bool {
	for _, m := range adultAge().FindAllStringSubmatch(text, 10) {
		switch {
		case m[0] == "成年":
			if !strings.Contains(text, "未成年") {
				return true
			}
		default:
			for _, g := range []string{m[1], m[4], m[5]} {
				if g != "" && parseAge(g) >= 18 {
					return true
				}
			}
		}
	}
	return false
}

// parseAge reads 1-3 Arabic digits or a small Chinese numeral; -1 if neither.
func parseAge(s string) int {
	n := 0
	digits := true
	for _, r := range s {
		if r < '0' || r > '9' {
			digits = false
			break
		}
		n = n*10 + int(r-'0')
	}
	if digits {
		return n
	}
	val := map[rune]int{'一': 1, '二': 2, '两': 2, '三': 3, '四': 4, '五': 5, '六': 6, '七': 7, '八': 8, '九': 9}
	total, cur := 0, 0
	for _, r := range s {
		if r == '十' {
			if cur == 0 {
				cur = 1
			}
			total += cur * 10
			cur = 0
			continue
		}
		v, ok := val[r]
		if !ok {
			return -1
		}
		cur = v
	}
	return total + cur
}

// fold prepares text for the rules: lower case, traditional and Cantonese
// characters of the rule vocabulary in simplified Mandarin. It keeps byte
// offsets meaningless: match on its output only.
func fold(s string) string { return traditionalToSimplified.Replace(strings.ToLower(s)) }

// traditionalToSimplified folds the traditional characters of the rule words
// into simplified ones, so one rule reads both (Big5 mail from Taiwan and Hong
// Kong), and a few Cantonese words into Mandarin. It covers the rule
// vocabulary only; extend it with the rules. Earlier pairs win ("唔該" before
// "唔").
var traditionalToSimplified = strings.NewReplacer(
	"唔該", "请", "唔该", "请", "唔", "不", "佢", "他", "冇", "没", "嘅", "的", "哋", "们", "係", "是",
	"刪", "删", "註", "注", "銷", "销", "帳", "账", "賬", "账", "號", "号", "戶", "户", "詢", "询",
	"閱", "阅", "訪", "访", "問", "问", "導", "导", "攜", "携", "轉", "转", "遷", "迁", "糾", "纠",
	"資", "资", "訊", "讯", "權", "权", "訂", "订", "監", "监", "護", "护", "們", "们", "託", "托",
	"師", "师", "過", "过", "離", "离", "數", "数", "據", "据", "個", "个", "錯", "错", "誤", "误",
	"確", "确", "準", "准", "遺", "遗", "屬", "属", "親", "亲", "兒", "儿", "關", "关", "閉", "闭",
	"處", "处", "覽", "览", "與", "与", "給", "给", "請", "请", "將", "将", "讓", "让", "談", "谈",
	"統", "统", "計", "计", "薦", "荐", "廣", "广", "營", "营", "歲", "岁", "齡", "龄", "書", "书",
	"證", "证", "復", "复", "製", "制", "碼", "码", "郵", "邮", "無", "无", "驗", "验", "撥", "拨",
	"後", "后", "繼", "继", "種", "种", "歸", "归", "還", "还", "獲", "获", "費", "费", "應", "应",
	"擁", "拥", "儲", "储", "稱", "称", "實", "实", "務", "务", "為", "为", "沒", "没", "別", "别",
	"電", "电", "夥", "伙", "匯", "汇", "複", "复", "錄", "录", "聲", "声", "機", "机", "換", "换",
	"幫", "帮", "麻煩", "麻烦", "對", "对", "於", "于", "讀", "读", "學", "学", "認", "认", "媽", "妈",
	"爺", "爷", "嗎", "吗", "麼", "么", "甚", "什", "會", "会", "裡", "里", "裏", "里", "暫", "暂",
	"時", "时", "並", "并", "僅", "仅", "須", "须", "際", "际", "閒", "闲", "傳", "传", "養", "养",
	"級", "级", "項", "项", "類", "类", "擇", "择", "選", "选", "縮", "缩", "執", "执", "終", "终",
	"結", "结", "負", "负", "責", "责", "聯", "联", "絡", "络", "樣", "样", "決", "决", "變", "变",
	"態", "态", "見", "见", "經", "经", "歷", "历", "紀", "纪", "禮", "礼", "啟", "启", "謹", "谨",
	"謝", "谢", "頌", "颂", "條", "条", "規", "规", "雙", "双", "當", "当", "專", "专", "業", "业",
	"難", "难", "況", "况",
)
