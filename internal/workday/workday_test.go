package workday

import (
	"errors"
	"testing"
	"time"
)

func mustDate(t testing.TB, s string) Date {
	t.Helper()
	d, err := ParseDate(s)
	if err != nil {
		t.Fatalf("ParseDate(%q): %v", s, err)
	}
	return d
}

func mustRule(t testing.TB, j Jurisdiction) Rule {
	t.Helper()
	r, err := RuleFor(j)
	if err != nil {
		t.Fatalf("RuleFor(%s): %v", j, err)
	}
	return r
}

func TestDueCN(t *testing.T) {
	cn := mustRule(t, CN)
	tests := []struct {
		name     string
		verified string
		days     int
		want     string
	}{
		// The known answers.
		{"National Day and Mid-Autumn with two make-up days", "2026-09-18", 15, "2026-10-15"},
		{"Spring Festival with make-up Saturdays", "2026-02-10", 15, "2026-03-09"},
		{"Labour Day with make-up Saturday", "2026-04-30", 15, "2026-05-25"},
		{"2025 National Day and Mid-Autumn combined", "2025-09-26", 15, "2025-10-23"},
		// 调休: a weekend make-up working day counts.
		{"make-up Sunday is the first working day", "2026-09-18", 1, "2026-09-20"},
		{"make-up Saturday before Spring Festival", "2026-02-13", 1, "2026-02-14"},
		{"make-up Saturday after National Day", "2026-10-09", 1, "2026-10-10"},
		{"make-up Sunday after New Year 2026", "2026-01-02", 1, "2026-01-04"},
		// An ordinary weekend does not count; the start day never counts.
		{"ordinary weekend skipped", "2026-11-27", 1, "2026-11-30"},
		{"start on a Saturday", "2026-11-28", 1, "2026-11-30"},
		{"start on a holiday", "2026-10-01", 1, "2026-10-08"},
		{"start on a make-up day", "2026-10-10", 1, "2026-10-12"},
		// Crossing a year boundary, through the next year's New Year holiday.
		{"2025 into 2026", "2025-12-24", 15, "2026-01-15"},
		{"2026 into 2027", "2026-12-25", 15, "2027-01-18"},
		// A configured count other than 15.
		{"ten working days", "2026-09-18", 10, "2026-10-09"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cn
			r.Period = tt.days
			got, err := Due(r, mustDate(t, tt.verified))
			if err != nil {
				t.Fatalf("Due(%s, %d): %v", tt.verified, tt.days, err)
			}
			if got.Date.String() != tt.want || got.Estimated || got.MissingYear != 0 {
				t.Errorf("Due(%s, %d working days) = %+v, want %s, not estimated", tt.verified, tt.days, got, tt.want)
			}
		})
	}
}

func TestChinaCoverage(t *testing.T) {
	// lunar-go v1.4.7 lists official schedules from 2002 (its data begins
	// 2001-12-29 with the 2002 New Year) through 2027 (added 2026-11-06).
	first, last := ChinaCoverage()
	if first != 2002 || last != 2027 {
		t.Errorf("ChinaCoverage() = %d–%d, want 2002–2027", first, last)
	}
}

// Beyond the holiday data (2002–2027, TestChinaCoverage) the count goes
// on Monday to Friday and says so.
func TestDueCNOutsideCoverage(t *testing.T) {
	cn := mustRule(t, CN)
	tests := []struct {
		name        string
		from        Date
		want        string
		missingYear int
	}{
		// 2028-03-02 is a Thursday: 15 weekdays later is Thursday 2028-03-23.
		{"year after the data", Date{2028, time.March, 2}, "2028-03-23", 2028},
		// 2001-06-01 is a Friday: 15 weekdays later is Friday 2001-06-22.
		{"year before the data", Date{2001, time.June, 1}, "2001-06-22", 2001},
		// 2100-01-04 is a Monday: 15 weekdays later is Monday 2100-01-25.
		{"far future", Date{2100, time.January, 4}, "2100-01-25", 2100},
		// From Monday 2027-12-20: Dec 21–24, 27–31 (9 days, 2027 data: no
		// holiday), then Jan 3–7 and Jan 10 2028 (6 weekdays, estimated).
		{"count runs past the last covered year", Date{2027, time.December, 20}, "2028-01-10", 2028},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Due(cn, tt.from)
			if err != nil {
				t.Fatalf("Due(%s): %v", tt.from, err)
			}
			want := Deadline{Date: mustDate(t, tt.want), Estimated: true, MissingYear: tt.missingYear}
			if got != want {
				t.Errorf("Due(%s) = %+v, want %+v", tt.from, got, want)
			}
		})
	}
}

func TestIsChinaWorkday(t *testing.T) {
	tests := []struct {
		day  string
		want bool
	}{
		{"2026-01-01", false}, // New Year, Thursday
		{"2026-01-04", true},  // make-up Sunday
		{"2026-02-16", false}, // Spring Festival, Monday
		{"2026-02-24", true},  // first day back, Tuesday
		{"2026-02-28", true},  // make-up Saturday
		{"2026-04-06", false}, // Qingming, Monday
		{"2026-05-09", true},  // make-up Saturday
		{"2026-06-19", false}, // Dragon Boat, Friday
		{"2026-09-20", true},  // make-up Sunday
		{"2026-09-25", false}, // Mid-Autumn, Friday
		{"2026-10-07", false}, // National Day, Wednesday
		{"2026-10-10", true},  // make-up Saturday
		{"2026-10-11", false}, // ordinary Sunday
		{"2026-11-30", true},  // ordinary Monday
		{"2027-02-14", true},  // make-up Sunday, 2027 schedule
		{"2027-09-15", false}, // Mid-Autumn 2027, Wednesday
	}
	for _, tt := range tests {
		got, err := IsChinaWorkday(mustDate(t, tt.day))
		if err != nil {
			t.Fatalf("IsChinaWorkday(%s): %v", tt.day, err)
		}
		if got != tt.want {
			t.Errorf("IsChinaWorkday(%s) = %v, want %v", tt.day, got, tt.want)
		}
	}
}

// The State Council's 2026 schedule: 261 weekdays, 19 of them holidays
// (Jan 1–2; Feb 16–20, 23; Apr 6; May 1, 4, 5; Jun 19; Sep 25; Oct 1, 2, 5, 6, 7),
// and 6 make-up weekend days (Jan 4; Feb 14, 28; May 9; Sep 20; Oct 10): 248.
func TestChinaWorkdaysIn2026(t *testing.T) {
	n := 0
	for d := (Date{2026, time.January, 1}); d.Year == 2026; d = d.AddDays(1) {
		ok, err := IsChinaWorkday(d)
		if err != nil {
			t.Fatalf("IsChinaWorkday(%s): %v", d, err)
		}
		if ok {
			n++
		}
	}
	if n != 248 {
		t.Errorf("working days in 2026 = %d, want 248", n)
	}
}

func TestIsChinaWorkdayOutsideCoverage(t *testing.T) {
	_, last := ChinaCoverage()
	_, err := IsChinaWorkday(Date{last + 1, time.January, 5})
	var ue *UnsupportedYearError
	if !errors.As(err, &ue) || ue.Year != last+1 {
		t.Errorf("IsChinaWorkday(%d-01-05) error = %v, want *UnsupportedYearError for %d", last+1, err, last+1)
	}
}

func TestDueGDPR(t *testing.T) {
	gdpr := mustRule(t, GDPR)
	tests := []struct {
		from, want, wantExtended string
	}{
		{"2026-03-15", "2026-04-15", "2026-06-15"},
		// Month-end clamping (Regulation 1182/71 art. 3(2)(c)).
		{"2026-01-31", "2026-02-28", "2026-04-30"}, // extension counts 3 months from receipt, not from Feb 28
		{"2028-01-31", "2028-02-29", "2028-04-30"}, // leap year; no holiday data needed
		{"2026-03-31", "2026-04-30", "2026-06-30"},
		{"2026-08-31", "2026-09-30", "2026-11-30"},
		{"2026-11-30", "2026-12-30", "2027-02-28"},
		{"2026-12-31", "2027-01-31", "2027-03-31"},
		// A weekend deadline is not moved (never later than the law allows).
		{"2026-10-31", "2026-11-30", "2027-01-31"},
	}
	for _, tt := range tests {
		from := mustDate(t, tt.from)
		got, err := Due(gdpr, from)
		if err != nil || got.Date.String() != tt.want || got.Estimated {
			t.Errorf("Due(GDPR, %s) = %+v, %v; want %s", tt.from, got, err, tt.want)
		}
		got, err = ExtendedDue(gdpr, from)
		if err != nil || got.Date.String() != tt.wantExtended || got.Estimated {
			t.Errorf("ExtendedDue(GDPR, %s) = %+v, %v; want %s", tt.from, got, err, tt.wantExtended)
		}
	}
}

func TestDueCCPA(t *testing.T) {
	ccpa := mustRule(t, CCPA)
	tests := []struct {
		from, want, wantExtended string
	}{
		{"2026-01-01", "2026-02-15", "2026-04-01"},
		{"2026-12-20", "2027-02-03", "2027-03-20"},
		{"2027-11-20", "2028-01-04", "2028-02-18"}, // no holiday data needed
	}
	for _, tt := range tests {
		from := mustDate(t, tt.from)
		got, err := Due(ccpa, from)
		if err != nil || got.Date.String() != tt.want || got.Estimated {
			t.Errorf("Due(CCPA, %s) = %+v, %v; want %s", tt.from, got, err, tt.want)
		}
		got, err = ExtendedDue(ccpa, from)
		if err != nil || got.Date.String() != tt.wantExtended || got.Estimated {
			t.Errorf("ExtendedDue(CCPA, %s) = %+v, %v; want %s", tt.from, got, err, tt.wantExtended)
		}
	}
}

func TestExtendedDueCNHasNoExtension(t *testing.T) {
	cn := mustRule(t, CN)
	from := mustDate(t, "2026-09-18")
	due, err1 := Due(cn, from)
	ext, err2 := ExtendedDue(cn, from)
	if err1 != nil || err2 != nil || due != ext {
		t.Errorf("Due = %+v (%v), ExtendedDue = %+v (%v); want equal", due, err1, ext, err2)
	}
}

func TestRuleFor(t *testing.T) {
	tests := []struct {
		j    Jurisdiction
		want Rule
	}{
		{CN, Rule{Jurisdiction: CN, Unit: WorkingDays, Period: 15}},
		{GDPR, Rule{Jurisdiction: GDPR, Unit: Months, Period: 1, Extension: 2}},
		{CCPA, Rule{Jurisdiction: CCPA, Unit: CalendarDays, Period: 45, Extension: 45}},
	}
	for _, tt := range tests {
		got, err := RuleFor(tt.j)
		if err != nil || got != tt.want {
			t.Errorf("RuleFor(%s) = %+v, %v; want %+v", tt.j, got, err, tt.want)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("RuleFor(%s).Validate() = %v", tt.j, err)
		}
	}
	if _, err := RuleFor("US"); err == nil {
		t.Error("RuleFor(US) succeeded, want an error")
	}
}

func TestRuleValidate(t *testing.T) {
	tests := []struct {
		name string
		rule Rule
	}{
		{"unknown jurisdiction", Rule{Jurisdiction: "US", Unit: CalendarDays, Period: 30}},
		{"lower-case jurisdiction", Rule{Jurisdiction: "cn", Unit: WorkingDays, Period: 15}},
		{"working days outside CN", Rule{Jurisdiction: GDPR, Unit: WorkingDays, Period: 15}},
		{"unknown unit", Rule{Jurisdiction: CN, Unit: "weeks", Period: 2}},
		{"zero period", Rule{Jurisdiction: CN, Unit: WorkingDays}},
		{"negative period", Rule{Jurisdiction: CCPA, Unit: CalendarDays, Period: -1}},
		{"period too long", Rule{Jurisdiction: CCPA, Unit: CalendarDays, Period: 367}},
		{"negative extension", Rule{Jurisdiction: GDPR, Unit: Months, Period: 1, Extension: -2}},
		{"extension too long", Rule{Jurisdiction: GDPR, Unit: Months, Period: 1, Extension: 400}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.rule.Validate()
			if !errors.Is(err, ErrInvalidRule) {
				t.Errorf("Validate(%+v) = %v, want ErrInvalidRule", tt.rule, err)
			}
			if _, err := Due(tt.rule, Date{2026, time.March, 2}); !errors.Is(err, ErrInvalidRule) {
				t.Errorf("Due(%+v) error = %v, want ErrInvalidRule", tt.rule, err)
			}
		})
	}
}

func TestDueZeroDate(t *testing.T) {
	for _, j := range []Jurisdiction{CN, GDPR, CCPA} {
		if got, err := Due(mustRule(t, j), Date{}); err == nil {
			t.Errorf("Due(%s, zero date) = %+v, want an error", j, got)
		}
	}
}

func TestParseJurisdiction(t *testing.T) {
	tests := []struct {
		in      string
		want    Jurisdiction
		wantErr bool
	}{
		{"CN", CN, false},
		{"gdpr", GDPR, false},
		{" CCPA ", CCPA, false},
		{"", "", true},
		{"EU", "", true},
	}
	for _, tt := range tests {
		got, err := ParseJurisdiction(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseJurisdiction(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseDate(t *testing.T) {
	good := map[string]Date{
		"2026-09-18": {2026, time.September, 18},
		"2028-02-29": {2028, time.February, 29},
	}
	for in, want := range good {
		got, err := ParseDate(in)
		if err != nil || got != want {
			t.Errorf("ParseDate(%q) = %v, %v; want %v", in, got, err, want)
		}
		if got.String() != in {
			t.Errorf("ParseDate(%q).String() = %q", in, got.String())
		}
	}
	for _, in := range []string{"", "2026-9-18", "2026/09/18", "18-09-2026", "2026-02-30", "2027-02-29", "2026-13-01", "2026-09-18T00:00:00Z", " 2026-09-18"} {
		if got, err := ParseDate(in); err == nil {
			t.Errorf("ParseDate(%q) = %v, want an error", in, got)
		}
	}
}

func TestDateText(t *testing.T) {
	var d Date
	if err := d.UnmarshalText([]byte("2026-10-15")); err != nil || d != (Date{2026, time.October, 15}) {
		t.Fatalf("UnmarshalText = %v, %v", d, err)
	}
	b, err := d.MarshalText()
	if err != nil || string(b) != "2026-10-15" {
		t.Errorf("MarshalText = %q, %v", b, err)
	}
	if err := d.UnmarshalText([]byte("15/10/2026")); err == nil {
		t.Error("UnmarshalText(15/10/2026) succeeded, want an error")
	}
}

func TestDateOfInChina(t *testing.T) {
	// 2026-09-18 17:30 UTC is already 2026-09-19 in Beijing.
	at := time.Date(2026, time.September, 18, 17, 30, 0, 0, time.UTC)
	if got, want := DateOf(at.In(ChinaTime)), (Date{2026, time.September, 19}); got != want {
		t.Errorf("DateOf(in China) = %s, want %s", got, want)
	}
	if got, want := (Date{2026, time.October, 15}).In(ChinaTime), time.Date(2026, 10, 14, 16, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("Date.In(ChinaTime) = %s, want %s", got, want)
	}
}

func BenchmarkDueCN(b *testing.B) {
	cn := mustRule(b, CN)
	from := mustDate(b, "2026-09-18")
	for b.Loop() {
		if _, err := Due(cn, from); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDueGDPR(b *testing.B) {
	gdpr := mustRule(b, GDPR)
	from := mustDate(b, "2026-01-31")
	for b.Loop() {
		if _, err := Due(gdpr, from); err != nil {
			b.Fatal(err)
		}
	}
}

func TestDueAt(t *testing.T) {
	cn := mustRule(t, CN)
	tests := []struct {
		name     string
		verified time.Time
		want     string
	}{
		{"afternoon in Beijing", time.Date(2026, 9, 18, 15, 0, 0, 0, ChinaTime), "2026-10-15T23:59:59+08:00"},
		// 2026-09-17 17:30 UTC is 2026-09-18 01:30 in Beijing: the Beijing day counts.
		{"UTC evening is the next Beijing day", time.Date(2026, 9, 17, 17, 30, 0, 0, time.UTC), "2026-10-15T23:59:59+08:00"},
		{"UTC morning is the same Beijing day", time.Date(2026, 9, 18, 1, 0, 0, 0, time.UTC), "2026-10-15T23:59:59+08:00"},
		{"just before Beijing midnight", time.Date(2026, 9, 17, 15, 59, 59, 0, time.UTC), "2026-10-14T23:59:59+08:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DueAt(cn, tt.verified)
			if err != nil {
				t.Fatal(err)
			}
			if s := got.Format(time.RFC3339); s != tt.want {
				t.Errorf("DueAt(%s) = %s, want %s", tt.verified, s, tt.want)
			}
		})
	}
	// Beyond the data DueAt is the estimate's last second: Wednesday
	// 2028-03-01 plus 15 weekdays is Wednesday 2028-03-22.
	got, err := DueAt(cn, time.Date(2028, 3, 1, 12, 0, 0, 0, ChinaTime))
	if err != nil || got.Format(time.RFC3339) != "2028-03-22T23:59:59+08:00" {
		t.Errorf("DueAt(2028-03-01) = %s, %v; want 2028-03-22T23:59:59+08:00", got.Format(time.RFC3339), err)
	}
}
