package samtemplate_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"dsrflow/internal/dev/samtemplate"
)

// TestWriteBuiltTemplate: the template `make build` leaves in its build
// folder points each function at its own folder (CodeUri = logical ID, as
// sam build does), keeps the state machine's definition reachable, and
// changes nothing else.
func TestWriteBuiltTemplate(t *testing.T) {
	t.Parallel()
	src, root := load(t)
	dir := filepath.Join(t.TempDir(), ".aws-sam", "build")
	if err := samtemplate.WriteBuiltTemplate(filepath.Join(root, "template.yaml"), dir); err != nil {
		t.Fatal(err)
	}
	built, err := samtemplate.Load(filepath.Join(dir, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(built.Resources) != len(src.Resources) {
		t.Fatalf("built template has %d resources, want %d", len(built.Resources), len(src.Resources))
	}
	for id, r := range built.Resources {
		want := src.Resources[id]
		got := r.Properties
		switch r.Type {
		case samtemplate.TypeFunction:
			if got["CodeUri"] != id {
				t.Errorf("%s: CodeUri = %v, want %s", id, got["CodeUri"], id)
			}
		case samtemplate.TypeStateMachine:
			uri, _ := got["DefinitionUri"].(string)
			if _, err := os.Stat(filepath.Join(dir, uri)); err != nil {
				t.Errorf("%s: DefinitionUri %q does not reach the definition: %v", id, uri, err)
			}
		}
		g, w := map[string]any{}, map[string]any{}
		for k, v := range got {
			g[k] = v
		}
		for k, v := range want.Properties {
			w[k] = v
		}
		delete(g, "CodeUri")
		delete(w, "CodeUri")
		delete(g, "DefinitionUri")
		delete(w, "DefinitionUri")
		if !reflect.DeepEqual(g, w) || !reflect.DeepEqual(r.Metadata, want.Metadata) {
			t.Errorf("%s: properties changed beyond CodeUri/DefinitionUri", id)
		}
	}
}
