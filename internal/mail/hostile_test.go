package mail

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// nestedStyle writes the Content-Type of one nesting level with boundary b.
type nestedStyle func(b string) string

var nestedStyles = map[string]nestedStyle{
	"plain boundary": func(b string) string { return "multipart/mixed; boundary=\"" + b + "\"" },
	"rfc2231 *0 *1": func(b string) string {
		return "multipart/mixed; boundary*0=\"" + b[:1] + "\"; boundary*1=\"" + b[1:] + "\""
	},
	"rfc2231 charset": func(b string) string { return "multipart/mixed; boundary*=us-ascii''" + b },
	"folded 2231": func(b string) string {
		return "multipart/mixed;\r\n\tboundary*0=\"" + b[:1] + "\";\r\n\tboundary*1=\"" + b[1:] + "\""
	},
}

// nestedUnclosed builds n multiparts, each the only part of the one before,
// none of them closed: the shape whose parse time doubles with every level.
func nestedUnclosed(n int, style nestedStyle, sameBoundary bool) string {
	var b strings.Builder
	b.WriteString("From: a@example.com\r\nSubject: hi\r\n")
	for i := range n {
		bd := fmt.Sprintf("b%d", i)
		if sameBoundary {
			bd = "bb"
		}
		fmt.Fprintf(&b, "Content-Type: %s\r\n\r\n--%s\r\n", style(bd), bd)
	}
	b.WriteString("Content-Type: text/plain\r\n\r\nplease delete my data\r\n")
	return b.String()
}

// TestParseRejectsDeepNesting: boundaries given as RFC 2231 parameters
// (boundary*0=, boundary*=) used to slip past the guard, and a 2 KB message
// took seconds to parse. Every style is refused before enmime sees it.
func TestParseRejectsDeepNesting(t *testing.T) {
	for name, style := range nestedStyles {
		for _, same := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/same=%v", name, same), func(t *testing.T) {
				raw := nestedUnclosed(MaxMultipartDepth+8, style, same)
				msg, err := Parse([]byte(raw))
				var pe *ParseError
				if !errors.As(err, &pe) || pe.Code != ProblemTooComplex {
					t.Fatalf("Parse error %v, want %s (problems %v)", err, ProblemTooComplex, msg.ProblemCodes())
				}
				if got := Classify(msg, Verdicts{}).Reason; got != "triage: unparseable" {
					t.Errorf("reason %q, want triage: unparseable", got)
				}
			})
		}
	}
}

// TestParseAcceptsNestingWithinLimits: the limits leave real shapes alone.
func TestParseAcceptsNestingWithinLimits(t *testing.T) {
	tests := []struct {
		name string
		raw  string
	}{
		{"closed nesting at the depth limit", "From: a@example.com\r\n" + nested(MaxMultipartDepth, true)},
		{"unclosed nesting at the depth limit", nestedUnclosed(MaxMultipartDepth, nestedStyles["rfc2231 *0 *1"], false)},
		{"many sibling multiparts", siblings(MaxMultiparts - 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := Parse([]byte(tt.raw))
			if err != nil {
				t.Fatalf("Parse: %v (problems %v)", err, msg.ProblemCodes())
			}
			if got := Classify(msg, Verdicts{}).Reason; got != "request: erasure" {
				t.Errorf("reason %q, want request: erasure (problems %v)", got, msg.ProblemCodes())
			}
		})
	}
	msg, err := Parse([]byte(siblings(MaxMultiparts + 1)))
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Code != ProblemTooComplex {
		t.Errorf("%d sibling multiparts: error %v, want %s (problems %v)", MaxMultiparts+1, err, ProblemTooComplex, msg.ProblemCodes())
	}
}

// siblings builds a multipart/mixed holding n-1 closed multipart/alternative
// parts (n multiparts in all), the first with the text.
func siblings(n int) string {
	var b strings.Builder
	b.WriteString("From: a@example.com\r\nContent-Type: multipart/mixed; boundary=\"top\"\r\n\r\n")
	for i := range n - 1 {
		fmt.Fprintf(&b, "--top\r\nContent-Type: multipart/alternative; boundary*=utf-8''alt%d\r\n\r\n--alt%d\r\nContent-Type: text/plain\r\n\r\n", i, i)
		if i == 0 {
			b.WriteString("please delete my data\r\n")
		} else {
			b.WriteString("part\r\n")
		}
		fmt.Fprintf(&b, "--alt%d--\r\n", i)
	}
	b.WriteString("--top--\r\n")
	return b.String()
}

// TestParseDeadline: a parse that outlives its budget returns an
// unparseable message instead of holding the caller.
func TestParseDeadline(t *testing.T) {
	raw := []byte("From: a@example.com\r\nSubject: hi\r\n\r\nplease delete my data\r\n")
	msg, err := parseWithin(context.Background(), raw, time.Nanosecond)
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Code != ProblemTimeout {
		t.Fatalf("error %v, want %s", err, ProblemTimeout)
	}
	if msg.Size != len(raw) || !msg.Unparseable() {
		t.Errorf("message %+v: want Size %d and unparseable", msg, len(raw))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ParseContext(ctx, raw); !errors.As(err, &pe) || pe.Code != ProblemTimeout {
		t.Errorf("cancelled context: error %v, want %s", err, ProblemTimeout)
	}
	if got := Classify(msg, Verdicts{}).Reason; got != "triage: unparseable" {
		t.Errorf("reason %q, want triage: unparseable", got)
	}
}

// TestParseCapsHTML: only MaxHTML bytes of HTML are converted; the text at
// the top is kept and the cut is recorded.
func TestParseCapsHTML(t *testing.T) {
	tests := []struct {
		name        string
		html        string
		wantProblem bool
	}{
		{"small", "<p>please delete my data</p>" + strings.Repeat("a</x>", 1000), false},
		{"over the cap", "<p>please delete my data</p>" + strings.Repeat("a</x>", MaxHTML/5+10), true},
	}
	for _, tt := range tests {
		for _, ctype := range []string{"text/html", "multipart/alternative"} {
			t.Run(tt.name+"/"+ctype, func(t *testing.T) {
				raw := "From: a@example.com\r\nSubject: hi\r\n"
				if ctype == "text/html" {
					raw += "Content-Type: text/html; charset=utf-8\r\n\r\n" + tt.html
				} else {
					raw += "Content-Type: multipart/alternative; boundary=alt\r\n\r\n--alt\r\nContent-Type: text/plain\r\n\r\n\r\n--alt\r\nContent-Type: text/html\r\n\r\n" + tt.html + "\r\n--alt--\r\n"
				}
				msg, err := Parse([]byte(raw))
				if err != nil {
					t.Fatal(err)
				}
				if got := msg.hasProblem(ProblemHTMLTruncated); got != tt.wantProblem {
					t.Errorf("html_truncated = %v, want %v (problems %v)", got, tt.wantProblem, msg.ProblemCodes())
				}
				if !strings.Contains(msg.Text, "please delete my data") {
					t.Errorf("text lost: %.80q", msg.Text)
				}
			})
		}
	}
}

// TestParseCapsAttachments: documents beyond the limits are dropped and the
// message goes to triage with the reason, its text still read.
func TestParseCapsAttachments(t *testing.T) {
	big := strings.Repeat("A", 4<<20) // 3 MiB decoded
	tests := []struct {
		name       string
		n          int
		body       string
		wantKept   int
		wantReason string
	}{
		{"within limits", MaxAttachments, "QUJD", MaxAttachments, "request: erasure"},
		{"too many", MaxAttachments + 5, "QUJD", MaxAttachments, "triage: " + TriageTooManyAttachments},
		{"too large", 6, big, MaxAttachmentBytes / (3 << 20), "triage: " + TriageAttachmentsTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			b.WriteString("From: a@example.com\r\nSubject: hi\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\nContent-Type: text/plain\r\n\r\nplease delete my data\r\n")
			for i := range tt.n {
				fmt.Fprintf(&b, "--m\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=\"%d.png\"\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n", i, tt.body)
			}
			b.WriteString("--m--\r\n")
			msg, err := Parse([]byte(b.String()))
			if err != nil {
				t.Fatal(err)
			}
			if len(msg.Attachments) != tt.wantKept {
				t.Errorf("kept %d attachments, want %d", len(msg.Attachments), tt.wantKept)
			}
			total := 0
			for _, a := range msg.Attachments {
				total += len(a.Data)
			}
			if total > MaxAttachmentBytes {
				t.Errorf("kept %d bytes, over MaxAttachmentBytes", total)
			}
			if !strings.Contains(msg.Text, "please delete my data") {
				t.Errorf("text lost: %q", msg.Text)
			}
			if got := Classify(msg, Verdicts{}).Reason; got != tt.wantReason {
				t.Errorf("reason %q, want %q (problems %v)", got, tt.wantReason, msg.ProblemCodes())
			}
		})
	}
	_ = base64.StdEncoding
}

// BenchmarkParseHostile measures the hostile shapes of issue 15: nested
// RFC 2231 multiparts (refused before parsing) and quadratic HTML.
func BenchmarkParseHostile(b *testing.B) {
	cases := []struct {
		name string
		raw  string
	}{
		{"rfc2231-nested-24", nestedUnclosed(24, nestedStyles["rfc2231 *0 *1"], false)},
		{"rfc2231-nested-at-limit", nestedUnclosed(MaxMultipartDepth, nestedStyles["rfc2231 *0 *1"], false)},
		{"html-a-x-1.9MB", "From: a@example.com\r\nContent-Type: text/html\r\n\r\n<p>please delete my data</p>" + strings.Repeat("a</x>", 380_000)},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.raw)))
			for b.Loop() {
				_, _ = Parse([]byte(c.raw))
			}
		})
	}
}

func TestParseBudget(t *testing.T) {
	tests := []struct {
		size int
		want time.Duration
	}{
		{0, MaxParseTime},
		{1<<20 - 1, MaxParseTime},
		{1 << 20, MaxParseTime + ParseTimePerMiB},
		{MaxSize, MaxParseTime + 25*ParseTimePerMiB},
	}
	for _, tt := range tests {
		if got := parseBudget(tt.size); got != tt.want {
			t.Errorf("parseBudget(%d) = %v, want %v", tt.size, got, tt.want)
		}
	}
}
