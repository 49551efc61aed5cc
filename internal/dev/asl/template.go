package asl

import (
	"strings"
)

// A payload template is a compiled Parameters / ResultSelector / ItemSelector
// / Result value: keys ending in ".$" take their value from a path (on the
// effective input or, for "$$", the context object) or an intrinsic function.

type tmplKind uint8

const (
	tmplStatic tmplKind = iota
	tmplObject
	tmplArray
	tmplPath
	tmplCall
)

type tmplField struct {
	key string // without ".$"
	t   *tmpl
}

type tmpl struct {
	kind    tmplKind
	static  any
	fields  []tmplField
	items   []*tmpl
	path    *Path
	call    *intrinsicCall
	src     string // the ".$" key as written, for error messages
	usesCtx bool
}

// compileTemplate compiles v (decoded ordered definition JSON). It reports
// problems through bad(location suffix, code, message).
func compileTemplate(v any, loc string, bad func(loc, code, msg string)) *tmpl {
	switch x := v.(type) {
	case *jobj:
		t := &tmpl{kind: tmplObject}
		dynamic := false
		for _, k := range x.keys {
			val := x.m[k]
			kloc := loc + "/" + pointerEscape(k)
			if strings.HasSuffix(k, ".$") {
				s, ok := val.(string)
				if !ok {
					bad(kloc, "INVALID_TYPE", "the value of a field ending in \".$\" must be a string (a path or an intrinsic function)")
					continue
				}
				ft := &tmpl{src: k}
				if isIntrinsic(s) {
					call, err := parseIntrinsic(s)
					if err != nil {
						bad(kloc, "INVALID_INTRINSIC", err.Error())
						continue
					}
					ft.kind, ft.call = tmplCall, call
					ft.usesCtx = callUsesCtx(call)
				} else {
					p, err := parsePath(s)
					if err != nil {
						bad(kloc, "INVALID_PATH", err.Error())
						continue
					}
					ft.kind, ft.path, ft.usesCtx = tmplPath, p, p.context
				}
				t.fields = append(t.fields, tmplField{key: strings.TrimSuffix(k, ".$"), t: ft})
				dynamic = true
				t.usesCtx = t.usesCtx || ft.usesCtx
				continue
			}
			ft := compileTemplate(val, kloc, bad)
			if ft.kind != tmplStatic {
				dynamic = true
				t.usesCtx = t.usesCtx || ft.usesCtx
			}
			t.fields = append(t.fields, tmplField{key: k, t: ft})
		}
		if !dynamic {
			return &tmpl{kind: tmplStatic, static: plain(v)}
		}
		return t
	case []any:
		t := &tmpl{kind: tmplArray}
		dynamic := false
		for i, e := range x {
			et := compileTemplate(e, loc+"/"+itoa(i), bad)
			if et.kind != tmplStatic {
				dynamic = true
				t.usesCtx = t.usesCtx || et.usesCtx
			}
			t.items = append(t.items, et)
		}
		if !dynamic {
			return &tmpl{kind: tmplStatic, static: plain(v)}
		}
		return t
	}
	return &tmpl{kind: tmplStatic, static: v}
}

func callUsesCtx(c *intrinsicCall) bool {
	for _, a := range c.args {
		if a.kind == argPath && a.path.context {
			return true
		}
		if a.kind == argCall && callUsesCtx(a.call) {
			return true
		}
	}
	return false
}

// eval builds the payload for the given effective input and context object.
func (t *tmpl) eval(input, ctx any) (any, error) {
	switch t.kind {
	case tmplStatic:
		return t.static, nil
	case tmplObject:
		out := make(map[string]any, len(t.fields))
		for i := range t.fields {
			f := &t.fields[i]
			v, err := f.t.eval(input, ctx)
			if err != nil {
				return nil, err
			}
			out[f.key] = v
		}
		return out, nil
	case tmplArray:
		out := make([]any, len(t.items))
		for i, it := range t.items {
			v, err := it.eval(input, ctx)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case tmplPath:
		root := input
		if t.path.context {
			root = ctx
		}
		v, ok := t.path.eval(root)
		if !ok {
			// Unlike AWS, the cause leaves out the input: it may hold
			// personal data.
			return nil, newStateError(ErrParameterPathFailure,
				"The JSONPath '%s' specified for the field '%s' could not be found in the input",
				t.path.raw, t.src)
		}
		return v, nil
	case tmplCall:
		return t.call.eval(input, ctx)
	}
	return nil, nil
}

// plain converts ordered definition JSON into plain values.
func plain(v any) any {
	switch x := v.(type) {
	case *jobj:
		m := make(map[string]any, len(x.keys))
		for _, k := range x.keys {
			m[k] = plain(x.m[k])
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plain(e)
		}
		return out
	}
	return v
}
