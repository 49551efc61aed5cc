package dsr

// Consent purposes a consent_withdrawal request can name (policy 五.3). They are
// the consent-based processing the policy describes; partners are configured
// with the purposes they serve.
const (
	// PurposeAnalytics is 一.(二)4 数据统计服务: usage statistics and profiling.
	PurposeAnalytics = "analytics"
	// PurposePartnerSharing is 三.(一)3: sharing with partners (合作伙伴) for features.
	PurposePartnerSharing = "partner_sharing"
	// PurposeAll withdraws every consent (五.3 撤回我们继续收集您个人信息的全部授权).
	PurposeAll = "all"
)

var purposeTexts = map[string]Text{
	PurposeAnalytics:      {ZhCN: "数据统计服务", En: "Usage statistics (analytics)"},
	PurposePartnerSharing: {ZhCN: "向合作伙伴共享个人信息", En: "Sharing with partners"},
	PurposeAll:            {ZhCN: "全部授权", En: "All consent"},
}

// Purposes lists the consent purposes, PurposeAll last.
func Purposes() []string { return []string{PurposeAnalytics, PurposePartnerSharing, PurposeAll} }

// ValidPurpose reports whether p is a known consent purpose.
func ValidPurpose(p string) bool { _, ok := purposeTexts[p]; return ok }

// PurposeText is the purpose as the form names it.
func PurposeText(p string, l Locale) string { return purposeTexts[p].In(l) }
