package console

import (
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestStyleContrast: every text colour of the console's stylesheet meets
// WCAG 2.2 AA's 4.5:1 against the backgrounds it can stand on: its own
// rule's background (or, for a variant such as button.danger or a
// :hover, the one that variant sets), the header's for header rules, and
// otherwise the page's and the cards' (white, and pre.mailtext's).
func TestStyleContrast(t *testing.T) {
	css, err := os.ReadFile("templates/style.css")
	if err != nil {
		t.Fatal(err)
	}
	rules := regexp.MustCompile(`([^{}]+)\{([^}]*)\}`).FindAllStringSubmatch(string(css), -1)
	decl := func(body, prop string) string {
		m := regexp.MustCompile(`(?:^|;)\s*` + prop + `\s*:\s*(#[0-9a-fA-F]{3,6})\b`).FindStringSubmatch(body)
		if m == nil {
			return ""
		}
		return m[1]
	}
	bySelector := map[string]string{} // selector → body
	for _, r := range rules {
		for _, sel := range strings.Split(r[1], ",") {
			bySelector[strings.TrimSpace(sel)] += ";" + r[2]
		}
	}
	page := decl(bySelector["body"], "background")
	header := decl(bySelector["header"], "background")
	if page == "" || header == "" {
		t.Fatalf("no page (%q) or header (%q) background in the stylesheet", page, header)
	}
	surfaces := []string{page, "#fff", decl(bySelector["pre.mailtext"], "background")}
	checked := 0
	for sel, body := range bySelector {
		fg := decl(body, "color")
		// A variant that only changes the background keeps the text colour
		// of the selector it refines (button.danger, a.button:hover,
		// button.secondary:hover): drop a pseudo-class, then a class, until
		// one sets a colour.
		for base := sel; fg == "" && decl(body, "background") != ""; {
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
		var bgs []string
		switch bg := decl(body, "background"); {
		case bg != "":
			bgs = []string{bg}
		case strings.HasPrefix(sel, "header"):
			bgs = []string{header}
		default:
			bgs = surfaces
		}
		for _, bg := range bgs {
			checked++
			if r := contrast(t, fg, bg); r < 4.5 {
				t.Errorf("%s: text %s on %s has contrast %.2f:1, want at least 4.5:1", sel, fg, bg, r)
			}
		}
	}
	if checked < 10 {
		t.Errorf("checked %d colour pairs; the stylesheet's rules were not found", checked)
	}
}

// contrast is the WCAG contrast ratio of two #rgb or #rrggbb colours.
func contrast(t *testing.T, a, b string) float64 {
	la, lb := luminance(t, a), luminance(t, b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

func luminance(t *testing.T, hex string) float64 {
	h := strings.TrimPrefix(hex, "#")
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	v, err := strconv.ParseUint(h, 16, 32)
	if err != nil || len(h) != 6 {
		t.Fatalf("colour %q", hex)
	}
	ch := func(c uint64) float64 {
		s := float64(c) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*ch(v>>16&0xff) + 0.7152*ch(v>>8&0xff) + 0.0722*ch(v&0xff)
}

func TestContrastRatio(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want float64
	}{{"#000", "#fff", 21}, {"#fff", "#fff", 1}, {"#777777", "#ffffff", 4.48}} {
		if got := contrast(t, tt.a, tt.b); math.Abs(got-tt.want) > 0.01 {
			t.Errorf("contrast(%s, %s) = %.3f, want %.2f", tt.a, tt.b, got, tt.want)
		}
	}
}
