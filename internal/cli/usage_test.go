package cli

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/spf13/cobra"
)

func TestIsUsageErrorCobraMessages(t *testing.T) {
	newCmd := func(setup func(*cobra.Command)) *cobra.Command {
		c := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }, SilenceErrors: true, SilenceUsage: true}
		c.Flags().String("a", "", "")
		c.Flags().String("b", "", "")
		setup(c)
		return c
	}
	tests := []struct {
		name  string
		setup func(*cobra.Command)
		args  []string
	}{
		{"unknown flag", func(*cobra.Command) {}, []string{"--nope"}},
		{"missing value", func(*cobra.Command) {}, []string{"--a"}},
		{"too many args", func(c *cobra.Command) { c.Args = cobra.NoArgs }, []string{"extra"}},
		{"exact args", func(c *cobra.Command) { c.Args = cobra.ExactArgs(1) }, nil},
		{"max args", func(c *cobra.Command) { c.Args = cobra.MaximumNArgs(1) }, []string{"1", "2"}},
		{"required flag", func(c *cobra.Command) { _ = c.MarkFlagRequired("a") }, nil},
		{"one required", func(c *cobra.Command) { c.MarkFlagsOneRequired("a", "b") }, nil},
		{"mutually exclusive", func(c *cobra.Command) { c.MarkFlagsMutuallyExclusive("a", "b") }, []string{"--a=1", "--b=2"}},
		{"required together", func(c *cobra.Command) { c.MarkFlagsRequiredTogether("a", "b") }, []string{"--a=1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCmd(tt.setup)
			c.SetArgs(tt.args)
			c.SetOut(&bytes.Buffer{})
			c.SetErr(&bytes.Buffer{})
			err := c.ExecuteContext(context.Background())
			if err == nil {
				t.Fatal("got no error, want a usage error")
			}
			if !isUsageError(err) {
				t.Errorf("isUsageError(%q) = false, want true", err)
			}
		})
	}
	if isUsageError(errors.New("dynamodb at http://127.0.0.1:1 unreachable")) {
		t.Error("an outside failure was taken for a usage error")
	}
}
