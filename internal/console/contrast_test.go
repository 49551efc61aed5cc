package console

import (
	"os"
	"testing"

	"dsrflow/internal/dev/contrast"
)

// TestStyleContrast: every text colour of the console's stylesheet meets
// WCAG 2.2 AA's 4.5:1 against the backgrounds it can stand on (the page,
// the cards, a mail's text box, its own rule's).
func TestStyleContrast(t *testing.T) {
	css, err := os.ReadFile("templates/style.css")
	if err != nil {
		t.Fatal(err)
	}
	problems, checked, err := contrast.Check(string(css), "#f8fafc")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
	if checked < 10 {
		t.Errorf("checked %d colour pairs; the stylesheet's rules were not found", checked)
	}
}
