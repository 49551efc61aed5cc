package coldstart

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/workflow"
)

// Packages whose initialisation costs a cold start tens of milliseconds or
// whose data inflates a binary, and the only functions allowed to link them.
const (
	sesv1      = "github.com/aws/aws-sdk-go-v2/service/ses"
	sesv2      = "github.com/aws/aws-sdk-go-v2/service/sesv2"
	s3         = "github.com/aws/aws-sdk-go-v2/service/s3"
	s3bucket   = "dsrflow/internal/partner/export/s3bucket"
	exportPage = "dsrflow/internal/partner/export/exportpage"
)

var heavyInit = map[string][]string{
	// libphonenumber (third_party/phonenumbers, patched to load on first
	// use and to do without the protobuf runtime; unpatched it costs about
	// 15 ms of init and doubles a binary) and its data: only the intake
	// functions read numbers that people typed.
	"github.com/nyaruka/phonenumbers": {"intake-mail", "intake-web"},
	// The SES client: only intake-web (new verification codes) and the
	// workflow functions marked SendsMail, added by the test, link it; and
	// it is SES v1, whose initialisation costs about 0.5 ms against v2's
	// 2.5 ms (internal/notify/sesmail).
	sesv1: {"intake-web"},
	sesv2: nil,
	// The S3 client (about 1.5 ms with its checksum, XML and event stream
	// packages): intake-mail reads the mailbox bucket, intake-web presigns
	// and checks documents that guardians and agents upload,
	// partner-callback may receive a partner's export, and the functions
	// marked UsesExports, added by the test, keep exports.
	s3: {"intake-mail", "intake-web", "partner-callback"},
	// config.LoadDefaultConfig links the SSO, OIDC, STS and sign-in
	// clients; functions read their configuration with internal/awsenv.
	"github.com/aws/aws-sdk-go-v2/config": nil,
	// enmime and its HTML and charset packages parse mail: intake-mail only
	// (notify composes with the standard library).
	"github.com/jhillyerd/enmime": {"intake-mail"},
	// The ASL engine and the template parser are development tools.
	"dsrflow/internal/dev/asl":          nil,
	"github.com/awslabs/goformation/v7": nil,
	// templ's runtime (its safehtml patterns, html/template's escapers):
	// only the functions that write HTML.
	"github.com/a-h/templ": {"intake-web", "export-assemble"},
	// The protobuf runtime calls reflect's MethodByName, which makes the
	// linker keep every exported method (third_party/README.md).
	"google.golang.org/protobuf/proto": nil,
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
	allowedBy[sesv1] = slices.Clone(heavyInit[sesv1])
	allowedBy[s3] = slices.Clone(heavyInit[s3])
	sends, exports := map[string]bool{}, map[string]bool{"partner-callback": true}
	for _, f := range workflow.Functions() {
		sends[f.Name] = f.SendsMail
		if f.SendsMail {
			allowedBy[sesv1] = append(allowedBy[sesv1], f.Name)
		}
		if f.UsesExports {
			exports[f.Name] = true
			allowedBy[s3] = append(allowedBy[s3], f.Name)
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
		if sends[fn] && !slices.Contains(fields[1:], sesv1) {
			t.Errorf("function %s is marked SendsMail but does not link %s: its main must pass mailtransport.FromConfig to workflow.FromEnv", fn, sesv1)
		}
		// export-assemble must get the page renderer.
		if fn == "export-assemble" && !slices.Contains(fields[1:], exportPage) {
			t.Errorf("function %s does not link %s: its main must pass exportpage.Render", fn, exportPage)
		}
		// A function that keeps exports must get the bucket.
		if exports[fn] && !slices.Contains(fields[1:], s3bucket) {
			t.Errorf("function %s is marked UsesExports but does not link %s: its main must pass s3bucket.Open", fn, s3bucket)
		}
		for pkg, allowed := range allowedBy {
			if slices.Contains(fields[1:], pkg) && !slices.Contains(allowed, fn) {
				t.Errorf("function %s links %s; only %v may (see internal/dev/coldstart)", fn, pkg, allowed)
			}
		}
	}
}
