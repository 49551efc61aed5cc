package mail

import (
	"testing"
)

// mustParse parses headers plus a body that asks for erasure.
func mustParse(t *testing.T, headers string) *Message {
	t.Helper()
	msg, err := Parse([]byte(headers + "Content-Type: text/plain; charset=utf-8\r\n\r\nPlease delete my data.\r\n"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return msg
}

const baseHeaders = "From: Ann <ann@example.com>\r\nTo: privacy@singer.example.cn\r\nSubject: hello\r\nMessage-ID: <v@example.com>\r\n"

func TestVerdictsFromHeaders(t *testing.T) {
	tests := []struct {
		name    string
		headers string
		trusted []string
		want    string // ignore reason, "" for a request
	}{
		{"no verdicts", "", nil, ""},
		{"ses all pass", "X-SES-Spam-Verdict: PASS\r\nX-SES-Virus-Verdict: PASS\r\nAuthentication-Results: amazonses.com; spf=pass smtp.mailfrom=example.com; dkim=pass header.i=@example.com; dmarc=pass header.from=example.com;\r\n", nil, ""},
		{"ses spam gray", "X-SES-Spam-Verdict: GRAY\r\n", nil, ""},
		{"ses spam fail", "X-SES-Spam-Verdict: FAIL\r\n", nil, IgnoreSpamVerdict},
		{"ses spam fail lower case", "X-Ses-Spam-Verdict: fail\r\n", nil, IgnoreSpamVerdict},
		{"ses virus fail", "X-SES-Virus-Verdict: FAIL\r\nX-SES-Spam-Verdict: FAIL\r\n", nil, IgnoreVirusVerdict},
		{"ses virus processing failed", "X-SES-Virus-Verdict: PROCESSING_FAILED\r\n", nil, ""},
		{"forged pass before real fail", "X-SES-Spam-Verdict: PASS\r\nX-SES-Spam-Verdict: FAIL\r\n", nil, IgnoreSpamVerdict},
		{"dmarc fail", "Authentication-Results: mx.example.cn; dmarc=fail (p=reject) header.from=example.com\r\n", nil, IgnoreSpoofedDMARC},
		{"dmarc fail wins over spf fail", "Authentication-Results: mx.example.cn; spf=fail smtp.mailfrom=example.com; dmarc=fail header.from=example.com\r\n", nil, IgnoreSpoofedDMARC},
		{"spf fail in authentication-results", "Authentication-Results: mx.example.cn; spf=fail smtp.mailfrom=example.com\r\n", nil, IgnoreSpoofedSPF},
		{"spf softfail is not fail", "Authentication-Results: mx.example.cn; spf=softfail smtp.mailfrom=example.com\r\n", nil, ""},
		{"received-spf fail", "Received-SPF: Fail (mx.example.cn: domain does not designate 192.0.2.1) client-ip=192.0.2.1;\r\n", nil, IgnoreSpoofedSPF},
		{"received-spf pass", "Received-SPF: pass (mx.example.cn: domain designates 192.0.2.1) client-ip=192.0.2.1;\r\n", nil, ""},
		{"fail only inside a comment", "Authentication-Results: mx.example.cn; spf=pass (dmarc=fail was seen upstream) smtp.mailfrom=example.com\r\n", nil, ""},
		{"dmarc with version", "Authentication-Results: mx.example.cn 1; dmarc/1=fail header.from=example.com\r\n", nil, IgnoreSpoofedDMARC},
		{"dkim fail alone is not spoofing", "Authentication-Results: mx.example.cn; dkim=fail header.i=@example.com\r\n", nil, ""},
		{"untrusted upstream fail ignored", "Authentication-Results: amazonses.com; dmarc=pass header.from=example.com\r\nAuthentication-Results: old.example.net; dmarc=fail header.from=example.com\r\n", []string{"amazonses.com"}, ""},
		{"untrusted upstream fail counts by default", "Authentication-Results: amazonses.com; dmarc=pass header.from=example.com\r\nAuthentication-Results: old.example.net; dmarc=fail header.from=example.com\r\n", nil, IgnoreSpoofedDMARC},
		{"trusted fail counts", "Authentication-Results: AmazonSES.com; dmarc=fail header.from=example.com\r\n", []string{"amazonses.com"}, IgnoreSpoofedDMARC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := mustParse(t, baseHeaders+tt.headers)
			c := Classify(msg, VerdictsFromHeaders(msg, tt.trusted...))
			wantAction := ActionIgnore
			if tt.want == "" {
				wantAction = ActionRequest
			}
			if c.Action != wantAction || c.IgnoreReason != tt.want {
				t.Errorf("got %s/%q (%s), want %s/%q", c.Action, c.IgnoreReason, c.Reason, wantAction, tt.want)
			}
		})
	}
}

func TestParseAuthResults(t *testing.T) {
	id, res := parseAuthResults("amazonses.com; spf=pass (spfCheck: domain of example.com designates 192.0.2.20 as permitted sender) client-ip=192.0.2.20; envelope-from=heidi@example.com; helo=mail.example.com; dkim=pass header.i=@example.com; dmarc=pass header.from=example.com;")
	if id != "amazonses.com" {
		t.Errorf("authserv-id = %q, want amazonses.com", id)
	}
	for method, want := range map[string]string{"spf": "pass", "dkim": "pass", "dmarc": "pass"} {
		if got := res[method]; len(got) != 1 || got[0] != want {
			t.Errorf("%s = %v, want [%s]", method, got, want)
		}
	}
	if _, ok := res["client-ip"]; !ok {
		t.Log("client-ip is read as a method too; harmless, never consulted")
	}
}
