package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/spf13/cobra"

	"dsrflow/internal/dsr"
	"dsrflow/internal/principal"
	"dsrflow/internal/store"
	"dsrflow/internal/workday"
)

// requestClients are the AWS clients of the request commands (show, verify,
// review, retry, hold, ...), from the standard AWS configuration:
// AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_SFN point them at the local
// stack. Commands that change something record the caller's IAM principal
// as the actor (principal.Resolve), never a name typed on the command line.
type requestClients struct {
	st    *store.Store
	sfn   *sfn.Client
	table string
	aws   aws.Config
}

// actor is the audit actor of a change: "operator:<principal ARN>".
func (c *requestClients) actor(ctx context.Context) (string, error) {
	p, err := principal.Resolve(ctx, c.aws, nil)
	if err != nil {
		return "", err
	}
	return p.Actor(), nil
}

// tableFlag adds --table (default $DSR_TABLE) to a command.
func tableFlag(cmd *cobra.Command, table *string) {
	cmd.Flags().StringVar(table, "table", "", "DynamoDB table of requests (default $DSR_TABLE)")
}

func newRequestClients(ctx context.Context, table string) (*requestClients, error) {
	if table == "" {
		table = os.Getenv("DSR_TABLE")
	}
	if table == "" {
		return nil, usageErrorf("no table: pass --table or set DSR_TABLE")
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	return &requestClients{st: store.Open(cfg, store.Config{Table: table}, nil), sfn: sfn.NewFromConfig(cfg), table: table, aws: cfg}, nil
}

// getRequest reads a request; a missing one is a failure (exit 1) naming the table.
func getRequest(ctx context.Context, st *store.Store, table, id string) (*dsr.Request, error) {
	r, err := st.GetRequest(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, failuref("request %s not found in table %s", id, table)
	}
	return r, err
}

// showOutput is `dsr show --json`.
type showOutput struct {
	Request *dsr.Request  `json:"request"`
	Late    bool          `json:"late"`
	Events  []store.Event `json:"events"`
	// Partners are the request's partner tasks (fan-out results); no personal data.
	Partners []store.PartnerTask `json:"partners"`
	Chain    store.ChainReport   `json:"chain"`
	ChainOK  bool                `json:"chainOk"`
}

func newShowCmd(s *streams) *cobra.Command {
	var table string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "print a request's timeline, status and due date, and check its audit chain",
		Long: "show prints a request's current status, due date, its partners (each partner's action,\n" +
			"status, attempts, last error code and receipt) and timeline (its audit events: time,\n" +
			"actor, what changed), then whether the audit hash chain verifies. It exits 1 when the chain\n" +
			"is broken, naming the event where it breaks. Personal data (contact, details) is never shown.\n" +
			"--json prints {request, late, events, partners, chain, chainOk}.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cl, err := newRequestClients(ctx, table)
			if err != nil {
				return err
			}
			id := args[0]
			st := cl.st
			r, err := getRequest(ctx, st, cl.table, id)
			if err != nil {
				return err
			}
			events, err := st.ListEvents(ctx, id)
			if err != nil {
				return err
			}
			partners, err := st.ListPartnerTasks(ctx, id)
			if err != nil {
				return err
			}
			rep, err := st.VerifyChain(ctx, id)
			if err != nil {
				return err
			}
			out := showOutput{Request: r, Events: events, Partners: partners, Chain: rep, ChainOK: rep.OK()}
			out.Late = r.Status.Open() && r.DueAt != nil && time.Now().After(*r.DueAt)
			if out.Events == nil {
				out.Events = []store.Event{}
			}
			if out.Partners == nil {
				out.Partners = []store.PartnerTask{}
			}
			if asJSON {
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(out); err != nil {
					return err
				}
			} else {
				printShow(s, out)
			}
			if !rep.OK() {
				p := rep.Problems[0]
				return failuref("audit chain of %s is broken at event #%d: %s", id, p.Seq, p.Reason)
			}
			return nil
		},
	}
	tableFlag(cmd, &table)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.In(workday.ChinaTime).Format("2006-01-02 15:04:05 CST")
}

func printShow(s *streams, o showOutput) {
	r := o.Request
	w := tabwriter.NewWriter(s.out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "request\t%s\n", r.ID)
	fmt.Fprintf(w, "kind\t%s\n", r.Kind)
	fmt.Fprintf(w, "status\t%s\n", r.Status)
	fmt.Fprintf(w, "channel / role / locale\t%s / %s / %s\n", r.Channel, r.Role, r.Locale)
	fmt.Fprintf(w, "created\t%s\n", fmtTime(&r.CreatedAt))
	fmt.Fprintf(w, "verified\t%s\n", fmtTime(r.VerifiedAt))
	due := fmtTime(r.DueAt)
	if o.Late {
		due += "  LATE"
	}
	fmt.Fprintf(w, "due\t%s\n", due)
	if r.RefusalReason != "" {
		fmt.Fprintf(w, "refusal reason\t%s (policy %s)\n", r.RefusalReason, r.RefusalReason.Policy())
	}
	if r.LinkedRequestID != "" {
		fmt.Fprintf(w, "duplicate of\t%s\n", r.LinkedRequestID)
	}
	if r.ClosedAt != nil {
		fmt.Fprintf(w, "closed\t%s\n", fmtTime(r.ClosedAt))
	}
	if r.PersonalPurgedAt != nil {
		fmt.Fprintf(w, "contact details\tcontact details purged on %s\n", r.PersonalPurgedAt.In(workday.ChinaTime).Format("2006-01-02"))
	}
	w.Flush()
	fmt.Fprintln(s.out)
	if len(o.Partners) > 0 {
		fmt.Fprintln(s.out, "partners:")
		w = tabwriter.NewWriter(s.out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "  PARTNER\tACTION\tSTATUS\tATTEMPTS\tLAST ERROR\tRECEIPT\tCOMPLETED")
		for _, p := range o.Partners {
			fmt.Fprintf(w, "  %s\t%s\t%s\t%d\t%s\t%s\t%s\n", p.PartnerID, p.Action, p.Status, p.Attempts,
				dash(p.LastError), dash(p.Receipt), fmtTime(p.CompletedAt))
		}
		w.Flush()
		fmt.Fprintln(s.out)
	}
	fmt.Fprintln(s.out, "timeline:")
	w = tabwriter.NewWriter(s.out, 0, 0, 2, ' ', 0)
	for _, e := range o.Events {
		fmt.Fprintf(w, "  #%d\t%s\t%s\t%s\t%s\n", e.Seq, fmtTime(&e.At), e.Actor, e.Type, formatData(e.Data))
	}
	w.Flush()
	fmt.Fprintln(s.out)
	if o.ChainOK {
		fmt.Fprintf(s.out, "audit chain: verified (%d events, head #%d %s)\n", o.Chain.Events, o.Chain.HeadSeq, o.Chain.HeadHash)
		return
	}
	fmt.Fprintf(s.out, "audit chain: BROKEN\n")
	for _, p := range o.Chain.Problems {
		fmt.Fprintf(s.out, "  #%d: %s: %s\n", p.Seq, p.Reason, p.Detail)
	}
}

func formatData(d map[string]string) string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+d[k])
	}
	return strings.Join(parts, " ")
}
