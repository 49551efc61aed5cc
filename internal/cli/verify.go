package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// newVerifyCmd is a placeholder until the verify command lands.
func newVerifyCmd(s *streams) *cobra.Command {
	return &cobra.Command{
		Use:   "verify",
		Short: "verify (not available yet)",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("dsr verify is not available yet")
		},
	}
}
