package workday

import "testing"

func TestWorkdaysBetween(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		from, to  string
		want      int
		estimated bool
	}{
		{"same day", "2026-03-02", "2026-03-02", 0, false},
		{"next weekday", "2026-03-02", "2026-03-03", 1, false},
		{"over a weekend", "2026-03-06", "2026-03-09", 1, false},
		{"a deadline on a Saturday counts nothing that day", "2026-03-06", "2026-03-07", 0, false},
		// The 15 working days of TestDueCN, counted back.
		{"National Day with make-up days", "2026-09-18", "2026-10-15", 15, false},
		{"Spring Festival", "2026-02-10", "2026-03-09", 15, false},
		{"make-up Sunday counts", "2026-09-18", "2026-09-20", 1, false},
		{"late by two working days", "2026-03-05", "2026-03-03", -2, false},
		{"late over a weekend", "2026-03-09", "2026-03-06", -1, false},
		{"beyond the data", "2027-12-30", "2028-01-04", 3, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, est := c.WorkdaysBetween(mustDate(t, tt.from), mustDate(t, tt.to))
			if got != tt.want || est != tt.estimated {
				t.Errorf("WorkdaysBetween(%s, %s) = %d, %v; want %d, %v", tt.from, tt.to, got, est, tt.want, tt.estimated)
			}
		})
	}
}

// WorkdaysBetween and AddWorkdays agree: n working days after any start
// day is a day n working days away.
func TestWorkdaysBetweenInvertsAddWorkdays(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	start := mustDate(t, "2025-12-01")
	for i := range 400 {
		from := start.AddDays(i)
		for _, n := range []int{1, 3, 15} {
			dl, err := c.AddWorkdays(from, n)
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := c.WorkdaysBetween(from, dl.Date); got != n {
				t.Fatalf("WorkdaysBetween(%s, AddWorkdays(%s, %d) = %s) = %d", from, from, n, dl.Date, got)
			}
		}
	}
}
