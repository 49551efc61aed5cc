package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"dsrflow/internal/dsr"
	"dsrflow/internal/operator"
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

// newIdentityCmd is `dsr identity approve|refuse ID`: an operator's decision
// on the subject's identity (identifiers typed that the proof does not
// cover, several accounts, nothing proved about the subject).
func newIdentityCmd(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "identity",
		Short: "approve or refuse the subject's identifiers when they do not match the proof",
		Long: "identity answers a request waiting for an operator's identity decision (dsr requests list\n" +
			"shows WAITS identity): an identifier typed for the subject that the proved contact or the account\n" +
			"system does not cover, several accounts behind one identifier, or no identifier of the subject\n" +
			"proved at all. approve vouches for the identifiers given (check the documents first), and is\n" +
			"refused (exit 1) for a request that names no identifier of the subject: there is nothing to\n" +
			"vouch for. refuse ends the request with a reason code.",
	}
	cmd.AddCommand(
		newDecisionCmd(s, operator.StageIdentity, true),
		newDecisionCmd(s, operator.StageIdentity, false),
	)
	return cmd
}

// causeNoSubjectIdentifier is the cause of an identity wait for a request
// that names no identifier of its subject (workflow's review).
const causeNoSubjectIdentifier = "no_subject_identifier"

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
// which the requester is told in their language. The decision is recorded
// under the caller's IAM principal.
func newDecisionCmd(s *streams, stage operator.Stage, approve bool) *cobra.Command {
	var table, reason string
	use, short := "approve ID", "approve: the workflow goes on"
	if !approve {
		use, short = "refuse ID --reason CODE", "refuse with a reason code: the requester is told the reason"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long: short + ".\n\nrefuse takes --reason as one of: " + reasonCodes() + ".\n" +
			"approve takes --reason as a short note of what was checked (it is kept in the audit trail;\n" +
			"write no personal data). The decision is sent to the waiting workflow with SendTaskSuccess\n" +
			"and recorded in the audit trail under the caller's IAM principal (STS GetCallerIdentity;\n" +
			"on the local stack, DSR_LOCAL_PRINCIPAL).\n" +
			"\n" +
			"Exit 0 when the decision was sent, 1 when the request does not wait for this decision or it\n" +
			"was already made, 2 for bad arguments, 3 when AWS fails.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			id := args[0]
			if err := checkOperatorFlag(cmd); err != nil {
				return err
			}
			d := operator.Decision{RequestID: id, Stage: stage, Approve: approve}
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
			cl, err := newRequestClients(ctx, table)
			if err != nil {
				return err
			}
			r, err := getRequest(ctx, cl.st, cl.table, id)
			if err != nil {
				return err
			}
			if stage == operator.StageIdentity && approve {
				w, err := cl.st.GetOperatorWait(ctx, id, string(stage))
				if err != nil {
					return err
				}
				// Approving vouches for the identifiers given for the
				// subject; with none, the review would only ask again.
				if w != nil && w.Decided == nil && w.Cause == causeNoSubjectIdentifier {
					return failuref("request %s names no identifier of the subject: an approval would vouch for nothing; refuse it with a reason code (or amend the subject's identifiers first)", id)
				}
			}
			p, err := cl.operatorPrincipal(ctx)
			if err != nil {
				return err
			}
			// operator.Decide records "operator:" + Actor.
			d.Actor = p.ARN
			svc := operator.New(operator.Deps{Store: cl.st, SFN: cl.sfn})
			err = svc.Decide(ctx, d)
			switch {
			case errors.Is(err, operator.ErrInvalid):
				return usageErrorf("%v", err)
			case errors.Is(err, operator.ErrNotWaiting):
				return failuref("request %s (status %s) is not waiting for a decision on %s", id, r.Status, stage)
			case errors.Is(err, operator.ErrAlreadyDecided):
				return failuref("%v", err)
			case err != nil:
				return err
			}
			verb := "approved"
			if !approve {
				verb = "refused (" + reason + ")"
			}
			fmt.Fprintf(s.out, "%s %s: %s by %s\n", stage, id, verb, p.Actor())
			return nil
		},
	}
	tableFlag(cmd, &table)
	cmd.Flags().StringVar(&reason, "reason", "", "refuse: a refusal reason code; approve: a note of what was checked")
	operatorFlagGone(cmd)
	return cmd
}
