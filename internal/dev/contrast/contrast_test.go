package contrast

import (
	"math"
	"strings"
	"testing"
)

func TestRatio(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want float64
	}{{"#000", "#fff", 21}, {"#fff", "#fff", 1}, {"#777777", "#ffffff", 4.48}} {
		got, err := Ratio(tt.a, tt.b)
		if err != nil || math.Abs(got-tt.want) > 0.01 {
			t.Errorf("Ratio(%s, %s) = %.3f, %v; want %.2f", tt.a, tt.b, got, err, tt.want)
		}
	}
	if _, err := Ratio("red", "#fff"); err == nil {
		t.Error("a named colour was read")
	}
}

func TestCheck(t *testing.T) {
	css := `body{color:#1b1b1b;background:#f4f5f7}
header{background:#1d3557;color:#fff}
header .who{color:#dfe6ee}
.hint{color:#aaaaaa}
a.button{background:#1d6b3a;color:#fff}
a.button:hover{background:#8fd19e}
.box{background:#fff;color:#0b57a4}`
	problems, checked, err := Check(css)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(problems, "\n")
	for _, want := range []string{".hint: text #aaaaaa on #f4f5f7", ".hint: text #aaaaaa on #fff", "a.button:hover: text #fff on #8fd19e"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
	if len(problems) != 3 || checked < 8 {
		t.Errorf("%d problems, %d pairs checked:\n%s", len(problems), checked, got)
	}
	if _, _, err := Check(`p{color:#000}`); err == nil {
		t.Error("a stylesheet without a page background was checked")
	}
}
