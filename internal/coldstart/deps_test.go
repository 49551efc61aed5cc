package coldstart

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"dsrflow/internal/dynamotest"
	"dsrflow/internal/workflow"
)

// Packages whose initialisation costs a cold start tens of milliseconds or
// whose data inflates a binary, and the only functions allowed to link them.
const sesv2 = "github.com/aws/aws-sdk-go-v2/service/sesv2"

var heavyInit = map[string][]string{
	// libphonenumber's metadata is decoded at start (about 15 ms); only the
	// intake functions read numbers that people typed.
	"github.com/nyaruka/phonenumbers": {"intake-mail", "intake-web"},
	// The SES client's initialisation costs about 3 ms: only intake-web
	// (new verification codes) and the workflow functions marked SendsMail,
	// added by the test, link it.
	sesv2: {"intake-web"},
	// The ASL engine and the template parser are development tools.
	"dsrflow/internal/asl":              nil,
	"github.com/awslabs/goformation/v7": nil,
}

func TestFunctionsLinkNoHeavyInit(t *testing.T) {
	root, err := dynamotest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	// go test caches a result by the files the test itself opens; reading
	// the mains makes an edited main run the test again.
	mains, _ := filepath.Glob(filepath.Join(root, "functions", "*", "*.go"))
	for _, m := range mains {
		if _, err := os.ReadFile(m); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, "./functions/...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	allowedBy := maps.Clone(heavyInit)
	allowedBy[sesv2] = slices.Clone(heavyInit[sesv2])
	sends := map[string]bool{}
	for _, f := range workflow.Functions() {
		sends[f.Name] = f.SendsMail
		if f.SendsMail {
			allowedBy[sesv2] = append(allowedBy[sesv2], f.Name)
		}
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 19 {
		t.Fatalf("go list found %d functions; want every function of functions/", len(lines))
	}
	for _, line := range lines {
		fields := strings.Fields(line)
		fn := strings.TrimPrefix(fields[0], "dsrflow/functions/")
		// A function that writes to requesters must get an email client.
		if sends[fn] && !slices.Contains(fields[1:], sesv2) {
			t.Errorf("function %s is marked SendsMail but does not link %s: its main must pass mailtransport.FromConfig to workflow.FromEnv", fn, sesv2)
		}
		for pkg, allowed := range allowedBy {
			if slices.Contains(fields[1:], pkg) && !slices.Contains(allowed, fn) {
				t.Errorf("function %s links %s; only %v may (see internal/coldstart)", fn, pkg, allowed)
			}
		}
	}
}
