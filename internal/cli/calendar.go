package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"dsrflow/internal/workday"
)

// newCalendarCmd is "dsr calendar": reply deadlines.
func newCalendarCmd(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "calendar",
		Short: "Reply deadlines: Chinese working days, GDPR months, CCPA days",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usageErrorf("calendar: missing subcommand: want \"dsr calendar due --from YYYY-MM-DD\" or \"dsr calendar coverage\"")
		},
	}
	cmd.AddCommand(newCalendarDueCmd(s), newCalendarCoverageCmd(s))
	return cmd
}

// holidaysFlag adds --holidays DIR: holiday files to read instead of the
// bundled ones, to check a new State Council notice before it is bundled.
func holidaysFlag(cmd *cobra.Command, dir *string) {
	cmd.Flags().StringVar(dir, "holidays", "", "read the CN holiday files (<year>.json) from this directory instead of the bundled config/holidays/cn")
}

// loadCalendar is the bundled calendar, or the one of --holidays DIR; an
// invalid holiday file is a usage error naming the file.
func loadCalendar(cmdName, dir string) (*workday.Calendar, error) {
	if dir == "" {
		c, err := workday.Default()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cmdName, err)
		}
		return c, nil
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, usageErrorf("%s: --holidays %s: not a directory", cmdName, dir)
	}
	c, err := workday.NewCalendar(os.DirFS(dir))
	if err != nil {
		return nil, usageErrorf("%s: --holidays %s: %w", cmdName, dir, err)
	}
	return c, nil
}

// newCalendarCoverageCmd is "dsr calendar coverage [--holidays DIR]".
func newCalendarCoverageCmd(s *streams) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "coverage [--holidays DIR]",
		Short: "Print the years the official Chinese holiday data covers, and where it ends",
		Long: `Print the years for which the official mainland China holiday schedule is
known (lunar-go's table and the holiday files, config/holidays/cn/<year>.json),
the last day covered, and the years read from files. Beyond that day, CN
deadlines are estimated by counting Monday to Friday only.

--holidays DIR checks a directory of holiday files (a new notice before it is
bundled): an invalid file is reported with its name and exits 2.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := loadCalendar("calendar coverage", dir)
			if err != nil {
				return err
			}
			first, last := c.Coverage()
			files := "none"
			if ys := c.FileYears(); len(ys) > 0 {
				files = strings.Trim(fmt.Sprint(ys), "[]")
			}
			_, err = fmt.Fprintf(s.out, "covered years: %d–%d\ndata ends:     %s\nholiday files: %s\n", first, last, c.DataEnds(), files)
			return err
		},
	}
	holidaysFlag(cmd, &dir)
	return cmd
}

// newCalendarDueCmd is "dsr calendar due --from YYYY-MM-DD [--jurisdiction CN|GDPR|CCPA] [--working-days N] [--holidays DIR]".
// It prints the due date as YYYY-MM-DD and nothing else on stdout.
//
// --working-days applies to CN only; with GDPR or CCPA it is a usage error
// (their periods are calendar months and days fixed by law, not working days).
// A CN count that needs a year the holiday data does not cover is an
// estimate, Monday to Friday only: the date is printed, a warning goes to
// stderr, and the exit code is still 0.
func newCalendarDueCmd(s *streams) *cobra.Command {
	var from, jurisdiction, holidayDir string
	var workingDays int
	cmd := &cobra.Command{
		Use:   "due --from YYYY-MM-DD [--jurisdiction CN|GDPR|CCPA] [--working-days N]",
		Short: "Print the reply due date for a request verified (CN) or received (GDPR, CCPA) on --from",
		Long: `Print the last day to reply, as YYYY-MM-DD.

CN:   --working-days (default 15) mainland China working days after --from, the
      day identity was verified, counting from the next day; official holidays
      are skipped and 调休 make-up weekend days count as working days. In a
      year with no official schedule yet, Monday to Friday count: the date
      is an estimate and a warning says so on stderr.
GDPR: one calendar month after --from (the day the request was received),
      clamped to the end of a shorter month (Jan 31 -> Feb 28).
CCPA: 45 calendar days after --from.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			start, err := workday.ParseDate(from)
			if err != nil {
				return usageErrorf("calendar due: --from: %w", err)
			}
			j, err := workday.ParseJurisdiction(jurisdiction)
			if err != nil {
				return usageErrorf("calendar due: --jurisdiction: %w", err)
			}
			rule, err := workday.RuleFor(j)
			if err != nil {
				return usageErrorf("calendar due: %w", err)
			}
			if cmd.Flags().Changed("working-days") {
				if j != workday.CN {
					return usageErrorf("calendar due: --working-days applies only to --jurisdiction CN, not %s", j)
				}
				rule.Period = workingDays
			}
			if err := rule.Validate(); err != nil {
				return usageErrorf("calendar due: --working-days %d: must be between 1 and 366", workingDays)
			}
			cal, err := loadCalendar("calendar due", holidayDir)
			if err != nil {
				return err
			}
			due, err := cal.Due(rule, start)
			if err != nil {
				return fmt.Errorf("calendar due: %w", err)
			}
			if _, err := fmt.Fprintln(s.out, due.Date); err != nil {
				return err
			}
			if due.Estimated {
				fmt.Fprintf(s.err, "dsr: warning: no official mainland China holiday schedule for %d (the data ends %s): %s is an estimate counting Monday to Friday only; add the State Council's schedule as config/holidays/cn/%d.json\n",
					due.MissingYear, cal.DataEnds(), due.Date, due.MissingYear)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "start date, YYYY-MM-DD (CN: the day identity was verified; GDPR/CCPA: the day the request was received)")
	f.StringVar(&jurisdiction, "jurisdiction", string(workday.CN), "deadline rule: CN, GDPR or CCPA")
	f.IntVar(&workingDays, "working-days", 15, "working days to count (CN only)")
	holidaysFlag(cmd, &holidayDir)
	_ = cmd.MarkFlagRequired("from")
	return cmd
}
