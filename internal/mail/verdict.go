package mail

import (
	"slices"
	"strings"
)

// Verdict is the result of one check on a received message, lower-cased:
// "pass", "fail", "gray", "processing_failed", "softfail", "none", ... or ""
// when nothing said. Only "fail" changes the classification.
type Verdict string

// VerdictFail is the one verdict that makes a message ignored.
const VerdictFail Verdict = "fail"

// Verdicts are the receiving server's checks of a message.
type Verdicts struct {
	Spam  Verdict // SES X-SES-Spam-Verdict
	Virus Verdict // SES X-SES-Virus-Verdict
	DMARC Verdict // Authentication-Results dmarc=
	SPF   Verdict // Authentication-Results spf=, else Received-SPF
	DKIM  Verdict // Authentication-Results dkim= (recorded, not used: DMARC covers it)
}

// ignoreReason is the ignore code of the first failing verdict, or "".
// A virus outranks spam, spam outranks spoofing; DMARC outranks SPF.
func (v Verdicts) ignoreReason() string {
	switch {
	case v.Virus == VerdictFail:
		return IgnoreVirusVerdict
	case v.Spam == VerdictFail:
		return IgnoreSpamVerdict
	case v.DMARC == VerdictFail:
		return IgnoreSpoofedDMARC
	case v.SPF == VerdictFail:
		return IgnoreSpoofedSPF
	}
	return ""
}

// VerdictsFromHeaders reads the verdicts the receiving server wrote into the
// raw message, so it works for SES and for any server that writes RFC 8601
// Authentication-Results:
//
//   - SES receipt rules add X-SES-Spam-Verdict and X-SES-Virus-Verdict (PASS,
//     FAIL, GRAY, PROCESSING_FAILED), Received-SPF, and Authentication-Results
//     with authserv-id "amazonses.com" (spf=, dkim=, dmarc=);
//   - other servers add Authentication-Results and/or Received-SPF.
//
// A sender can write any header itself. Failures only make a message ignored,
// so a forged "fail" hurts only its author; but a forwarded message may carry
// an earlier hop's failing Authentication-Results. Pass the authserv-ids of
// the receiving servers (e.g. "amazonses.com" or the own MX host name) as
// trusted to read only their Authentication-Results; with none, every
// Authentication-Results header counts. When several values are present for
// one check, a "fail" wins.
func VerdictsFromHeaders(msg *Message, trustedAuthServIDs ...string) Verdicts {
	var v Verdicts
	h := msg.Header
	v.Spam = worst(v.Spam, h["X-Ses-Spam-Verdict"]...)
	v.Virus = worst(v.Virus, h["X-Ses-Virus-Verdict"]...)
	for _, ar := range h["Authentication-Results"] {
		servID, results := parseAuthResults(ar)
		if len(trustedAuthServIDs) > 0 && !slices.ContainsFunc(trustedAuthServIDs, func(t string) bool { return strings.EqualFold(t, servID) }) {
			continue
		}
		v.DMARC = worst(v.DMARC, results["dmarc"]...)
		v.SPF = worst(v.SPF, results["spf"]...)
		v.DKIM = worst(v.DKIM, results["dkim"]...)
	}
	if v.SPF == "" {
		for _, rs := range h["Received-Spf"] {
			// RFC 7208 §9.1: Received-SPF: <result> (comment) key=value; ...
			v.SPF = worst(v.SPF, firstWord(rs))
		}
	}
	return v
}

// worst returns fail if any value is fail, else the first non-empty value.
func worst(cur Verdict, values ...string) Verdict {
	for _, s := range values {
		s = strings.ToLower(strings.TrimSpace(s))
		switch {
		case s == string(VerdictFail):
			return VerdictFail
		case cur == "" && s != "":
			cur = Verdict(s)
		}
	}
	return cur
}

func firstWord(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return strings.Trim(f[0], ";")
}

// parseAuthResults reads an RFC 8601 Authentication-Results value: the
// authserv-id, then ";"-separated resinfo "method=result ...". Comments in
// parentheses are dropped first. It returns the results per method.
func parseAuthResults(v string) (servID string, results map[string][]string) {
	v = dropComments(v)
	parts := strings.Split(v, ";")
	servID = firstWord(parts[0])
	results = map[string][]string{}
	for _, p := range parts[1:] {
		f := strings.Fields(p)
		if len(f) == 0 {
			continue
		}
		method, result, ok := strings.Cut(f[0], "=")
		if !ok {
			continue
		}
		method = strings.ToLower(method)
		if i := strings.IndexByte(method, '/'); i >= 0 { // method/version
			method = method[:i]
		}
		results[method] = append(results[method], result)
	}
	return servID, results
}

// dropComments removes RFC 5322 comments "( ... )", nested ones included.
func dropComments(s string) string {
	var b strings.Builder
	depth := 0
	for _, r := range s {
		switch {
		case r == '(':
			depth++
		case r == ')' && depth > 0:
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}
