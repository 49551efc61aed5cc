package workday

import (
	"fmt"
	"sync"
	"time"

	"github.com/6tail/lunar-go/HolidayUtil"
)

// UnsupportedYearError reports a date in a year the official holiday data does
// not cover. Deadlines are never guessed: before the State Council publishes a
// year's holiday schedule (usually in November of the year before) nobody knows
// which weekends will be working days.
type UnsupportedYearError struct {
	Year        int // the year asked about
	First, Last int // the years the data covers, inclusive
}

func (e *UnsupportedYearError) Error() string {
	return fmt.Sprintf("no official Chinese holiday data for %d (covered years: %d–%d)", e.Year, e.First, e.Last)
}

// chinaCalendar is the mainland China working-day calendar: Monday to Friday,
// minus official holidays, plus the weekend days declared make-up working days
// (调休上班).
type chinaCalendar struct {
	first, last int
	// overrides maps each listed day to whether it is a working day: false for a
	// holiday (放假), true for a make-up working day (调休上班).
	overrides map[Date]bool
}

// holidayDataStart is the first year lunar-go's HolidayUtil lists ("自2001年12月29日起").
const holidayDataStart = 2001

// loadChina reads lunar-go's holiday table once. It does no I/O: the table is
// compiled into the library.
var loadChina = sync.OnceValue(func() *chinaCalendar {
	c := &chinaCalendar{overrides: make(map[Date]bool, 1024)}
	// A year counts as covered when its schedule lists both the Spring Festival
	// and the National Day holidays, the first and last of every year's schedule.
	// The scan stops at the first year with no entries at all.
	for y := holidayDataStart; ; y++ {
		l := HolidayUtil.GetHolidaysByYear(y)
		if l.Len() == 0 {
			break
		}
		spring, national := false, false
		for e := l.Front(); e != nil; e = e.Next() {
			h, ok := e.Value.(*HolidayUtil.Holiday)
			if !ok {
				continue
			}
			d, err := ParseDate(h.GetDay())
			if err != nil {
				continue
			}
			c.overrides[d] = h.IsWork()
			switch h.GetName() {
			case "春节":
				spring = true
			case "国庆节", "国庆中秋":
				national = true
			}
		}
		if spring && national {
			if c.first == 0 {
				c.first = y
			}
			c.last = y
		}
	}
	return c
})

// ChinaCoverage is the range of years, inclusive, for which the official
// mainland China holiday schedule is known (from github.com/6tail/lunar-go).
func ChinaCoverage() (first, last int) {
	c := loadChina()
	return c.first, c.last
}

func (c *chinaCalendar) check(d Date) error {
	if d.Year < c.first || d.Year > c.last {
		return &UnsupportedYearError{Year: d.Year, First: c.first, Last: c.last}
	}
	return nil
}

func (c *chinaCalendar) isWorkday(d Date) bool {
	if work, ok := c.overrides[d]; ok {
		return work
	}
	wd := d.Weekday()
	return wd != time.Saturday && wd != time.Sunday
}

// IsChinaWorkday reports whether d is a working day in mainland China: a
// weekday that is not an official holiday, or a weekend day declared a make-up
// working day (调休). A day outside the covered years is an *UnsupportedYearError.
func IsChinaWorkday(d Date) (bool, error) {
	c := loadChina()
	if err := c.check(d); err != nil {
		return false, err
	}
	return c.isWorkday(d), nil
}

// AddChinaWorkdays is the n-th mainland China working day after from, counting
// from the next day (from itself never counts, whatever day it is). Every day
// passed, from included, must lie in the covered years.
func AddChinaWorkdays(from Date, n int) (Date, error) {
	c := loadChina()
	if err := c.check(from); err != nil {
		return Date{}, err
	}
	if n < 1 {
		return Date{}, fmt.Errorf("working days must be at least 1, got %d", n)
	}
	d := from
	for n > 0 {
		d = d.AddDays(1)
		if err := c.check(d); err != nil {
			return Date{}, err
		}
		if c.isWorkday(d) {
			n--
		}
	}
	return d, nil
}
