package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"dsrflow/internal/anchor"
	"dsrflow/internal/anchor/s3anchor"
)

// newAuditCmd is `dsr audit verify [--since D] [--bucket B | --dir D]`:
// the audit chains in the table against the anchors kept outside it
// (internal/anchor).
func newAuditCmd(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "check the audit chains in the table against their anchors",
	}
	cmd.AddCommand(newAuditVerifyCmd(s), newAuditBackfillCmd(s))
	return cmd
}

// newAuditBackfillCmd is `dsr audit backfill`: once, after anchors are
// introduced, it puts every chain never anchored into the store's index of
// unanchored chains, so the next daily anchor takes them (a Scan of the
// table, page by page).
func newAuditBackfillCmd(s *streams) *cobra.Command {
	var table string
	cmd := &cobra.Command{
		Use:   "backfill",
		Short: "mark every audit chain never anchored (written before anchors existed) for the next anchor",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cl, err := newRequestClients(ctx, table)
			if err != nil {
				return err
			}
			marked, scanned, cursor := 0, 0, ""
			for {
				page, err := cl.st.BackfillUnanchored(ctx, cursor, 0)
				if err != nil {
					return err
				}
				marked, scanned = marked+page.Marked, scanned+page.Scanned
				if cursor = page.Next; cursor == "" {
					break
				}
			}
			fmt.Fprintf(s.err, "%d audit chains marked for the next anchor (%d items read)\n", marked, scanned)
			return nil
		},
	}
	tableFlag(cmd, &table)
	return cmd
}

func newAuditVerifyCmd(s *streams) *cobra.Command {
	var table, bucket, dir, since string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "verify [--since YYYY-MM-DD] [--bucket NAME | --dir PATH]",
		Short: "name every request whose audit chain was rewritten, truncated or deleted after it was anchored",
		Long: "verify reads the audit anchors (the heads of the audit chains, written once a day and when a\n" +
			"request closes to an Object Lock bucket, or to a folder locally), re-reads every anchored chain\n" +
			"in the table and names each request whose chain no longer holds an anchored event as it was:\n" +
			"rewritten, truncated or deleted, or broken after its last anchor; and any object among the\n" +
			"anchors that is not a valid anchor. Exit 0 when everything matches, 1 with the list otherwise.\n" +
			"\n" +
			"--since reads only the anchors written from that date (UTC) on. The anchors come from --bucket\n" +
			"(default $ANCHOR_BUCKET) or --dir (default $ANCHOR_DIR).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var from time.Time
			if since != "" {
				t, err := parseSince(since)
				if err != nil {
					return err
				}
				from = t
			}
			cl, err := newRequestClients(ctx, table)
			if err != nil {
				return err
			}
			var src anchor.Source
			var where string
			if bucket == "" && dir == "" {
				if bucket = os.Getenv("ANCHOR_BUCKET"); bucket == "" {
					dir = os.Getenv("ANCHOR_DIR")
				}
			}
			switch {
			case bucket != "":
				src, where = s3anchor.Open(cl.aws, bucket, os.Getenv("S3_USE_PATH_STYLE") == "true"), "s3://"+bucket+"/"+s3anchor.Prefix
			case dir != "":
				src, where = anchor.Dir{Path: dir}, dir
			default:
				return usageErrorf("no anchors: pass --bucket or --dir, or set ANCHOR_BUCKET or ANCHOR_DIR")
			}
			rep, err := anchor.Verify(ctx, anchor.VerifyConfig{Since: from}, src, cl.st)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				for _, f := range rep.Findings {
					fmt.Fprintf(s.out, "%s\t%s\tanchored event #%d (%s): %s\n", f.RequestID, f.Kind, f.AnchoredSeq, f.Anchor, f.Detail)
				}
				for _, b := range rep.BadAnchors {
					fmt.Fprintf(s.out, "anchor %s\tinvalid: %s\n", b.Name, b.Problem)
				}
			}
			if rep.Anchors == 0 && len(rep.BadAnchors) == 0 {
				fmt.Fprintf(s.err, "no anchors in %s%s\n", where, sinceText(rep))
			}
			if !rep.OK() {
				return failuref("%d requests' audit chains do not match their anchors, %d invalid anchors (%d chains, %d anchors in %s%s)",
					len(rep.Findings), len(rep.BadAnchors), rep.Chains, rep.Anchors, where, sinceText(rep))
			}
			fmt.Fprintf(s.err, "audit chains match their anchors: %d chains, %d anchors in %s%s\n", rep.Chains, rep.Anchors, where, sinceText(rep))
			return nil
		},
	}
	tableFlag(cmd, &table)
	cmd.Flags().StringVar(&bucket, "bucket", "", "the anchor bucket (default $ANCHOR_BUCKET)")
	cmd.Flags().StringVar(&dir, "dir", "", "the anchor folder of the local stack (default $ANCHOR_DIR)")
	cmd.Flags().StringVar(&since, "since", "", "read only the anchors written on or after this date (YYYY-MM-DD, UTC, or RFC 3339)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.MarkFlagsMutuallyExclusive("bucket", "dir")
	return cmd
}

// parseSince reads --since: a date (UTC midnight) or an RFC 3339 time.
func parseSince(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, usageErrorf("--since: want YYYY-MM-DD or an RFC 3339 time")
}

func sinceText(rep anchor.Report) string {
	if rep.Since == nil {
		return ""
	}
	return " since " + rep.Since.Format(time.RFC3339)
}
