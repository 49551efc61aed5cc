package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// newASLCmd is a placeholder until the asl commands land.
func newASLCmd(s *streams) *cobra.Command {
	return &cobra.Command{
		Use:   "asl",
		Short: "asl commands (not available yet)",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("dsr asl is not available yet")
		},
	}
}
