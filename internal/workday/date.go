package workday

import (
	"fmt"
	"time"
)

// Date is a calendar day with no time of day and no time zone. Deadlines are
// counted in whole days, so they are computed on Dates; DateOf and Date.In convert
// to and from instants in a chosen zone.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// dateLayout is the only textual form of a Date: YYYY-MM-DD.
const dateLayout = "2006-01-02"

// ChinaTime is mainland China's civil time, UTC+8 all year (no daylight saving
// since 1991). It is a fixed zone so that no time-zone database is needed.
var ChinaTime = time.FixedZone("CST", 8*60*60)

// ParseDate reads a date written as YYYY-MM-DD and rejects anything else,
// including impossible days such as 2026-02-30.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		return Date{}, fmt.Errorf("invalid date %q: want YYYY-MM-DD", s)
	}
	return DateOf(t), nil
}

// DateOf is the calendar day of t in t's own location. Convert t first
// (t.In(ChinaTime)) to get the day somewhere else.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{Year: y, Month: m, Day: d}
}

// In is the first instant (midnight) of d in loc.
func (d Date) In(loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

// utc is d at midnight UTC, used for calendar arithmetic (no DST in UTC).
func (d Date) utc() time.Time { return d.In(time.UTC) }

// String formats d as YYYY-MM-DD.
func (d Date) String() string {
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day)
}

// IsZero reports whether d is the zero Date.
func (d Date) IsZero() bool { return d == Date{} }

// AddDays is the day n days after d (before d if n is negative).
func (d Date) AddDays(n int) Date {
	return DateOf(d.utc().AddDate(0, 0, n))
}

// AddMonthsClamped is the same day of the month n months later; when that month
// is too short, it is the last day of that month (Jan 31 + 1 month = Feb 28 or 29).
// This is how Regulation (EEC, Euratom) No 1182/71 art. 3(2)(c), which governs
// GDPR time limits, ends a period expressed in months.
func (d Date) AddMonthsClamped(n int) Date {
	first := time.Date(d.Year, d.Month+time.Month(n), 1, 0, 0, 0, 0, time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	day := min(d.Day, last)
	return Date{Year: first.Year(), Month: first.Month(), Day: day}
}

// Weekday is the day of the week of d.
func (d Date) Weekday() time.Weekday { return d.utc().Weekday() }

// Before reports whether d is an earlier day than e.
func (d Date) Before(e Date) bool { return d.utc().Before(e.utc()) }

// MarshalText writes d as YYYY-MM-DD (JSON, DynamoDB strings, flags).
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads YYYY-MM-DD.
func (d *Date) UnmarshalText(b []byte) error {
	p, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = p
	return nil
}
