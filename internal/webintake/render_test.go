package webintake

import (
	"strings"
	"testing"

	"golang.org/x/net/html"

	"dsrflow/internal/dsr"
)

// hostile is typed input that would break out of an attribute or a text
// area, or add markup, if it were not escaped.
const hostile = `"'></textarea><script>alert(1)</script><b x="y">&amp;+` + "\n中文"

// TestRenderEscapes renders pages with hostile values and checks that each
// arrives in the document as the same text or attribute value, and that no
// element comes from a value.
func TestRenderEscapes(t *testing.T) {
	t.Parallel()
	l := dsr.LocaleEn
	in := formInput{Email: hostile, Phone: hostile, AccountID: hostile, Corrections: hostile, Details: hostile}
	byField, summary := formErrors(dsr.FieldErrors{{Field: dsr.FieldEmail, Code: dsr.CodeInvalidEmail}}, l)
	summary = append(summary, summaryItem{Text: hostile})
	verify := &verifyView{RequestID: hostile, Action: "/requests/r-1/verification", Token: hostile, Code: hostile,
		CodeError: hostile, CodeHint: hostile, CodeMax: 16, ShowCode: true, ShowResend: true, ResendHint: hostile,
		Alert: hostile, Notice: hostile, Intro: hostile}
	for _, tc := range []struct {
		name, page string
		p          *page
		attrs      map[string]string // element id -> attribute name that must equal hostile
		texts      []string          // element ids whose text must equal hostile
	}{
		{"form", "form", &page{Locale: l, Title: hostile, Form: newForm(l, in, hostile, byField, summary)},
			map[string]string{"f-email": "value", "f-phone": "value", "f-accountId": "value"},
			[]string{"f-corrections", "f-details"}},
		{"verify", "verify", &page{Locale: l, Title: hostile, Verify: verify},
			map[string]string{"f-code": "value"},
			[]string{"request-id", "hint-code", "err-code", "hint-resend", "intro"}},
		{"accepted", "accepted", &page{Locale: l, Title: hostile, Accepted: &acceptedView{RequestID: hostile}},
			nil, []string{"request-id"}},
		{"status", "status", &page{Locale: l, Title: hostile, Status: &statusView{RequestID: hostile, Status: hostile}},
			nil, []string{"status"}},
		{"message", "message", &page{Locale: l, Title: hostile, Message: hostile}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := renderParsed(t, tc.page, tc.p)
			byID := map[string]*html.Node{}
			var title string
			var walk func(n *html.Node)
			walk = func(n *html.Node) {
				if n.Type == html.ElementNode {
					switch n.Data {
					case "script", "b":
						t.Errorf("a value became a <%s> element", n.Data)
					case "title":
						title = textOf(n)
					}
					for _, a := range n.Attr {
						if a.Key == "x" {
							t.Errorf("a value became an attribute of <%s>", n.Data)
						}
					}
					if id := attr(n, "id"); id != "" {
						byID[id] = n
					}
				}
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					walk(c)
				}
			}
			walk(doc)
			if want := hostile + " · " + text(l, "site.name"); title != want {
				t.Errorf("title = %q, want %q", title, want)
			}
			for id, name := range tc.attrs {
				if n := byID[id]; n == nil {
					t.Errorf("no element #%s", id)
				} else if got := attr(n, name); got != hostile {
					t.Errorf("#%s %s = %q, want %q", id, name, got, hostile)
				}
			}
			for _, id := range tc.texts {
				if n := byID[id]; n == nil {
					t.Errorf("no element #%s", id)
				} else if got := textOf(n); got != hostile {
					t.Errorf("#%s text = %q, want %q", id, got, hostile)
				}
			}
			if !strings.Contains(textOf(doc), hostile) {
				t.Error("the hostile text is not on the page as text")
			}
		})
	}
}

// TestRenderLinks checks that links the server builds arrive as built, and
// that a link with a scheme other than http(s) would not.
func TestRenderLinks(t *testing.T) {
	t.Parallel()
	l := dsr.LocaleZhCN
	for _, tc := range []struct {
		name, page string
		p          *page
		id, want   string // the link (by id, or "" for the language switch) and its href
	}{
		{"status link with token", "accepted", &page{Locale: l, Accepted: &acceptedView{RequestID: "r-1",
			StatusURL: "https://privacy.example.com/prod/requests/r-1?token=a%2Bb_-c"}},
			"status-link", "https://privacy.example.com/prod/requests/r-1?token=a%2Bb_-c"},
		{"verification link", "accepted", &page{Locale: l, Accepted: &acceptedView{RequestID: "r-1",
			VerifyURL: "/requests/r-1/verification?token=t&lang=zh-CN"}},
			"verify-link", "/requests/r-1/verification?token=t&lang=zh-CN"},
		{"language switch", "message", &page{Locale: l, SwitchURL: "/prod/?lang=en"}, "", "/prod/?lang=en"},
		{"script link", "status", &page{Locale: l, Status: &statusView{RequestID: "r-1", VerifyURL: "javascript:alert(1)"}},
			"verify-link", "about:invalid#TemplFailedSanitizationURL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := renderParsed(t, tc.page, tc.p)
			var got []string
			var walk func(n *html.Node)
			walk = func(n *html.Node) {
				if n.Type == html.ElementNode && n.Data == "a" && attr(n, "id") == tc.id && (tc.id != "" || attr(n, "hreflang") != "") {
					got = append(got, attr(n, "href"))
				}
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					walk(c)
				}
			}
			walk(doc)
			if len(got) != 1 || got[0] != tc.want {
				t.Errorf("href = %q, want [%q]", got, tc.want)
			}
		})
	}
	if _, err := render("nosuchpage", &page{Locale: l}); err == nil {
		t.Error("render of an unknown page: no error")
	}
}

// textOf is the text of n and its descendants.
// renderParsed renders page name and parses the document.
func renderParsed(t *testing.T, name string, p *page) *html.Node {
	t.Helper()
	out, err := render(name, p)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	return doc
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
