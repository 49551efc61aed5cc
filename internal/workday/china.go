package workday

import (
	"fmt"
	"io/fs"
	"slices"
	"sync"
	"time"

	"github.com/6tail/lunar-go/HolidayUtil"

	"dsrflow/config/holidays"
)

// UnsupportedYearError reports a date in a year no official holiday schedule
// covers. Only IsWorkday returns it: before the State Council publishes a
// year's schedule (usually in November of the year before) nobody knows which
// days of that year are holidays, so a deadline counted through it is an
// estimate (Deadline.Estimated), never an exact answer.
type UnsupportedYearError struct {
	Year        int // the year asked about
	First, Last int // the years the data covers, inclusive
}

func (e *UnsupportedYearError) Error() string {
	return fmt.Sprintf("no official Chinese holiday data for %d (covered years: %d–%d)", e.Year, e.First, e.Last)
}

// CoverageWarningDays is how long before the holiday data runs out
// CoverageWarning starts reporting it: enough for the State Council's notice
// (usually published in November) to be added as config/holidays/cn/<year>.json
// and deployed before any deadline needs it.
const CoverageWarningDays = 60

// Calendar is the mainland China working-day calendar: Monday to Friday,
// minus official holidays, plus the weekend days declared make-up working
// days (调休上班). Its data is, in order of precedence, the holiday files
// (config/holidays/cn/<year>.json, one State Council notice each; a file
// replaces lunar-go's schedule for its year) and github.com/6tail/lunar-go's
// compiled-in table. A Calendar is immutable and safe for concurrent use.
type Calendar struct {
	first, last int          // contiguous covered years, inclusive
	covered     map[int]bool // years with a complete official schedule
	// overrides maps each listed day to whether it is a working day: false
	// for a holiday (放假), true for a make-up working day (调休上班).
	overrides map[Date]bool
	fileYears []int // years read from holiday files, ascending
}

// holidayDataStart is the first year lunar-go's HolidayUtil lists ("自2001年12月29日起").
const holidayDataStart = 2001

// NewCalendar builds a calendar from lunar-go's table and the holiday files at
// the root of files (<year>.json, see config/holidays/cn/README.md; nil for
// none). A file that breaks the rules is an error wrapping
// ErrInvalidHolidayFile, and no calendar is built.
func NewCalendar(files fs.FS) (*Calendar, error) {
	notices := map[int]notice{}
	if files != nil {
		var err error
		if notices, err = readNotices(files); err != nil {
			return nil, err
		}
	}
	c := &Calendar{covered: map[int]bool{}, overrides: make(map[Date]bool, 1024)}
	// lunar-go lists each holiday's days with the holiday they belong to
	// (its target). A year's schedule counts as known when it lists both
	// the Spring Festival and the National Day, the first and last holiday
	// of every year. The scan stops at the first year with no entries.
	spring, national := map[int]bool{}, map[int]bool{}
	for y := holidayDataStart; ; y++ {
		l := HolidayUtil.GetHolidaysByYear(y)
		if l.Len() == 0 {
			break
		}
		for e := l.Front(); e != nil; e = e.Next() {
			h, ok := e.Value.(*HolidayUtil.Holiday)
			if !ok {
				continue
			}
			d, err := ParseDate(h.GetDay())
			if err != nil {
				continue
			}
			notice := d.Year
			if t, err := ParseDate(h.GetTarget()); err == nil {
				notice = t.Year // 2011-12-31 上班 belongs to the 2012 schedule
			}
			if _, replaced := notices[notice]; replaced {
				continue
			}
			c.overrides[d] = h.IsWork()
			switch h.GetName() {
			case "春节":
				spring[notice] = true
			case "国庆节", "国庆中秋":
				national[notice] = true
			}
		}
	}
	for y := range spring {
		c.covered[y] = national[y]
	}
	for y, n := range notices {
		c.covered[y] = true
		c.fileYears = append(c.fileYears, y)
		for _, d := range n.Holidays {
			c.overrides[d] = false
		}
		for _, d := range n.Workdays {
			c.overrides[d] = true
		}
	}
	slices.Sort(c.fileYears)
	for y, ok := range c.covered {
		if ok && (c.first == 0 || y < c.first) {
			c.first = y
		}
	}
	if c.first != 0 {
		c.last = c.first
		for c.covered[c.last+1] {
			c.last++
		}
	}
	return c, nil
}

// loadDefault builds the calendar from the bundled holiday files once. It
// reads only data compiled into the binary (go:embed and lunar-go).
var loadDefault = sync.OnceValues(func() (*Calendar, error) {
	files, err := holidays.CN()
	if err != nil {
		return nil, fmt.Errorf("bundled holiday files: %w", err)
	}
	c, err := NewCalendar(files)
	if err != nil {
		return nil, fmt.Errorf("bundled holiday files: %w", err)
	}
	return c, nil
})

// Default is the calendar of the bundled holiday files
// (config/holidays/cn, compiled in) and lunar-go. Its error, a bundled file
// that breaks the rules, cannot happen in a build whose tests pass.
func Default() (*Calendar, error) { return loadDefault() }

// Coverage is the range of years, inclusive, for which the official
// schedule is known without a gap from the first.
func (c *Calendar) Coverage() (first, last int) { return c.first, c.last }

// FileYears are the years read from holiday files, ascending.
func (c *Calendar) FileYears() []int { return slices.Clone(c.fileYears) }

// DataEnds is the last day of the last covered year: from the day after,
// working days are estimated (counted Monday to Friday).
func (c *Calendar) DataEnds() Date { return Date{c.last, time.December, 31} }

// CoverageWarning reports whether now (taken as a day in China time) is
// within CoverageWarningDays of the end of the holiday data, or past it,
// and the last covered day. With data ending 2027-12-31 it first reports on
// 2027-11-02: 60 days, that day included, before 2028-01-01 has no data.
func (c *Calendar) CoverageWarning(now time.Time) (bool, Date) {
	return c.MissingWithin(now, CoverageWarningDays)
}

// MissingWithin reports whether one of the next days days after now (now
// taken as a day in China time; the days after it, up to and including
// today + days) has no holiday data, and the last covered day. days less
// than 1 is taken as 1. CoverageWarning is MissingWithin(now,
// CoverageWarningDays); the reconciler asks it with its own horizon.
func (c *Calendar) MissingWithin(now time.Time, days int) (bool, Date) {
	end := c.DataEnds()
	today := DateOf(now.In(ChinaTime))
	return end.Before(today.AddDays(max(days, 1))), end
}

// IsWorkday reports whether d is a working day in mainland China: a weekday
// that is not an official holiday, or a weekend day declared a make-up
// working day (调休). A day in a year without an official schedule is an
// *UnsupportedYearError.
func (c *Calendar) IsWorkday(d Date) (bool, error) {
	work, known := c.workday(d)
	if !known {
		return false, &UnsupportedYearError{Year: d.Year, First: c.first, Last: c.last}
	}
	return work, nil
}

// workday is whether d is a working day, and whether that is known from an
// official schedule; when it is not, d is taken to be a working day if it
// falls Monday to Friday.
func (c *Calendar) workday(d Date) (work, known bool) {
	known = c.covered[d.Year]
	if w, ok := c.overrides[d]; ok {
		return w, known
	}
	wd := d.Weekday()
	return wd != time.Saturday && wd != time.Sunday, known
}

// AddWorkdays is the n-th mainland China working day after from, counting
// from the next day (from itself never counts, whatever day it is).
//
// A day in a year with no official schedule counts when it falls Monday to
// Friday (unless a known schedule lists it), and the result is Estimated,
// with MissingYear the first such year. Such an estimate ignores holidays,
// which can only make it earlier than the official count, but also make-up
// working weekends, which can make it later: over every start day of
// 2002–2027, counting 15 days Monday to Friday lands on the official date or
// earlier for 96.2% of start days, and 1 (3.3%) or 2 (0.5%) working days
// later for the rest, when a make-up Saturday or Sunday falls in the count
// before the holiday it pays for (TestFallbackAgainstHistory).
func (c *Calendar) AddWorkdays(from Date, n int) (Deadline, error) {
	if from.IsZero() {
		return Deadline{}, fmt.Errorf("no start date")
	}
	if n < 1 {
		return Deadline{}, fmt.Errorf("working days must be at least 1, got %d", n)
	}
	var dl Deadline
	d := from
	for n > 0 {
		d = d.AddDays(1)
		work, known := c.workday(d)
		if !known && dl.MissingYear == 0 {
			dl.MissingYear = d.Year
		}
		if work {
			n--
		}
	}
	dl.Date = d
	dl.Estimated = dl.MissingYear != 0
	return dl, nil
}

// ChinaCoverage is the range of years, inclusive, for which the official
// mainland China holiday schedule is known (Default's Coverage); 0, 0 if the
// bundled holiday files are invalid.
func ChinaCoverage() (first, last int) {
	c, err := Default()
	if err != nil {
		return 0, 0
	}
	return c.Coverage()
}

// IsChinaWorkday is Default().IsWorkday(d).
func IsChinaWorkday(d Date) (bool, error) {
	c, err := Default()
	if err != nil {
		return false, err
	}
	return c.IsWorkday(d)
}

// AddChinaWorkdays is the date of Default().AddWorkdays(from, n): beyond the
// holiday data it is an estimate (see Calendar.AddWorkdays), not an error.
// Use the Calendar method to know whether it was estimated.
func AddChinaWorkdays(from Date, n int) (Date, error) {
	c, err := Default()
	if err != nil {
		return Date{}, err
	}
	dl, err := c.AddWorkdays(from, n)
	return dl.Date, err
}

// DataEnds is Default().DataEnds(); the zero Date if the bundled holiday
// files are invalid.
func DataEnds() Date {
	c, err := Default()
	if err != nil {
		return Date{}
	}
	return c.DataEnds()
}

// CoverageWarning is Default().CoverageWarning(now); true (warn) if the
// bundled holiday files are invalid.
func CoverageWarning(now time.Time) (bool, Date) {
	c, err := Default()
	if err != nil {
		return true, Date{}
	}
	return c.CoverageWarning(now)
}

// WorkdaysBetween counts the mainland China working days after from up to
// and including to: how many working days are left from today (from) until
// a deadline (to). When to is before from the count is negative: minus the
// working days after to up to and including from (a deadline passed two
// working days ago gives -2). The same day gives 0. Days in a year with no
// official schedule count Monday to Friday, and estimated is set.
func (c *Calendar) WorkdaysBetween(from, to Date) (n int, estimated bool) {
	sign := 1
	if to.Before(from) {
		from, to, sign = to, from, -1
	}
	for d := from.AddDays(1); !to.Before(d); d = d.AddDays(1) {
		work, known := c.workday(d)
		if !known {
			estimated = true
		}
		if work {
			n++
		}
	}
	return sign * n, estimated
}
