package cli

import (
	"github.com/spf13/cobra"

	"dsrflow/internal/operator"
)

// newVerifyCmd is `dsr verify approve|refuse ID --reason …`: an operator's
// decision on a manual identity verification (a guardian, agent or relative
// acting for the subject, or documents sent as proof; policy 五.5, 六).
func newVerifyCmd(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "approve or refuse a manual identity verification",
	}
	cmd.AddCommand(
		newDecisionCmd(s, operator.StageVerification, true),
		newDecisionCmd(s, operator.StageVerification, false),
	)
	return cmd
}
