// Package boundaries holds the tests that keep the ownership rules of
// docs/ARCHITECTURE.md ("One owner per resource") true as the code changes:
// no Lambda function links the local platform (internal/dev), and only
// internal/store talks to DynamoDB or spells the table's keys.
package boundaries

import (
	"os/exec"
	"strings"
	"testing"

	"dsrflow/internal/dev/dynamotest"
)

// goList runs go list in the repository root and returns its lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	root, err := dynamotest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %v: %v", args, err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// TestFunctionsLinkNoDevPlatform: the local platform (engine, emulators,
// simulators, the dev stack) is never part of a deployed function.
func TestFunctionsLinkNoDevPlatform(t *testing.T) {
	lines := goList(t, "-f", `{{.ImportPath}} {{join .Deps " "}}`, "./functions/...")
	if len(lines) < 10 {
		t.Fatalf("go list found %d functions; want every function of functions/", len(lines))
	}
	for _, line := range lines {
		fields := strings.Fields(line)
		for _, dep := range fields[1:] {
			if dep == "dsrflow/internal/dev" || strings.HasPrefix(dep, "dsrflow/internal/dev/") {
				t.Errorf("%s links %s: the local platform must stay out of deployed functions", fields[0], dep)
			}
		}
	}
}
