package coldstart

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"dsrflow/internal/dev/dynamotest"
)

// heavyInit lists the packages whose initialisation or size would cost the
// budgeted functions (intake-web, partner-callback) a large share of their
// budget, and which of the two may link each because it needs it. The
// asynchronous workflow functions have no budget and are not checked.
var heavyInit = map[string][]string{
	// config.LoadDefaultConfig links the SSO, OIDC, STS and sign-in clients
	// and the shared-config parser; internal/awsenv resolves the same
	// configuration from the environment (its differential test).
	"github.com/aws/aws-sdk-go-v2/config": nil,
	// libphonenumber decodes all its metadata at init (and links the
	// protobuf runtime): about three hello-world cold starts alone.
	// intake-web reads typed numbers with internal/e164, which agrees with
	// it (internal/phone's differential tests); mail intake, the console
	// and the workflow use libphonenumber and have no budget.
	"github.com/nyaruka/phonenumbers":  nil,
	"google.golang.org/protobuf/proto": nil,
	// The SES client: intake-web sends verification codes. SES v2's client
	// initialises in about 2.5 ms against v1's 0.5 ms.
	"github.com/aws/aws-sdk-go-v2/service/ses":   {"intake-web"},
	"github.com/aws/aws-sdk-go-v2/service/sesv2": nil,
	// The S3 client (with its checksum, XML and event stream packages):
	// partner-callback may receive a partner's export; intake-web presigns
	// guardians' document uploads and checks what arrived.
	"github.com/aws/aws-sdk-go-v2/service/s3": {"intake-web", "partner-callback"},
	// templ's runtime (its safehtml patterns, html/template's escapers):
	// intake-web writes the privacy center's pages.
	"github.com/a-h/templ": {"intake-web"},
	// enmime and its HTML and charset packages parse mail (intake-mail).
	"github.com/jhillyerd/enmime": nil,
	// The template parser is a development tool.
	"github.com/awslabs/goformation/v7": nil,
}

func TestFunctionsLinkNoHeavyInit(t *testing.T) {
	root, err := dynamotest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	var pkgs []string
	seen := map[string]bool{}
	for _, bt := range budgeted {
		if seen[bt.fn] {
			continue
		}
		seen[bt.fn] = true
		pkgs = append(pkgs, "./functions/"+bt.fn)
		// go test caches a result by the files the test itself opens;
		// reading the mains makes an edited main run the test again.
		mains, _ := filepath.Glob(filepath.Join(root, "functions", bt.fn, "*.go"))
		for _, m := range mains {
			if _, err := os.ReadFile(m); err != nil {
				t.Fatal(err)
			}
		}
	}
	cmd := exec.Command("go", append([]string{"list", "-f", `{{.ImportPath}} {{join .Deps " "}}`}, pkgs...)...)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(pkgs) {
		t.Fatalf("go list listed %d packages, want %d (%v)", len(lines), len(pkgs), pkgs)
	}
	for _, line := range lines {
		fields := strings.Fields(line)
		fn, deps := strings.TrimPrefix(fields[0], "dsrflow/functions/"), fields[1:]
		for pkg, allowed := range heavyInit {
			if slices.Contains(deps, pkg) && !slices.Contains(allowed, fn) {
				t.Errorf("function %s links %s; of the budgeted functions only %v may (see internal/dev/coldstart)", fn, pkg, allowed)
			}
		}
	}
}
