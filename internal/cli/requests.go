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
	"dsrflow/internal/operator"
	"dsrflow/internal/store"
	"dsrflow/internal/workday"
	"dsrflow/internal/workflow"
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
	// WaitingFor names what waits for a person ("" when nothing does):
	// the operator's decision of a stage (verification, identity, review;
	// dsr verify|identity|review answers it), or escalated partners or
	// backups (dsr retry, dsr settle).
	WaitingFor string `json:"waitingFor"`
}

// What waits for a person, in requestRow.WaitingFor.
const (
	waitsPartners = "partners"
	waitsBackups  = "backups"
)

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
	var asJSON, waiting bool
	cmd := &cobra.Command{
		Use:   "list [--waiting] [--status S[,S...]] [--due-before YYYY-MM-DD|RFC3339] [--limit N] [--json]",
		Short: "list requests: every open one by due date, what waits for a person, or given statuses",
		Long: "list prints one line per request: ID, KIND, STATUS, WAITS (what waits for a person, - for\n" +
			"nothing), CHANNEL, CREATED and DUE (China time; DUE is the reply's last day) and LATE for an open\n" +
			"request past its due date. No personal data is read or shown. --json prints an array of\n" +
			"{id, kind, status, waitingFor, channel, createdAt, dueAt, late}.\n" +
			"\n" +
			"Without --status it lists every open request, earliest due first and those without a due date\n" +
			"yet (identity not verified) last, from the open-requests index (GSI2): no Scan. WAITS names\n" +
			"what a person must do: verification, identity or review (an operator's decision: dsr verify,\n" +
			"dsr identity, dsr review), partners (an escalated partner: dsr retry, dsr settle) or backups\n" +
			"(an escalated backup confirmation: dsr retry). --waiting lists only those.\n" +
			"\n" +
			"Open statuses are answered from the same index. A closed status (completed, refused, expired,\n" +
			"duplicate) needs a Scan of the whole table, filtered and projected: it reads every item of the\n" +
			"table (requests, audit events, partner tasks), costing half a read capacity unit per 4 KB,\n" +
			"however few requests match. The items read and the capacity used are reported on stderr.\n" +
			"Scanned requests are sorted by due date (none last), then creation.\n" +
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
			if waiting && len(statuses) > 0 {
				return usageErrorf("requests list: --waiting lists open requests that wait for a person; it takes no --status")
			}
			cl, err := newRequestClients(ctx, table)
			if err != nil {
				return err
			}
			now := time.Now()
			var rows []requestRow
			var more bool
			if allOpen(statuses) {
				rows, more, err = listOpen(ctx, cl.st, statuses, before, limit, waiting)
			} else {
				var scanned int
				var units float64
				var reqs []dsr.Request
				reqs, more, scanned, units, err = listScanned(ctx, cl.st, statuses, before, limit)
				if err == nil {
					fmt.Fprintf(s.err, "note: --status %s needs a Scan of table %s: read %d items, %.1f read capacity units\n",
						joinStatuses(statuses), cl.table, scanned, units)
					rows, err = rowsOf(ctx, cl.st, reqs)
				}
			}
			if err != nil {
				return err
			}
			for i := range rows {
				rows[i].Late = rows[i].Status.Open() && rows[i].DueAt != nil && now.After(*rows[i].DueAt)
			}
			if rows == nil {
				rows = []requestRow{}
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
	cmd.Flags().BoolVar(&waiting, "waiting", false, "only open requests that wait for a person (an operator's decision, escalated partners or backups)")
	cmd.Flags().StringVar(&statusFlag, "status", "", "only these statuses, comma-separated (default: every open request)")
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

// allOpen reports whether every status is open (none: any open status):
// the open-requests index answers them.
func allOpen(statuses []dsr.Status) bool {
	for _, st := range statuses {
		if !st.Open() {
			return false
		}
	}
	return true
}

// listOpen lists open requests in statuses (any when empty) from the
// open-requests index, earliest due first and those without a due date last;
// with a due bound only those due before it (ListOpenByDue, paged), with
// waiting only those that wait for a person. It returns at most limit rows
// and whether more matched.
func listOpen(ctx context.Context, st *store.Store, statuses []dsr.Status, before time.Time, limit int, waiting bool) ([]requestRow, bool, error) {
	var reqs []dsr.Request
	if before.IsZero() {
		all, err := st.ListOpen(ctx)
		if err != nil {
			return nil, false, err
		}
		reqs = all
	} else {
		cursor := ""
		for {
			page, err := st.ListOpenByDue(ctx, before, limit+1, cursor)
			if err != nil {
				return nil, false, err
			}
			reqs = append(reqs, page.Requests...)
			if page.Next == "" {
				break
			}
			cursor = page.Next
		}
	}
	var out []requestRow
	for _, r := range reqs {
		if len(statuses) > 0 && !slices.Contains(statuses, r.Status) {
			continue
		}
		if waiting && r.Status != dsr.StatusInReview && r.Status != dsr.StatusEscalated {
			continue
		}
		row, err := rowOf(ctx, st, r)
		if err != nil {
			return nil, false, err
		}
		if waiting && row.WaitingFor == "" {
			continue
		}
		if len(out) == limit {
			return out, true, nil
		}
		out = append(out, row)
	}
	return out, false, nil
}

// rowsOf makes the rows of reqs.
func rowsOf(ctx context.Context, st *store.Store, reqs []dsr.Request) ([]requestRow, error) {
	out := make([]requestRow, 0, len(reqs))
	for _, r := range reqs {
		row, err := rowOf(ctx, st, r)
		if err != nil {
			return nil, err
		}
		out = append(out, row)
	}
	return out, nil
}

// rowOf is r's row, with what waits for a person.
func rowOf(ctx context.Context, st *store.Store, r dsr.Request) (requestRow, error) {
	row := requestRow{ID: r.ID, Kind: r.Kind, Status: r.Status, Channel: r.Channel, CreatedAt: r.CreatedAt, DueAt: r.DueAt}
	w, err := waitingFor(ctx, st, r)
	if err != nil {
		return requestRow{}, fmt.Errorf("request %s: %w", r.ID, err)
	}
	row.WaitingFor = w
	return row, nil
}

// waitingFor says what of request r waits for a person: an operator's
// decision (in_review: the stage whose wait has a task token and no
// decision), the backup confirmation or partners (escalated); "" for
// nothing. It reads a few items of r only.
func waitingFor(ctx context.Context, st *store.Store, r dsr.Request) (string, error) {
	switch r.Status {
	case dsr.StatusInReview:
		for _, stage := range []operator.Stage{operator.StageVerification, operator.StageIdentity, operator.StageReview} {
			w, err := st.GetOperatorWait(ctx, r.ID, string(stage))
			if err != nil {
				return "", err
			}
			if w != nil && w.TaskToken != "" && w.Decided == nil {
				return string(stage), nil
			}
		}
	case dsr.StatusEscalated:
		tok, err := st.TaskToken(ctx, r.ID, workflow.BackupsWait)
		if err != nil {
			return "", err
		}
		if tok != "" {
			return waitsBackups, nil
		}
		tasks, err := st.ListPartnerTasks(ctx, r.ID)
		if err != nil {
			return "", err
		}
		for _, t := range tasks {
			if t.Status == store.PartnerFailed || t.Status == store.PartnerEscalated {
				return waitsPartners, nil
			}
		}
	}
	return "", nil
}

// listScanned scans the table for requests in statuses, due before before
// (when set), sorted by due date (none last), creation and ID; it returns at
// most limit of them, whether more matched, and what the Scan read.
func listScanned(ctx context.Context, st *store.Store, statuses []dsr.Status, before time.Time, limit int) (reqs []dsr.Request, more bool, scanned int, units float64, err error) {
	q := store.StatusQuery{Statuses: statuses}
	for {
		page, err := st.ScanByStatus(ctx, q)
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
		fmt.Fprintln(w, "ID\tKIND\tSTATUS\tWAITS\tCHANNEL\tCREATED\tDUE\tLATE")
		for _, r := range rows {
			due := "-"
			if r.DueAt != nil {
				due = r.DueAt.In(workday.ChinaTime).Format(time.DateOnly)
			}
			late := ""
			if r.Late {
				late = "LATE"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Kind, r.Status, dash(r.WaitingFor), r.Channel,
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
