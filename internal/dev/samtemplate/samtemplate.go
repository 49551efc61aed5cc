// Package samtemplate reads the AWS SAM template (template.yaml) for what the
// build, the local invoke and the template's own checks need: the functions
// with their Go packages, environment variables and HTTP API routes, the state
// machine's definition and substitutions, and every reference between
// resources.
//
// The template is read with github.com/awslabs/goformation/v7's intrinsics
// processor with processing turned off: it turns the short-form tags (!Ref,
// !GetAtt, !Sub, ...) into their long form ({"Ref": ...}, {"Fn::GetAtt": ...})
// and leaves them unresolved, so every reference stays visible. Globals are
// merged here for the function properties that use them (goformation does not
// merge Globals).
package samtemplate

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/awslabs/goformation/v7/intrinsics"

	"dsrflow/internal/store/tableschema"
)

// Resource types this package reads.
const (
	TypeFunction     = "AWS::Serverless::Function"
	TypeStateMachine = "AWS::Serverless::StateMachine"
)

// Template is a parsed template.
type Template struct {
	// Path is the file the template was read from.
	Path string
	// Doc is the whole template in JSON form with long-form intrinsics.
	Doc map[string]any
	// Parameters and Resources are Doc's sections.
	Parameters map[string]map[string]any
	Resources  map[string]Resource
	// Globals is Globals.Function.
	Globals map[string]any
}

// Resource is one entry of Resources.
type Resource struct {
	LogicalID  string
	Type       string
	Condition  string
	Metadata   map[string]any
	Properties map[string]any
}

// Load reads and parses the template at path.
func Load(p string) (*Template, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", p, err)
	}
	t.Path = p
	return t, nil
}

// Parse parses a YAML or JSON template.
func Parse(data []byte) (*Template, error) {
	out, err := tableschema.ProcessYAML(data, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(out, &doc); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	t := &Template{Doc: doc, Parameters: map[string]map[string]any{}, Resources: map[string]Resource{}}
	for name, p := range asMap(doc["Parameters"]) {
		t.Parameters[name] = asMap(p)
	}
	if g := asMap(asMap(doc["Globals"])["Function"]); g != nil {
		t.Globals = g
	}
	res := asMap(doc["Resources"])
	if len(res) == 0 {
		return nil, errors.New("no Resources")
	}
	for id, r := range res {
		m := asMap(r)
		typ, _ := m["Type"].(string)
		if typ == "" {
			return nil, fmt.Errorf("resource %s has no Type", id)
		}
		cond, _ := m["Condition"].(string)
		t.Resources[id] = Resource{LogicalID: id, Type: typ, Condition: cond, Metadata: asMap(m["Metadata"]), Properties: asMap(m["Properties"])}
	}
	return t, nil
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// Function is one AWS::Serverless::Function.
type Function struct {
	LogicalID string
	// Main is the Go package of the function's main, relative to the
	// repository root ("./functions/intake-web"), from Metadata.Main.
	Main string
	// Name is the base name of Main ("intake-web").
	Name string
	// BuildMethod is Metadata.BuildMethod.
	BuildMethod string
	// CodeUri is the CodeUri property (a local folder).
	CodeUri string
	// Runtime, Handler and Architectures are the effective values, the
	// function's own or else Globals'.
	Runtime       string
	Handler       string
	Architectures []string
	// Environment is Environment.Variables: literal strings or intrinsics.
	Environment map[string]any
	// Events are the function's event sources by name.
	Events map[string]Event
	// Policies is the Policies property as written.
	Policies []any
}

// Event is one entry of a function's Events.
type Event struct {
	Type       string
	Properties map[string]any
}

// Functions returns every function, sorted by logical ID.
func (t *Template) Functions() ([]Function, error) {
	var out []Function
	var errs []error
	for _, id := range t.sortedIDs(TypeFunction) {
		f, err := t.function(t.Resources[id])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, f)
	}
	return out, errors.Join(errs...)
}

// Function returns the function whose Name (folder) or logical ID is name.
func (t *Template) Function(name string) (Function, error) {
	fns, err := t.Functions()
	if err != nil {
		return Function{}, err
	}
	var names []string
	for _, f := range fns {
		if f.Name == name || f.LogicalID == name {
			return f, nil
		}
		names = append(names, f.Name)
	}
	return Function{}, fmt.Errorf("no function %q in %s (functions: %s)", name, t.Path, strings.Join(names, ", "))
}

func (t *Template) sortedIDs(typ string) []string {
	var ids []string
	for id, r := range t.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

func (t *Template) function(r Resource) (Function, error) {
	p := r.Properties
	f := Function{LogicalID: r.LogicalID, Environment: map[string]any{}, Events: map[string]Event{}}
	f.Main, _ = r.Metadata["Main"].(string)
	f.BuildMethod, _ = r.Metadata["BuildMethod"].(string)
	if f.Main == "" {
		return f, fmt.Errorf("function %s: no Metadata.Main (its Go package, e.g. ./functions/<name>)", r.LogicalID)
	}
	f.Name = path.Base(f.Main)
	f.CodeUri, _ = p["CodeUri"].(string)
	f.Runtime = t.stringProp(p, "Runtime")
	f.Handler = t.stringProp(p, "Handler")
	archs, ok := p["Architectures"].([]any)
	if !ok {
		archs, _ = t.Globals["Architectures"].([]any)
	}
	for _, a := range archs {
		s, _ := a.(string)
		f.Architectures = append(f.Architectures, s)
	}
	if env := asMap(asMap(p["Environment"])["Variables"]); env != nil {
		f.Environment = env
	}
	for name, e := range asMap(p["Events"]) {
		m := asMap(e)
		typ, _ := m["Type"].(string)
		f.Events[name] = Event{Type: typ, Properties: asMap(m["Properties"])}
	}
	switch pol := p["Policies"].(type) {
	case []any:
		f.Policies = pol
	case nil:
	default:
		f.Policies = []any{pol}
	}
	return f, nil
}

func (t *Template) stringProp(p map[string]any, key string) string {
	if s, ok := p[key].(string); ok {
		return s
	}
	s, _ := t.Globals[key].(string)
	return s
}

// Route is an HTTP API route of a function.
type Route struct {
	Method, Path string
	Function     string // the function's Name
	LogicalID    string
}

// Key is the API Gateway route key ("GET /requests/{id}").
func (r Route) Key() string { return r.Method + " " + r.Path }

// Routes returns every HttpApi event of every function, sorted by path and
// method.
func (t *Template) Routes() ([]Route, error) {
	fns, err := t.Functions()
	if err != nil {
		return nil, err
	}
	var out []Route
	for _, f := range fns {
		for name, e := range f.Events {
			if e.Type != "HttpApi" {
				continue
			}
			m, _ := e.Properties["Method"].(string)
			p, _ := e.Properties["Path"].(string)
			if m == "" || p == "" {
				return nil, fmt.Errorf("function %s event %s: HttpApi event without Method and Path", f.LogicalID, name)
			}
			out = append(out, Route{Method: strings.ToUpper(m), Path: p, Function: f.Name, LogicalID: f.LogicalID})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Method < out[j].Method
	})
	return out, nil
}

// StateMachine is one AWS::Serverless::StateMachine.
type StateMachine struct {
	LogicalID     string
	DefinitionUri string
	// Substitutions are DefinitionSubstitutions: literal strings or
	// intrinsics.
	Substitutions map[string]any
	Policies      []any
	Properties    map[string]any
}

// StateMachines returns every state machine, sorted by logical ID.
func (t *Template) StateMachines() []StateMachine {
	var out []StateMachine
	for _, id := range t.sortedIDs(TypeStateMachine) {
		p := t.Resources[id].Properties
		sm := StateMachine{LogicalID: id, Properties: p, Substitutions: map[string]any{}}
		sm.DefinitionUri, _ = p["DefinitionUri"].(string)
		if s := asMap(p["DefinitionSubstitutions"]); s != nil {
			sm.Substitutions = s
		}
		if pol, ok := p["Policies"].([]any); ok {
			sm.Policies = pol
		}
		out = append(out, sm)
	}
	return out
}

// placeholder matches ${Name} in a state machine definition, as SAM's
// DefinitionSubstitutions replaces them.
var placeholder = regexp.MustCompile(`\$\{([^}]+)\}`)

// Placeholders returns the ${Name}s used in a definition, sorted, once each.
func Placeholders(def []byte) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range placeholder.FindAllSubmatch(def, -1) {
		n := string(m[1])
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Intrinsic is a Ref or Fn::GetAtt: the target logical ID (or parameter or
// pseudo parameter) and, for GetAtt, the attribute.
type Intrinsic struct {
	Func      string // "Ref" or "Fn::GetAtt"
	Target    string
	Attribute string
}

// AsIntrinsic reports whether v is {"Ref": X} or {"Fn::GetAtt": ...}.
func AsIntrinsic(v any) (Intrinsic, bool) {
	m := asMap(v)
	if len(m) != 1 {
		return Intrinsic{}, false
	}
	if s, ok := m["Ref"].(string); ok {
		return Intrinsic{Func: "Ref", Target: s}, true
	}
	switch g := m["Fn::GetAtt"].(type) {
	case string:
		target, attr, _ := strings.Cut(g, ".")
		return Intrinsic{Func: "Fn::GetAtt", Target: target, Attribute: attr}, true
	case []any:
		if len(g) == 2 {
			target, _ := g[0].(string)
			attr, _ := g[1].(string)
			return Intrinsic{Func: "Fn::GetAtt", Target: target, Attribute: attr}, true
		}
	}
	return Intrinsic{}, false
}

// Reference is one use of a name by Ref, Fn::GetAtt or a ${Name} in
// Fn::Sub, at a path in the template.
type Reference struct {
	Path   string // e.g. Resources.IntakeWebFunction.Properties.Environment.Variables.TABLE_NAME
	Func   string // Ref, Fn::GetAtt or Fn::Sub
	Target string // logical ID, parameter or pseudo parameter
}

// subVar matches ${Name} and ${Name.Attr} in Fn::Sub strings; ${!Literal} is
// not a variable.
var subVar = regexp.MustCompile(`\$\{([^!}][^}]*)\}`)

// References returns every Ref, Fn::GetAtt and Fn::Sub variable in the
// template, in a stable order. Variables defined by a Fn::Sub's own map are
// left out.
func (t *Template) References() []Reference {
	var out []Reference
	var walk func(p string, v any)
	walk = func(p string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if in, ok := AsIntrinsic(x); ok {
				out = append(out, Reference{Path: p, Func: in.Func, Target: in.Target})
				return
			}
			if sub, ok := x["Fn::Sub"]; ok && len(x) == 1 {
				str, vars := "", map[string]any{}
				switch s := sub.(type) {
				case string:
					str = s
				case []any:
					if len(s) > 0 {
						str, _ = s[0].(string)
					}
					if len(s) > 1 {
						vars = asMap(s[1])
						walk(p+".Fn::Sub", s[1])
					}
				}
				for _, m := range subVar.FindAllStringSubmatch(str, -1) {
					name, _, _ := strings.Cut(m[1], ".")
					if _, local := vars[name]; local {
						continue
					}
					out = append(out, Reference{Path: p, Func: "Fn::Sub", Target: name})
				}
				return
			}
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(p+"."+k, x[k])
			}
		case []any:
			for i, e := range x {
				walk(fmt.Sprintf("%s[%d]", p, i), e)
			}
		}
	}
	for _, section := range []string{"Conditions", "Globals", "Resources", "Outputs"} {
		walk(section, t.Doc[section])
	}
	return out
}

// Strings returns every string value in the template with its path, in a
// stable order (used to look for literal ARNs).
func (t *Template) Strings() map[string]string {
	out := map[string]string{}
	var walk func(p string, v any)
	walk = func(p string, v any) {
		switch x := v.(type) {
		case string:
			out[p] = x
		case map[string]any:
			for k, e := range x {
				walk(p+"."+k, e)
			}
		case []any:
			for i, e := range x {
				walk(fmt.Sprintf("%s[%d]", p, i), e)
			}
		}
	}
	walk("", t.Doc)
	return out
}

// PseudoParameters are CloudFormation's pseudo parameters.
var PseudoParameters = []string{
	"AWS::AccountId", "AWS::NotificationARNs", "AWS::NoValue", "AWS::Partition",
	"AWS::Region", "AWS::StackId", "AWS::StackName", "AWS::URLSuffix",
}
