package dsr

import (
	"strings"
	"sync"

	"golang.org/x/text/language"
)

// Locale is the requester's language, for every message sent to them and every
// error shown on the form. PIPL art. 50 requires a refusal to carry its reason;
// it is given in this language.
type Locale string

const (
	LocaleZhCN Locale = "zh-CN" // the default
	LocaleEn   Locale = "en"
)

// DefaultLocale is used when nothing better is known.
const DefaultLocale = LocaleZhCN

// Locales lists the supported locales, the default first.
func Locales() []Locale { return []Locale{LocaleZhCN, LocaleEn} }

// Valid reports whether l is exactly one of the supported locales.
func (l Locale) Valid() bool { return l == LocaleZhCN || l == LocaleEn }

// localeMatcher is built on first use: every function imports this package,
// and most never match a locale (internal/dev/coldstart).
var localeMatcher = sync.OnceValue(func() language.Matcher {
	return language.NewMatcher([]language.Tag{language.SimplifiedChinese, language.English})
})

// MatchLocale picks the supported locale that best fits language preferences:
// BCP 47 tags ("en-GB", "zh-Hans-CN", "zh") or whole Accept-Language header
// values ("en-US,en;q=0.9"). Anything else, or nothing, gives the default (zh-CN).
func MatchLocale(prefs ...string) Locale {
	tag, _ := language.MatchStrings(localeMatcher(), prefs...)
	base, _ := tag.Base()
	if base.String() == "en" {
		return LocaleEn
	}
	return LocaleZhCN
}

// ParseLocale reads a locale given by a form or a stored request. Empty means
// the default. Any well-formed language tag is mapped to the closest supported
// locale (ok is true); a string that is not a language tag gives ok false.
func ParseLocale(s string) (l Locale, ok bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return DefaultLocale, true
	}
	if _, err := language.Parse(s); err != nil {
		return DefaultLocale, false
	}
	return MatchLocale(s), true
}

// Text is a message in every supported locale.
type Text struct {
	ZhCN string `json:"zh-CN"`
	En   string `json:"en"`
}

// In is the text in locale l (the Chinese text for an unsupported locale).
func (t Text) In(l Locale) string {
	if l == LocaleEn {
		return t.En
	}
	return t.ZhCN
}
