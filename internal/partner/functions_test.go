package partner_test

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"

	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/partner"
)

// errorName is the error name Step Functions sees: the Go type name, as
// aws-lambda-go reports it.
func errorName(err error) string {
	t := reflect.TypeOf(err)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

// TestFunctions: the partner task functions are one Map iteration (Run)
// and its Catch (Escalate); each is a valid Lambda handler refusing an
// empty input with the InvalidInput error name, has a function under
// functions/, and its ARN key is the one the workflow's definition
// substitutes.
func TestFunctions(t *testing.T) {
	root, err := dynamotest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	def, err := os.ReadFile(filepath.Join(root, "statemachines", "dsr.asl.json"))
	if err != nil {
		t.Fatal(err)
	}
	d := partner.NewDispatcher(partner.DispatcherConfig{}, partner.DispatcherDeps{})
	fs := partner.Functions(d)
	var names, keys []string
	for _, f := range fs {
		names, keys = append(names, f.Name), append(keys, f.ArnKey)
		_, err := lambda.NewHandler(f.Handler).Invoke(t.Context(), []byte(`{}`))
		if err == nil || errorName(err) != "InvalidInput" {
			t.Errorf("%s({}) = %v (%T), want InvalidInput", f.Name, err, err)
		}
		if _, err := os.Stat(filepath.Join(root, "functions", f.Name, "main.go")); err != nil {
			t.Errorf("function %s has no functions/%s/main.go: %v", f.Name, f.Name, err)
		}
		if !strings.Contains(string(def), "${"+f.ArnKey+"}") {
			t.Errorf("statemachines/dsr.asl.json never uses ${%s}", f.ArnKey)
		}
	}
	if want := []string{"partner", "partner-escalate"}; !slices.Equal(names, want) {
		t.Errorf("functions %v, want %v", names, want)
	}
	if want := []string{"PartnerFunctionArn", "PartnerEscalateFunctionArn"}; !slices.Equal(keys, want) {
		t.Errorf("ARN keys %v, want %v", keys, want)
	}
}

// TestErrorNames: every error the handlers return is listed by its name,
// and every name listed is an error of this package.
func TestErrorNames(t *testing.T) {
	errs := []error{&partner.PartnerRetryable{}, &partner.PartnerRejected{}, &partner.PartnerGarbage{}, &partner.PartnerFailed{}, &partner.BackupsNotYetRotated{}, &partner.RequestNotFound{}, &partner.InvalidInput{}, &partner.ServiceUnavailable{}}
	var names []string
	for _, e := range errs {
		names = append(names, errorName(e))
	}
	if got := partner.ErrorNames(); !slices.Equal(got, names) {
		t.Errorf("ErrorNames() = %v, want %v", got, names)
	}
	// The partner errors and BackupsNotYetRotated pass through the
	// workflow's handlers as they are: the definition retries and catches
	// them by name.
	for _, e := range errs[:5] {
		if !partner.IsNamed(e) {
			t.Errorf("IsNamed(%T) = false", e)
		}
	}
	for _, e := range errs[5:] {
		if partner.IsNamed(e) {
			t.Errorf("IsNamed(%T) = true: only partner and backup errors are", e)
		}
	}
}
