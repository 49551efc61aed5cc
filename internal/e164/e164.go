// Package e164 reads the phone numbers people type on the privacy center's
// form into E.164 form ("+8613800138000") without phone metadata: a
// mainland China mobile number as people write it (13800138000, +86 138
// 0013 8000, 0086-138-0013-8000), or any other number in international
// form (+44 7700 900123, 00852 9123 4567).
//
// It exists for the cold start of intake-web, the function a person waits
// on: libphonenumber (internal/phone) decodes all its metadata when a
// program starts, which alone costs about three hello-world cold starts.
// What Parse accepts, internal/phone reads to the same E.164 string or
// refuses (a number its plan does not assign): internal/phone's
// differential tests check this. Such a number is kept as typed; the SMS
// provider then refuses it and an operator takes the request, as for any
// number that cannot receive a code.
//
// Numbers are read strictly, so that the two readers cannot disagree: a
// national number that starts with 0 after the country code ("+44 (0)20
// …") is refused rather than guessed at, and only mobile numbers are read
// without a country code. Those are the numbers a text message can reach.
package e164

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrInvalid is the error of Parse. Its messages never contain the number.
var ErrInvalid = errors.New("invalid phone number")

// maxInputLen bounds what is read, as internal/phone does.
const maxInputLen = 40

// Parse returns s in E.164 form, or an error wrapping ErrInvalid that
// says what to change.
func Parse(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalid)
	}
	if len(s) > maxInputLen {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrInvalid, maxInputLen)
	}
	var b strings.Builder
	plus := false
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r >= '０' && r <= '９': // full-width digits, as Chinese keyboards type them
			b.WriteRune('0' + (r - '０'))
		case (r == '+' || r == '＋') && !plus && b.Len() == 0: // "+86 …", "(+86) …"
			plus = true
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')' || r == '\u00a0' || r == '\u3000' || r == '－':
		default:
			return "", fmt.Errorf("%w: only digits, spaces, dashes, brackets and a leading + are allowed", ErrInvalid)
		}
	}
	d := b.String()
	if !plus && strings.HasPrefix(d, "00") {
		plus, d = true, d[2:]
	}
	if !plus {
		// Without a country code: a mainland China mobile number.
		if !chinaMobile(d) {
			return "", fmt.Errorf("%w: not a mainland China mobile number; give other numbers with their country code", ErrInvalid)
		}
		return "+86" + d, nil
	}
	if len(d) < 8 || len(d) > 15 || d[0] == '0' {
		return "", fmt.Errorf("%w: an international number has 8 to 15 digits after +", ErrInvalid)
	}
	cc := countryCode(d)
	if cc == "" {
		return "", fmt.Errorf("%w: numbers of this country code cannot be read here; give an email address instead", ErrInvalid)
	}
	national := d[len(cc):]
	switch {
	case cc == "86":
		if !chinaMobile(national) {
			return "", fmt.Errorf("%w: not a mainland China mobile number", ErrInvalid)
		}
	case national == "" || national[0] == '0' || (trunkEight[cc] && national[0] == '8'):
		return "", fmt.Errorf("%w: leave out the 0 after the country code", ErrInvalid)
	case cc == "1" && (len(national) != 10 || national[0] < '2'):
		// North America: a 10-digit number whose area code starts 2-9
		// (a 1 after +1 is the trunk prefix, which libphonenumber drops).
		return "", fmt.Errorf("%w: a North American number has 10 digits after +1", ErrInvalid)
	case len(national) < 4:
		return "", fmt.Errorf("%w: too short", ErrInvalid)
	}
	return "+" + d, nil
}

// chinaMobile reports an 11-digit mainland China mobile number of an
// assigned prefix.
func chinaMobile(d string) bool {
	return len(d) == 11 && allDigits(d) && !unassignedCN[d[:3]] && d[0] == '1' && d[1] >= '3' && d[1] <= '9'
}

// trunkEight are the country codes whose trunk prefix is 8 (Russia and
// Kazakhstan, Belarus, Lithuania, and Central Asia): a national number
// written with it is refused, as one with a 0 after any code.
var trunkEight = map[string]bool{"7": true, "370": true, "375": true, "992": true, "993": true, "996": true, "998": true}

// unassignedCN are the 1[3-9]x prefixes of no mainland China mobile number
// in libphonenumber's plan (174 too: only a few of its blocks are). The
// differential test in internal/phone fails when libphonenumber's metadata
// changes this list.
var unassignedCN = map[string]bool{
	"140": true, "141": true, "142": true, "143": true, "144": true, "146": true, "148": true, "149": true,
	"154": true, "160": true, "161": true, "163": true, "164": true, "168": true, "169": true,
	"174": true, "179": true, "194": true,
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// countryCode is the ITU-T E.164 country calling code d starts with ("" if
// none): codes are prefix-free, so at most one of the 1-, 2- or 3-digit
// prefixes is assigned.
func countryCode(d string) string {
	for n := 1; n <= 3 && n <= len(d); n++ {
		if assigned[d[:n]] {
			return d[:n]
		}
	}
	return ""
}

// assigned are the country calling codes the form reads: mainland China,
// Hong Kong, Macau and Taiwan, and the countries where most of the app's
// other users live, whose numbers libphonenumber reads exactly as written
// after the code (checked by internal/phone's differential fuzz test).
// Numbers of other countries are refused with a message to give an email
// address instead; mail intake and operators read them with libphonenumber.
// Codes are prefix-free: at most one of a number's 1-, 2- or 3-digit
// prefixes is assigned.
var assigned = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range strings.Fields(`
86 852 853 886
1 7 31 32 33 34 39 41 43 44 45 46 47 48 49 60 61 62 63 64 65 66 81 82 84 91 971`) {
		m[c] = true
	}
	return m
}()

// CountryCodes are the country calling codes Parse reads, sorted.
func CountryCodes() []string {
	out := make([]string, 0, len(assigned))
	for c := range assigned {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}
