package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"dsrflow/internal/principal"
)

// operatorPrincipal is who runs a changing command: the IAM principal of
// the AWS credentials (STS GetCallerIdentity), or DSR_LOCAL_PRINCIPAL when
// every AWS endpoint is on a loopback address (the local stack). Its
// failure is an outside failure (exit 3) that says how to fix it.
func (c *requestClients) operatorPrincipal(ctx context.Context) (principal.Principal, error) {
	p, err := principal.Resolve(ctx, c.aws, nil)
	if err != nil {
		return principal.Principal{}, fmt.Errorf("%w (changes are recorded under the caller's IAM principal: check the AWS credentials; on the local stack set %s)", err, principal.LocalVariable)
	}
	return p, nil
}

// operatorFlagGone keeps --operator as a hidden flag that explains where it
// went: a name typed on the command line proves nothing, so every change
// is recorded under the caller's IAM principal instead.
func operatorFlagGone(cmd *cobra.Command) {
	cmd.Flags().String("operator", "", "gone: the operator is the caller's IAM principal")
	_ = cmd.Flags().MarkHidden("operator")
}

// checkOperatorFlag refuses --operator (exit 2) with the reason.
func checkOperatorFlag(cmd *cobra.Command) error {
	if cmd.Flags().Lookup("operator") != nil && cmd.Flags().Changed("operator") {
		return usageErrorf("--operator is gone: dsr records the caller's IAM principal as the operator (aws sts get-caller-identity shows it; the local stack uses %s)", principal.LocalVariable)
	}
	return nil
}
