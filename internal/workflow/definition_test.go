package workflow

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"dsrflow/internal/dev/asl"
	"dsrflow/internal/dev/dynamotest"
)

// definition reads statemachines/dsr.asl.json.
func definition(t testing.TB) []byte {
	t.Helper()
	root, err := dynamotest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "statemachines", "dsr.asl.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func substituted(t testing.TB, partition string) []byte {
	t.Helper()
	def, err := Substitute(definition(t), LocalSubstitutions(partition, "cn-north-1", "123456789012"))
	if err != nil {
		t.Fatal(err)
	}
	return def
}

func TestDefinitionValidates(t *testing.T) {
	if problems := asl.Validate(substituted(t, "aws")); len(problems) > 0 {
		t.Fatalf("asl.Validate: %v", problems)
	}
	if _, err := asl.Parse(substituted(t, "aws")); err != nil {
		t.Fatalf("asl.Parse: %v", err)
	}
}

func TestDefinitionSubstitutions(t *testing.T) {
	raw := string(definition(t))
	if strings.Contains(raw, "arn:aws:") {
		t.Errorf("definition hard-codes the aws partition; use ${%s}", PartitionKey)
	}
	used := map[string]bool{}
	for _, m := range regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`).FindAllStringSubmatch(raw, -1) {
		used[m[1]] = true
	}
	want := map[string]bool{PartitionKey: true}
	for _, f := range Functions() {
		want[f.ArnKey] = true
	}
	for k := range want {
		if !used[k] {
			t.Errorf("substitution ${%s} not used in the definition", k)
		}
	}
	for k := range used {
		if !want[k] {
			t.Errorf("definition uses ${%s}, which Functions() does not provide", k)
		}
	}
	if _, err := Substitute([]byte(`{"a":"${Nope}"}`), nil); err == nil || !strings.Contains(err.Error(), "Nope") {
		t.Errorf("Substitute with a missing value: got %v, want an error naming Nope", err)
	}
}

// errorNames collects every ErrorEquals entry of the definition.
func errorNames(t *testing.T, def []byte) []string {
	var doc struct {
		States map[string]struct {
			Retry []struct{ ErrorEquals []string }
			Catch []struct{ ErrorEquals []string }
		}
	}
	if err := json.Unmarshal(def, &doc); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, st := range doc.States {
		for _, r := range st.Retry {
			for _, e := range r.ErrorEquals {
				seen[e] = true
			}
		}
		for _, c := range st.Catch {
			for _, e := range c.ErrorEquals {
				seen[e] = true
			}
		}
	}
	var out []string
	for e := range seen {
		out = append(out, e)
	}
	sort.Strings(out)
	return out
}

// TestErrorContract checks that ERRORS.md documents every error a handler
// returns and every error name the definition matches, and that the
// definition matches only names that exist.
func TestErrorContract(t *testing.T) {
	root, _ := dynamotest.RepoRoot()
	doc, err := os.ReadFile(filepath.Join(root, "statemachines", "ERRORS.md"))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, n := range Names() {
		names[n] = true
		if !strings.Contains(string(doc), "`"+n+"`") {
			t.Errorf("ERRORS.md does not document `%s`", n)
		}
	}
	for _, e := range errorNames(t, definition(t)) {
		if !strings.Contains(string(doc), "`"+e+"`") {
			t.Errorf("ERRORS.md does not document `%s`, which the definition matches", e)
		}
		if !names[e] && !strings.HasPrefix(e, "States.") && !strings.HasPrefix(e, "Lambda.") {
			t.Errorf("the definition matches %q, which no handler returns", e)
		}
	}
	// The names are the Go type names aws-lambda-go reports (the pointed-to
	// type's name, without its package: some are partner's, aliased).
	for _, err := range []error{&RequestNotFound{}, &InvalidInput{}, &StatusConflict{}, &ServiceUnavailable{}, &DeliveryFailed{}, &NoDeliveryChannel{}} {
		n := reflect.TypeOf(err).Elem().Name()
		if !names[n] {
			t.Errorf("error type %s is not in Names()", n)
		}
	}
}
