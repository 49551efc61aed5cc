package mail

import "testing"

func TestThreadRequestID(t *testing.T) {
	id := rid("thread-test")
	other := rid("thread-other")
	tests := []struct {
		name, headers, want string
	}{
		{"in-reply-to", "In-Reply-To: " + ourMessageID(id, "ack") + "\r\nSubject: hi\r\n", id},
		{"references, nearest last", "References: " + ourMessageID(other, "ack") + " " + ourMessageID(id, "verify") + "\r\nSubject: hi\r\n", id},
		{"in-reply-to wins over references", "In-Reply-To: " + ourMessageID(id, "answer") + "\r\nReferences: " + ourMessageID(other, "ack") + "\r\n", id},
		{"subject", "Subject: Re: Your privacy request " + id + " has expired\r\n", id},
		{"chinese subject", "Subject: =?UTF-8?B?5Zue5aSN77ya77yI57yW5Y+3IA==?=" + id + "\r\n", id},
		{"foreign message-id", "In-Reply-To: <CA123@mail.gmail.com>\r\nSubject: hi\r\n", ""},
		{"id inside a word", "Subject: xr-" + id[2:] + "\r\n", ""},
		{"upper case is not ours", "Subject: R-ABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n", ""},
		{"forged prefix without hex", "In-Reply-To: <dsr." + id + ".ack.zz@x.cn>\r\nSubject: hi\r\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := mustParse(t, "From: a@example.com\r\n"+tt.headers)
			if got := threadRequestID(msg); got != tt.want {
				t.Errorf("threadRequestID = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestFollowUpNeverIgnored: a person's reply quoting our automatic
// acknowledgement is a follow-up; machine mail in the thread stays ignored.
func TestFollowUpNeverIgnored(t *testing.T) {
	id := rid("follow")
	tests := []struct {
		name, raw, want string
	}{
		{"re: 自动回复 subject", "From: a@example.com\r\nSubject: Re: 自动回复：我们已收到您的个人信息请求（编号 " + id + "）\r\n\r\n什么时候处理？\r\n", "follow_up: thread_reply"},
		{"答复: Automatic reply", "From: a@example.com\r\nSubject: 答复: Automatic reply: we received " + id + "\r\n\r\nok\r\n", "follow_up: thread_reply"},
		{"quote only", "From: a@example.com\r\nSubject: progress?\r\n\r\nany news?\r\n\r\n> 编号 " + id + "，请勿直接回复。\r\n", "follow_up: thread_reply"},
		{"rfc 3834 auto-reply in thread", "From: a@example.com\r\nAuto-Submitted: auto-replied\r\nIn-Reply-To: " + ourMessageID(id, "ack") + "\r\nSubject: Re: x\r\n\r\nI am away\r\n", "ignore: auto_reply"},
		{"auto-reply subject, not a reply", "From: a@example.com\r\nSubject: 自动回复: 您的请求 " + id + "\r\n\r\n我在休假\r\n", "ignore: auto_reply"},
		{"bounce quoting our message", "From: MAILER-DAEMON@mx.example.net\r\nSubject: Undelivered Mail\r\n\r\n> 编号 " + id + "\r\n", "ignore: bounce"},
		{"re: bounce subject from a person", "From: a@example.com\r\nSubject: RE: Undeliverable: delete my data\r\n\r\nplease delete my data\r\n", "request: erasure"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := Parse([]byte(tt.raw))
			if err != nil {
				t.Fatal(err)
			}
			if got := Classify(msg, Verdicts{}).Reason; got != tt.want {
				t.Errorf("reason %q, want %q", got, tt.want)
			}
		})
	}
}
