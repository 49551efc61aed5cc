package console

import (
	"strings"

	"dsrflow/internal/dsr"
	"dsrflow/internal/operator"
	"dsrflow/internal/phone"
)

// identifierProblem is one line of the amendment form that is not an
// identifier: the field (accounts, emails, phones, count) and the line
// number (from 1; 0 for the field as a whole).
type identifierProblem struct {
	Field string
	Line  int
}

// maxIdentifierLine bounds one line of the amendment form, in bytes.
const maxIdentifierLine = 256

// parseIdentifiers reads the amendment form: one identifier per line in
// each of three text areas, normalized as intake normalizes them (account
// IDs as typed, emails lower-cased, phones in E.164). Blank lines are
// skipped and repeats dropped; at most operator.MaxIdentifiers of each.
func parseIdentifiers(accounts, emails, phones string) (dsr.Identifiers, []identifierProblem) {
	var ids dsr.Identifiers
	var problems []identifierProblem
	read := func(field, raw string, t dsr.IdentifierType, parse func(string) (string, error)) {
		n := 0
		for i, line := range strings.Split(raw, "\n") {
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			n++
			if n > operator.MaxIdentifiers {
				problems = append(problems, identifierProblem{Field: "count", Line: 0})
				return
			}
			if len(line) > maxIdentifierLine {
				problems = append(problems, identifierProblem{Field: field, Line: i + 1})
				continue
			}
			v, err := parse(line)
			if err != nil {
				problems = append(problems, identifierProblem{Field: field, Line: i + 1})
				continue
			}
			ids.Add(t, v)
		}
	}
	read("accounts", accounts, dsr.IdentifierAccount, dsr.ParseAccountID)
	read("emails", emails, dsr.IdentifierEmail, dsr.ParseEmail)
	read("phones", phones, dsr.IdentifierPhone, phone.Parse)
	if len(problems) == 0 && ids.Empty() {
		problems = append(problems, identifierProblem{Field: "none"})
	}
	return ids, problems
}
