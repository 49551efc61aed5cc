// Command lambdabuild tells the Makefile what template.yaml declares, so that
// `make build` and `make build-<LogicalId>` (what `sam build` runs for
// BuildMethod: makefile) need no hand-kept list of functions:
//
//	lambdabuild list                 "<LogicalId> <Go package>" per function
//	lambdabuild main <LogicalId>     the function's Go package (Metadata.Main)
//	lambdabuild env <LogicalId> NAME the literal value of one of its environment
//	                                 variables, or nothing (e.g. PARTNERS_CONFIG,
//	                                 the file name the partner configuration is
//	                                 bundled under)
//	lambdabuild template <dir>       write <dir>/template.yaml as sam build does
//
// -t names the template (default template.yaml). The logic is in
// internal/dev/samtemplate.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"dsrflow/internal/dev/samtemplate"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "lambdabuild:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("lambdabuild", flag.ContinueOnError)
	tpl := fs.String("t", "template.yaml", "the SAM template")
	if err := fs.Parse(args); err != nil {
		return err
	}
	args = fs.Args()
	if len(args) == 0 {
		return fmt.Errorf("usage: lambdabuild [-t template.yaml] list | main <LogicalId> | env <LogicalId> NAME | template <dir>")
	}
	switch {
	case args[0] == "template" && len(args) == 2:
		return samtemplate.WriteBuiltTemplate(*tpl, args[1])
	case args[0] == "list" && len(args) == 1, args[0] == "main" && len(args) == 2, args[0] == "env" && len(args) == 3:
	default:
		return fmt.Errorf("usage: lambdabuild [-t template.yaml] list | main <LogicalId> | env <LogicalId> NAME | template <dir>")
	}
	t, err := samtemplate.Load(*tpl)
	if err != nil {
		return err
	}
	if args[0] == "main" || args[0] == "env" {
		f, err := t.Function(args[1])
		if err != nil {
			return err
		}
		if args[0] == "main" {
			fmt.Fprintln(stdout, f.Main)
		} else if v, ok := f.Environment[args[2]].(string); ok {
			fmt.Fprintln(stdout, v)
		}
		return nil
	}
	fns, err := t.Functions()
	if err != nil {
		return err
	}
	for _, f := range fns {
		fmt.Fprintln(stdout, f.LogicalID, f.Main)
	}
	return nil
}
