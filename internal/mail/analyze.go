package mail

import (
	"regexp"
	"slices"
	"strings"
	"sync"

	"dsrflow/internal/dsr"
)

// kindFinding is what the rules found in a text: the kinds asked for, the
// kinds named but negated, and the kinds only asked about in a question.
type kindFinding struct {
	asked   []dsr.Kind // asked for, in kindOrder
	negated []dsr.Kind
	queried []dsr.Kind
}

// sentenceEnd splits text into sentences: at Chinese and Latin sentence
// punctuation, at ". " and at line ends.
var sentenceEnd = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`[。！？!?\n]+|\.(\s+|$)`)
})

// clauseEnd splits a sentence into clauses.
var clauseEnd = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`[，,；;：:]|\s-\s|—`)
})

// sentences returns the sentences of text with their closing punctuation.
func sentences(text string) []string {
	var out []string
	last := 0
	for _, m := range sentenceEnd().FindAllStringIndex(text, -1) {
		if s := strings.TrimSpace(text[last:m[1]]); s != "" {
			out = append(out, s)
		}
		last = m[1]
	}
	if s := strings.TrimSpace(text[last:]); s != "" {
		out = append(out, s)
	}
	return out
}

// findKinds reads folded text sentence by sentence and clause by clause. A
// kind counts when a rule matches it, no negation cue before it in its
// clause (within maxNegationGap bytes and with no contrast word between)
// or after it negates it, and it is not only asked about: in a question
// ("如何注销账号？") a kind counts only when the sentence also asks us to act
// ("能帮我注销吗？") or the rule's wording is itself a request ("what data do
// you hold about me?").
func findKinds(text string) kindFinding {
	asked, negated, queried := map[dsr.Kind]bool{}, map[dsr.Kind]bool{}, map[dsr.Kind]bool{}
	for _, s := range sentences(text) {
		question := questionCue().MatchString(s)
		request := requestCue().MatchString(s) && !infoCue().MatchString(s)
		for _, clause := range clauseEnd().Split(s, -1) {
			for _, r := range kindRules() {
				for _, loc := range r.re.FindAllStringIndex(clause, 4) {
					switch {
					case isNegated(clause, loc):
						negated[r.kind] = true
					case question && !request && !r.asks:
						queried[r.kind] = true
					default:
						asked[r.kind] = true
					}
				}
			}
		}
	}
	var f kindFinding
	for _, k := range kindOrder {
		switch {
		case asked[k]:
			f.asked = append(f.asked, k)
		case negated[k]:
			f.negated = append(f.negated, k)
		case queried[k]:
			f.queried = append(f.queried, k)
		}
	}
	return f
}

// isNegated reports whether the match at loc in clause is negated.
func isNegated(clause string, loc []int) bool {
	if negationAfter().MatchString(clause[loc[1]:]) {
		return true
	}
	before := clause[max(0, loc[0]-maxNegationGap):loc[0]]
	cues := negationBefore().FindAllStringIndex(before, -1)
	if len(cues) == 0 {
		return false
	}
	last := cues[len(cues)-1]
	return !contrast().MatchString(before[last[1]:])
}

// combineKinds folds kinds that imply one another (see Classify) and returns
// the rest in a stable order.
func combineKinds(kinds []dsr.Kind) []dsr.Kind {
	has := func(k dsr.Kind) bool { return slices.Contains(kinds, k) }
	var out []dsr.Kind
	for _, k := range kinds {
		switch {
		case k == dsr.KindErasure && has(dsr.KindAccountClosure):
			continue
		case k == dsr.KindAccess && has(dsr.KindPortability):
			continue
		}
		out = append(out, k)
	}
	return out
}

// matchKinds returns the kinds findKinds finds asked for in text.
func matchKinds(text string) []dsr.Kind {
	f := findKinds(text)
	if f.asked == nil {
		return []dsr.Kind{}
	}
	return f.asked
}

// replyPrefix is the "Re:" / "回复：" / "FW:" chain at the start of a subject.
var replyPrefix = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)^\s*((re|fw|fwd|aw|sv|vs|wg|tr|答复|回复|回覆|转发|轉寄|转寄)\s*(\[\d+\])?\s*[:：]\s*)+`)
})

// subjectText is the subject without its reply and forward prefixes.
func subjectText(subject string) string {
	return replyPrefix().ReplaceAllString(subject, "")
}

// isReplySubject reports whether subject starts with a reply or forward prefix.
func isReplySubject(subject string) bool {
	return replyPrefix().MatchString(subject)
}
