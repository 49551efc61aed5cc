package webintake

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// checkAccessibility lists what is wrong with a page for assistive
// technology and for a page that must load nothing from elsewhere:
// the document language, a label for every form control, errors tied to
// their fields, radio and check box groups in fieldsets with legends, a
// viewport, and no URL to another origin than origins, no script.
func checkAccessibility(page string, origins ...string) []string {
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		return []string{"parse: " + err.Error()}
	}
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	ids := map[string]*html.Node{}
	labelFor := map[string]bool{}
	describedBy := map[string]bool{}
	var controls []*html.Node
	viewport := false
	var walk func(n *html.Node, inFieldsetWithLegend bool)
	walk = func(n *html.Node, inFieldset bool) {
		if n.Type == html.ElementNode {
			if id := attr(n, "id"); id != "" {
				if ids[id] != nil {
					add("duplicate id %q", id)
				}
				ids[id] = n
			}
			for _, ref := range strings.Fields(attr(n, "aria-describedby")) {
				describedBy[ref] = true
			}
			switch n.Data {
			case "html":
				if attr(n, "lang") == "" {
					add("<html> has no lang")
				}
			case "label":
				if f := attr(n, "for"); f != "" {
					labelFor[f] = true
				}
			case "input", "select", "textarea":
				typ := attr(n, "type")
				if typ != "hidden" && typ != "submit" {
					controls = append(controls, n)
				}
				if (typ == "radio" || typ == "checkbox") && !inFieldset {
					add("%s %q is not in a fieldset with a legend", typ, attr(n, "id"))
				}
			case "fieldset":
				hasLegend := false
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					if c.Type == html.ElementNode && c.Data == "legend" {
						hasLegend = true
					}
				}
				if !hasLegend {
					add("fieldset without legend")
				}
				inFieldset = hasLegend
			case "meta":
				if attr(n, "name") == "viewport" {
					viewport = true
				}
			case "script", "iframe", "object", "embed", "img", "link":
				add("<%s> element: the page must load nothing", n.Data)
			}
			for _, a := range []string{"src", "href", "action", "formaction"} {
				if v := attr(n, a); v != "" && !sameOrigin(v, origins) {
					add("%s=%q leaves the site", a, v)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, inFieldset)
		}
	}
	walk(doc, false)
	if !viewport {
		add("no <meta name=viewport>")
	}
	for _, c := range controls {
		id := attr(c, "id")
		if id == "" || !labelFor[id] {
			add("%s name=%q has no <label for>", c.Data, attr(c, "name"))
		}
		if attr(c, "aria-invalid") == "true" && attr(c, "aria-describedby") == "" {
			add("invalid %q is not described by its error", id)
		}
		for _, ref := range strings.Fields(attr(c, "aria-describedby")) {
			if ids[ref] == nil {
				add("%q is described by missing id %q", id, ref)
			}
		}
	}
	// Every error message is tied to a field or group.
	for id, n := range ids {
		if strings.Contains(attr(n, "class"), "error") && !describedBy[id] {
			add("error %q is not referenced by aria-describedby", id)
		}
	}
	// Every summary link leads to a field.
	for id, n := range ids {
		if id != "summary" {
			continue
		}
		var links func(*html.Node)
		links = func(m *html.Node) {
			if m.Type == html.ElementNode && m.Data == "a" {
				if target := strings.TrimPrefix(attr(m, "href"), "#"); ids[target] == nil {
					add("summary link to missing #%s", target)
				}
			}
			for c := m.FirstChild; c != nil; c = c.NextSibling {
				links(c)
			}
		}
		links(n)
	}
	return problems
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

// sameOrigin accepts fragment, path and query references, and absolute URLs
// on one of origins ("https://host").
func sameOrigin(ref string, origins []string) bool {
	u, err := url.Parse(ref)
	if err != nil {
		return false
	}
	if u.Scheme == "" && u.Host == "" && !strings.HasPrefix(ref, "//") {
		return true
	}
	for _, o := range origins {
		if u.Scheme+"://"+u.Host == o {
			return true
		}
	}
	return false
}

func TestAccessibility(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	vals := e.sampleForm(t)
	vals.Del("kind")
	vals.Set("email", "bad")
	vals.Set("phone", "")
	vals.Set("erasureGround", "")
	vals.Set("consentPurposes", "nonsense")
	others := e.sampleForm(t)
	others.Set("role", "agent")
	others.Set("subjectEmail", "bad@")
	others.Set("accountId", "not valid")
	accepted := e.do(t, formPost(e.sampleForm(t)))
	reused := e.sampleForm(t)
	e.do(t, formPost(reused))
	reused.Set("details", "another")
	cross := formPost(e.sampleForm(t))
	cross.Header.Set("Origin", "https://evil.example")
	pages := map[string]string{
		"form zh":                 e.do(t, getForm("")).Body,
		"form en":                 e.do(t, getForm("lang=en")).Body,
		"form with errors":        e.do(t, formPost(vals)).Body,
		"subject field errors":    e.do(t, formPost(others)).Body,
		"accepted":                accepted.Body,
		"status":                  e.do(t, statusGet(t, statusLink(t, accepted.Body))).Body,
		"not found":               e.do(t, statusGet(t, "/requests/r-x?token=y")).Body,
		"reused nonce":            e.do(t, formPost(reused)).Body,
		"cross-site post refused": e.do(t, cross).Body,
		"method not allowed":      e.do(t, newRequest("DELETE", "/requests", nil)).Body,
	}
	for name, page := range pages {
		if problems := checkAccessibility(page, sampleOrigin); len(problems) > 0 {
			t.Errorf("%s: %d problems:\n%s", name, len(problems), strings.Join(problems, "\n"))
		}
	}
}

// TestAccessibilityCheckFinds makes sure the checker is not blind.
func TestAccessibilityCheckFinds(t *testing.T) {
	for _, tc := range []struct{ name, page, want string }{
		{"no lang", `<html><head><meta name="viewport"></head><body></body></html>`, "no lang"},
		{"unlabelled", `<html lang="en"><head><meta name="viewport"></head><body><input id="a" name="a"></body></html>`, "no <label for>"},
		{"external", `<html lang="en"><head><meta name="viewport"></head><body><a href="https://cdn.example/x.css">x</a></body></html>`, "leaves the site"},
		{"protocol-relative", `<html lang="en"><head><meta name="viewport"></head><body><a href="//cdn.example/x.css">x</a></body></html>`, "leaves the site"},
		{"other scheme", `<html lang="en"><head><meta name="viewport"></head><body><a href="http://a1b2c3d4e5.execute-api.cn-north-1.amazonaws.com.cn/">x</a></body></html>`, "leaves the site"},
		{"script", `<html lang="en"><head><meta name="viewport"><script></script></head><body></body></html>`, "<script>"},
		{"orphan error", `<html lang="en"><head><meta name="viewport"></head><body><p class="error" id="err-a">x</p></body></html>`, "not referenced"},
		{"radio outside fieldset", `<html lang="en"><head><meta name="viewport"></head><body><label for="r">r</label><input type="radio" id="r" name="r"></body></html>`, "not in a fieldset"},
		{"no viewport", `<html lang="en"><body></body></html>`, "viewport"},
	} {
		problems := strings.Join(checkAccessibility(tc.page, sampleOrigin), "\n")
		if !strings.Contains(problems, tc.want) {
			t.Errorf("%s: problems %q, want one with %q", tc.name, problems, tc.want)
		}
	}
}
