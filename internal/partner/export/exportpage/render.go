// Package exportpage writes export.html, the readable page of an access or
// portability package (export.PageRenderer). It is a templ component
// (page.templ, compiled by `make generate`) in a package of its own so that
// only export-assemble links the templ runtime, whose initialisation the
// other functions would pay at every cold start (internal/dev/coldstart).
package exportpage

import (
	"bytes"
	"context"

	"dsrflow/internal/partner/export"
)

var _ export.PageRenderer = Render

// Render writes the page of v. Every value is escaped; the page loads
// nothing.
func Render(v export.PageView) ([]byte, error) {
	var buf bytes.Buffer
	if err := exportPage(v).Render(context.Background(), &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
