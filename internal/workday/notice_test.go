package workday

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/6tail/lunar-go/HolidayUtil"
)

// validNotice is a file body that passes every rule, for year y.
func validNotice(y int) string {
	return fmt.Sprintf(`{"year": %d, "holidays": ["%d-01-01", "%d-05-01", "%d-10-01", "%d-10-02", "%d-10-03"], "workdays": []}`, y, y, y, y, y, y)
}

func TestParseNotice(t *testing.T) {
	// 2028: Jan 1 Saturday, Jan 3 Monday, Jan 8 Saturday, Jan 10 Monday.
	statutory := `"2028-01-01", "2028-05-01", "2028-10-01", "2028-10-02", "2028-10-03"`
	tests := []struct {
		name    string
		file    string
		body    string
		wantErr string // "" for a file that passes
	}{
		{"minimal", "2028.json", validNotice(2028), ""},
		{"workdays omitted", "2028.json", `{"year": 2028, "holidays": [` + statutory + `]}`, ""},
		{"weekend holiday and make-up days", "2028.json", `{"year": 2028, "holidays": [` + statutory + `, "2028-01-02", "2028-01-03"], "workdays": ["2028-01-08", "2028-01-09"]}`, ""},
		{"New Year reaching back into December", "2028.json", `{"year": 2028, "holidays": [` + statutory + `, "2027-12-31"], "workdays": ["2027-12-25"]}`, ""},

		{"name not a year", "cn2028.json", validNotice(2028), "file name must be YYYY.json"},
		{"upper-case extension", "2028.JSON", validNotice(2028), "file name must be YYYY.json"},
		{"year out of range", "1999.json", validNotice(1999), "outside 2000–2199"},
		{"year differs from name", "2029.json", validNotice(2028), `"year" is 2028 but the file name says 2029`},
		{"year missing", "2028.json", `{"holidays": [` + statutory + `]}`, `missing "year"`},
		{"year a string", "2028.json", `{"year": "2028", "holidays": [` + statutory + `]}`, "not a holiday schedule"},
		{"holidays missing", "2028.json", `{"year": 2028}`, `missing "holidays"`},
		{"holidays empty", "2028.json", `{"year": 2028, "holidays": []}`, `"holidays" has 0 dates`},
		{"unknown field", "2028.json", `{"year": 2028, "holidays": [` + statutory + `], "names": {}}`, `unknown field "names"`},
		{"two objects", "2028.json", validNotice(2028) + validNotice(2028), "data after the JSON object"},
		{"not JSON", "2028.json", `year: 2028`, "not a holiday schedule"},
		{"array", "2028.json", `[]`, "not a holiday schedule"},
		{"slashed date", "2028.json", `{"year": 2028, "holidays": [` + statutory + `, "2028/01/03"]}`, `holidays[5] "2028/01/03": want YYYY-MM-DD`},
		{"impossible date", "2028.json", `{"year": 2028, "holidays": [` + statutory + `, "2028-02-30"]}`, `holidays[5] "2028-02-30"`},
		{"date in another year", "2028.json", `{"year": 2028, "holidays": [` + statutory + `, "2029-01-01"]}`, "holidays[5] 2029-01-01 is not in 2028"},
		{"December too early", "2028.json", `{"year": 2028, "holidays": [` + statutory + `], "workdays": ["2027-12-19"]}`, "workdays[0] 2027-12-19 is not in 2028"},
		{"duplicate holiday", "2028.json", `{"year": 2028, "holidays": [` + statutory + `, "2028-05-01"]}`, "holidays[5] 2028-05-01 is listed twice (also as holidays[1])"},
		{"holiday and workday", "2028.json", `{"year": 2028, "holidays": [` + statutory + `, "2028-01-08"], "workdays": ["2028-01-08"]}`, "workdays[0] 2028-01-08 is listed twice (also as holidays[5])"},
		{"weekday make-up day", "2028.json", `{"year": 2028, "holidays": [` + statutory + `], "workdays": ["2028-01-10"]}`, "workdays[0] 2028-01-10 is a Monday"},
		{"statutory holiday missing", "2028.json", `{"year": 2028, "holidays": ["2028-01-01", "2028-05-01", "2028-10-01", "2028-10-02"]}`, "holidays lacks 2028-10-03"},
		{"too many holidays", "2028.json", `{"year": 2028, "holidays": [` + strings.Repeat(`"2028-01-01",`, 64) + `"2028-01-01"]}`, `"holidays" has 65 dates, want 1–64`},
		{"too many workdays", "2028.json", `{"year": 2028, "holidays": [` + statutory + `], "workdays": [` + strings.Repeat(`"2028-01-08",`, 16) + `"2028-01-08"]}`, `"workdays" has 17 dates, want at most 16`},
		{"too large", "2028.json", validNotice(2028) + strings.Repeat(" ", maxNoticeBytes), "more than 16384"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := parseNotice(tt.file, []byte(tt.body))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("parseNotice(%s) = %v, want no error", tt.file, err)
				}
				if n.Year != 2028 || len(n.Holidays) < 5 {
					t.Errorf("parseNotice(%s) = %+v, want year 2028 with its holidays", tt.file, n)
				}
				return
			}
			if !errors.Is(err, ErrInvalidHolidayFile) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("parseNotice(%s) error = %v, want ErrInvalidHolidayFile containing %q", tt.file, err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), `"`+tt.file+`"`) {
				t.Errorf("error %q does not name the file %q", err, tt.file)
			}
		})
	}
}

// Every schedule lunar-go lists (2002–2027), written as a holiday file,
// passes the file rules: the rules fit the State Council's real notices
// (December lead days, weekend make-up days, statutory days present).
// lunar-go marks two ordinary weekdays "work" (2012-05-02 and 2012-10-08,
// the day after a holiday): redundant, and dropped by lunarNotices.
func TestLunarSchedulesPassTheRules(t *testing.T) {
	byYear := lunarNotices(t)
	if len(byYear) != 26 {
		t.Fatalf("lunar-go lists %d schedules, want 26 (2002–2027)", len(byYear))
	}
	for y, n := range byYear {
		body, err := json.Marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parseNotice(fmt.Sprintf("%d.json", y), body); err != nil {
			t.Errorf("lunar-go's %d schedule breaks the file rules: %v", y, err)
		}
	}
}

// fileNotice is a holiday file's shape, for writing test files.
type fileNotice struct {
	Year     int      `json:"year"`
	Holidays []string `json:"holidays"`
	Workdays []string `json:"workdays"`
}

// lunarNotices groups lunar-go's table by the schedule (target year) each
// day belongs to, without the days it marks "work" that are weekdays anyway
// (it must be exactly the two known ones).
func lunarNotices(t *testing.T) map[int]*fileNotice {
	t.Helper()
	out := map[int]*fileNotice{}
	var dropped []string
	for y := holidayDataStart; ; y++ {
		l := HolidayUtil.GetHolidaysByYear(y)
		if l.Len() == 0 {
			break
		}
		for e := l.Front(); e != nil; e = e.Next() {
			h := e.Value.(*HolidayUtil.Holiday)
			ty := mustDate(t, h.GetTarget()).Year
			n := out[ty]
			if n == nil {
				n = &fileNotice{Year: ty, Workdays: []string{}}
				out[ty] = n
			}
			if wd := mustDate(t, h.GetDay()).Weekday(); h.IsWork() && wd != time.Saturday && wd != time.Sunday {
				dropped = append(dropped, h.GetDay())
			} else if h.IsWork() {
				n.Workdays = append(n.Workdays, h.GetDay())
			} else {
				n.Holidays = append(n.Holidays, h.GetDay())
			}
		}
	}
	if want := []string{"2012-05-02", "2012-10-08"}; !slices.Equal(dropped, want) {
		t.Fatalf("lunar-go marks weekdays %v as make-up working days, want exactly %v", dropped, want)
	}
	return out
}

func TestNewCalendarRefusesBadFiles(t *testing.T) {
	tests := []struct {
		name    string
		fsys    fstest.MapFS
		wantErr string
	}{
		{"bad file", fstest.MapFS{"2028.json": {Data: []byte(`{"year": 2028, "holidays": ["2028-13-01"]}`)}}, `holidays[0] "2028-13-01"`},
		{"bad file among good ones", fstest.MapFS{
			"2028.json": {Data: []byte(validNotice(2028))},
			"2029.json": {Data: []byte(`{"year": 2029, "holidays": ["2029-01-01"], "workdays": ["2029-01-01"]}`)},
		}, `"2029.json": workdays[0] 2029-01-01 is listed twice`},
		{"misnamed file", fstest.MapFS{"2028.json.bak": {Data: []byte(validNotice(2028))}}, `"2028.json.bak": unexpected entry`},
		{"subdirectory", fstest.MapFS{"2028/x.json": {Data: []byte(validNotice(2028))}}, `"2028": unexpected entry`},
		{"date in two files", fstest.MapFS{
			"2027.json": {Data: []byte(`{"year": 2027, "holidays": ["2027-01-01", "2027-05-01", "2027-10-01", "2027-10-02", "2027-10-03", "2027-12-31"]}`)},
			"2028.json": {Data: []byte(`{"year": 2028, "holidays": ["2028-01-01", "2028-05-01", "2028-10-01", "2028-10-02", "2028-10-03", "2027-12-31"]}`)},
		}, `"2028.json": 2027-12-31 is also listed in "2027.json"`},
		{"file too large", fstest.MapFS{"2028.json": {Data: []byte(validNotice(2028) + strings.Repeat("\n", maxNoticeBytes))}}, "more than 16384 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewCalendar(tt.fsys)
			if c != nil || !errors.Is(err, ErrInvalidHolidayFile) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("NewCalendar = %v, %v; want no calendar and ErrInvalidHolidayFile containing %q", c, err, tt.wantErr)
			}
		})
	}
}

// The bundled files (config/holidays/cn) are valid; today none is bundled,
// lunar-go alone covers 2002–2027.
func TestDefaultCalendar(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatalf("Default: %v", err)
	}
	if first, last := c.Coverage(); first != 2002 || last != 2027 {
		t.Errorf("Coverage = %d–%d, want 2002–2027", first, last)
	}
	if got := c.FileYears(); len(got) != 0 {
		t.Errorf("FileYears = %v, want none bundled", got)
	}
	if got, want := DataEnds(), (Date{2027, time.December, 31}); got != want {
		t.Errorf("DataEnds = %s, want %s", got, want)
	}
}

func fictional(t testing.TB) *Calendar {
	t.Helper()
	c, err := NewCalendar(os.DirFS("testdata/fictional"))
	if err != nil {
		t.Fatalf("NewCalendar(testdata/fictional): %v", err)
	}
	return c
}

// With a 2028 file the count through 2028 uses it, exactly. The file is
// testdata/fictional/2028.json, a made-up schedule: holidays Jan 1–3,
// Jan 25–31, May 1–5, Oct 1–7; make-up days Sat Jan 22, Sat Feb 5, Sat Apr 29,
// Sun Oct 8.
func TestCalendarWithFile(t *testing.T) {
	c := fictional(t)
	if first, last := c.Coverage(); first != 2002 || last != 2028 {
		t.Errorf("Coverage = %d–%d, want 2002–2028", first, last)
	}
	if got := c.FileYears(); !slices.Equal(got, []int{2028}) {
		t.Errorf("FileYears = %v, want [2028]", got)
	}
	if got, want := c.DataEnds(), (Date{2028, time.December, 31}); got != want {
		t.Errorf("DataEnds = %s, want %s", got, want)
	}
	cn := mustRule(t, CN)
	tests := []struct {
		from      string
		days      int
		want      string
		estimated bool
	}{
		// Dec 21–24, 27–31 (9); Jan 3 is a holiday; Jan 4–7 (13), 10, 11.
		{"2027-12-20", 15, "2028-01-11", false},
		// Jan 19–21 (3), make-up Sat 22 (4), Mon 24 (5), Jan 25–31 off,
		// Feb 1–4 (9), make-up Sat Feb 5 (10), Feb 7–11 (15).
		{"2028-01-18", 15, "2028-02-11", false},
		{"2028-01-21", 1, "2028-01-22", false},
		{"2028-09-29", 1, "2028-10-08", false},
		// Through 2029, which has no data: Dec 18–22 (5), Dec 25–29 (10),
		// then Mon Jan 1 2029 (estimated: no New Year holiday known), 2–5.
		{"2028-12-15", 15, "2029-01-05", true},
	}
	for _, tt := range tests {
		r := cn
		r.Period = tt.days
		got, err := c.Due(r, mustDate(t, tt.from))
		if err != nil {
			t.Fatalf("Due(%s, %d): %v", tt.from, tt.days, err)
		}
		if got.Date.String() != tt.want || got.Estimated != tt.estimated {
			t.Errorf("Due(%s, %d) = %+v, want %s (estimated %v)", tt.from, tt.days, got, tt.want, tt.estimated)
		}
	}
	// Without the file, the first count is an estimate a day earlier.
	def, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := def.Due(cn, mustDate(t, "2027-12-20")); got.Date.String() != "2028-01-10" || !got.Estimated || got.MissingYear != 2028 {
		t.Errorf("Default Due(2027-12-20) = %+v, want 2028-01-10 estimated (missing 2028)", got)
	}
}

// A file for a year lunar-go covers replaces lunar-go's schedule for that
// year: here the 2026 schedule without National Day's last day (Oct 7).
func TestFileReplacesLunarYear(t *testing.T) {
	n := lunarNotices(t)[2026]
	n.Holidays = slices.DeleteFunc(slices.Clone(n.Holidays), func(s string) bool { return s == "2026-10-07" })
	body, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewCalendar(fstest.MapFS{"2026.json": {Data: body}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		day  string
		want bool
	}{{"2026-10-07", true}, {"2026-10-06", false}, {"2026-10-10", true}, {"2026-02-16", false}} {
		if got, err := c.IsWorkday(mustDate(t, tt.day)); err != nil || got != tt.want {
			t.Errorf("IsWorkday(%s) = %v, %v; want %v", tt.day, got, err, tt.want)
		}
	}
	if first, last := c.Coverage(); first != 2002 || last != 2027 {
		t.Errorf("Coverage = %d–%d, want 2002–2027", first, last)
	}
}

func TestCoverageWarning(t *testing.T) {
	c, err := Default() // data ends 2027-12-31
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		now  time.Time
		want bool
	}{
		{time.Date(2026, 11, 1, 12, 0, 0, 0, ChinaTime), false},
		{time.Date(2027, 11, 1, 23, 59, 59, 0, ChinaTime), false},
		{time.Date(2027, 11, 2, 0, 0, 0, 0, ChinaTime), true}, // 60 days left, Nov 2 and Dec 31 included
		// 2027-11-01 16:00 UTC is already Nov 2 in Beijing.
		{time.Date(2027, 11, 1, 16, 0, 0, 0, time.UTC), true},
		{time.Date(2027, 12, 31, 12, 0, 0, 0, ChinaTime), true},
		{time.Date(2028, 3, 1, 12, 0, 0, 0, ChinaTime), true},
	}
	for _, tt := range tests {
		got, end := c.CoverageWarning(tt.now)
		if got != tt.want || end != (Date{2027, time.December, 31}) {
			t.Errorf("CoverageWarning(%s) = %v, %s; want %v, 2027-12-31", tt.now.Format(time.RFC3339), got, end, tt.want)
		}
	}
	if got, end := fictional(t).CoverageWarning(time.Date(2027, 12, 1, 0, 0, 0, 0, ChinaTime)); got || end != (Date{2028, time.December, 31}) {
		t.Errorf("with a 2028 file: CoverageWarning(2027-12-01) = %v, %s; want false, 2028-12-31", got, end)
	}
}

// TestMissingWithin: the horizon counts the days after today, in China
// time; today + days must be a covered day.
func TestMissingWithin(t *testing.T) {
	c, err := Default() // data ends 2027-12-31
	if err != nil {
		t.Fatal(err)
	}
	noon := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 12, 0, 0, 0, ChinaTime) }
	tests := []struct {
		now  time.Time
		days int
		want bool
	}{
		{noon(2027, 12, 30), 1, false}, // tomorrow, Dec 31, is covered
		{noon(2027, 12, 31), 1, true},  // tomorrow is 2028-01-01
		{noon(2027, 12, 31), 0, true},  // days < 1 count as 1
		{noon(2027, 10, 28), 64, false},
		{noon(2027, 10, 29), 64, true}, // Oct 29 + 64 days = 2028-01-01
		{noon(2026, 3, 2), 366, false},
		{noon(2026, 12, 31), 365, false}, // + 365 days = 2027-12-31
		{noon(2026, 12, 31), 366, true},
		// 2027-10-28 16:30 UTC is already Oct 29 in Beijing.
		{time.Date(2027, 10, 28, 16, 30, 0, 0, time.UTC), 64, true},
	}
	for _, tt := range tests {
		got, end := c.MissingWithin(tt.now, tt.days)
		if got != tt.want || end != (Date{2027, time.December, 31}) {
			t.Errorf("MissingWithin(%s, %d) = %v, %s; want %v, 2027-12-31", tt.now.Format(time.RFC3339), tt.days, got, end, tt.want)
		}
	}
	// CoverageWarning is the 60-day horizon, on every day around the switch.
	for d := (Date{2027, time.October, 1}); d.Before(Date{2028, time.January, 5}); d = d.AddDays(1) {
		now := d.In(ChinaTime).Add(9 * time.Hour)
		w, _ := c.CoverageWarning(now)
		m, _ := c.MissingWithin(now, CoverageWarningDays)
		if w != m {
			t.Errorf("%s: CoverageWarning %v, MissingWithin(60) %v", d, w, m)
		}
	}
	if got, _ := fictional(t).MissingWithin(noon(2027, 12, 1), 64); got {
		t.Errorf("with a 2028 file: MissingWithin(2027-12-01, 64) = true, want false")
	}
}

func TestIsWorkdayOutsideCoverage(t *testing.T) {
	c := fictional(t)
	for _, d := range []Date{{2029, time.January, 2}, {2001, time.June, 1}} {
		_, err := c.IsWorkday(d)
		var ue *UnsupportedYearError
		if !errors.As(err, &ue) || ue.Year != d.Year || ue.First != 2002 || ue.Last != 2028 {
			t.Errorf("IsWorkday(%s) error = %v, want *UnsupportedYearError for %d (2002–2028)", d, err, d.Year)
		}
	}
}

// TestFallbackAgainstHistory measures the Monday-to-Friday estimate against
// every official count lunar-go can check: 15 working days from each start
// day of 2002-01-01 … 2027-11-01 (the last start whose count stays in 2027).
// It pins the figures Calendar.AddWorkdays documents: the estimate is never
// more than 2 working days later than the official date.
func TestFallbackAgainstHistory(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	late := map[int]int{} // working days later than official → start days
	total := 0
	for d := (Date{2002, time.January, 1}); !(Date{2027, time.November, 1}).Before(d); d = d.AddDays(1) {
		official, err := c.AddWorkdays(d, 15)
		if err != nil || official.Estimated {
			t.Fatalf("AddWorkdays(%s, 15) = %+v, %v; want an exact count", d, official, err)
		}
		est, n, behind := d, 15, 0
		for n > 0 {
			est = est.AddDays(1)
			if wd := est.Weekday(); wd != time.Saturday && wd != time.Sunday {
				n--
				if official.Date.Before(est) {
					behind++
				}
			}
		}
		late[behind]++
		total++
	}
	want := map[int]int{0: 9074, 1: 311, 2: 51}
	if total != 9436 || len(late) != len(want) || late[0] != want[0] || late[1] != want[1] || late[2] != want[2] {
		t.Errorf("over %d start days, estimate later than official by k working days: %v; want 9436 days, %v", total, late, want)
	}
	t.Logf("Monday–Friday estimate vs official, %d start days: on time or earlier %d (%.1f%%), 1 day later %d (%.1f%%), 2 days later %d (%.1f%%)",
		total, late[0], pct(late[0], total), late[1], pct(late[1], total), late[2], pct(late[2], total))
}

func pct(n, total int) float64 { return 100 * float64(n) / float64(total) }

func FuzzParseNotice(f *testing.F) {
	f.Add("2028.json", []byte(validNotice(2028)))
	f.Add("2028.json", []byte(`{"year": 2028, "holidays": ["2028-01-01", "2028-05-01", "2028-10-01", "2028-10-02", "2028-10-03", "2027-12-31"], "workdays": ["2027-12-25"]}`))
	f.Add("2028.json", []byte(`{"year": 2028, "holidays": ["2028-01-08"], "workdays": ["2028-01-08"]}`))
	f.Add("2029.json", []byte(`{"year": 2028}`))
	f.Add("x.json", []byte(`[]`))
	if b, err := os.ReadFile("testdata/fictional/2028.json"); err == nil {
		f.Add("2028.json", b)
	}
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		n, err := parseNotice(name, data)
		if err != nil {
			if !errors.Is(err, ErrInvalidHolidayFile) {
				t.Fatalf("error %v does not wrap ErrInvalidHolidayFile", err)
			}
			return
		}
		// What passes obeys every rule.
		if len(data) > maxNoticeBytes || len(n.Holidays) == 0 || len(n.Holidays) > maxNoticeHolidays || len(n.Workdays) > maxNoticeWorkdays {
			t.Fatalf("accepted %d bytes with %d holidays, %d workdays", len(data), len(n.Holidays), len(n.Workdays))
		}
		if name != fmt.Sprintf("%04d.json", n.Year) {
			t.Fatalf("accepted file %q for year %d", name, n.Year)
		}
		seen := map[Date]bool{}
		for _, d := range append(slices.Clone(n.Holidays), n.Workdays...) {
			if seen[d] || !n.holds(d) {
				t.Fatalf("accepted %s twice or outside %d", d, n.Year)
			}
			seen[d] = true
		}
		for _, d := range n.Workdays {
			if wd := d.Weekday(); wd != time.Saturday && wd != time.Sunday {
				t.Fatalf("accepted make-up day %s on a %s", d, wd)
			}
		}
		// And builds a calendar.
		if _, err := NewCalendar(fstest.MapFS{name: {Data: data}}); err != nil {
			t.Fatalf("parseNotice accepted %q but NewCalendar refused it: %v", name, err)
		}
	})
}

func BenchmarkNewCalendar(b *testing.B) {
	files := os.DirFS("testdata/fictional")
	for b.Loop() {
		if _, err := NewCalendar(files); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDueCNEstimated(b *testing.B) {
	cn := mustRule(b, CN)
	from := mustDate(b, "2027-12-20")
	for b.Loop() {
		if d, err := Due(cn, from); err != nil || !d.Estimated {
			b.Fatal(d, err)
		}
	}
}
