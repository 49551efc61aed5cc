package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// newMailCmd is a placeholder until the mail commands land.
func newMailCmd(s *streams) *cobra.Command {
	return &cobra.Command{
		Use:   "mail",
		Short: "mail commands (not available yet)",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("dsr mail is not available yet")
		},
	}
}
