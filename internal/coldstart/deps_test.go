package coldstart

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"dsrflow/internal/dynamotest"
)

// Packages whose initialisation costs a cold start tens of milliseconds or
// whose data inflates a binary, and the only functions allowed to link them.
var heavyInit = map[string][]string{
	// libphonenumber's metadata is decoded at start (about 15 ms); only the
	// intake functions read numbers that people typed.
	"github.com/nyaruka/phonenumbers": {"intake-mail", "intake-web"},
	// The ASL engine and the template parser are development tools.
	"dsrflow/internal/asl":              nil,
	"github.com/awslabs/goformation/v7": nil,
}

func TestFunctionsLinkNoHeavyInit(t *testing.T) {
	root, err := dynamotest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, "./functions/...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 19 {
		t.Fatalf("go list found %d functions; want every function of functions/", len(lines))
	}
	for _, line := range lines {
		fields := strings.Fields(line)
		fn := strings.TrimPrefix(fields[0], "dsrflow/functions/")
		for pkg, allowed := range heavyInit {
			if slices.Contains(fields[1:], pkg) && !slices.Contains(allowed, fn) {
				t.Errorf("function %s links %s; only %v may (see internal/coldstart)", fn, pkg, allowed)
			}
		}
	}
}
