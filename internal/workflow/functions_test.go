package workflow

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
)

// TestFunctionsRefuseEmptyInput: every task function, the partner ones
// included, answers an input without a request ID with InvalidInput (not
// retried by the definition), and names are unique.
func TestFunctionsRefuseEmptyInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	seen := map[string]bool{}
	for _, f := range Functions() {
		if seen[f.Name] || seen[f.ArnKey] {
			t.Errorf("function %s / %s listed twice", f.Name, f.ArnKey)
		}
		seen[f.Name], seen[f.ArnKey] = true, true
		hd := f.Handler(e.h)
		if hd == nil {
			t.Errorf("%s: no handler", f.Name)
			continue
		}
		_, err := lambda.NewHandler(hd).Invoke(context.Background(), []byte(`{}`))
		if err == nil {
			t.Errorf("%s accepted an empty input", f.Name)
			continue
		}
		name := typeName(errors.Unwrap(err))
		if name == "<nil>" {
			name = typeName(err)
		}
		if !strings.HasSuffix(name, ".InvalidInput") {
			t.Errorf("%s: empty input gave %s (%v), want InvalidInput", f.Name, name, err)
		}
	}
}
