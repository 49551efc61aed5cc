package mail

import "testing"

// TestAutomated checks each machine-mail signal both ways: present (ignored
// with its reason) and absent or negative (a request).
func TestAutomated(t *testing.T) {
	tests := []struct {
		name    string
		headers string
		want    string
	}{
		{"person", baseHeaders, ""},
		{"auto-submitted auto-replied", baseHeaders + "Auto-Submitted: auto-replied\r\n", IgnoreAutoReply},
		{"auto-submitted auto-generated", baseHeaders + "Auto-Submitted: auto-generated\r\n", IgnoreAutoReply},
		{"auto-submitted no", baseHeaders + "Auto-Submitted: no\r\n", ""},
		{"x-autoreply", baseHeaders + "X-Autoreply: yes\r\n", IgnoreAutoReply},
		{"x-autorespond", baseHeaders + "X-Autorespond: yes\r\n", IgnoreAutoReply},
		{"precedence auto_reply", baseHeaders + "Precedence: auto_reply\r\n", IgnoreAutoReply},
		{"precedence bulk", baseHeaders + "Precedence: bulk\r\n", IgnoreBulk},
		{"precedence junk", baseHeaders + "Precedence: junk\r\n", IgnoreBulk},
		{"precedence list", baseHeaders + "Precedence: list\r\n", IgnoreBulk},
		{"precedence first-class", baseHeaders + "Precedence: first-class\r\n", ""},
		{"list-id", baseHeaders + "List-Id: <news.example.com>\r\n", IgnoreBulk},
		{"list-unsubscribe", baseHeaders + "List-Unsubscribe: <mailto:u@example.com>\r\n", IgnoreBulk},
		{"null return-path", baseHeaders + "Return-Path: <>\r\n", IgnoreBounce},
		{"null return-path with auto-submitted", baseHeaders + "Return-Path: <>\r\nAuto-Submitted: auto-replied\r\n", IgnoreAutoReply},
		{"normal return-path", baseHeaders + "Return-Path: <ann@example.com>\r\n", ""},
		{"mailer-daemon", "From: MAILER-DAEMON@mx.example.com\r\nSubject: hello\r\n", IgnoreBounce},
		{"postmaster", "From: Postmaster <postmaster@mx.example.com>\r\nSubject: hello\r\n", IgnoreBounce},
		{"bounce subject", "From: ann@example.com\r\nSubject: Undeliverable: your message\r\n", IgnoreBounce},
		{"chinese bounce subject", "From: ann@example.com\r\nSubject: 系统退信\r\n", IgnoreBounce},
		{"auto-reply subject", "From: ann@example.com\r\nSubject: Automatic reply: hello\r\n", IgnoreAutoReply},
		{"out of office subject", "From: ann@example.com\r\nSubject: Out of Office: hello\r\n", IgnoreAutoReply},
		{"chinese auto-reply subject", "From: ann@example.com\r\nSubject: 自动回复：hello\r\n", IgnoreAutoReply},
		{"traditional auto-reply subject", "From: ann@example.com\r\nSubject: 自動回覆：hello\r\n", IgnoreAutoReply},
		{"subject mentioning office", "From: ann@example.com\r\nSubject: office hours\r\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := mustParse(t, tt.headers)
			if got := automatedReason(msg); got != tt.want {
				t.Errorf("automatedReason = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAutomatedReports(t *testing.T) {
	tests := []struct {
		name, ctype, want string
	}{
		{"dsn", `multipart/report; report-type=delivery-status; boundary="b"`, IgnoreBounce},
		{"mdn read receipt", `multipart/report; report-type=disposition-notification; boundary="b"`, IgnoreAutoReply},
		{"plain mixed", `multipart/mixed; boundary="b"`, ""},
	}
	for _, tt := range tests {
		raw := baseHeaders + "Content-Type: " + tt.ctype + "\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nPlease delete my data.\r\n--b--\r\n"
		msg, err := Parse([]byte(raw))
		if err != nil {
			t.Fatalf("%s: Parse: %v", tt.name, err)
		}
		if got := automatedReason(msg); got != tt.want {
			t.Errorf("%s: automatedReason = %q, want %q", tt.name, got, tt.want)
		}
	}
}
