package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fictional2028 is a made-up 2028 schedule that follows the holiday file
// rules (not the State Council's notice): holidays Jan 1–3, Jan 25–31,
// May 1–5, Oct 1–7; make-up days Sat Jan 22, Sat Feb 5, Sat Apr 29, Sun Oct 8.
const fictional2028 = `{
  "year": 2028,
  "holidays": [
    "2028-01-01", "2028-01-02", "2028-01-03",
    "2028-01-25", "2028-01-26", "2028-01-27", "2028-01-28", "2028-01-29", "2028-01-30", "2028-01-31",
    "2028-05-01", "2028-05-02", "2028-05-03", "2028-05-04", "2028-05-05",
    "2028-10-01", "2028-10-02", "2028-10-03", "2028-10-04", "2028-10-05", "2028-10-06", "2028-10-07"
  ],
  "workdays": ["2028-01-22", "2028-02-05", "2028-04-29", "2028-10-08"]
}
`

// holidayDir writes files (name → body) to a new directory.
func holidayDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestCalendarDue(t *testing.T) {
	with2028 := holidayDir(t, map[string]string{"2028.json": fictional2028, "README.md": "notes\n"})
	bad := holidayDir(t, map[string]string{"2028.json": `{"year": 2028, "holidays": ["2028-01-01"], "workdays": ["2028-01-03"]}`})
	misnamed := holidayDir(t, map[string]string{"2028.jsn": fictional2028})
	const estimated = "dsr: warning: no official mainland China holiday schedule for 2028 (the data ends 2027-12-31): "
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantOut    string
		wantErrHas []string // substrings of stderr; empty stderr expected when nil
	}{
		{name: "CN default", args: []string{"--from", "2026-09-18"}, wantCode: ExitOK, wantOut: "2026-10-15\n"},
		{name: "CN explicit", args: []string{"--from", "2026-02-10", "--jurisdiction", "CN"}, wantCode: ExitOK, wantOut: "2026-03-09\n"},
		{name: "CN labour day", args: []string{"--from=2026-04-30"}, wantCode: ExitOK, wantOut: "2026-05-25\n"},
		{name: "CN 2025", args: []string{"--from", "2025-09-26", "--jurisdiction", "cn"}, wantCode: ExitOK, wantOut: "2025-10-23\n"},
		{name: "CN working days", args: []string{"--from", "2026-09-18", "--working-days", "1"}, wantCode: ExitOK, wantOut: "2026-09-20\n"},
		{name: "GDPR month end", args: []string{"--from", "2026-01-31", "--jurisdiction", "GDPR"}, wantCode: ExitOK, wantOut: "2026-02-28\n"},
		{name: "GDPR beyond holiday data", args: []string{"--from", "2030-05-10", "--jurisdiction", "GDPR"}, wantCode: ExitOK, wantOut: "2030-06-10\n"},
		{name: "CCPA", args: []string{"--from", "2026-01-01", "--jurisdiction", "CCPA"}, wantCode: ExitOK, wantOut: "2026-02-15\n"},

		{name: "missing from", args: nil, wantCode: ExitUsage, wantErrHas: []string{`"from"`}},
		{name: "bad date", args: []string{"--from", "2026-13-01"}, wantCode: ExitUsage, wantErrHas: []string{"--from", "YYYY-MM-DD"}},
		{name: "not a date", args: []string{"--from", "tomorrow"}, wantCode: ExitUsage, wantErrHas: []string{"--from", "YYYY-MM-DD"}},
		{name: "bad jurisdiction", args: []string{"--from", "2026-09-18", "--jurisdiction", "EU"}, wantCode: ExitUsage, wantErrHas: []string{"--jurisdiction", "CN, GDPR or CCPA"}},
		{name: "working days zero", args: []string{"--from", "2026-09-18", "--working-days", "0"}, wantCode: ExitUsage, wantErrHas: []string{"--working-days", "between 1 and 366"}},
		{name: "working days not a number", args: []string{"--from", "2026-09-18", "--working-days", "ten"}, wantCode: ExitUsage, wantErrHas: []string{"--working-days"}},
		{name: "working days with GDPR", args: []string{"--from", "2026-09-18", "--jurisdiction", "GDPR", "--working-days", "15"}, wantCode: ExitUsage, wantErrHas: []string{"--working-days applies only to --jurisdiction CN"}},
		{name: "working days with CCPA", args: []string{"--from", "2026-09-18", "--jurisdiction", "CCPA", "--working-days", "10"}, wantCode: ExitUsage, wantErrHas: []string{"--working-days applies only to --jurisdiction CN"}},
		// Beyond the data (2002–2027): Monday to Friday, a warning, exit 0.
		// Mon 2027-12-20: Dec 21–24, 27–31, then Jan 3–7 and Mon Jan 10 2028.
		{name: "count runs out of data", args: []string{"--from", "2027-12-20", "--jurisdiction", "CN"}, wantCode: ExitOK, wantOut: "2028-01-10\n",
			wantErrHas: []string{estimated + "2028-01-10 is an estimate counting Monday to Friday only; add the State Council's schedule as config/holidays/cn/2028.json"}},
		// Thu 2028-03-02 + 15 weekdays = Thu 2028-03-23.
		{name: "year without data", args: []string{"--from", "2028-03-02"}, wantCode: ExitOK, wantOut: "2028-03-23\n", wantErrHas: []string{estimated + "2028-03-23 is an estimate"}},
		// With a 2028 file the count is exact: Mon Jan 3 is a holiday.
		{name: "2028 file", args: []string{"--from", "2027-12-20", "--holidays", with2028}, wantCode: ExitOK, wantOut: "2028-01-11\n"},
		// Jan 19–21, make-up Sat 22, Mon 24, Jan 25–31 off, Feb 1–4, make-up Sat Feb 5, Feb 7–11.
		{name: "2028 file make-up days", args: []string{"--from", "2028-01-18", "--holidays", with2028}, wantCode: ExitOK, wantOut: "2028-02-11\n"},
		{name: "2028 file, into 2029", args: []string{"--from", "2028-12-15", "--holidays", with2028}, wantCode: ExitOK, wantOut: "2029-01-05\n",
			wantErrHas: []string{"no official mainland China holiday schedule for 2029 (the data ends 2028-12-31): 2029-01-05 is an estimate"}},
		{name: "bad holiday file", args: []string{"--from", "2027-12-20", "--holidays", bad}, wantCode: ExitUsage,
			wantErrHas: []string{"calendar due: --holidays", `invalid holiday file "2028.json": workdays[0] 2028-01-03 is a Monday`}},
		{name: "misnamed holiday file", args: []string{"--from", "2027-12-20", "--holidays", misnamed}, wantCode: ExitUsage, wantErrHas: []string{`"2028.jsn": unexpected entry`}},
		{name: "holidays not a directory", args: []string{"--from", "2027-12-20", "--holidays", filepath.Join(with2028, "2028.json")}, wantCode: ExitUsage, wantErrHas: []string{"not a directory"}},
		{name: "extra argument", args: []string{"--from", "2026-09-18", "2026-09-19"}, wantCode: ExitUsage, wantErrHas: []string{"unknown command"}},
		{name: "unknown flag", args: []string{"--from", "2026-09-18", "--region", "CN"}, wantCode: ExitUsage, wantErrHas: []string{"unknown flag"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append([]string{"calendar", "due"}, tt.args...)
			code := Run(context.Background(), args, strings.NewReader(""), &out, &errOut)
			if code != tt.wantCode {
				t.Errorf("dsr %s: exit %d, want %d (stderr %q)", strings.Join(args, " "), code, tt.wantCode, errOut.String())
			}
			if got := out.String(); got != tt.wantOut {
				t.Errorf("stdout = %q, want %q", got, tt.wantOut)
			}
			if tt.wantErrHas == nil && errOut.Len() != 0 {
				t.Errorf("stderr = %q, want empty", errOut.String())
			}
			for _, sub := range tt.wantErrHas {
				if !strings.Contains(errOut.String(), sub) {
					t.Errorf("stderr = %q, want it to contain %q", errOut.String(), sub)
				}
			}
		})
	}
}

func TestCalendarGroup(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"calendar"}, "missing subcommand"},
		{[]string{"calendar", "holidays"}, "unknown command"},
		{[]string{"calendar", "coverage", "extra"}, "unknown command"},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		code := Run(context.Background(), tt.args, strings.NewReader(""), &out, &errOut)
		if code != ExitUsage || !strings.Contains(errOut.String(), tt.want) || out.Len() != 0 {
			t.Errorf("dsr %s: exit %d, stdout %q, stderr %q; want exit %d and stderr containing %q", strings.Join(tt.args, " "), code, out.String(), errOut.String(), ExitUsage, tt.want)
		}
	}
}

func TestCalendarCoverage(t *testing.T) {
	with2028 := holidayDir(t, map[string]string{"2028.json": fictional2028})
	bad := holidayDir(t, map[string]string{"2029.json": fictional2028})
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"bundled", nil, ExitOK, "covered years: 2002–2027\ndata ends:     2027-12-31\nholiday files: none\n", ""},
		{"with a 2028 file", []string{"--holidays", with2028}, ExitOK, "covered years: 2002–2028\ndata ends:     2028-12-31\nholiday files: 2028\n", ""},
		{"file named for another year", []string{"--holidays", bad}, ExitUsage, "", `"2029.json": "year" is 2028 but the file name says 2029`},
		{"empty directory", []string{"--holidays", t.TempDir()}, ExitOK, "covered years: 2002–2027\ndata ends:     2027-12-31\nholiday files: none\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append([]string{"calendar", "coverage"}, tt.args...)
			code := Run(context.Background(), args, strings.NewReader(""), &out, &errOut)
			if code != tt.wantCode || out.String() != tt.wantOut || !strings.Contains(errOut.String(), tt.wantErr) || (tt.wantErr == "" && errOut.Len() != 0) {
				t.Errorf("dsr %s: exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr with %q", strings.Join(args, " "), code, out.String(), errOut.String(), tt.wantCode, tt.wantOut, tt.wantErr)
			}
		})
	}
}
