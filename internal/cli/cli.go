// Package cli is the dsr command line: the operator's and developer's tool.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes shared by every command.
const (
	ExitOK      = 0 // done
	ExitFailure = 1 // the command ran and the answer is "no" (invalid definition, chain broken, ...)
	ExitUsage   = 2 // bad flags, arguments or input files
	ExitError   = 3 // something outside the command failed (AWS unreachable, I/O)
)

// exitError carries an exit code with the error to print.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErrorf reports bad arguments or input (exit 2).
func usageErrorf(format string, a ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, a...)}
}

// failuref reports a completed check whose answer is negative (exit 1).
func failuref(format string, a ...any) error {
	return &exitError{code: ExitFailure, err: fmt.Errorf(format, a...)}
}

// streams are the command's standard files.
type streams struct {
	in       io.Reader
	out, err io.Writer
}

// Run executes the dsr command line with args (without the program name) and
// returns the process exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	s := &streams{in: stdin, out: stdout, err: stderr}
	root := &cobra.Command{
		Use:           "dsr",
		Short:         "dsr operates dsrflow: data-subject requests, their workflow and the local stack",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(
		newCalendarCmd(s),
		newASLCmd(s),
		newMailCmd(s),
		newShowCmd(s),
		newReviewCmd(s),
		newVerifyCmd(s),
		newIdentityCmd(s),
		newLocalCmd(s),
		newInvokeCmd(s),
		newRetryCmd(s),
		newSettleCmd(s),
		newCertificateCmd(s),
		newRequestsCmd(s),
		newHoldCmd(s),
		newAuditCmd(s),
		newConsoleCmd(s),
		newReportCmd(s),
	)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintln(stderr, "dsr:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if isUsageError(err) {
		return ExitUsage
	}
	return ExitError
}

// isUsageError tells cobra's own argument and flag errors apart from failures.
func isUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{
		"unknown command", "unknown flag", "unknown shorthand flag", "flag needs an argument",
		"invalid argument", "accepts ", "requires at least", "requires at most", "required flag",
		// flag groups (MarkFlagsOneRequired, MarkFlagsMutuallyExclusive, MarkFlagsRequiredTogether)
		"at least one of the flags in the group", "if any flags in the group",
	} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}
