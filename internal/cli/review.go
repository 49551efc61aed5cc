package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"dsrflow/internal/dsr"
	"dsrflow/internal/operator"
	"dsrflow/internal/store"
)

// newReviewCmd is `dsr review approve|refuse ID --reason …`: an operator's
// decision on a request sent to manual review (repeat requests beyond the
// limit: answer, perhaps for a fee, or refuse; policy 五.5).
func newReviewCmd(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "review",
		Short: "approve or refuse a request waiting for manual review",
	}
	cmd.AddCommand(
		newDecisionCmd(s, operator.StageReview, true),
		newDecisionCmd(s, operator.StageReview, false),
	)
	return cmd
}

// reasonCodes lists the refusal reason codes for help and errors.
func reasonCodes() string {
	var out []string
	for _, r := range dsr.RefusalReasons() {
		out = append(out, string(r))
	}
	return strings.Join(out, ", ")
}

// newDecisionCmd builds `approve ID` or `refuse ID` for a stage. Approve
// takes --reason as a note of what was checked (no personal data: it goes
// into the audit trail); refuse takes --reason as a refusal reason code,
// which the requester is told in their language.
func newDecisionCmd(s *streams, stage operator.Stage, approve bool) *cobra.Command {
	var table, reason, actor string
	use, short := "approve ID", "approve: the workflow goes on"
	if !approve {
		use, short = "refuse ID --reason CODE", "refuse with a reason code: the requester is told the reason"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long: short + ".\n\nrefuse takes --reason as one of: " + reasonCodes() + ".\n" +
			"approve takes --reason as a short note of what was checked (it is kept in the audit trail;\n" +
			"write no personal data). The decision is sent to the waiting workflow with SendTaskSuccess.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			id := args[0]
			d := operator.Decision{RequestID: id, Stage: stage, Approve: approve, Actor: actor}
			if approve {
				d.Note = reason
			} else {
				if reason == "" {
					return usageErrorf("refuse needs --reason CODE, one of: %s", reasonCodes())
				}
				d.Reason = dsr.RefusalReason(reason)
				if !d.Reason.Valid() {
					return usageErrorf("unknown refusal reason %q; use one of: %s", reason, reasonCodes())
				}
			}
			if d.Actor == "" {
				d.Actor = os.Getenv("USER")
			}
			if d.Actor == "" {
				return usageErrorf("no operator: pass --operator")
			}
			cl, err := newRequestClients(ctx, table)
			if err != nil {
				return err
			}
			st := store.New(cl.db, cl.table)
			r, err := getRequest(ctx, st, cl.table, id)
			if err != nil {
				return err
			}
			svc := &operator.Service{DB: cl.db, Table: cl.table, SFN: cl.sfn, Events: st}
			err = svc.Decide(ctx, d)
			switch {
			case errors.Is(err, operator.ErrInvalid):
				return usageErrorf("%v", err)
			case errors.Is(err, operator.ErrNotWaiting):
				return failuref("request %s (status %s) is not waiting for a %s decision", id, r.Status, stage)
			case errors.Is(err, operator.ErrAlreadyDecided):
				return failuref("%v", err)
			case err != nil:
				return err
			}
			verb := "approved"
			if !approve {
				verb = "refused (" + reason + ")"
			}
			fmt.Fprintf(s.out, "%s %s: %s\n", stage, id, verb)
			return nil
		},
	}
	tableFlag(cmd, &table)
	cmd.Flags().StringVar(&reason, "reason", "", "refuse: a refusal reason code; approve: a note of what was checked")
	cmd.Flags().StringVar(&actor, "operator", "", "operator ID recorded in the audit trail (default $USER)")
	return cmd
}
