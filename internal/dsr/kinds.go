package dsr

// Kinds lists every request kind, in the order of policy 五.1–五.4.
func Kinds() []Kind {
	return []Kind{KindAccess, KindPortability, KindCorrection, KindErasure, KindConsentWithdrawal, KindAccountClosure}
}

var kindTexts = map[Kind]Text{
	KindAccess:            {ZhCN: "访问我的个人信息", En: "Access my personal information"},
	KindPortability:       {ZhCN: "获取我的个人信息副本", En: "Get a copy of my personal information"},
	KindCorrection:        {ZhCN: "更正我的个人信息", En: "Correct my personal information"},
	KindErasure:           {ZhCN: "删除我的个人信息", En: "Delete my personal information"},
	KindConsentWithdrawal: {ZhCN: "改变授权同意的范围或撤回授权", En: "Narrow or withdraw my consent"},
	KindAccountClosure:    {ZhCN: "注销账户", En: "Close my account"},
}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { _, ok := kindTexts[k]; return ok }

// Text is the kind as the form and the replies name it.
func (k Kind) Text(l Locale) string { return kindTexts[k].In(l) }

// ErasesData reports whether the kind deletes data everywhere, so that the
// request waits for backup rotation before it is completed (policy 五.2: backups
// are deleted 在备份更新时): erasure and account closure.
func (k Kind) ErasesData() bool { return k == KindErasure || k == KindAccountClosure }

// Roles lists every requester role.
func Roles() []Role {
	return []Role{RoleSelf, RoleGuardian, RoleAgent, RoleRelativeOfDeceased}
}

var roleTexts = map[Role]Text{
	RoleSelf:               {ZhCN: "本人", En: "The person the data is about"},
	RoleGuardian:           {ZhCN: "监护人（代未成年人）", En: "Guardian of a minor"},
	RoleAgent:              {ZhCN: "受托代理人", En: "Authorised agent"},
	RoleRelativeOfDeceased: {ZhCN: "死者的近亲属", En: "Close relative of a deceased person"},
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { _, ok := roleTexts[r]; return ok }

// Text is the role as the form names it.
func (r Role) Text(l Locale) string { return roleTexts[r].In(l) }

// NeedsManualReview reports whether the requester acts for someone else, so
// their authority must be checked by a person (PIPL art. 49; policy 六): every
// role except self.
func (r Role) NeedsManualReview() bool { return r.Valid() && r != RoleSelf }

// Channels lists every channel.
func Channels() []Channel { return []Channel{ChannelWeb, ChannelMail, ChannelOperator} }

// Valid reports whether c is a known channel.
func (c Channel) Valid() bool {
	return c == ChannelWeb || c == ChannelMail || c == ChannelOperator
}
