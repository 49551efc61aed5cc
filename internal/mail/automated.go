package mail

import (
	"regexp"
	"strings"
	"sync"
)

// automatedReason tells mail written by a machine from mail written by a
// person: "bounce", "auto_reply", "bulk" or "".
//
//   - bounce: a delivery status report (multipart/report;
//     report-type=delivery-status, RFC 3464), a sender MAILER-DAEMON or
//     postmaster, or a bounce subject in English or Chinese (退信) at the
//     start of a subject that is not a reply;
//   - auto_reply: Auto-Submitted other than "no" (RFC 3834), X-Autoreply,
//     X-Autorespond, Precedence: auto_reply, a read receipt (report-type=
//     disposition-notification), or an auto-reply subject (自动回复, Out of
//     Office, Automatic reply) that is not itself a reply: a person who
//     answers our acknowledgement writes "Re: 自动回复：…", and without RFC 3834
//     headers that is a person;
//   - bulk: Precedence bulk, junk or list, List-Id, List-Unsubscribe;
//   - bounce, last: an empty Return-Path "<>" (RFC 5321 null reverse-path)
//     without any of the above.
//
// The checks run in the order listed; the first match wins.
func automatedReason(msg *Message) string {
	h := msg.Header
	report := strings.ToLower(msg.ContentTypeParams["report-type"])
	from := strings.ToLower(msg.From)
	local, _, _ := strings.Cut(from, "@")
	switch {
	case msg.ContentType == "multipart/report" && report == "delivery-status",
		local == "mailer-daemon" || local == "postmaster",
		strings.Contains(strings.ToLower(h.Get("From")), "mailer-daemon"),
		machineSubject(msg.Subject, bounceSubject()):
		return IgnoreBounce
	}
	if as := strings.ToLower(strings.TrimSpace(h.Get("Auto-Submitted"))); as != "" && !strings.HasPrefix(as, "no") {
		return IgnoreAutoReply
	}
	precedence := strings.ToLower(strings.TrimSpace(h.Get("Precedence")))
	switch {
	case len(h["X-Autoreply"]) > 0, len(h["X-Autorespond"]) > 0, len(h["X-Autoresponder"]) > 0,
		precedence == "auto_reply",
		msg.ContentType == "multipart/report" && report == "disposition-notification",
		machineSubject(msg.Subject, autoReplySubject()):
		return IgnoreAutoReply
	}
	if isNullReturnPath(h["Return-Path"]) {
		// Only DSNs and auto-responses use the null reverse-path; without an
		// auto-reply marker it is a bounce.
		return IgnoreBounce
	}
	switch {
	case precedence == "bulk" || precedence == "junk" || precedence == "list",
		len(h["List-Id"]) > 0, len(h["List-Unsubscribe"]) > 0:
		return IgnoreBulk
	}
	return ""
}

func isNullReturnPath(values []string) bool {
	for _, v := range values {
		if strings.ReplaceAll(strings.TrimSpace(v), " ", "") == "<>" {
			return true
		}
	}
	return false
}

// machineSubject reports whether subject starts with what re matches: a
// subject that starts with "Re:" / "回复：" was written by a person replying.
func machineSubject(subject string, re *regexp.Regexp) bool {
	if isReplySubject(subject) {
		return false
	}
	return re.MatchString(strings.ToLower(strings.TrimSpace(subject)))
}

var (
	bounceSubject = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[\[【(（]?\s*(undeliverable|undelivered mail|delivery status notification|mail delivery failed|delivery failure|failure notice|returned mail|系统退信|退信|投递失败|无法投递|邮件被退回)`)
	})

	autoReplySubject = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[\[【(（]?\s*(auto(matic)? ?reply|auto-reply|autoreply|auto:|out of (the )?office|ooo\b|自动回复|自動回覆|自動回复|自动答复|自動答覆|假期自动回复|休假)`)
	})
)
