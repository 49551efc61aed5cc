package notify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dsrflow/internal/dsr"
)

// refusedGoldenCases are the refusals whose rendered messages are kept as
// golden files: both undisclosed grounds, and a disclosed legal ground and an
// operational one for contrast.
var refusedGoldenCases = []dsr.RefusalReason{
	dsr.RefusalCriminalProceedings, dsr.RefusalNationalSecurity,
	dsr.RefusalSeriousHarm, dsr.RefusalAuthorityNotProven,
}

// renderRefused is the refusal of request smsID for reason in l as the
// requester receives it: the composed email (headers and decoded body) and
// the SMS text.
func renderRefused(t *testing.T, reason dsr.RefusalReason, l dsr.Locale) string {
	t.Helper()
	to := dsr.Contact{Email: "zhang.san@example.com", Phone: "+8613800138000"}
	m := Refused(smsID, to, l, dsr.KindErasure, reason, Contact{Email: "privacy@example.cn"})
	raw, err := Compose(m, "隐私团队", "privacy@example.cn", time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatalf("compose %s/%s: %v", reason, l, err)
	}
	var b strings.Builder
	b.WriteString("Subject: " + m.Subject + "\n")
	b.WriteString("Template: " + m.Template + "\n\n")
	b.WriteString(m.Body)
	b.WriteString("\n-- SMS --\n" + m.SMS.Text + "\n")
	// The raw headers are checked, not kept: the Message-ID is random.
	headers, _, _ := strings.Cut(string(raw), "\r\n\r\n")
	if !strings.Contains(headers, "X-Dsrflow-Template: refused") {
		t.Errorf("%s/%s: raw message lacks X-Dsrflow-Template: refused", reason, l)
	}
	b.WriteString("\n-- the raw headers name: " + headerLeaks(headers, reason) + "\n")
	return b.String()
}

// headerLeaks lists the parts of reason's code and clause that the raw
// headers hold.
func headerLeaks(headers string, reason dsr.RefusalReason) string {
	var found []string
	for _, s := range []string{string(reason), reason.Policy()} {
		if strings.Contains(headers, s) {
			found = append(found, s)
		}
	}
	if len(found) == 0 {
		return "nothing of the reason"
	}
	return strings.Join(found, ", ")
}

// TestRefusedGolden keeps the refusal messages as golden files
// (testdata/refused.<reason>.<locale>.golden; go test -update rewrites
// them).
func TestRefusedGolden(t *testing.T) {
	for _, reason := range refusedGoldenCases {
		for _, l := range dsr.Locales() {
			got := renderRefused(t, reason, l)
			path := filepath.Join("testdata", "refused."+string(reason)+"."+string(l)+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs (go test -update rewrites it):\ngot:\n%s\nwant:\n%s", path, got, want)
			}
		}
	}
}

// TestRefusedNoTippingOff: a refusal under an undisclosed ground names
// neither the ground (its code, its clause, its text or label in either
// language) nor anything that tells the two undisclosed grounds apart, in
// the email (headers included) or the SMS; a disclosed ground is named.
func TestRefusedNoTippingOff(t *testing.T) {
	to := dsr.Contact{Email: "li.si@example.com", Phone: "+8613800138000"}
	team := Contact{Email: "privacy@example.cn"}
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for _, l := range dsr.Locales() {
		var bodies []string
		for _, reason := range dsr.RefusalReasons() {
			m := Refused(smsID, to, l, dsr.KindAccess, reason, team)
			raw, err := Compose(m, "", "privacy@example.cn", at)
			if err != nil {
				t.Fatal(err)
			}
			decoded := m.Subject + "\n" + m.Body + "\n" + m.SMS.Text + "\n" + string(raw)
			if !reason.Undisclosed() {
				if !strings.Contains(m.Body, reason.Text(l)) || !strings.Contains(m.Body, string(reason)) || !strings.Contains(m.Body, reason.Policy()) {
					t.Errorf("%s/%s: a disclosed reason is not named in the body:\n%s", reason, l, m.Body)
				}
				continue
			}
			bodies = append(bodies, m.Subject+"\n"+m.Body)
			var leaks []string
			for _, ll := range dsr.Locales() {
				leaks = append(leaks, reason.Label(ll), strings.TrimSuffix(reason.Label(ll), "."))
			}
			leaks = append(leaks, string(reason), reason.Policy(), "国家安全", "犯罪", "security", "criminal", "(1)", "(3)")
			for _, leak := range leaks {
				if strings.Contains(strings.ToLower(decoded), strings.ToLower(leak)) {
					t.Errorf("%s/%s: the message reveals %q:\n%s", reason, l, leak, decoded)
				}
			}
			if !strings.Contains(m.Body, dsr.NeutralRefusal.In(l)) || !strings.Contains(m.Body, dsr.NeutralPolicy) {
				t.Errorf("%s/%s: body lacks the neutral text and clause:\n%s", reason, l, m.Body)
			}
		}
		if len(bodies) != 2 || bodies[0] != bodies[1] {
			t.Errorf("%s: the undisclosed refusals differ (or are not two):\n%s", l, strings.Join(bodies, "\n----\n"))
		}
	}
}
