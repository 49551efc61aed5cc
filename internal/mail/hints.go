package mail

import (
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"dsrflow/internal/dsr"
	"dsrflow/internal/phone"
)

// accountLabel finds a labelled account ID. Strong labels name an ID
// ("账号ID", "UID", "account ID"); weak ones the account ("账号", "account").
var accountLabel = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)(账号\s*id|账户\s*id|用户\s*id|\buid|\buser\s*id|\baccount\s*(?:id|number|no\.?)|账号|帐号|账户|\baccount)(\s*(?:是|为|[:：#=]|\bis\b)?\s*)([A-Za-z0-9_-]{3,64})\b`)
})

// correctionValue marks a sentence that says what a detail should become.
var correctionValue = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`改成|改为|更正为|修改为|更新为|更改为|换成|应为|应该是|应该为|正确的是|\bshould be\b|\bis now\b|\bchange (it|my [a-z ]{1,20}) to\b|\bupdate (it|my [a-z ]{1,20}) to\b|\bthe correct [a-z ]{1,20} is\b|\bcorrect (it|them) to\b`)
})

// greeting is a salutation clause at the start of a sentence.
var greeting = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)^(你好|您好|hi|hello|hey|dear [^,，]{0,30}|哈囉|哈啰)\s*[,，!！]\s*`)
})

// purposeRules map wording to dsr consent purpose codes.
var purposeRules = sync.OnceValue(func() []struct {
	purpose string
	re      *regexp.Regexp
} {
	return []struct {
		purpose string
		re      *regexp.Regexp
	}{
		{dsr.PurposeAll, regexp.MustCompile(`(全部|所有)的?(同意|授权)|全部授权|\ball (my )?consents?\b|\b(withdraw|revoke) (all|every)`)},
		{dsr.PurposeAnalytics, regexp.MustCompile(`统计|分析|画像|\banalytics\b|\bstatistics\b|\bprofiling\b`)},
		{dsr.PurposePartnerSharing, regexp.MustCompile(`合作伙伴|第三方|共享|分享|\bpartners?\b|\bthird[- ]part(y|ies)\b|\bsharing\b`)},
	}
})

// extractHints reads own (the sender's own text) for hints. from and
// recipients are left out of Emails. kinds are the recognized kinds:
// corrections are read for correction requests, purposes for consent
// withdrawals.
func extractHints(own string, from string, recipients []string, kinds []dsr.Kind) Hints {
	var h Hints
	if len(own) > MaxRuleText {
		own = strings.ToValidUTF8(own[:MaxRuleText], "")
	}
	plain := traditionalToSimplified.Replace(own) // labels folded, case kept

	var accountSpans [][]int
	for _, m := range accountLabel().FindAllStringSubmatchIndex(plain, 20) {
		label, sep, id := strings.ToLower(plain[m[2]:m[3]]), strings.TrimSpace(plain[m[4]:m[5]]), plain[m[6]:m[7]]
		strong := strings.Contains(label, "id") || strings.Contains(label, "number") || strings.Contains(label, "no")
		if !strings.ContainsAny(id, "0123456789") && (!strong || sep == "") {
			continue
		}
		if v, err := dsr.ParseAccountID(id); err == nil {
			h.AccountIDs = appendHint(h.AccountIDs, v)
			accountSpans = append(accountSpans, []int{m[6], m[7]})
		}
	}

	for _, p := range findPhones(plain, accountSpans) {
		h.Phones = appendHint(h.Phones, p)
	}

	skip := map[string]bool{from: true}
	for _, r := range recipients {
		skip[r] = true
	}
	for _, a := range addrInText().FindAllString(own, 20) {
		if e, err := dsr.ParseEmail(a); err == nil && !skip[e] {
			h.Emails = appendHint(h.Emails, e)
		}
	}

	if slices.Contains(kinds, dsr.KindCorrection) {
		for _, s := range sentences(own) {
			if correctionValue().MatchString(fold(s)) {
				s = strings.TrimSpace(greeting().ReplaceAllString(s, ""))
				if utf8.RuneCountInString(s) > dsr.MaxCorrection {
					s = string([]rune(s)[:dsr.MaxCorrection])
				}
				h.Corrections = appendHint(h.Corrections, s)
			}
		}
	}

	if slices.Contains(kinds, dsr.KindConsentWithdrawal) {
		found := map[string]bool{}
		for _, s := range sentences(fold(own)) {
			if !slices.Contains(findKinds(s).asked, dsr.KindConsentWithdrawal) {
				continue
			}
			for _, r := range purposeRules() {
				if r.re.MatchString(s) {
					found[r.purpose] = true
				}
			}
		}
		if found[dsr.PurposeAll] {
			h.Purposes = []string{dsr.PurposeAll}
		} else {
			for _, p := range dsr.Purposes() {
				if found[p] {
					h.Purposes = append(h.Purposes, p)
				}
			}
		}
	}
	return h
}

func appendHint(list []string, v string) []string {
	if len(list) >= MaxHints || slices.Contains(list, v) {
		return list
	}
	return append(list, v)
}

// digitRun is a run of digits with the separators people put in phone numbers.
var digitRun = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`\+?\(?\d[\d\s\-().]{5,24}\d`)
})

// findPhones returns the valid phone numbers in text (E.164, phone.Parse:
// numbers without a country code are mainland China numbers), skipping the
// byte spans in skip (account IDs). A run of digit groups is tried whole,
// then as the longest valid runs of consecutive groups.
func findPhones(text string, skip [][]int) []string {
	var out []string
	for _, loc := range digitRun().FindAllStringIndex(text, 40) {
		if overlaps(loc, skip) {
			continue
		}
		run := text[loc[0]:loc[1]]
		if e, err := phone.Parse(run); err == nil {
			out = append(out, e)
			continue
		}
		groups := strings.FieldsFunc(run, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' })
		if strings.HasPrefix(run, "+") {
			// A country code belongs to the groups after it: no window
			// without it is read as a mainland number.
			for j := min(len(groups), 6); j > 1; j-- {
				if e, err := phone.Parse(strings.Join(groups[:j], " ")); err == nil {
					out = append(out, e)
					break
				}
			}
			continue
		}
		for i := 0; i < len(groups); {
			found := false
			for j := min(len(groups), i+6); j > i; j-- {
				cand := strings.Join(groups[i:j], " ")
				if len(strings.Trim(cand, "+-(). ")) < 7 {
					continue
				}
				if e, err := phone.Parse(cand); err == nil {
					out = append(out, e)
					i, found = j, true
					break
				}
			}
			if !found {
				i++
			}
		}
	}
	return out
}

func overlaps(loc []int, spans [][]int) bool {
	for _, s := range spans {
		if loc[0] < s[1] && s[0] < loc[1] {
			return true
		}
	}
	return false
}
