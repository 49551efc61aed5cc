package samtemplate

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Values gives the values a template's intrinsics resolve to outside
// CloudFormation (the local stack, tests, a local invoke).
type Values struct {
	// Parameters override parameter defaults by name.
	Parameters map[string]string
	// Resources are the physical values of Ref (by logical ID) and of
	// Fn::GetAtt (by "LogicalID.Attribute").
	Resources map[string]string
	// Pseudo are pseudo parameter values ("AWS::Region"); missing ones
	// default to LocalPseudo.
	Pseudo map[string]string
}

// LocalPseudo are the pseudo parameter values used when none are given.
var LocalPseudo = map[string]string{
	"AWS::AccountId": "123456789012",
	"AWS::Partition": "aws",
	"AWS::Region":    "us-east-1",
	"AWS::StackName": "dsrflow",
	"AWS::URLSuffix": "amazonaws.com",
}

// Resolve returns the string value of v: a literal, a Ref to a parameter
// (its override, else its Default), a pseudo parameter or a resource, a
// Fn::GetAtt, or a Fn::Sub of those.
func (t *Template) Resolve(v any, vals Values) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case float64:
		return strings.TrimSuffix(fmt.Sprintf("%v", x), ".0"), nil
	case bool:
		return fmt.Sprint(x), nil
	}
	if in, ok := AsIntrinsic(v); ok {
		if in.Func == "Ref" {
			return t.ref(in.Target, vals)
		}
		key := in.Target + "." + in.Attribute
		if s, ok := vals.Resources[key]; ok {
			return s, nil
		}
		return "", fmt.Errorf("no local value for Fn::GetAtt %s", key)
	}
	if sub, ok := asMap(v)["Fn::Sub"].(string); ok {
		var errs []error
		out := subVar.ReplaceAllStringFunc(sub, func(m string) string {
			name := m[2 : len(m)-1]
			var s string
			var err error
			if strings.Contains(name, ".") && !strings.HasPrefix(name, "AWS::") {
				s, err = t.Resolve(map[string]any{"Fn::GetAtt": name}, vals)
			} else {
				s, err = t.ref(name, vals)
			}
			if err != nil {
				errs = append(errs, err)
			}
			return s
		})
		return strings.ReplaceAll(out, "${!", "${"), errors.Join(errs...)
	}
	return "", fmt.Errorf("cannot resolve %v locally", v)
}

func (t *Template) ref(name string, vals Values) (string, error) {
	if s, ok := vals.Parameters[name]; ok {
		return s, nil
	}
	if p, ok := t.Parameters[name]; ok {
		if d, ok := p["Default"]; ok {
			return t.Resolve(d, Values{})
		}
		return "", fmt.Errorf("parameter %s has no default and no local value", name)
	}
	if s, ok := vals.Pseudo[name]; ok {
		return s, nil
	}
	if s, ok := LocalPseudo[name]; ok {
		return s, nil
	}
	if s, ok := vals.Resources[name]; ok {
		return s, nil
	}
	return "", fmt.Errorf("no local value for Ref %s", name)
}

// Env returns a function's environment variables with their values
// resolved. Every variable that does not resolve is named in the error.
func (t *Template) Env(f Function, vals Values) (map[string]string, error) {
	out := map[string]string{}
	var errs []error
	names := make([]string, 0, len(f.Environment))
	for k := range f.Environment {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		s, err := t.Resolve(f.Environment[k], vals)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", k, err))
			continue
		}
		out[k] = s
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("function %s environment: %w", f.Name, err)
	}
	return out, nil
}
