package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"dsrflow/internal/dev/invoke"
)

// newInvokeCmd is `dsr invoke FUNCTION EVENT.json` (`make invoke FN= EVENT=`).
func newInvokeCmd(s *streams) *cobra.Command {
	var (
		root, tpl, local string
		envs             []string
		timeout          time.Duration
	)
	cmd := &cobra.Command{
		Use:   "invoke FUNCTION EVENT.json",
		Short: "Run one function of template.yaml on one event, locally and without Docker (like sam local invoke)",
		Long: "Builds the function (a folder name under functions/ or its logical ID) for this machine, runs its\n" +
			"bootstrap against a Lambda Runtime API on loopback with the environment template.yaml declares,\n" +
			"sends EVENT.json (- reads standard input) and prints the response on standard output; the\n" +
			"function's logs go to standard error. A function error is printed as its error JSON and exits 1.\n" +
			"When the local stack runs (make run), its endpoints (.local/env) and secrets (.local/secrets.env)\n" +
			"are used, so the function works on the local DynamoDB, S3 and Step Functions.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var event []byte
			var err error
			if args[1] == "-" {
				event, err = readAll(s)
			} else {
				event, err = os.ReadFile(args[1])
			}
			if err != nil {
				return usageErrorf("event: %v", err)
			}
			overrides := map[string]string{}
			for _, kv := range envs {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return usageErrorf("--env %q: want NAME=VALUE", kv)
				}
				overrides[k] = v
			}
			res, err := invoke.Run(cmd.Context(), invoke.Options{
				Root: root, Template: tpl, Function: args[0], Event: event, LocalDir: local,
				Env: overrides, Logs: s.err, Timeout: timeout,
			})
			switch {
			case errors.Is(err, invoke.ErrBadEvent):
				return usageErrorf("%s: %v", args[1], err)
			case errors.Is(err, invoke.ErrUnknownFunction):
				return usageErrorf("%v", err)
			case err != nil:
				return err
			}
			fmt.Fprintf(s.err, "invoke %s: init %s, duration %s\n", res.LogicalID, res.Init.Round(time.Microsecond), res.Duration.Round(time.Microsecond))
			if res.Err != nil {
				b, _ := json.Marshal(res.Err)
				fmt.Fprintln(s.out, string(b))
				return failuref("function error %s", res.Err.Type)
			}
			fmt.Fprintln(s.out, string(res.Payload))
			return nil
		},
	}
	cmd.Flags().StringVar(&root, "root", ".", "repository root (template.yaml, go.mod)")
	cmd.Flags().StringVar(&tpl, "template", "template.yaml", "the SAM template, relative to --root")
	cmd.Flags().StringVar(&local, "local", "", "the local stack's folder (default <root>/.local)")
	cmd.Flags().StringArrayVar(&envs, "env", nil, "NAME=VALUE to set in the function's environment (repeatable; applied last)")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "the invocation's deadline")
	return cmd
}

func readAll(s *streams) ([]byte, error) { return io.ReadAll(s.in) }
