// Package workday computes reply deadlines for data-subject requests: in
// mainland China a number of working days on the official holiday calendar
// (policy 五.5: 十五个工作日 after identity verification), under the GDPR a number
// of calendar months, under the CCPA a number of calendar days, each with the
// extension its law allows. Which rule applies is configuration.
package workday

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Jurisdiction names the law whose deadline rule applies.
type Jurisdiction string

const (
	// CN is mainland China (PIPL; the policy's own promise of 15 working days).
	CN Jurisdiction = "CN"
	// GDPR is the EU General Data Protection Regulation, art. 12(3).
	GDPR Jurisdiction = "GDPR"
	// CCPA is the California Consumer Privacy Act, Civ. Code §1798.130(a)(2).
	CCPA Jurisdiction = "CCPA"
)

// ParseJurisdiction reads CN, GDPR or CCPA (case does not matter).
func ParseJurisdiction(s string) (Jurisdiction, error) {
	switch j := Jurisdiction(strings.ToUpper(strings.TrimSpace(s))); j {
	case CN, GDPR, CCPA:
		return j, nil
	}
	return "", fmt.Errorf("unknown jurisdiction %q: want CN, GDPR or CCPA", s)
}

// Unit is what a rule's period counts.
type Unit string

const (
	// WorkingDays counts mainland China working days (holidays and 调休 applied).
	WorkingDays Unit = "working_days"
	// Months counts calendar months, clamped to the end of shorter months.
	Months Unit = "months"
	// CalendarDays counts every day.
	CalendarDays Unit = "calendar_days"
)

// maxPeriod bounds Period and Extension so a typo in configuration cannot set a
// deadline years away.
const maxPeriod = 366

// Rule is a deadline rule: Period units after the start date, and, when the
// request is complex or numerous, Extension more units on top (both in Unit).
type Rule struct {
	Jurisdiction Jurisdiction `json:"jurisdiction"`
	Unit         Unit         `json:"unit"`
	Period       int          `json:"period"`
	Extension    int          `json:"extension,omitempty"`
}

// RuleFor is the statutory rule of a jurisdiction:
//   - CN: 15 working days, no extension (policy 五.5). Counting starts the day
//     after identity verification.
//   - GDPR: one month, extendable by two further months (art. 12(3)).
//   - CCPA: 45 calendar days, extendable once by 45 more (§1798.130(a)(2)).
func RuleFor(j Jurisdiction) (Rule, error) {
	switch j {
	case CN:
		return Rule{Jurisdiction: CN, Unit: WorkingDays, Period: 15}, nil
	case GDPR:
		return Rule{Jurisdiction: GDPR, Unit: Months, Period: 1, Extension: 2}, nil
	case CCPA:
		return Rule{Jurisdiction: CCPA, Unit: CalendarDays, Period: 45, Extension: 45}, nil
	}
	return Rule{}, fmt.Errorf("unknown jurisdiction %q: want CN, GDPR or CCPA", j)
}

// ErrInvalidRule is wrapped by every error Rule.Validate returns.
var ErrInvalidRule = errors.New("invalid deadline rule")

// Validate checks that the rule can be computed: a known jurisdiction, a unit
// that fits it (working days exist only on the Chinese calendar), a period of
// 1 to 366 units and an extension of 0 to 366.
func (r Rule) Validate() error {
	switch r.Jurisdiction {
	case CN, GDPR, CCPA:
	default:
		return fmt.Errorf("%w: unknown jurisdiction %q", ErrInvalidRule, r.Jurisdiction)
	}
	switch r.Unit {
	case WorkingDays:
		if r.Jurisdiction != CN {
			return fmt.Errorf("%w: working days are only defined for CN, not %s", ErrInvalidRule, r.Jurisdiction)
		}
	case Months, CalendarDays:
	default:
		return fmt.Errorf("%w: unknown unit %q", ErrInvalidRule, r.Unit)
	}
	if r.Period < 1 || r.Period > maxPeriod {
		return fmt.Errorf("%w: period %d out of range 1–%d", ErrInvalidRule, r.Period, maxPeriod)
	}
	if r.Extension < 0 || r.Extension > maxPeriod {
		return fmt.Errorf("%w: extension %d out of range 0–%d", ErrInvalidRule, r.Extension, maxPeriod)
	}
	return nil
}

// Deadline is a computed last day to reply.
type Deadline struct {
	// Date is the last day: a reply sent on or before it is on time.
	Date Date `json:"date"`
	// Estimated is true when the count needed a year with no official
	// holiday schedule: those days were counted Monday to Friday
	// (Calendar.AddWorkdays says how far that can be from the official
	// count). Only WorkingDays rules are ever estimated.
	Estimated bool `json:"estimated,omitempty"`
	// MissingYear is the first year counted without a schedule (0 when not
	// Estimated).
	MissingYear int `json:"missingYear,omitempty"`
}

// At is the deadline as an instant, for storing on a request and for sorting
// what is due: the last second (23:59:59) of Date in mainland China time. A
// reply is late when the current time is after it.
func (d Deadline) At() time.Time {
	return d.Date.AddDays(1).In(ChinaTime).Add(-time.Second)
}

// Due is the last day to reply under rule r for a request whose clock starts on
// from (for CN, the day identity was verified; for GDPR and CCPA, the day the
// request was received), on the Default calendar. The reply is on time if sent
// on or before that day.
//
//   - WorkingDays: the Period-th Chinese working day after from
//     (Calendar.AddWorkdays). Through a year the holiday data does not cover
//     the count is an estimate, Monday to Friday, and Deadline.Estimated is set.
//   - Months: from plus Period months, clamped to the last day of a shorter month
//     (Jan 31 + 1 month = Feb 28/29), per Regulation 1182/71 art. 3(2)(c). The
//     same regulation's roll-forward of a deadline falling on a weekend or public
//     holiday (art. 3(4)) is not applied: the date returned is never later than
//     the law allows.
//   - CalendarDays: from plus Period days.
func Due(r Rule, from Date) (Deadline, error) {
	return due(nil, r, from, r.Period)
}

// ExtendedDue is the last day to reply once the extension is invoked: Period +
// Extension units counted from the same start (GDPR: three months from receipt,
// so Jan 31 gives Apr 30, not Feb 28 + 2 months = Apr 28). With no extension it
// equals Due.
func ExtendedDue(r Rule, from Date) (Deadline, error) {
	return due(nil, r, from, r.Period+r.Extension)
}

// Due is the package-level Due on calendar c.
func (c *Calendar) Due(r Rule, from Date) (Deadline, error) {
	return due(c, r, from, r.Period)
}

// ExtendedDue is the package-level ExtendedDue on calendar c.
func (c *Calendar) ExtendedDue(r Rule, from Date) (Deadline, error) {
	return due(c, r, from, r.Period+r.Extension)
}

// due counts n units of r from from; a nil c is the Default calendar, loaded
// only for working days (GDPR and CCPA deadlines need no holiday data).
func due(c *Calendar, r Rule, from Date, n int) (Deadline, error) {
	if err := r.Validate(); err != nil {
		return Deadline{}, err
	}
	if from.IsZero() {
		return Deadline{}, errors.New("no start date")
	}
	switch r.Unit {
	case WorkingDays:
		if c == nil {
			var err error
			if c, err = Default(); err != nil {
				return Deadline{}, err
			}
		}
		return c.AddWorkdays(from, n)
	case Months:
		return Deadline{Date: from.AddMonthsClamped(n)}, nil
	default: // CalendarDays; Validate rejected anything else
		return Deadline{Date: from.AddDays(n)}, nil
	}
}

// DueAt is Due as an instant (Deadline.At). The start day is verifiedAt's
// calendar day in China time for every rule, since the controller operates in
// mainland China (policy 四.(二)). Beyond the holiday data the deadline is an
// estimate; use Due to know.
func DueAt(r Rule, verifiedAt time.Time) (time.Time, error) {
	d, err := Due(r, DateOf(verifiedAt.In(ChinaTime)))
	if err != nil {
		return time.Time{}, err
	}
	return d.At(), nil
}
