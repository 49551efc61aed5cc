package console

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"dsrflow/internal/dsr"
)

// TokenLifetime is how long a form's CSRF token is accepted.
const TokenLifetime = 12 * time.Hour

// tokenField is the forms' hidden CSRF field.
const tokenField = "csrf"

// newToken is a CSRF token issued now: base64url(issue time (8 bytes, Unix
// seconds) ‖ HMAC-SHA256(key, "console-form:" ‖ issue time)). A page on
// another origin cannot read one (the same-origin policy, and the Host
// check against DNS rebinding), so it cannot post a form that passes.
func (h *Handler) newToken() string {
	var b [8 + sha256.Size]byte
	binary.BigEndian.PutUint64(b[:8], uint64(h.wall().Unix()))
	copy(b[8:], tokenMAC(h.csrfKey, b[:8]))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func tokenMAC(key, issued []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("console-form:"))
	m.Write(issued)
	return m.Sum(nil)
}

// Errors of checkToken.
var (
	errTokenMissing = errors.New("no form token")
	errTokenInvalid = errors.New("form token not issued by this console")
	errTokenExpired = errors.New("form token expired")
)

// checkToken verifies a form's token: issued by this process, not older
// than TokenLifetime (wall-clock time: the local stack's scaled business
// clock must not expire a form while the operator reads it), not from the
// future.
func (h *Handler) checkToken(tok string) error {
	if tok == "" {
		return errTokenMissing
	}
	if len(tok) > 100 {
		return errTokenInvalid
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) != 8+sha256.Size {
		return errTokenInvalid
	}
	if !hmac.Equal(b[8:], tokenMAC(h.csrfKey, b[:8])) {
		return errTokenInvalid
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(b[:8])), 0)
	now := h.wall()
	if issued.After(now.Add(time.Minute)) || now.Sub(issued) > TokenLifetime {
		return errTokenExpired
	}
	return nil
}

// sameOrigin reports whether a post came from one of the console's own
// pages: no Origin (a form post with no-referrer may send "null"), or an
// Origin naming this very host; and not marked cross-site by the browser.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, r.Host) && (u.Scheme == "http" || u.Scheme == "https")
}

// guard wraps a form post: the body limit, the form, the origin and the
// CSRF token. A post that fails is refused with 403 before fn runs:
// nothing is changed.
func (h *Handler) guard(fn func(w http.ResponseWriter, r *http.Request, l locale)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		if err := r.ParseForm(); err != nil {
			l := pickLocale(r)
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				h.message(w, r, l, http.StatusRequestEntityTooLarge, "errors.bad.title", "errors.tooLarge")
				return
			}
			h.message(w, r, l, http.StatusBadRequest, "errors.bad.title", "errors.badForm")
			return
		}
		l := pickLocale(r)
		if !sameOrigin(r) {
			h.logger.WarnContext(r.Context(), "console post refused", "path", r.URL.Path, "code", "cross_site")
			h.message(w, r, l, http.StatusForbidden, "errors.csrf.title", "errors.crossSite")
			return
		}
		if err := h.checkToken(r.PostForm.Get(tokenField)); err != nil {
			h.logger.WarnContext(r.Context(), "console post refused", "path", r.URL.Path, "code", "csrf", "error", err.Error())
			h.message(w, r, l, http.StatusForbidden, "errors.csrf.title", "errors.csrf")
			return
		}
		fn(w, r, l)
	}
}

// locale is a page's language.
type locale = dsr.Locale

// pickLocale is the language of a request: the lang form field or query
// parameter, then Accept-Language, then zh-CN.
func pickLocale(r *http.Request) locale {
	lang := r.URL.Query().Get("lang")
	if r.PostForm != nil && r.PostForm.Get("lang") != "" {
		lang = r.PostForm.Get("lang")
	}
	if lang != "" {
		if l, ok := dsr.ParseLocale(lang); ok {
			return l
		}
	}
	return dsr.MatchLocale(r.Header.Get("Accept-Language"))
}

// setSecurityHeaders puts the headers every answer carries. The CSP
// allows the page's own inline style sheet (by hash), images from nowhere,
// and forms posted to this origin only.
func setSecurityHeaders(hd http.Header) {
	styleSrc := "'none'"
	if css, err := styleSheet(); err == nil {
		styleSrc = styleHash(css)
	}
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src "+styleSrc+
		"; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	// Pages show personal data and carry form tokens: never store them.
	hd.Set("Cache-Control", "no-store")
}
