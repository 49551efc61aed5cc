// Command iamscan lists what each Lambda function's code does to the
// requests table: the DynamoDB operations it can reach through
// internal/store, by item family (the partition key prefix of the items)
// and index. internal/dev/samtemplate's dynamoAccess table, which
// template.yaml's policies must match, was made from its output.
//
//	cd tools/iamscan && go run . ../..
//
// It builds the SSA form of every functions/* main with its packages and a
// VTA call graph (golang.org/x/tools/go/callgraph/vta) of the whole
// program, then walks it from each function's handler (handlerOf: the
// method its main hands to lambda.Start, which calls it by reflection)
// and its construction closures into internal/store: each store function
// reached contributes the DB interface methods it calls (a paginator
// counts as its operation) under the key families it builds (requestPK,
// holdPK, ..., or a key prefix constant), a helper without a family of
// its own inheriting its caller's. The result over-approximates (VTA
// follows every value that may flow into an interface or a func value),
// so each row was then checked by reading the handler. It is a separate
// module so that the product does not depend on golang.org/x/tools.
package main

import (
	"fmt"
	"go/constant"
	"go/types"
	"os"
	"sort"
	"strings"

	"golang.org/x/tools/go/callgraph"
	"golang.org/x/tools/go/callgraph/cha"
	"golang.org/x/tools/go/callgraph/vta"
	"golang.org/x/tools/go/packages"
	"golang.org/x/tools/go/ssa"
	"golang.org/x/tools/go/ssa/ssautil"
)

const storePkg = "dsrflow/internal/store"

// handlerOf is the method each function's main hands to lambda.Start.
var handlerOf = map[string]string{
	"admit":                "(*dsrflow/internal/workflow.Handlers).Admit",
	"verify-identity":      "(*dsrflow/internal/workflow.Handlers).Verify",
	"review":               "(*dsrflow/internal/workflow.Handlers).Review",
	"await-operator":       "(*dsrflow/internal/workflow.Handlers).AwaitOperator",
	"partner":              "(*dsrflow/internal/workflow.Handlers).Partner",
	"partner-escalate":     "(*dsrflow/internal/workflow.Handlers).EscalatePartner",
	"reply":                "(*dsrflow/internal/workflow.Handlers).Reply",
	"confirm-backup-purge": "(*dsrflow/internal/workflow.Handlers).ConfirmBackupPurge",
	"escalate-backups":     "(*dsrflow/internal/workflow.Handlers).EscalateBackups",
	"close":                "(*dsrflow/internal/workflow.Handlers).Close",
	"purge-personal":       "(*dsrflow/internal/workflow.Handlers).Purge",
	"anchor-audit":         "(*dsrflow/internal/anchor.Anchorer).Handle",
	"reconcile":            "(*dsrflow/internal/reconcile.Reconciler).Handle",
	"intake-mail":          "(*dsrflow/internal/mailintake.Handler).Handle",
	"intake-web":           "(*dsrflow/internal/webintake.Handler).ServeHTTP",
	"partner-callback":     "(*dsrflow/internal/partner.Callback).ServeHTTP",
}

// keyFuncs are internal/store's key builders, by the family they build.
var keyFuncs = map[string]string{
	"requestPK": "REQ#", "newRequestItem": "REQ#", "holdPK": "HOLD#", "mailPK": "MAIL#", "newMailItem": "MAIL#",
	"mailAckPK": "MAILACK#", "budgetPK": "BUDGET#", "budgetKey": "BUDGET#",
}

// families are the partition key prefixes (internal/store/keys.go).
var families = []string{"REQ#", "HOLD#", "MAIL#", "MAILACK#", "BUDGET#", "SWEEP#"}

var dbOps = map[string]bool{"GetItem": true, "PutItem": true, "UpdateItem": true, "DeleteItem": true, "Query": true, "Scan": true, "BatchGetItem": true}

func main() {
	root := ".."
	if len(os.Args) > 1 {
		root = os.Args[1]
	}
	pkgs, err := packages.Load(&packages.Config{Mode: packages.LoadAllSyntax, Dir: root}, "./functions/...")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if packages.PrintErrors(pkgs) > 0 {
		os.Exit(1)
	}
	prog, mains := ssautil.AllPackages(pkgs, ssa.InstantiateGenerics)
	prog.Build()
	all := ssautil.AllFunctions(prog)
	cg := vta.CallGraph(all, cha.CallGraph(prog))
	cg = vta.CallGraph(all, cg)
	for _, p := range mains {
		name := strings.TrimPrefix(p.Pkg.Path(), "dsrflow/functions/")
		want, ok := handlerOf[name]
		if !ok {
			fmt.Fprintf(os.Stderr, "%s: no handler in handlerOf\n", name)
			os.Exit(1)
		}
		pkg := want[2:strings.Index(want, ".")]
		var roots []*ssa.Function
		for f := range all {
			s := f.String()
			if s == want || s == p.Pkg.Path()+".main" ||
				strings.HasPrefix(s, pkg+".") && (strings.Contains(s, ".FromEnv$") || strings.Contains(s, ".NewAWS$") ||
					strings.Contains(s, ".Lambda$") || strings.Contains(s, ".LazyAWSDispatcher$")) {
				roots = append(roots, f)
			}
		}
		fmt.Printf("%s\n", name)
		for _, line := range scan(cg, roots) {
			fmt.Printf("  %s\n", line)
		}
	}
}

type facts struct {
	ops      []string
	index    string
	families []string
}

func inStore(f *ssa.Function) bool {
	for f != nil && f.Pkg == nil && f.Origin() != nil && f.Origin() != f {
		f = f.Origin()
	}
	return f != nil && f.Pkg != nil && f.Pkg.Pkg.Path() == storePkg
}

func factsOf(f *ssa.Function) facts {
	var fc facts
	seen := map[string]bool{}
	add := func(l *[]string, s string) {
		if !seen[s] {
			seen[s] = true
			*l = append(*l, s)
		}
	}
	for _, fn := range append([]*ssa.Function{f}, f.AnonFuncs...) {
		for _, b := range fn.Blocks {
			for _, ins := range b.Instrs {
				for _, op := range ins.Operands(nil) {
					if c, ok := (*op).(*ssa.Const); ok && c.Value != nil && c.Value.Kind() == constant.String {
						s := constant.StringVal(c.Value)
						for _, p := range families {
							if strings.HasPrefix(s, p) {
								add(&fc.families, p)
							}
						}
						if s == "GSI1" || s == "GSI2" {
							fc.index = s
						}
					}
				}
				call, ok := ins.(ssa.CallInstruction)
				if !ok {
					continue
				}
				com := call.Common()
				if com.IsInvoke() {
					if dbOps[com.Method.Name()] && strings.HasSuffix(types.TypeString(com.Value.Type(), nil), "store.DB") {
						add(&fc.ops, com.Method.Name())
					}
					continue
				}
				callee := com.StaticCallee()
				if callee == nil {
					continue
				}
				if callee.Pkg != nil && callee.Pkg.Pkg.Path() == "github.com/aws/aws-sdk-go-v2/service/dynamodb" {
					switch callee.Name() {
					case "NewQueryPaginator":
						add(&fc.ops, "Query")
					case "NewScanPaginator":
						add(&fc.ops, "Scan")
					}
				}
				if inStore(callee) {
					if fam, ok := keyFuncs[callee.Name()]; ok {
						add(&fc.families, fam)
					}
				}
			}
		}
	}
	return fc
}

// scan walks the call graph from roots to internal/store's DynamoDB calls.
func scan(cg *callgraph.Graph, roots []*ssa.Function) []string {
	got := map[string]map[string]bool{}
	grant := func(target, op string) {
		if got[target] == nil {
			got[target] = map[string]bool{}
		}
		got[target][op] = true
	}
	cache := map[*ssa.Function]facts{}
	type state struct {
		f   *ssa.Function
		fam string
	}
	done := map[state]bool{}
	var walkStore func(n *callgraph.Node, fam []string)
	walkStore = func(n *callgraph.Node, fam []string) {
		fc, ok := cache[n.Func]
		if !ok {
			fc = factsOf(n.Func)
			cache[n.Func] = fc
		}
		if len(fc.families) > 0 {
			fam = fc.families
		}
		k := state{n.Func, strings.Join(fam, ",")}
		if done[k] {
			return
		}
		done[k] = true
		for _, op := range fc.ops {
			switch {
			case op == "Query" && fc.index != "":
				grant("index/"+fc.index, op)
			case op == "Scan":
				grant("Scan", op)
			case len(fam) == 0:
				grant("REQ#", op) // a closure of a request method (a range-over-func body)
			default:
				for _, f := range fam {
					grant(f, op)
				}
			}
		}
		for _, e := range n.Out {
			if inStore(e.Callee.Func) {
				walkStore(e.Callee, fam)
			}
		}
	}
	seen := map[*callgraph.Node]bool{}
	var walk func(n *callgraph.Node)
	walk = func(n *callgraph.Node) {
		if seen[n] {
			return
		}
		seen[n] = true
		for _, e := range n.Out {
			if inStore(e.Callee.Func) && !inStore(n.Func) {
				walkStore(e.Callee, nil)
				continue
			}
			walk(e.Callee)
		}
	}
	for _, r := range roots {
		if n := cg.Nodes[r]; n != nil {
			walk(n)
		}
	}
	var out []string
	for target, ops := range got {
		var l []string
		for op := range ops {
			l = append(l, op)
		}
		sort.Strings(l)
		out = append(out, target+": "+strings.Join(l, ", "))
	}
	sort.Strings(out)
	return out
}
