package console

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"dsrflow/internal/dsr"
)

// checkAccessibility lists what is wrong with a page for assistive
// technology and for a page that must load nothing: the document
// language, a label for every form control, aria-describedby pointing at
// elements that exist, radio and check box groups in fieldsets with
// legends, headers of table columns, one h1, no script, no resources, no
// link to another origin than those allowed, a token in every post form.
func checkAccessibility(page string, origins ...string) []string {
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		return []string{"parse: " + err.Error()}
	}
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	ids := map[string]bool{}
	labelFor := map[string]bool{}
	var described []string
	var controls []*html.Node
	h1 := 0
	var walk func(n *html.Node, inFieldset bool)
	walk = func(n *html.Node, inFieldset bool) {
		if n.Type == html.ElementNode {
			if id := attr(n, "id"); id != "" {
				if ids[id] {
					add("duplicate id %q", id)
				}
				ids[id] = true
			}
			described = append(described, strings.Fields(attr(n, "aria-describedby"))...)
			switch n.Data {
			case "html":
				if attr(n, "lang") == "" {
					add("<html> has no lang")
				}
			case "h1":
				h1++
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
				legend := false
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					if c.Type == html.ElementNode && c.Data == "legend" {
						legend = true
					}
				}
				if !legend {
					add("fieldset without legend")
				}
				inFieldset = legend
			case "form":
				if strings.EqualFold(attr(n, "method"), "post") && !hasToken(n) {
					add("post form %q has no CSRF token", attr(n, "action"))
				}
			case "th":
				if attr(n, "scope") == "" {
					add("<th> without scope")
				}
			case "button":
				if strings.TrimSpace(textOf(n)) == "" && attr(n, "aria-label") == "" {
					add("button without a name")
				}
			case "script", "iframe", "object", "embed", "img", "link":
				add("<%s> element: the page must load nothing", n.Data)
			}
			for _, a := range []string{"src", "href", "action", "formaction"} {
				if v := attr(n, a); v != "" && !sameOriginURL(v, origins) {
					add("%s=%q leaves the console", a, v)
				}
			}
			for _, a := range n.Attr {
				if strings.HasPrefix(a.Key, "on") {
					add("event handler attribute %s", a.Key)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, inFieldset)
		}
	}
	walk(doc, false)
	for _, c := range controls {
		id := attr(c, "id")
		if id == "" || !labelFor[id] {
			add("%s %q has no label", c.Data, id)
		}
	}
	for _, ref := range described {
		if !ids[ref] {
			add("aria-describedby names %q, which is not on the page", ref)
		}
	}
	if h1 != 1 {
		add("%d h1 elements, want 1", h1)
	}
	return problems
}

func hasToken(form *html.Node) bool {
	found := false
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "input" && attr(n, "name") == tokenField && attr(n, "value") != "" {
			found = true
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(form)
	return found
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

func sameOriginURL(v string, origins []string) bool {
	u, err := url.Parse(v)
	if err != nil {
		return false
	}
	if u.Scheme == "" && u.Host == "" {
		return true
	}
	for _, o := range origins {
		if strings.HasPrefix(v, o+"/") {
			return true
		}
	}
	return false
}

// TestAccessibility checks every page, in both languages, with the
// request page carrying every form (a wait, a deadline, identifiers, a
// partner to retry, a hold) and a document link.
func TestAccessibility(t *testing.T) {
	s := newStack(t, stackOptions{})
	guardian := s.guardianErasure("a11y-guardian")
	s.waitFor(guardian, "verification")
	mm := s.mismatch("a11y-mismatch", dsr.KindConsentWithdrawal)
	mailKey := s.dropMail("a11y.eml", unclearMail("wang.fang@example.cn", "accessibility"))
	redirected(t, s.post("/mail/"+mailKey+"/link", url.Values{"requestId": {guardian}}), "/requests/"+guardian, "linked")
	mailKey2 := s.dropMail("a11y2.eml", unclearMail("wang.fang@example.cn", "accessibility again"))
	docPage := s.post("/requests/"+guardian+"/documents/1", nil)
	pages := map[string]string{"doc link": docPage.Body}
	for _, l := range []string{"en", "zh-CN"} {
		for name, path := range map[string]string{
			"queue": "/", "guardian": "/requests/" + guardian, "mismatch": "/requests/" + mm, "mail": "/mail/" + mailKey2,
			"settled mail": "/mail/" + mailKey, "report": "/report?from=2026-03-01&to=2026-03-31", "search": "/search?q=wang.fang%40example.cn",
			"bad search": "/search?q=%21", "not found": "/nope",
		} {
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			pages[name+" "+l] = s.get(path + sep + "lang=" + l).Body
		}
	}
	for name, body := range pages {
		for _, p := range checkAccessibility(body, s.s3URL) {
			t.Errorf("%s: %s", name, p)
		}
	}
	golden(t, "queue.zh-CN.html", stable(pages["queue zh-CN"]))
	golden(t, "request.en.html", stable(pages["mismatch en"]))
}

var (
	tokenValueRE = regexp.MustCompile(`name="csrf" value="[^"]*"`)
	clockTimeRE  = regexp.MustCompile(`\b\d{4}-\d{2}-\d{2} \d{2}:\d{2}\b`)
)

// stable replaces the form tokens, and the times of day of events (a
// retried task on a loaded machine moves the shared virtual clock by
// seconds to minutes), so a page can be compared with a golden file. Dates
// without a time (due dates) stay.
func stable(page string) string {
	page = tokenValueRE.ReplaceAllString(page, `name="csrf" value="TOKEN"`)
	return clockTimeRE.ReplaceAllString(page, "YYYY-MM-DD hh:mm")
}

// golden compares got with testdata/<name>, rewriting it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if got != string(want) {
		g, w := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range max(len(g), len(w)) {
			var gl, wl string
			if i < len(g) {
				gl = g[i]
			}
			if i < len(w) {
				wl = w[i]
			}
			if gl != wl {
				t.Errorf("%s differs from the golden file at line %d (go test -update rewrites it):\ngot:  %.300s\nwant: %.300s", name, i+1, gl, wl)
				return
			}
		}
	}
}

// The checker finds what it looks for.
func TestCheckAccessibilityFindsProblems(t *testing.T) {
	bad := `<!DOCTYPE html><html><head></head><body><h1>a</h1><h1>b</h1>
<form method="post" action="/x"><input type="text" id="a" aria-describedby="nope"><input type="radio" id="r"><button></button></form>
<table><tr><th>x</th></tr></table><a href="https://elsewhere.example/">x</a><script>1</script><p onclick="x">y</p></body></html>`
	got := strings.Join(checkAccessibility(bad), "\n")
	for _, want := range []string{"no lang", "2 h1", "no CSRF token", `input "a" has no label`, `"nope"`, "not in a fieldset", "<th> without scope",
		"button without a name", "leaves the console", "<script>", "event handler"} {
		if !strings.Contains(got, want) {
			t.Errorf("checker missed %q; found:\n%s", want, got)
		}
	}
}
