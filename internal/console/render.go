package console

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/a-h/templ"

	"dsrflow/internal/dsr"
)

// The pages are templ components (pages.templ, request.templ, compiled by
// `make generate`), like the privacy center's.

//go:embed templates/style.css
var templateFS embed.FS

// styleSheet is the inline CSS, written into each page as it is (its hash
// is the CSP source).
var styleSheet = sync.OnceValues(func() (string, error) {
	b, err := templateFS.ReadFile("templates/style.css")
	if err != nil {
		return "", fmt.Errorf("read style sheet: %w", err)
	}
	if strings.Contains(strings.ToLower(string(b)), "</style") {
		return "", errors.New("style sheet contains </style")
	}
	return string(b), nil
})

func styleHash(css string) string {
	sum := sha256.Sum256([]byte(css))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// page is what every page component gets.
type page struct {
	Locale dsr.Locale
	Title  string
	// Path is the page's own path and query without lang: the language
	// switch leads to it.
	Path string
	// Token is the CSRF token of the page's forms.
	Token string
	// Principal is the operator's ARN, shown in the header.
	Principal string
	Notice    string
	Alert     string

	Queue    *queueView
	Search   *searchView
	Request  *requestView
	Mail     *mailView
	Report   *reportView
	DocLink  *docLinkView
	Denied   *deniedView
	Message  string
	BackURL  string
	BackText string
}

// T is the catalog text for key in the page's language.
func (p *page) T(key string, args ...any) string { return text(p.Locale, key, args...) }

// Lang is the page's language tag.
func (p *page) Lang() string { return string(p.Locale) }

// OtherLang is the language the switch link leads to.
func (p *page) OtherLang() string {
	if p.Locale == dsr.LocaleEn {
		return string(dsr.LocaleZhCN)
	}
	return string(dsr.LocaleEn)
}

// SwitchURL is the page in the other language.
func (p *page) SwitchURL() string { return withLang(p.Path, dsr.Locale(p.OtherLang())) }

// URL is path in the page's language.
func (p *page) URL(path string) string { return withLang(path, p.Locale) }

// withLang adds lang=l to path's query (zh-CN, the default, adds it too:
// the choice survives Accept-Language).
func withLang(path string, l dsr.Locale) string {
	u, err := url.Parse(path)
	if err != nil {
		return "/"
	}
	q := u.Query()
	q.Set("lang", string(l))
	u.RawQuery = q.Encode()
	return u.String()
}

// render writes page content as a whole document with status.
func (h *Handler) render(w http.ResponseWriter, status int, p *page, content templ.Component) {
	css, err := styleSheet()
	if err == nil {
		var buf strings.Builder
		// Rendering writes to memory and does no I/O to cancel.
		if err = basePage(p, css, content).Render(context.Background(), &buf); err == nil {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(buf.String()))
			return
		}
	}
	h.logger.Error("render page", "error", err.Error())
	http.Error(w, "console: the page could not be rendered", http.StatusInternalServerError)
}

// newPage is a page for request r in l.
func (h *Handler) newPage(r *http.Request, l dsr.Locale, titleKey string, args ...any) *page {
	u := *r.URL
	q := u.Query()
	q.Del("lang")
	q.Del("done")
	u.RawQuery = q.Encode()
	path := u.Path
	if u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	if r.Method != http.MethodGet {
		path = "/"
	}
	return &page{Locale: l, Title: text(l, titleKey, args...), Path: path, Token: h.newToken(), Principal: h.principal.ARN}
}

// message writes a page with a title and one message.
func (h *Handler) message(w http.ResponseWriter, r *http.Request, l dsr.Locale, status int, titleKey, msgKey string, args ...any) {
	p := h.newPage(r, l, titleKey)
	p.Message = text(l, msgKey, args...)
	p.BackURL, p.BackText = p.URL("/"), p.T("nav.queue")
	h.render(w, status, p, messageMain(p))
}
