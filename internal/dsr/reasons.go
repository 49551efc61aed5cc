package dsr

// The five situations of policy 五.2 in which the data subject may ask for erasure.
const (
	// GroundUnlawfulProcessing is 五.2 (1): 我们处理个人信息的行为违反法律法规.
	GroundUnlawfulProcessing ErasureGround = "unlawful_processing"
	// GroundNoConsent is 五.2 (2): 我们收集、使用您的个人信息，却未征得您的同意.
	GroundNoConsent ErasureGround = "no_consent"
	// GroundBreachOfAgreement is 五.2 (3): 我们处理个人信息的行为违反了与您的约定.
	GroundBreachOfAgreement ErasureGround = "breach_of_agreement"
	// GroundStoppedUsing is 五.2 (4): 您不再使用我们的产品或服务，或您注销了账户.
	GroundStoppedUsing ErasureGround = "stopped_using"
	// GroundServiceTerminated is 五.2 (5): 我们终止服务及运营.
	GroundServiceTerminated ErasureGround = "service_terminated"
)

var erasureGroundTexts = map[ErasureGround]Text{
	GroundUnlawfulProcessing: {
		ZhCN: "我们处理个人信息的行为违反法律法规",
		En:   "Our processing of your personal information violates laws or regulations",
	},
	GroundNoConsent: {
		ZhCN: "我们收集、使用您的个人信息，却未征得您的同意",
		En:   "We collected or used your personal information without your consent",
	},
	GroundBreachOfAgreement: {
		ZhCN: "我们处理个人信息的行为违反了与您的约定",
		En:   "Our processing of your personal information breaches our agreement with you",
	},
	GroundStoppedUsing: {
		ZhCN: "您不再使用我们的产品或服务，或您注销了账户",
		En:   "You no longer use our products or services, or you have closed your account",
	},
	GroundServiceTerminated: {
		ZhCN: "我们终止服务及运营",
		En:   "We have terminated the service and its operation",
	},
}

// ErasureGrounds lists the grounds in the policy's order, (1) to (5).
func ErasureGrounds() []ErasureGround {
	return []ErasureGround{GroundUnlawfulProcessing, GroundNoConsent, GroundBreachOfAgreement, GroundStoppedUsing, GroundServiceTerminated}
}

// Valid reports whether g is one of the five grounds.
func (g ErasureGround) Valid() bool { _, ok := erasureGroundTexts[g]; return ok }

// Text is the ground as the form shows it, in the policy's own words.
func (g ErasureGround) Text(l Locale) string { return erasureGroundTexts[g].In(l) }

// RefusalCategory groups refusal reasons by where they come from.
type RefusalCategory string

const (
	// RefusalLegal: the law forbids answering (policy 五.5 (1)–(5)).
	RefusalLegal RefusalCategory = "legal"
	// RefusalUnreasonable: the request is unreasonable (policy 五.5, 无端重复…).
	RefusalUnreasonable RefusalCategory = "unreasonable"
	// RefusalOperational: the request cannot be carried out as made (identity,
	// authority, retention duties, account obligations, duplicates).
	RefusalOperational RefusalCategory = "operational"
)

// Refusal reasons. Every refusal carries one, told to the requester in their
// language (PIPL art. 50).
const (
	// 五.5 (1)–(5): 按照法律法规要求，我们将无法响应您的请求.
	RefusalNationalSecurity    RefusalReason = "national_security"    // (1)
	RefusalPublicInterest      RefusalReason = "public_interest"      // (2)
	RefusalCriminalProceedings RefusalReason = "criminal_proceedings" // (3)
	RefusalMaliceOrAbuse       RefusalReason = "malice_or_abuse"      // (4)
	RefusalSeriousHarm         RefusalReason = "serious_harm"         // (5)

	// 五.5: 无端重复、需要过多技术手段、给他人合法权益带来风险或者非常不切实际的请求.
	RefusalGroundlessRepetition RefusalReason = "groundless_repetition"
	RefusalExcessiveTechnical   RefusalReason = "excessive_technical_means"
	RefusalRiskToOthers         RefusalReason = "risk_to_others"
	RefusalImpractical          RefusalReason = "impractical"

	// Operational reasons.
	RefusalIdentityNotVerified    RefusalReason = "identity_not_verified"   // 五.5 验证您的身份
	RefusalAuthorityNotProven     RefusalReason = "authority_not_proven"    // guardian/agent/relative without proof (PIPL art. 49; 六)
	RefusalLegalHold              RefusalReason = "legal_hold"              // 五.1/五.2 除非法律法规另有规定
	RefusalOutstandingObligations RefusalReason = "outstanding_obligations" // 五.4 履行情况
	RefusalDuplicate              RefusalReason = "duplicate"               // another open request covers it
)

type refusalInfo struct {
	category RefusalCategory
	policy   string // the policy clause it rests on
	text     Text
	// undisclosed: telling the requester would tip them off (see
	// RefusalReason.Undisclosed).
	undisclosed bool
}

// NeutralRefusal is what a requester is told of a reason that must not be
// disclosed (RefusalReason.Undisclosed): the policy's own umbrella wording
// for all five legal grounds of 五.5, which names none of them.
var NeutralRefusal = Text{
	ZhCN: "按照法律法规要求，我们无法响应您的这项请求",
	En:   "Laws and regulations do not allow us to act on this request.",
}

// NeutralPolicy is the policy clause quoted with NeutralRefusal: the
// umbrella clause 五.5, not the sub-clause of the real ground.
const NeutralPolicy = "五.5"

var refusalInfos = map[RefusalReason]refusalInfo{
	RefusalNationalSecurity: {RefusalLegal, "五.5(1)", Text{
		ZhCN: "与国家安全、国防安全有关",
		En:   "The request relates to national security or national defence.",
	}, true},
	RefusalPublicInterest: {RefusalLegal, "五.5(2)", Text{
		ZhCN: "与公共安全、公共卫生、重大公共利益有关",
		En:   "The request relates to public safety, public health or a major public interest.",
	}, false},
	RefusalCriminalProceedings: {RefusalLegal, "五.5(3)", Text{
		ZhCN: "与犯罪侦查、起诉和审判等有关",
		En:   "The request relates to a criminal investigation, prosecution or trial.",
	}, true},
	RefusalMaliceOrAbuse: {RefusalLegal, "五.5(4)", Text{
		ZhCN: "有充分证据表明您存在主观恶意或滥用权利",
		En:   "There is sufficient evidence of malicious intent or abuse of rights.",
	}, false},
	RefusalSeriousHarm: {RefusalLegal, "五.5(5)", Text{
		ZhCN: "响应您的请求将导致您或其他个人、组织的合法权益受到严重损害",
		En:   "Answering the request would seriously harm the lawful rights and interests of you or of other persons or organisations.",
	}, false},
	RefusalGroundlessRepetition: {RefusalUnreasonable, "五.5", Text{
		ZhCN: "您的请求属于无端重复的请求",
		En:   "The request is a groundless repetition of earlier requests.",
	}, false},
	RefusalExcessiveTechnical: {RefusalUnreasonable, "五.5", Text{
		ZhCN: "您的请求需要过多技术手段",
		En:   "The request would require excessive technical means.",
	}, false},
	RefusalRiskToOthers: {RefusalUnreasonable, "五.5", Text{
		ZhCN: "您的请求会给他人合法权益带来风险",
		En:   "The request would put the lawful rights and interests of others at risk.",
	}, false},
	RefusalImpractical: {RefusalUnreasonable, "五.5", Text{
		ZhCN: "您的请求非常不切实际",
		En:   "The request is highly impractical.",
	}, false},
	RefusalIdentityNotVerified: {RefusalOperational, "五.5", Text{
		ZhCN: "我们未能验证您的身份",
		En:   "We could not verify your identity.",
	}, false},
	RefusalAuthorityNotProven: {RefusalOperational, "六", Text{
		ZhCN: "您未能证明有权代表该个人提出请求",
		En:   "You did not prove that you may make this request on the person's behalf.",
	}, false},
	RefusalLegalHold: {RefusalOperational, "五.2", Text{
		ZhCN: "法律法规要求我们保留相关个人信息",
		En:   "Laws or regulations require us to keep this personal information.",
	}, false},
	RefusalOutstandingObligations: {RefusalOperational, "五.4", Text{
		ZhCN: "经核实，您的账户尚有未履行完毕的事项，暂无法注销",
		En:   "Your account still has outstanding obligations, so it cannot be closed yet.",
	}, false},
	RefusalDuplicate: {RefusalOperational, "五.5", Text{
		ZhCN: "您已有一个相同的请求正在处理中",
		En:   "An identical request of yours is already being processed.",
	}, false},
}

// RefusalReasons lists every refusal reason: the legal grounds in the policy's
// order, then the unreasonable-request grounds, then the operational ones.
func RefusalReasons() []RefusalReason {
	return []RefusalReason{
		RefusalNationalSecurity, RefusalPublicInterest, RefusalCriminalProceedings, RefusalMaliceOrAbuse, RefusalSeriousHarm,
		RefusalGroundlessRepetition, RefusalExcessiveTechnical, RefusalRiskToOthers, RefusalImpractical,
		RefusalIdentityNotVerified, RefusalAuthorityNotProven, RefusalLegalHold, RefusalOutstandingObligations, RefusalDuplicate,
	}
}

// Valid reports whether r is a known refusal reason.
func (r RefusalReason) Valid() bool { _, ok := refusalInfos[r]; return ok }

// Category is where the reason comes from (legal, unreasonable, operational).
func (r RefusalReason) Category() RefusalCategory { return refusalInfos[r].category }

// Policy is the clause of the privacy policy the reason rests on, e.g. "五.5(3)".
func (r RefusalReason) Policy() string { return refusalInfos[r].policy }

// Undisclosed reports whether the reason must never be told to the
// requester: telling them that a request was refused because of national
// security (五.5(1)) or criminal proceedings (五.5(3)) could tip off the
// person an investigation is about. The requester is told NeutralRefusal
// instead; the real reason stays on the request and in its audit chain,
// for operators and auditors.
func (r RefusalReason) Undisclosed() bool { return refusalInfos[r].undisclosed }

// Text is the reason as told to the requester, in locale l. The legal grounds
// use the policy's own Chinese wording; an undisclosed reason is
// NeutralRefusal, the same for every such reason.
func (r RefusalReason) Text(l Locale) string {
	if r.Undisclosed() {
		return NeutralRefusal.In(l)
	}
	return refusalInfos[r].text.In(l)
}

// Label is the reason as operators see it, in locale l: the real ground for
// every reason, undisclosed ones marked as such. Never show it to a
// requester: use Text.
func (r RefusalReason) Label(l Locale) string {
	info, ok := refusalInfos[r]
	if !ok {
		return ""
	}
	label := info.text.In(l)
	if info.undisclosed {
		label += undisclosedMark.In(l)
	}
	return label
}

// undisclosedMark follows the label of an undisclosed reason.
var undisclosedMark = Text{
	ZhCN: "（不得告知请求人，请求人只会收到中性说明）",
	En:   " (not disclosed: the requester is told only a neutral text)",
}
