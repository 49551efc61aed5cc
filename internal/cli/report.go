package cli

import (
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/spf13/cobra"

	"dsrflow/internal/report"
	"dsrflow/internal/store"
	"dsrflow/internal/workday"
)

// newReportCmd is `dsr report --from D --to D [--json|--csv]`
// (internal/report).
func newReportCmd(s *streams) *cobra.Command {
	var from, to, table string
	var asJSON, asCSV bool
	cmd := &cobra.Command{
		Use:   "report --from YYYY-MM-DD --to YYYY-MM-DD [--json|--csv]",
		Short: "requests received, complied with in whole or in part, refused (by reason), and working days to reply, per month and kind",
		Long: "report counts the requests received from --from to --to (China dates, both included) per month of\n" +
			"receipt and kind: complied with in whole, in part, refused (by reason), closed otherwise, open, and\n" +
			"the median and 95th-percentile Chinese working days from receipt to the first answer (the metrics the\n" +
			"CCPA regulations ask large businesses to publish). It scans the request items once and reads the\n" +
			"audit trail of each answered request: an occasional question, not a monitor. The table is --table\n" +
			"or $DSR_TABLE (or $TABLE_NAME).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := workday.ParseDate(from)
			if err != nil {
				return usageErrorf("--from: %v", err)
			}
			t, err := workday.ParseDate(to)
			if err != nil {
				return usageErrorf("--to: %v", err)
			}
			if t.Before(f) {
				return usageErrorf("--to %s is before --from %s", t, f)
			}
			if table == "" {
				table = os.Getenv("DSR_TABLE")
			}
			if table == "" {
				table = os.Getenv("TABLE_NAME")
			}
			if table == "" {
				return usageErrorf("no table: pass --table or set DSR_TABLE")
			}
			ctx := cmd.Context()
			awsCfg, err := config.LoadDefaultConfig(ctx)
			if err != nil {
				return fmt.Errorf("load AWS configuration: %w", err)
			}
			cal, err := workday.Default()
			if err != nil {
				return err
			}
			rows, err := report.Collect(ctx, store.Open(awsCfg, store.Config{Table: table}, nil), f, t)
			if err != nil {
				return err
			}
			rep := report.Build(rows, f, t, cal)
			switch {
			case asJSON:
				return report.WriteJSON(s.out, rep)
			case asCSV:
				return report.WriteCSV(s.out, rep)
			}
			return report.WriteText(s.out, rep)
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "first day (YYYY-MM-DD, China time)")
	cmd.Flags().StringVar(&to, "to", "", "last day (YYYY-MM-DD, China time)")
	cmd.Flags().StringVar(&table, "table", "", "requests table (default $DSR_TABLE)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&asCSV, "csv", false, "print CSV (one column per refusal reason)")
	cmd.MarkFlagsMutuallyExclusive("json", "csv")
	_ = cmd.MarkFlagRequired("from")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}
