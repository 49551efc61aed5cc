package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// newShowCmd is a placeholder until the show command lands.
func newShowCmd(s *streams) *cobra.Command {
	return &cobra.Command{
		Use:   "show",
		Short: "show (not available yet)",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("dsr show is not available yet")
		},
	}
}
