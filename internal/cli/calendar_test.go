package cli

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"dsrflow/internal/workday"
)

func TestCalendarDue(t *testing.T) {
	_, last := workday.ChinaCoverage()
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
		{name: "unsupported year", args: []string{"--from", fmt.Sprintf("%d-03-02", last+1)}, wantCode: ExitUsage, wantErrHas: []string{fmt.Sprintf("no official Chinese holiday data for %d", last+1)}},
		{name: "count runs out of data", args: []string{"--from", fmt.Sprintf("%d-12-24", last)}, wantCode: ExitUsage, wantErrHas: []string{fmt.Sprintf("no official Chinese holiday data for %d", last+1)}},
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
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		code := Run(context.Background(), tt.args, strings.NewReader(""), &out, &errOut)
		if code != ExitUsage || !strings.Contains(errOut.String(), tt.want) || out.Len() != 0 {
			t.Errorf("dsr %s: exit %d, stdout %q, stderr %q; want exit %d and stderr containing %q", strings.Join(tt.args, " "), code, out.String(), errOut.String(), ExitUsage, tt.want)
		}
	}
}
