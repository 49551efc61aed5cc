package console

import (
	"testing"

	"dsrflow/internal/dev/contrast"
)

// TestStyleContrast: every text colour of the console's stylesheet meets
// WCAG 2.2 AA's 4.5:1 against the backgrounds it can stand on (the page,
// the cards, a mail's text box, its own rule's).
func TestStyleContrast(t *testing.T) {
	contrast.CheckFile(t, "templates/style.css", "#f8fafc")
}
