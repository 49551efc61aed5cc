// Package envconfig reads a function's configuration struct from environment
// variables (caarlos0/env tags) and reports mistakes by variable name, never
// quoting a value: a value may be a secret.
package envconfig

import (
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strings"

	env "github.com/caarlos0/env/v11"
)

// Parse reads T from the process environment.
func Parse[T any]() (T, error) {
	return ParseFrom[T](nil)
}

// ParseFrom reads T from environ, or from the process environment when
// environ is nil. A value that does not parse is reported by its variable
// and type only.
func ParseFrom[T any](environ map[string]string) (T, error) {
	c, err := env.ParseAsWithOptions[T](env.Options{Environment: environ})
	if err != nil {
		var zero T
		return zero, nameVariables[T](err)
	}
	return c, nil
}

// nameVariables rewrites env's parse errors, which name the Go field and
// quote the value, into errors naming the variable and its type only.
func nameVariables[T any](err error) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	typ := reflect.TypeFor[T]()
	out := make([]error, 0, len(agg.Errors))
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			name := pe.Name
			if typ.Kind() == reflect.Struct {
				if f, ok := typ.FieldByName(pe.Name); ok {
					name, _, _ = strings.Cut(f.Tag.Get("env"), ",")
				}
			}
			e = fmt.Errorf("%s: not a valid %s", name, pe.Type)
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

// CheckSecret reports a secret shorter than minLen bytes, naming its
// variable, never the value.
func CheckSecret(name, value string, minLen int) error {
	if len(value) < minLen {
		return fmt.Errorf("%s must be at least %d bytes", name, minLen)
	}
	return nil
}

// CheckBaseURL reports a value that is not an absolute http(s) URL without
// query or fragment (a base that paths are appended to).
func CheckBaseURL(name, value string) error {
	u, err := url.Parse(value)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%s must be an absolute http(s) URL without query or fragment", name)
	}
	return nil
}
