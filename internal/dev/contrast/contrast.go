// Package contrast checks the text colours of a stylesheet against WCAG
// 2.2 AA's contrast minimum (4.5:1 for normal text), for the tests of the
// privacy center's and the console's pages. It reads the simple
// stylesheets those pages carry (one selector list per rule, #rgb and
// #rrggbb colours), not CSS in general.
package contrast

import (
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Minimum is WCAG 2.2 AA's contrast minimum for normal text.
const Minimum = 4.5

var (
	ruleRE = regexp.MustCompile(`([^{}]+)\{([^}]*)\}`)
	propRE = map[string]*regexp.Regexp{}
)

func decl(body, prop string) string {
	re, ok := propRE[prop]
	if !ok {
		re = regexp.MustCompile(`(?:^|;)\s*` + prop + `\s*:\s*(#[0-9a-fA-F]{3,6})\b`)
		propRE[prop] = re
	}
	m := re.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

// Check returns a line for every text colour of css under Minimum against
// a background it can stand on: its rule's background; for a variant that
// only sets a background (button.danger, a.button:hover), the text colour
// of the selector it refines; the header's background for header rules;
// otherwise the page's (body), white and extra surfaces (cards, boxes).
// checked is how many pairs it compared.
func Check(css string, surfaces ...string) (problems []string, checked int, err error) {
	bySelector := map[string]string{}
	for _, r := range ruleRE.FindAllStringSubmatch(css, -1) {
		for _, sel := range strings.Split(r[1], ",") {
			bySelector[strings.TrimSpace(sel)] += ";" + r[2]
		}
	}
	page, header := decl(bySelector["body"], "background"), decl(bySelector["header"], "background")
	if page == "" {
		return nil, 0, fmt.Errorf("no page background (body) in the stylesheet")
	}
	surfaces = append([]string{page, "#fff"}, surfaces...)
	for sel, body := range bySelector {
		fg, bg := decl(body, "color"), decl(body, "background")
		for base := sel; fg == "" && bg != ""; {
			i := strings.LastIndexAny(base, ".:")
			if i <= 0 {
				break
			}
			base = base[:i]
			fg = decl(bySelector[base], "color")
		}
		if fg == "" {
			continue
		}
		bgs := surfaces
		switch {
		case bg != "":
			bgs = []string{bg}
		case strings.HasPrefix(sel, "header") && header != "":
			bgs = []string{header}
		}
		for _, b := range bgs {
			r, err := Ratio(fg, b)
			if err != nil {
				return nil, checked, fmt.Errorf("%s: %w", sel, err)
			}
			checked++
			if r < Minimum {
				problems = append(problems, fmt.Sprintf("%s: text %s on %s has contrast %.2f:1, want at least %.1f:1", sel, fg, b, r, Minimum))
			}
		}
	}
	return problems, checked, nil
}

// Ratio is the WCAG contrast ratio of two #rgb or #rrggbb colours.
func Ratio(a, b string) (float64, error) {
	la, err := luminance(a)
	if err != nil {
		return 0, err
	}
	lb, err := luminance(b)
	if err != nil {
		return 0, err
	}
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05), nil
}

func luminance(hex string) (float64, error) {
	h := strings.TrimPrefix(hex, "#")
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	v, err := strconv.ParseUint(h, 16, 32)
	if err != nil || len(h) != 6 {
		return 0, fmt.Errorf("colour %q is not #rgb or #rrggbb", hex)
	}
	ch := func(c uint64) float64 {
		s := float64(c) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*ch(v>>16&0xff) + 0.7152*ch(v>>8&0xff) + 0.0722*ch(v&0xff), nil
}

// CheckFile fails t for every text colour of the stylesheet at path under
// Minimum (Check, with the extra surfaces), and when fewer than 10 colour
// pairs were found (the stylesheet was not read as expected).
func CheckFile(t testing.TB, path string, surfaces ...string) {
	t.Helper()
	css, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	problems, checked, err := Check(string(css), surfaces...)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
	if checked < 10 {
		t.Errorf("%s: checked %d colour pairs; the stylesheet's rules were not found", path, checked)
	}
}
