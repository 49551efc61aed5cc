// Package boundaries holds the tests that keep the ownership rules of
// docs/ARCHITECTURE.md ("One owner per resource") true as the code changes:
// no Lambda function links the local platform (internal/dev), and only
// internal/store talks to DynamoDB or spells the table's keys.
package boundaries

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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

// dynamoPackages are the AWS SDK packages that reach DynamoDB.
var dynamoPackages = []string{
	"github.com/aws/aws-sdk-go-v2/service/dynamodb",
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/",
}

// ownsTable reports whether package path may talk to DynamoDB: the store
// (and its schema loader) and the local platform, which runs the emulator
// and creates the table.
func ownsTable(path string) bool {
	return path == "dsrflow/internal/store" || strings.HasPrefix(path, "dsrflow/internal/store/") ||
		strings.HasPrefix(path, "dsrflow/internal/dev/")
}

// TestOnlyStoreTouchesTheTable: no package but store imports the DynamoDB
// client (tests included) or spells one of the table's keys.
func TestOnlyStoreTouchesTheTable(t *testing.T) {
	lines := goList(t, "-f", `{{.ImportPath}}|{{.Dir}}|{{join .Imports " "}} {{join .TestImports " "}} {{join .XTestImports " "}}|{{join .GoFiles " "}} {{join .TestGoFiles " "}} {{join .XTestGoFiles " "}}`, "./...")
	keyPrefix := regexp.MustCompile(`"(REQ|SUBJ|HINT|EVT|PARTNER|NOTICE|OPERATOR|HOLD|MAIL|MAILACK|DOC|TOKEN|SWEEP|AUDIT|BUDGET)#`)
	checked := 0
	for _, line := range lines {
		parts := strings.Split(line, "|")
		if len(parts) != 4 {
			t.Fatalf("go list line %q", line)
		}
		path, dir, imports, files := parts[0], parts[1], strings.Fields(parts[2]), strings.Fields(parts[3])
		if ownsTable(path) {
			continue
		}
		if path == "dsrflow/internal/awsenv" {
			// Its product code links no DynamoDB client; its differential
			// test compares the SDK's endpoint resolution (ListTables
			// against an httptest server, no table) with LoadDefaultConfig.
			imports = strings.Fields(goList(t, "-f", `{{join .Imports " "}}`, "./internal/awsenv")[0])
		}
		checked++
		for _, imp := range imports {
			for _, dp := range dynamoPackages {
				if imp == strings.TrimSuffix(dp, "/") || strings.HasPrefix(imp, dp) {
					t.Errorf("%s imports %s: only internal/store talks to the table", path, imp)
				}
			}
		}
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			if m := keyPrefix.Find(b); m != nil {
				t.Errorf("%s/%s spells the table key %s: only internal/store builds keys", path, f, m)
			}
		}
	}
	if checked < 10 {
		t.Fatalf("checked %d packages; want every package of the module", checked)
	}
}

// TestCommentsCiteTheRepository: the design the code cites is
// docs/ARCHITECTURE.md, never a file outside the repository.
func TestCommentsCiteTheRepository(t *testing.T) {
	lines := goList(t, "-f", `{{.Dir}}|{{join .GoFiles " "}} {{join .TestGoFiles " "}} {{join .XTestGoFiles " "}}`, "./...")
	outside := regexp.MustCompile(`\.\./shared|DESIGN\.md`)
	for _, line := range lines {
		dir, files, _ := strings.Cut(line, "|")
		for _, f := range strings.Fields(files) {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			if m := outside.Find(b); m != nil {
				t.Errorf("%s cites %s: cite docs/ARCHITECTURE.md", filepath.Join(dir, f), m)
			}
		}
	}
}
