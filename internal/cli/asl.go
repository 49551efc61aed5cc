package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"dsrflow/internal/dev/asl"
	"dsrflow/internal/dev/aslmock"
)

// newASLCmd groups the Amazon States Language commands: validate and run a
// definition on the local engine.
func newASLCmd(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "asl",
		Short: "validate and run Amazon States Language definitions on the local engine",
	}
	cmd.AddCommand(newASLValidateCmd(s), newASLRunCmd(s))
	return cmd
}

func newASLValidateCmd(s *streams) *cobra.Command {
	var asJSON bool
	var subs []string
	cmd := &cobra.Command{
		Use:   "validate FILE",
		Short: "check a definition; exit 1 and list the problems when it is invalid",
		Long: "validate checks an ASL definition as Step Functions would before creating a state machine.\n" +
			"It prints one problem per line as LOCATION: CODE: message (LOCATION is a JSON Pointer into\n" +
			"the definition) and exits 1 when there are problems, 0 when the definition is valid.\n" +
			"--json prints {\"valid\": bool, \"problems\": [{\"location\", \"code\", \"message\"}]} instead.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			def, err := readDefinition(args[0], subs)
			if err != nil {
				return err
			}
			problems := asl.Validate(def)
			if asJSON {
				out := struct {
					Valid    bool          `json:"valid"`
					Problems []asl.Problem `json:"problems"`
				}{Valid: len(problems) == 0, Problems: problems}
				if out.Problems == nil {
					out.Problems = []asl.Problem{}
				}
				if err := aslWriteJSON(s.out, out); err != nil {
					return err
				}
			} else {
				if len(problems) == 0 {
					fmt.Fprintf(s.out, "%s: valid\n", args[0])
				}
				for _, p := range problems {
					fmt.Fprintf(s.out, "%s: %s: %s\n", aslLocation(p.Location), p.Code, p.Message)
				}
			}
			if len(problems) > 0 {
				return failuref("%s: %d problem(s)", args[0], len(problems))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as a JSON object")
	cmd.Flags().StringArrayVar(&subs, "sub", nil, "replace ${NAME} in the definition with VALUE, like SAM's DefinitionSubstitutions (NAME=VALUE, repeatable)")
	return cmd
}

// readDefinition reads a definition file and applies --sub NAME=VALUE
// substitutions of ${NAME}.
func readDefinition(file string, subs []string) ([]byte, error) {
	def, err := os.ReadFile(file)
	if err != nil {
		return nil, usageErrorf("read definition: %v", err)
	}
	for _, sub := range subs {
		name, value, ok := strings.Cut(sub, "=")
		if !ok || name == "" {
			return nil, usageErrorf("--sub %q: want NAME=VALUE", sub)
		}
		quoted, err := json.Marshal(value)
		if err != nil {
			return nil, usageErrorf("--sub %q: %v", sub, err)
		}
		// The value lands inside a JSON string: escape it as one.
		def = bytes.ReplaceAll(def, []byte("${"+name+"}"), quoted[1:len(quoted)-1])
	}
	return def, nil
}

// aslLocation shows the root JSON Pointer "" as "/".
func aslLocation(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

type aslRunFlags struct {
	input, tasks, mockConfig, testCase, stateMachine string
	subs                                             []string
	timeout                                          time.Duration
}

func newASLRunCmd(s *streams) *cobra.Command {
	var f aslRunFlags
	cmd := &cobra.Command{
		Use:   "run FILE",
		Short: "run a definition to completion on a virtual clock and print the result as JSON",
		Long: "run executes an ASL definition on the local engine with a virtual clock (Wait states and\n" +
			"retry intervals pass at once) and prints one JSON object:\n" +
			"  {\"status\":\"SUCCEEDED\",\"output\":...} or {\"status\":\"FAILED\",\"error\":\"...\",\"cause\":\"...\"}\n" +
			"It exits 0 for any completed execution, 1 for an invalid definition and 2 for unusable input.\n\n" +
			"Task states get scripted outcomes, by state name, from either\n" +
			"  --tasks FILE: {\"StateName\": [{\"return\": JSON} | {\"throw\": {\"error\": \"Name\", \"cause\": \"text\"}}, ...]}\n" +
			"    (invocation i of a state uses entry min(i, len-1)), or\n" +
			"  --mock-config FILE --test-case NAME [--state-machine NAME]: Step Functions Local's MockConfigFile\n" +
			"    (an invocation without a mocked response fails the execution, as in Step Functions Local).\n" +
			"Every Task state needs an outcome; run refuses (exit 2) to start otherwise. Because every Task\n" +
			"is scripted, a Task's Resource is not used and may be an unresolved ${...} placeholder.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runASL(cmd.Context(), s, args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.input, "input", "{}", "execution input: JSON text, or @FILE to read it from a file")
	fl.StringVar(&f.tasks, "tasks", "", "JSON file of scripted Task outcomes by state name")
	fl.StringVar(&f.mockConfig, "mock-config", "", "Step Functions Local MockConfigFile")
	fl.StringVar(&f.testCase, "test-case", "", "test case of --mock-config to run")
	fl.StringVar(&f.stateMachine, "state-machine", "", "state machine of --mock-config (default: its only one)")
	fl.StringArrayVar(&f.subs, "sub", nil, "replace ${NAME} in the definition with VALUE, like SAM's DefinitionSubstitutions (NAME=VALUE, repeatable)")
	fl.DurationVar(&f.timeout, "timeout", time.Minute, "give up when the execution has not ended after this much real time")
	return cmd
}

func runASL(ctx context.Context, s *streams, file string, f aslRunFlags) error {
	def, err := readDefinition(file, f.subs)
	if err != nil {
		return err
	}
	input, err := readInput(f.input)
	if err != nil {
		return err
	}
	script, smName, err := loadScript(f)
	if err != nil {
		return err
	}
	if smName == "" {
		smName = strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	}
	mock, err := aslmock.Instrument(def, script)
	if err != nil {
		// Not JSON: let the validator say where.
		mock = nil
	}
	checked := def
	if mock != nil {
		// The scripted Tasks run instead of their resources, so validate
		// the definition with the resources they run.
		checked = mock.Definition()
	}
	if problems := asl.Validate(checked); len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintf(s.err, "%s: %s: %s\n", aslLocation(p.Location), p.Code, p.Message)
		}
		return failuref("%s: invalid definition, %d problem(s)", file, len(problems))
	}
	tasks, err := aslmock.TaskStates(def)
	if err != nil {
		return usageErrorf("read definition: %v", err)
	}
	if missing := script.Missing(tasks); len(missing) > 0 {
		return usageErrorf("no scripted outcome for Task state(s) %s: give them entries in --tasks or the --mock-config test case", strings.Join(missing, ", "))
	}
	sm, err := asl.Parse(mock.Definition())
	if err != nil {
		return fmt.Errorf("prepare definition: %w", err)
	}
	engine := asl.NewEngine(asl.Options{
		Clock:    asl.VirtualClock(time.Now().UTC()),
		Resolver: mock,
		Logger:   slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	mock.SetTokenSender(engine)
	const account, region = "123456789012", "us-east-1"
	x, err := engine.Start(ctx, sm, asl.StartInput{
		StateMachineArn:  "arn:aws:states:" + region + ":" + account + ":stateMachine:" + smName,
		StateMachineName: smName,
		ExecutionArn:     "arn:aws:states:" + region + ":" + account + ":execution:" + smName + ":local-run",
		Name:             "local-run",
		Input:            input,
		RoleArn:          "arn:aws:iam::" + account + ":role/local-run",
	})
	if err != nil {
		return fmt.Errorf("start execution: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	res, err := x.Wait(wctx)
	if err != nil {
		x.Stop("dsr.Timeout", "dsr asl run gave up waiting")
		return fmt.Errorf("execution did not end within %s: %w", f.timeout, err)
	}
	return aslWriteJSON(s.out, runResult(res))
}

// runOutput is what `dsr asl run` prints.
type runOutput struct {
	Status string          `json:"status"`
	Output json.RawMessage `json:"output,omitempty"`
	Error  *string         `json:"error,omitempty"`
	Cause  *string         `json:"cause,omitempty"`
}

func runResult(res asl.Result) runOutput {
	out := runOutput{Status: res.Status}
	if res.Status == "SUCCEEDED" {
		out.Output = res.Output
		if len(out.Output) == 0 {
			out.Output = json.RawMessage("null")
		}
		return out
	}
	e, c := res.Error, res.Cause // scripted causes arrive verbatim (asl.TaskFailure)
	out.Error, out.Cause = &e, &c
	return out
}

// readInput reads --input: JSON text or @FILE.
func readInput(v string) (json.RawMessage, error) {
	data := []byte(v)
	if name, ok := strings.CutPrefix(v, "@"); ok {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, usageErrorf("--input: %v", err)
		}
		data = b
	}
	if !json.Valid(data) {
		return nil, usageErrorf("--input is not valid JSON (give JSON text or @FILE)")
	}
	return json.RawMessage(data), nil
}

// loadScript reads the scripted outcomes from --tasks or --mock-config and
// returns the state machine name the mock config names.
func loadScript(f aslRunFlags) (aslmock.Script, string, error) {
	switch {
	case f.tasks != "" && f.mockConfig != "":
		return aslmock.Script{}, "", usageErrorf("give --tasks or --mock-config, not both")
	case f.mockConfig == "" && (f.testCase != "" || f.stateMachine != ""):
		return aslmock.Script{}, "", usageErrorf("--test-case and --state-machine go with --mock-config")
	case f.tasks != "":
		b, err := os.ReadFile(f.tasks)
		if err != nil {
			return aslmock.Script{}, "", usageErrorf("--tasks: %v", err)
		}
		s, err := aslmock.ParseTasks(b)
		if err != nil {
			return aslmock.Script{}, "", usageErrorf("--tasks %s: %v", f.tasks, err)
		}
		return s, "", nil
	case f.mockConfig != "":
		if f.testCase == "" {
			return aslmock.Script{}, "", usageErrorf("--mock-config needs --test-case")
		}
		b, err := os.ReadFile(f.mockConfig)
		if err != nil {
			return aslmock.Script{}, "", usageErrorf("--mock-config: %v", err)
		}
		c, err := aslmock.ParseMockConfig(b)
		if err != nil {
			return aslmock.Script{}, "", usageErrorf("--mock-config %s: %v", f.mockConfig, err)
		}
		name := f.stateMachine
		if name == "" {
			if names := c.StateMachineNames(); len(names) == 1 {
				name = names[0]
			}
		}
		s, err := c.Script(name, f.testCase)
		if err != nil {
			return aslmock.Script{}, "", usageErrorf("--mock-config %s: %v", f.mockConfig, err)
		}
		return s, name, nil
	default:
		return aslmock.Script{RepeatLast: true}, "", nil
	}
}

func aslWriteJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	if _, err := fmt.Fprintf(w, "%s\n", b); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return nil
}
