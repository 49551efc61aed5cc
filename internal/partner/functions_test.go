package partner_test

import (
	"reflect"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"

	"dsrflow/internal/partner"
	"dsrflow/internal/partner/export"
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

// TestFunctions: every task function is a valid Lambda handler, and an
// empty input is refused with the InvalidInput error name.
func TestFunctions(t *testing.T) {
	d := &partner.Dispatcher{}
	fs := partner.Functions(d, &export.Assembler{})
	seen := map[string]bool{}
	for _, f := range fs {
		if seen[f.Name] || seen[f.ArnKey] {
			t.Errorf("duplicate function %s / %s", f.Name, f.ArnKey)
		}
		seen[f.Name], seen[f.ArnKey] = true, true
		if f.Name == "dsr-export-assemble" {
			continue // export errors are its own
		}
		_, err := lambda.NewHandler(f.Handler).Invoke(t.Context(), []byte(`{}`))
		if err == nil || errorName(err) != "InvalidInput" {
			t.Errorf("%s({}) = %v (%T), want InvalidInput", f.Name, err, err)
		}
	}
	if len(partner.Functions(d, nil)) != len(fs)-1 {
		t.Errorf("Functions without an assembler still lists it")
	}
	for _, n := range partner.ErrorNames() {
		if n == "" {
			t.Errorf("empty error name")
		}
	}
	for _, e := range []error{&partner.PartnerRetryable{}, &partner.PartnerRejected{}, &partner.PartnerGarbage{}, &partner.PartnerFailed{}, &partner.BackupsNotYetRotated{}, &partner.RequestNotFound{}, &partner.InvalidInput{}, &partner.ServiceUnavailable{}} {
		found := false
		for _, n := range partner.ErrorNames() {
			found = found || n == errorName(e)
		}
		if !found {
			t.Errorf("ErrorNames lacks %s", errorName(e))
		}
	}
}
