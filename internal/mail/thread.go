package mail

import (
	"regexp"
	"strings"
	"sync"
)

// Our outgoing messages carry Message-ID <dsr.{requestID}.{template}.{16 hex}@{domain}>
// and name the request ID (r- and 26 characters of [a-z2-7]) in the subject.

// ourMessageIDPattern finds one of our Message-IDs in In-Reply-To or References.
var ourMessageIDPattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`<dsr\.(r-[a-z2-7]{26})\.[A-Za-z0-9_-]{1,40}\.[0-9a-f]{16}@[^<>\s]+>`)
})

// requestIDPattern finds a request ID in text, not inside a longer word.
var requestIDPattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?:^|[^A-Za-z0-9-])(r-[a-z2-7]{26})(?:$|[^A-Za-z0-9])`)
})

// threadRequestID is the request whose thread msg is in: from one of our
// Message-IDs in In-Reply-To (the message replied to), else the last one in
// References (the nearest ancestor), else a request ID in the subject.
func threadRequestID(msg *Message) string {
	for _, h := range []string{"In-Reply-To", "References"} {
		var last string
		for _, v := range msg.Header[h] {
			for _, m := range ourMessageIDPattern().FindAllStringSubmatch(v, -1) {
				last = m[1]
			}
		}
		if last != "" {
			return last
		}
	}
	return requestIDIn(msg.Subject)
}

// requestIDIn is the first request ID in s, or "".
func requestIDIn(s string) string {
	if m := requestIDPattern().FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}

// quotesOurMessage reports whether quoted text holds a request ID: the
// sender replies to one of our messages even when the headers and the
// subject no longer say so.
func quotesOurMessage(quoted string) bool {
	return strings.Contains(quoted, "r-") && requestIDIn(quoted) != ""
}
