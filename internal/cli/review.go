package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// newReviewCmd is a placeholder until the review command lands.
func newReviewCmd(s *streams) *cobra.Command {
	return &cobra.Command{
		Use:   "review",
		Short: "review (not available yet)",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("dsr review is not available yet")
		},
	}
}
