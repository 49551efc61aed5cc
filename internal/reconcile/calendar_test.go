package reconcile

import (
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"dsrflow/internal/workday"
)

// TestCalendarDataMissing: CalendarDataMissing is 1 from the day the
// holiday data no longer covers the next CalendarHorizonDays days (the
// bundled data ends 2027-12-31), 0 before and with the next year's notice
// added; the warning names dates only.
func TestCalendarDataMissing(t *testing.T) {
	noon := func(m time.Month, d int) time.Time { return time.Date(2027, m, d, 12, 0, 0, 0, workday.ChinaTime) }
	notice2028 := fstest.MapFS{"2028.json": {Data: []byte(`{"year": 2028, "holidays": ["2028-01-01", "2028-05-01", "2028-10-01", "2028-10-02", "2028-10-03"], "workdays": []}`)}}
	cal2028, err := workday.NewCalendar(notice2028)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		horizon string
		cal     *workday.Calendar
		now     time.Time
		missing bool
		ends    string
	}{
		{"64 days covered", "", nil, noon(time.October, 28), false, "2027-12-31"},
		{"day 64 is 2028-01-01", "", nil, noon(time.October, 29), true, "2027-12-31"},
		{"past the data", "", nil, time.Date(2028, 2, 1, 0, 0, 0, 0, time.UTC), true, "2027-12-31"},
		{"horizon 60", "60", nil, noon(time.October, 29), false, "2027-12-31"},
		{"horizon 60, Nov 2", "60", nil, noon(time.November, 2), true, "2027-12-31"},
		{"with 2028.json", "", cal2028, noon(time.October, 29), false, "2028-12-31"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			if tt.horizon != "" {
				env["CALENDAR_HORIZON_DAYS"] = tt.horizon
			}
			f := newFixture(t, env, func(d *Deps) { d.Calendar = tt.cal })
			f.clock.Set(tt.now)
			rep := f.run()
			if rep.CalendarDataMissing != tt.missing || rep.CalendarDataEnds != tt.ends {
				t.Errorf("report: missing %v, ends %s; want %v, %s", rep.CalendarDataMissing, rep.CalendarDataEnds, tt.missing, tt.ends)
			}
			want := 0.0
			if tt.missing {
				want = 1
			}
			if got := f.metrics()[MetricCalendarDataMissing]; got != want {
				t.Errorf("%s = %v, want %v", MetricCalendarDataMissing, got, want)
			}
			logged := strings.Contains(f.logs.String(), `"msg":"holiday calendar data runs out`)
			if logged != tt.missing {
				t.Errorf("warning logged %v, want %v: %s", logged, tt.missing, f.logs.String())
			}
			if tt.missing && !strings.Contains(f.logs.String(), `"dataEnds":"`+tt.ends+`"`) {
				t.Errorf("warning does not name the last covered day %s: %s", tt.ends, f.logs.String())
			}
		})
	}
}

// TestCalendarWarningQuietRepeats: with QuietRepeats the warning is logged
// on the first pass only, while the metric is 1 on every pass.
func TestCalendarWarningQuietRepeats(t *testing.T) {
	for _, quiet := range []bool{false, true} {
		f := newFixture(t, map[string]string{"RECONCILE_QUIET_REPEATS": strconv.FormatBool(quiet)}, nil)
		f.clock.Set(time.Date(2027, 12, 1, 0, 0, 0, 0, time.UTC))
		for range 3 {
			f.run()
			if got := f.metrics()[MetricCalendarDataMissing]; got != 1 {
				t.Fatalf("quiet=%v: %s = %v, want 1 on every pass", quiet, MetricCalendarDataMissing, got)
			}
		}
		want := 3
		if quiet {
			want = 1
		}
		if got := strings.Count(f.logs.String(), `"msg":"holiday calendar data runs out`); got != want {
			t.Errorf("quiet=%v: %d warnings in 3 passes, want %d", quiet, got, want)
		}
	}
}

// TestDefaultHorizon: the default horizon covers the longest span, in
// calendar days, of the CN deadline (15 working days) in the holiday data,
// plus the default backup window (BACKUP_ROTATION 840h): when the alarm is
// quiet, a request verified today has its due date and its backup wait on
// known days.
func TestDefaultHorizon(t *testing.T) {
	c, err := ConfigFrom(map[string]string{"TABLE_NAME": "t", "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:1:stateMachine:x"})
	if err != nil {
		t.Fatal(err)
	}
	cal, err := workday.Default()
	if err != nil {
		t.Fatal(err)
	}
	rule, err := workday.RuleFor(workday.CN)
	if err != nil {
		t.Fatal(err)
	}
	first, last := cal.Coverage()
	longest := 0
	for d := (workday.Date{Year: first, Month: time.January, Day: 1}); d.Year < last; d = d.AddDays(1) {
		dl, err := cal.Due(rule, d)
		if err != nil {
			t.Fatal(err)
		}
		longest = max(longest, int(dl.Date.In(time.UTC).Sub(d.In(time.UTC))/(24*time.Hour)))
	}
	const backupDays = 840 / 24
	if need := longest + backupDays; c.CalendarHorizonDays < need {
		t.Errorf("CALENDAR_HORIZON_DAYS default %d, want at least %d (longest deadline %d days + backups %d days)", c.CalendarHorizonDays, need, longest, backupDays)
	}
	if longest < 20 {
		t.Errorf("longest span of %d working days = %d calendar days: the count is broken", rule.Period, longest)
	}
}
