package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// newCalendarCmd is a placeholder until the calendar commands land.
func newCalendarCmd(s *streams) *cobra.Command {
	return &cobra.Command{
		Use:   "calendar",
		Short: "calendar commands (not available yet)",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("dsr calendar is not available yet")
		},
	}
}
