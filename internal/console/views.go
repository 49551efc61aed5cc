package console

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"dsrflow/internal/deadline"
	"dsrflow/internal/dsr"
	"dsrflow/internal/legalhold"
	"dsrflow/internal/notify"
	"dsrflow/internal/store"
	"dsrflow/internal/workflow"
)

// option is one <option> of a select.
type option struct{ Value, Label string }

func (p *page) statusText(s dsr.Status) string { return p.code("status.", string(s)) }

func (p *page) kindText(k string) string {
	if k == "" {
		return "—"
	}
	return p.code("kind.", k)
}

func (p *page) roleText(r string) string {
	if r == "" {
		return "—"
	}
	if role := dsr.Role(r); role.Valid() {
		return role.Text(p.Locale)
	}
	return r
}

// code is the catalog text of prefix+c, or c itself when the catalog has
// none (a code this console does not know yet).
func (p *page) code(prefix, c string) string {
	if _, ok := catalog[prefix+c]; ok {
		return p.T(prefix + c)
	}
	return c
}

// causeText says why an item waits: a cause code (operator stages), a
// partner ID, a mail reason code.
func (p *page) causeText(what, cause string) string {
	switch what {
	case itemPartners:
		return p.T("cause.partner", cause)
	case itemBackups:
		return p.T("cause.backups")
	case itemMail:
		return p.code("mailReason.", cause)
	case itemReply:
		return p.T("cause.reply")
	}
	if strings.HasPrefix(cause, "role_") {
		return p.T("cause.role", p.roleText(strings.TrimPrefix(cause, "role_")))
	}
	return p.code("cause.", cause)
}

func (p *page) mailReason(reason string) string {
	_, c, _ := strings.Cut(reason, ": ")
	return p.code("mailReason.", c) + " (" + reason + ")"
}

func (p *page) refusalText(code string) string {
	r := dsr.RefusalReason(code)
	if !r.Valid() {
		return code
	}
	return r.Label(p.Locale) + " (" + r.Policy() + ")"
}

// refusalOptions are the bilingual refusal reasons.
func (p *page) refusalOptions() []option {
	var out []option
	for _, r := range dsr.RefusalReasons() {
		out = append(out, option{Value: string(r), Label: p.refusalText(string(r))})
	}
	return out
}

func (p *page) holdReasonOptions() []option {
	var out []option
	for _, r := range legalhold.Reasons() {
		out = append(out, option{Value: string(r), Label: p.refusalText(string(r))})
	}
	return out
}

func (p *page) templateText(t string) string { return p.code("template.", t) }

func (p *page) rowClass(d due) string {
	switch {
	case d.Paused:
		return "paused"
	case d.Late():
		return "late"
	case d.At != nil && d.Left <= DueSoonDays:
		return "soon"
	}
	return ""
}

func (p *page) dueText(d due) string {
	if d.At == nil {
		return "—"
	}
	return dueDate(d.At)
}

// size is a byte count for people.
func (p *page) size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func (p *page) median(m *float64) string {
	if m == nil {
		return "—"
	}
	return strconv.FormatFloat(*m, 'f', -1, 64)
}

func (p *page) p95(n *int, estimated bool) string {
	if n == nil {
		return "—"
	}
	s := strconv.Itoa(*n)
	if estimated {
		s += " *"
	}
	return s
}

func (p *page) refusals(by map[dsr.RefusalReason]int) []string {
	var out []string
	for _, r := range dsr.RefusalReasons() {
		if n := by[r]; n > 0 {
			out = append(out, fmt.Sprintf("%s: %d", r.Label(p.Locale), n))
		}
	}
	return out
}

func (p *page) kindList(ks []dsr.Kind) string {
	if len(ks) == 0 {
		return p.T("mail.noKind")
	}
	var s []string
	for _, k := range ks {
		s = append(s, p.kindText(string(k)))
	}
	return strings.Join(s, p.T("list.sep"))
}

// subjectLines are the subject's identifiers of one type, a line each,
// for the amendment form.
func (v *requestView) subjectLines(name string) string {
	if v.Personal == nil {
		return ""
	}
	s := v.Personal.Subject
	switch name {
	case "accounts":
		return strings.Join(s.Accounts, "\n")
	case "emails":
		return strings.Join(s.Emails, "\n")
	case "phones":
		return strings.Join(s.Phones, "\n")
	}
	return ""
}

func partnerDetail(t store.PartnerTask) string {
	var parts []string
	if t.Receipt != "" {
		parts = append(parts, "receipt "+t.Receipt)
	}
	if t.LastError != "" {
		parts = append(parts, t.LastError)
	}
	if t.OperatorReason != "" {
		parts = append(parts, t.OperatorReason)
	}
	if t.Late {
		parts = append(parts, "late")
	}
	return strings.Join(parts, " · ")
}

// eventData is an event's data as "k=v" pairs in key order.
func eventData(d map[string]string) string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(k + "=" + d[k])
	}
	return b.String()
}

func joinCodes(cs []string) string { return strings.Join(cs, ", ") }

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "—"
	}
	return s
}

func joinNonEmpty(ss ...string) string {
	return strings.Join(slices.DeleteFunc(ss, func(s string) bool { return s == "" }), " · ")
}

func kinds() []string {
	var out []string
	for _, k := range dsr.Kinds() {
		out = append(out, string(k))
	}
	return out
}

func roles() []string {
	var out []string
	for _, r := range dsr.Roles() {
		out = append(out, string(r))
	}
	return out
}

func extensionReasons() []string {
	var out []string
	for _, r := range deadline.Reasons() {
		out = append(out, string(r))
	}
	return out
}

func infoNeeds() []string {
	var out []string
	for _, n := range notify.InfoNeededList() {
		out = append(out, string(n))
	}
	return out
}

func settlements() []string {
	var out []string
	for _, s := range workflow.Settlements() {
		out = append(out, string(s))
	}
	return out
}

func holdActions() []string {
	return []string{string(legalhold.ActionRefuse), string(legalhold.ActionDeferErasure)}
}
