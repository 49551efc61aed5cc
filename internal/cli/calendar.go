package cli

import (
	"errors"
	"fmt"

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
			return usageErrorf("calendar: missing subcommand: want \"dsr calendar due --from YYYY-MM-DD\"")
		},
	}
	cmd.AddCommand(newCalendarDueCmd(s))
	return cmd
}

// newCalendarDueCmd is "dsr calendar due --from YYYY-MM-DD [--jurisdiction CN|GDPR|CCPA] [--working-days N]".
// It prints the due date as YYYY-MM-DD and nothing else.
//
// --working-days applies to CN only; with GDPR or CCPA it is a usage error
// (their periods are calendar months and days fixed by law, not working days).
// A date whose count needs a year the Chinese holiday data does not cover is a
// usage error too (exit 2): the input asks for something that cannot be known yet.
func newCalendarDueCmd(s *streams) *cobra.Command {
	var from, jurisdiction string
	var workingDays int
	cmd := &cobra.Command{
		Use:   "due --from YYYY-MM-DD [--jurisdiction CN|GDPR|CCPA] [--working-days N]",
		Short: "Print the reply due date for a request verified (CN) or received (GDPR, CCPA) on --from",
		Long: `Print the last day to reply, as YYYY-MM-DD.

CN:   --working-days (default 15) mainland China working days after --from, the
      day identity was verified, counting from the next day; official holidays
      are skipped and 调休 make-up weekend days count as working days.
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
			due, err := workday.Due(rule, start)
			if err != nil {
				var ue *workday.UnsupportedYearError
				if errors.As(err, &ue) {
					return usageErrorf("calendar due: %w", err)
				}
				return fmt.Errorf("calendar due: %w", err)
			}
			_, err = fmt.Fprintln(s.out, due)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "start date, YYYY-MM-DD (CN: the day identity was verified; GDPR/CCPA: the day the request was received)")
	f.StringVar(&jurisdiction, "jurisdiction", string(workday.CN), "deadline rule: CN, GDPR or CCPA")
	f.IntVar(&workingDays, "working-days", 15, "working days to count (CN only)")
	_ = cmd.MarkFlagRequired("from")
	return cmd
}
