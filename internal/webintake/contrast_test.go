package webintake

import (
	"testing"

	"dsrflow/internal/dev/contrast"
)

// TestStyleContrast: every text colour of the privacy center's stylesheet
// meets WCAG 2.2 AA's 4.5:1 against the backgrounds it can stand on.
func TestStyleContrast(t *testing.T) {
	contrast.CheckFile(t, "templates/style.css")
}
