package workday

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"strconv"
	"time"
)

// Limits on holiday files (config/holidays/cn/README.md states the rules).
const (
	maxNoticeBytes    = 16 << 10 // one file; a real notice is about 1 KiB
	maxNoticeHolidays = 64       // a year has about 30 days off, weekends included
	maxNoticeWorkdays = 16       // a year has at most about 8 make-up days
	maxNoticeFiles    = 200
	// Years a file may describe.
	minNoticeYear, maxNoticeYear = 2000, 2199
	// A notice's New Year arrangement may reach back into the last week of
	// the previous year (2011-12-31 上班 in the 2012 notice; 2018-12-31 放假
	// in the 2019 one); never earlier than December 25.
	noticeLeadDay = 25
)

// ErrInvalidHolidayFile is wrapped by every error a holiday file's check returns.
var ErrInvalidHolidayFile = errors.New("invalid holiday file")

// notice is one year's official schedule, read from <year>.json.
type notice struct {
	Year     int
	Holidays []Date // days off (放假), weekend days in a range included
	Workdays []Date // weekend days made working days (调休上班)
}

// noticeJSON is the file's shape.
type noticeJSON struct {
	Year     *int      `json:"year"`
	Holidays *[]string `json:"holidays"`
	Workdays []string  `json:"workdays"`
}

var noticeName = regexp.MustCompile(`^([0-9]{4})\.json$`)

// parseNotice reads and checks one holiday file named name (<year>.json).
// Its errors wrap ErrInvalidHolidayFile and name the file, the field and
// the offending value (dates only: no personal data can be in the file).
func parseNotice(name string, data []byte) (notice, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w %s: %s", ErrInvalidHolidayFile, strconv.Quote(name), fmt.Sprintf(format, a...))
	}
	m := noticeName.FindStringSubmatch(name)
	if m == nil {
		return notice{}, bad("file name must be YYYY.json")
	}
	fileYear, _ := strconv.Atoi(m[1]) // four digits: cannot fail
	if fileYear < minNoticeYear || fileYear > maxNoticeYear {
		return notice{}, bad("year %d outside %d–%d", fileYear, minNoticeYear, maxNoticeYear)
	}
	if len(data) > maxNoticeBytes {
		return notice{}, bad("%d bytes, more than %d", len(data), maxNoticeBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var raw noticeJSON
	if err := dec.Decode(&raw); err != nil {
		return notice{}, bad("not a holiday schedule: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return notice{}, bad("data after the JSON object")
	}
	switch {
	case raw.Year == nil:
		return notice{}, bad(`missing "year"`)
	case *raw.Year != fileYear:
		return notice{}, bad(`"year" is %d but the file name says %d`, *raw.Year, fileYear)
	case raw.Holidays == nil:
		return notice{}, bad(`missing "holidays"`)
	case len(*raw.Holidays) == 0 || len(*raw.Holidays) > maxNoticeHolidays:
		return notice{}, bad(`"holidays" has %d dates, want 1–%d`, len(*raw.Holidays), maxNoticeHolidays)
	case len(raw.Workdays) > maxNoticeWorkdays:
		return notice{}, bad(`"workdays" has %d dates, want at most %d`, len(raw.Workdays), maxNoticeWorkdays)
	}
	n := notice{Year: fileYear}
	seen := make(map[Date]string, len(*raw.Holidays)+len(raw.Workdays))
	read := func(field string, list []string) ([]Date, error) {
		out := make([]Date, 0, len(list))
		for i, s := range list {
			at := fmt.Sprintf("%s[%d]", field, i)
			d, err := ParseDate(s)
			if err != nil {
				return nil, bad("%s %s: want YYYY-MM-DD", at, strconv.Quote(s))
			}
			if !n.holds(d) {
				return nil, bad("%s %s is not in %d (nor in December %d–31 of %d)", at, d, n.Year, noticeLeadDay, n.Year-1)
			}
			if prev, dup := seen[d]; dup {
				return nil, bad("%s %s is listed twice (also as %s)", at, d, prev)
			}
			seen[d] = at
			out = append(out, d)
		}
		return out, nil
	}
	var err error
	if n.Holidays, err = read("holidays", *raw.Holidays); err != nil {
		return notice{}, err
	}
	if n.Workdays, err = read("workdays", raw.Workdays); err != nil {
		return notice{}, err
	}
	for i, d := range n.Workdays {
		if wd := d.Weekday(); wd != time.Saturday && wd != time.Sunday {
			return notice{}, bad("workdays[%d] %s is a %s: a make-up working day is a Saturday or a Sunday", i, d, wd)
		}
	}
	off := make(map[Date]bool, len(n.Holidays))
	for _, d := range n.Holidays {
		off[d] = true
	}
	for _, md := range statutoryHolidays {
		if d := (Date{n.Year, md.Month, md.Day}); !off[d] {
			return notice{}, bad("holidays lacks %s, a fixed-date statutory holiday (全国年节及纪念日放假办法): is the file complete?", d)
		}
	}
	return n, nil
}

// statutoryHolidays are the fixed-date days off every year's notice lists
// (New Year's Day, Labour Day, National Day).
var statutoryHolidays = []struct {
	Month time.Month
	Day   int
}{{time.January, 1}, {time.May, 1}, {time.October, 1}, {time.October, 2}, {time.October, 3}}

// holds reports whether a notice for n.Year may list d.
func (n notice) holds(d Date) bool {
	return d.Year == n.Year || (d.Year == n.Year-1 && d.Month == time.December && d.Day >= noticeLeadDay)
}

// readNotices reads every <year>.json at the root of fsys. README.md is
// allowed and skipped; any other entry is an error, so a misnamed file
// (2028.JSON, 2028.json.bak) is noticed rather than ignored. No date may
// appear in two files.
func readNotices(fsys fs.FS) (map[int]notice, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read holiday files: %w", err)
	}
	if len(entries) > maxNoticeFiles+1 {
		return nil, fmt.Errorf("%w: %d files, more than %d", ErrInvalidHolidayFile, len(entries), maxNoticeFiles)
	}
	notices := make(map[int]notice, len(entries))
	owner := make(map[Date]string)
	for _, e := range entries {
		name := e.Name()
		if name == "README.md" && e.Type().IsRegular() {
			continue
		}
		if !e.Type().IsRegular() || !noticeName.MatchString(name) {
			return nil, fmt.Errorf("%w %s: unexpected entry: want YYYY.json files (and README.md) only", ErrInvalidHolidayFile, strconv.Quote(name))
		}
		data, err := readLimited(fsys, name, maxNoticeBytes)
		if err != nil {
			return nil, err
		}
		n, err := parseNotice(name, data)
		if err != nil {
			return nil, err
		}
		for _, list := range [][]Date{n.Holidays, n.Workdays} {
			for _, d := range list {
				if other, ok := owner[d]; ok {
					return nil, fmt.Errorf("%w %s: %s is also listed in %s", ErrInvalidHolidayFile, strconv.Quote(name), d, strconv.Quote(other))
				}
				owner[d] = name
			}
		}
		notices[n.Year] = n
	}
	return notices, nil
}

// readLimited reads a file of at most limit bytes (one more is read to tell
// a file of exactly limit bytes from a longer one).
func readLimited(fsys fs.FS, name string, limit int64) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("read holiday file %s: %w", strconv.Quote(name), err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read holiday file %s: %w", strconv.Quote(name), err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w %s: more than %d bytes", ErrInvalidHolidayFile, strconv.Quote(name), limit)
	}
	return data, nil
}
