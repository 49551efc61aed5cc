package mail

import (
	"strings"

	"dsrflow/internal/dsr"
)

const disclaimerEn = `CONFIDENTIALITY NOTICE: This email and any attachments are confidential and may be legally privileged. They are intended solely for the use of the individual or entity to whom they are addressed. If you are not the intended recipient, please notify the sender immediately by return email and delete this message and any attachments from your system. Any unauthorised review, use, disclosure, copying, distribution or access to this email is strictly prohibited. Emails are not secure and cannot be guaranteed to be error free; we do not accept liability for any loss or damage arising from the use of this email or attachments. We process personal data in accordance with our privacy notice; you may request access to or correction of your data at any time.`

const disclaimerZh = `免责声明：本邮件及其附件含有保密信息，仅供指定收件人使用。如果您不是指定收件人，请立即通知发件人并删除本邮件及其所有附件，严禁以任何形式复制、使用、披露、查询或传播本邮件的任何内容。本公司不对因电子邮件传输错误或延迟导致的任何损失承担责任。如需更正或注销相关信息，请联系本公司客服。`

// Several requests, long mails with disclaimers, forwarded mails, subjects
// that disagree with the body.
var casesComplex = []corpusCase{
	{name: "multi_zh_copy_then_close", group: "complex", client: "qq", from: "黎明 <liming@example.cn>", subject: "个人信息",
		body: "你好，请先给我一份我的个人信息副本，收到后再注销我的账号。\n", want: wTriage(TriageSeveralKinds)},
	{name: "multi_en_correct_and_delete", group: "complex", client: "gmail", from: "Ava Thompson <ava.t@example.com>", subject: "Two things",
		body: "Hi,\n\nPlease correct my email address to ava.new@example.com, and delete my old recordings from 2024.\n\nAva\n", want: wTriage(TriageSeveralKinds)},
	{name: "multi_zh_numbered_three", group: "complex", client: "163", from: "邱琪 <qiuqi@example.cn>", subject: "几个申请",
		body: "您好，我有以下几个申请：\n1. 查询你们保存的我的个人信息；\n2. 把我的生日更正为1993年2月2日；\n3. 撤回营销推送的授权。\n谢谢！\n", want: wTriage(TriageSeveralKinds)},
	{name: "long_en_disclaimer_erasure", group: "complex", client: "outlook", from: "James Anderson <j.anderson@acme-corp.example.com>", subject: "Personal data",
		body: "Hello,\n\nI have stopped using your app and would like you to erase all personal data you hold about me, including my recordings, my profile and any voice model.\n\nThank you,\n\nJames Anderson\nSenior Manager, Procurement\nACME Corp | 1 Harbour Road, Hong Kong\nT: +852 2345 6789\n\n" + disclaimerEn + "\n",
		want: wReq(dsr.KindErasure)},
	{name: "long_zh_disclaimer_access", group: "complex", client: "outlook-zh", from: "钟华 <zhonghua@bigco.example.cn>", subject: "个人信息查询申请",
		body: "您好：\n\n本人申请查阅贵司所处理的本人个人信息，并请说明处理目的和保存期限。\n\n谢谢！\n\n钟华\n某某集团 财务部\n电话：021-55550000\n\n" + disclaimerZh + "\n",
		want: wReq(dsr.KindAccess)},
	{name: "long_en_story_close", group: "complex", client: "gmail", from: "Hannah Scott <hannah.scott@example.com>", subject: "Leaving",
		body: strings.Repeat("I joined the app two years ago because my friends were using it to make covers of their favourite songs, and for a while it was a lot of fun. Over time the notifications became too much, and I have found that I do not have the time to sing anymore. ", 6) +
			"\n\nI have thought about it for a while. Please close my account.\n\nAll the best,\nHannah\n",
		want: wReq(dsr.KindAccountClosure)},
	{name: "long_en_lawyer_question_disclaimer", group: "complex", client: "outlook-utf", from: "Peter Novak <p.novak@novaklaw.example.com>", subject: "Enquiry regarding data retention",
		body: "Dear Sir or Madam,\n\nWe are advising a client on a commercial matter and would be grateful if you could let us know how long your company retains voice recordings after a user stops using the service, and on what legal basis.\n\nKind regards,\n\nPeter Novak\nNovak & Partners\n\n" + disclaimerEn + "\n",
		want: wTriage(TriageUnclear)},
	{name: "fwd_inline_self_zh", group: "complex", client: "gmail-zh", from: "欧阳娜 <ouyangna@example.cn>", subject: "Fwd: 删除个人数据",
		body: "上个月发的邮件没有回复，再转发一次。\n",
		fwd:  &quoted{from: "欧阳娜 <ouyangna@example.cn>", date: "2026年10月20日周二 上午9:30", subject: "删除个人数据", body: "您好，请删除我的所有个人数据，包括录音和照片。\n谢谢"},
		want: wReq(dsr.KindErasure)},
	{name: "fwd_inline_self_en_outlook", group: "complex", client: "outlook", from: "Grace Lee <grace.lee@example.com>", subject: "FW: Consent",
		body: "Forwarding my request from last week, still no response.\n\nGrace\n",
		fwd:  &quoted{from: "Grace Lee <grace.lee@example.com>", date: "Monday, November 9, 2026 8:15 PM", subject: "Consent", body: "Hello,\n\nI want to withdraw my consent to analytics.\n\nGrace"},
		want: wReq(dsr.KindConsentWithdrawal).withHints(Hints{Purposes: []string{dsr.PurposeAnalytics}})},
	{name: "fwd_rfc822_self_close", group: "complex", client: "apple", from: "Victor Huang <victor.huang@example.com>", subject: "Fwd: Close my account",
		body:   "See attached, I sent this two weeks ago.\n\nSent from my iPhone\n",
		fwd:    &quoted{from: "Victor Huang <victor.huang@example.com>", subject: "Close my account", body: "Hi, please close my account. My account ID is 10044556.\nVictor"},
		attach: []string{attachRFC822},
		want:   wReq(dsr.KindAccountClosure)},
	{name: "fwd_inline_colleague_cs", group: "complex", client: "outlook-zh", from: "客服小美 <kefu01@singer.example.cn>", subject: "转发: 用户要求删除数据",
		body: "隐私组同事好，下面这位用户要求删除数据，请处理。\n",
		fwd:  &quoted{from: "用户 <fanfan@example.cn>", date: "2026年11月17日 14:02", subject: "删除数据", body: "请删除我的所有数据，我不用了。"},
		want: wTriage(TriageForwarded)},
	{name: "fwd_rfc822_brother", group: "complex", client: "outlook-utf", from: "Kevin Zhang <kevin.zhang@example.com>", subject: "FW: data request",
		body:   "Hi, my brother sent this to my address by mistake. Forwarding it to you.\n\nKevin\n",
		fwd:    &quoted{from: "Jason Zhang <jason.zhang@example.com>", subject: "data request", body: "Please send me a copy of my personal data."},
		attach: []string{attachRFC822},
		want:   wTriage(TriageForwarded)},
	{name: "fwd_daughter_explicit_close", group: "complex", client: "163", from: "宋佳 <songjia@example.cn>", subject: "转发：注销账号",
		body: "你好，我妈妈让我转发给你们，请帮她注销账号，她的账号是 10066778。\n",
		fwd:  &quoted{from: "妈妈 <mama.song@example.cn>", date: "2026-11-15 20:11:03", subject: "注销账号", body: "佳佳，帮我问问那个唱歌软件怎么注销。"},
		want: wAs(dsr.KindAccountClosure, dsr.RoleAgent).withHints(Hints{AccountIDs: []string{"10066778"}})},
	{name: "subj_mismatch_zh_no_longer_close", group: "complex", client: "qq", from: "祝贺 <zhuhe@example.cn>", subject: "注销账号",
		body: "想了想还是不注销了，请帮我把绑定的手机号更正为13600002222。\n",
		want: wReq(dsr.KindCorrection).withHints(Hints{Phones: []string{"+8613600002222"}, Corrections: []string{"想了想还是不注销了，请帮我把绑定的手机号更正为13600002222。"}})},
	{name: "subj_mismatch_en_actually_delete", group: "complex", client: "gmail", from: "Sophie Turner <sophie.t@example.com>", subject: "Data access request",
		body: "Hi,\n\nActually, I changed my mind: no copy needed, please just delete all my data.\n\nSophie\n",
		want: wReq(dsr.KindErasure)},
	{name: "subj_only_zh_export", group: "complex", client: "qq", from: "杨洋 <yangyang@example.cn>", subject: "申请导出个人数据",
		body: "如题，谢谢。\n", want: wReq(dsr.KindPortability)},
	{name: "subj_request_body_timing_question", group: "complex", client: "apple", from: "Ryan Cooper <ryan.cooper@example.com>", subject: "Delete my account",
		body: "How long will it take?\n\nSent from my iPhone\n", want: wReq(dsr.KindAccountClosure)},
	{name: "multi_zh_close_and_delete_combined", group: "complex", client: "foxmail", from: "廖凡 <liaofan@example.cn>", subject: "注销",
		body: "请注销我的账号并删除所有个人数据。\n", want: wReq(dsr.KindAccountClosure)},
	{name: "multi_en_copy_machine_readable", group: "complex", client: "thunderbird", from: "Oscar Berg <oscar.berg@example.se>", subject: "My data",
		body: "Hello,\n\nPlease send me a copy of my data in a machine-readable format.\n\nOscar\n", want: wReq(dsr.KindPortability)},
	{name: "long_zh_complaint_then_erasure", group: "complex", client: "163", from: "潘越 <panyue@example.cn>", subject: "投诉并要求删除个人信息",
		body: "你好：\n\n" + strings.Repeat("我从去年开始使用你们的App，最近发现经常收到一些陌生的推销电话，对方能准确说出我的名字和我在App上唱过的歌，我非常怀疑是你们泄露了我的信息。", 5) +
			"\n\n我要求你们立即删除我的所有个人信息，并给我一个说法。\n\n潘越\n",
		want: wReq(dsr.KindErasure)},
	{name: "multi_en_erasure_and_consent_list", group: "complex", client: "outlook-utf", from: "Nina Petrova <nina.petrova@example.com>", subject: "GDPR requests",
		body: "Dear team,\n\nUnder the GDPR I make the following requests:\n- erase my voice recordings;\n- stop processing my personal data for analytics.\n\nRegards,\nNina\n",
		want: wTriage(TriageSeveralKinds)},
}
