package cli

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"dsrflow/internal/dsr"
	"dsrflow/internal/store"
	"dsrflow/internal/workday"
)

// requestRow is one line of `dsr requests list` and one object of its
// --json array: IDs, kinds, statuses and dates, never personal data.
type requestRow struct {
	ID        string      `json:"id"`
	Kind      dsr.Kind    `json:"kind"`
	Status    dsr.Status  `json:"status"`
	Channel   dsr.Channel `json:"channel"`
	CreatedAt time.Time   `json:"createdAt"`
	DueAt     *time.Time  `json:"dueAt"`
	// Late: still open and past its due date.
	Late bool `json:"late"`
}

// indexedStatuses are the statuses the open-by-due index (GSI2) answers in
// full: open, and always with a due date (the review sets it before a request
// moves on). Other statuses need a Scan.
var indexedStatuses = []dsr.Status{dsr.StatusInProgress, dsr.StatusReplied, dsr.StatusAwaitingBackupRotation, dsr.StatusEscalated}

// requestsDefaultLimit is --limit's default.
const requestsDefaultLimit = 100

func newRequestsCmd(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "requests",
		Short: "list data-subject requests",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usageErrorf("requests: missing subcommand: want \"dsr requests list\"")
		},
	}
	cmd.AddCommand(newRequestsListCmd(s))
	return cmd
}

func statusNames() string {
	var out []string
	for _, st := range dsr.Statuses() {
		out = append(out, string(st))
	}
	return strings.Join(out, ", ")
}

func newRequestsListCmd(s *streams) *cobra.Command {
	var table, statusFlag, dueBefore string
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--status S[,S...]] [--due-before YYYY-MM-DD|RFC3339] [--limit N] [--json]",
		Short: "list requests: open ones by due date, or those in given statuses",
		Long: "list prints one line per request: ID, KIND, STATUS, CHANNEL, CREATED and DUE (China time;\n" +
			"DUE is the reply's last day) and LATE for an open request past its due date. No personal data\n" +
			"is read or shown. --json prints an array of {id, kind, status, channel, createdAt, dueAt, late}.\n" +
			"\n" +
			"Without --status it lists the open requests that have a due date (identity verified), earliest\n" +
			"due first, from the open-by-due index (GSI2): a cheap Query. These statuses are answered from\n" +
			"the same index: " + joinStatuses(indexedStatuses) + ".\n" +
			"\n" +
			"Any other status (completed, refused, expired, duplicate, and received, awaiting_verification\n" +
			"and in_review, which may have no due date yet) needs a Scan of the whole table, filtered and\n" +
			"projected: it reads every item of the table (requests, audit events, partner tasks), costing\n" +
			"half a read capacity unit per 4 KB, however few requests match. The items read and the capacity\n" +
			"used are reported on stderr. Scanned requests are sorted by due date (none last), then creation.\n" +
			"\n" +
			"--due-before keeps requests due strictly before a moment: YYYY-MM-DD is that day's start in\n" +
			"China time, or give an RFC 3339 time. --limit caps the lines (default 100); stderr says when\n" +
			"more matched.\n" +
			"\n" +
			"Statuses: " + statusNames() + ".\n" +
			"\n" +
			"Exit 0 on success (even with no match), 2 for a bad status, date or limit, 3 when DynamoDB\n" +
			"cannot be reached (the error names the endpoint). The table is --table or $DSR_TABLE.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			statuses, err := parseStatuses(statusFlag)
			if err != nil {
				return err
			}
			before, err := parseDueBefore(dueBefore)
			if err != nil {
				return err
			}
			if limit < 1 {
				return usageErrorf("requests list: --limit %d, want at least 1", limit)
			}
			cl, err := newRequestClients(ctx, table)
			if err != nil {
				return err
			}
			now := time.Now()
			var reqs []dsr.Request
			var more bool
			if len(statuses) == 0 || allIndexed(statuses) {
				reqs, more, err = listOpenIndexed(ctx, store.New(cl.db, cl.table), statuses, before, limit)
			} else {
				var scanned int
				var units float64
				reqs, more, scanned, units, err = listScanned(ctx, cl.db, cl.table, statuses, before, limit)
				if err == nil {
					fmt.Fprintf(s.err, "note: --status %s needs a Scan of table %s: read %d items, %.1f read capacity units\n",
						joinStatuses(statuses), cl.table, scanned, units)
				}
			}
			if err != nil {
				return err
			}
			rows := make([]requestRow, 0, len(reqs))
			for _, r := range reqs {
				rows = append(rows, requestRow{
					ID: r.ID, Kind: r.Kind, Status: r.Status, Channel: r.Channel, CreatedAt: r.CreatedAt, DueAt: r.DueAt,
					Late: r.Status.Open() && r.DueAt != nil && now.After(*r.DueAt),
				})
			}
			if more {
				fmt.Fprintf(s.err, "note: showing the first %d; more requests match (raise --limit)\n", limit)
			}
			if asJSON {
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			return printRequestRows(s, rows)
		},
	}
	tableFlag(cmd, &table)
	cmd.Flags().StringVar(&statusFlag, "status", "", "only these statuses, comma-separated (default: open requests with a due date)")
	cmd.Flags().StringVar(&dueBefore, "due-before", "", "only requests due strictly before YYYY-MM-DD (China time) or an RFC 3339 time")
	cmd.Flags().IntVar(&limit, "limit", requestsDefaultLimit, "print at most N requests")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	return cmd
}

func joinStatuses(ss []dsr.Status) string {
	out := make([]string, len(ss))
	for i, st := range ss {
		out[i] = string(st)
	}
	return strings.Join(out, ",")
}

// parseStatuses reads --status: known statuses, comma-separated, each once.
func parseStatuses(v string) ([]dsr.Status, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	var out []dsr.Status
	for p := range strings.SplitSeq(v, ",") {
		st := dsr.Status(strings.TrimSpace(p))
		if st == "" {
			return nil, usageErrorf("requests list: --status %q has an empty entry; use one or more of: %s", v, statusNames())
		}
		if !st.Valid() {
			return nil, usageErrorf("requests list: unknown status %q; use one or more of: %s", st, statusNames())
		}
		if !slices.Contains(out, st) {
			out = append(out, st)
		}
	}
	return out, nil
}

// parseDueBefore reads --due-before: a date (the start of that day in China
// time) or an RFC 3339 time. Empty is the zero time: no bound.
func parseDueBefore(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, v, workday.ChinaTime); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	return time.Time{}, usageErrorf("requests list: --due-before %q is neither a date YYYY-MM-DD nor an RFC 3339 time (2026-03-20T18:00:00+08:00)", v)
}

func allIndexed(statuses []dsr.Status) bool {
	for _, st := range statuses {
		if !slices.Contains(indexedStatuses, st) {
			return false
		}
	}
	return true
}

// noDueBound stands for "no --due-before" in the index query: later than any
// due date.
var noDueBound = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// listOpenIndexed pages through the open-by-due index until it has limit
// requests in statuses (any open status when empty), and says whether more
// follow.
func listOpenIndexed(ctx context.Context, st *store.Store, statuses []dsr.Status, before time.Time, limit int) ([]dsr.Request, bool, error) {
	if before.IsZero() {
		before = noDueBound
	}
	var out []dsr.Request
	cursor := ""
	for {
		// One more than needed tells whether more follow.
		page, err := st.ListOpenByDue(ctx, before, limit+1-len(out), cursor)
		if err != nil {
			return nil, false, err
		}
		for _, r := range page.Requests {
			if len(statuses) == 0 || slices.Contains(statuses, r.Status) {
				out = append(out, r)
			}
		}
		if len(out) > limit {
			return out[:limit], true, nil
		}
		if page.Next == "" {
			return out, false, nil
		}
		cursor = page.Next
	}
}

// listScanned scans the table for requests in statuses, due before before
// (when set), sorted by due date (none last), creation and ID; it returns at
// most limit of them, whether more matched, and what the Scan read.
func listScanned(ctx context.Context, db store.Scanner, table string, statuses []dsr.Status, before time.Time, limit int) (reqs []dsr.Request, more bool, scanned int, units float64, err error) {
	q := store.StatusQuery{Statuses: statuses}
	for {
		page, err := store.ScanByStatus(ctx, db, table, q)
		if err != nil {
			return nil, false, 0, 0, err
		}
		scanned += page.Scanned
		units += page.CapacityUnits
		for _, r := range page.Requests {
			if before.IsZero() || (r.DueAt != nil && r.DueAt.Before(before)) {
				reqs = append(reqs, r)
			}
		}
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	slices.SortFunc(reqs, func(a, b dsr.Request) int {
		switch {
		case a.DueAt == nil && b.DueAt != nil:
			return 1
		case a.DueAt != nil && b.DueAt == nil:
			return -1
		case a.DueAt != nil && b.DueAt != nil:
			if c := a.DueAt.Compare(*b.DueAt); c != 0 {
				return c
			}
		}
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	if len(reqs) > limit {
		return reqs[:limit], true, scanned, units, nil
	}
	return reqs, false, scanned, units, nil
}

func printRequestRows(s *streams, rows []requestRow) error {
	if len(rows) == 0 {
		_, err := fmt.Fprintln(s.out, "no requests")
		return err
	}
	return writeAligned(s.out, func(w io.Writer) {
		fmt.Fprintln(w, "ID\tKIND\tSTATUS\tCHANNEL\tCREATED\tDUE\tLATE")
		for _, r := range rows {
			due := "-"
			if r.DueAt != nil {
				due = r.DueAt.In(workday.ChinaTime).Format(time.DateOnly)
			}
			late := ""
			if r.Late {
				late = "LATE"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Kind, r.Status, r.Channel,
				r.CreatedAt.In(workday.ChinaTime).Format("2006-01-02 15:04"), due, late)
		}
	})
}

// writeAligned writes the tab-separated lines fill prints as aligned columns,
// without the padding an empty last column leaves at the end of a line.
func writeAligned(out io.Writer, fill func(w io.Writer)) error {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fill(tw)
	if err := tw.Flush(); err != nil {
		return err
	}
	for line := range strings.Lines(b.String()) {
		if _, err := fmt.Fprintln(out, strings.TrimRight(line, " \n")); err != nil {
			return err
		}
	}
	return nil
}
