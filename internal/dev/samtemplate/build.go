package samtemplate

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// WriteBuiltTemplate writes the template as `sam build` leaves it in its
// build folder: each function's CodeUri is its logical ID (the folder that
// holds its bootstrap) and each state machine's DefinitionUri is made
// relative to dir. Comments, tags and order are kept.
func WriteBuiltTemplate(src, dir string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("read template: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("template %s: %w", src, err)
	}
	if len(doc.Content) == 0 {
		return fmt.Errorf("template %s is empty", src)
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	srcDir, err := filepath.Abs(filepath.Dir(src))
	if err != nil {
		return err
	}
	resources := child(doc.Content[0], "Resources")
	if resources == nil {
		return fmt.Errorf("template %s: no Resources", src)
	}
	for i := 0; i+1 < len(resources.Content); i += 2 {
		id, res := resources.Content[i].Value, resources.Content[i+1]
		typ := child(res, "Type")
		props := child(res, "Properties")
		if typ == nil || props == nil {
			continue
		}
		switch typ.Value {
		case TypeFunction:
			if uri := child(props, "CodeUri"); uri != nil && uri.Kind == yaml.ScalarNode {
				uri.Value, uri.Tag, uri.Style = id, "!!str", 0
			}
		case TypeStateMachine:
			if uri := child(props, "DefinitionUri"); uri != nil && uri.Kind == yaml.ScalarNode {
				rel, err := filepath.Rel(absDir, filepath.Join(srcDir, uri.Value))
				if err != nil {
					return fmt.Errorf("state machine %s: %w", id, err)
				}
				uri.Value = filepath.ToSlash(rel)
			}
		}
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return fmt.Errorf("write template: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "template.yaml"), out.Bytes(), 0o644)
}

// child returns the value of key in mapping node m, or nil.
func child(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}
