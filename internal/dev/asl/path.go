package asl

import (
	"fmt"
	"maps"
	"strconv"
	"strings"
)

// JSONPath support, hand-written: ASL needs a JSONPath subset (Jayway
// flavour) evaluated on decoded values, and reference paths that can also be
// *written* (ResultPath). A small evaluator compiled once at Parse time is
// faster than a general library on the hot path (a definite path is a slice of
// field/index steps) and lets reading and writing share one parser.

type segKind uint8

const (
	segName segKind = iota
	segIndex
	segWildcard
	segSlice
	segNames
	segIndices
	segFilter
)

type pathSeg struct {
	kind    segKind
	desc    bool // reached by recursive descent ("..")
	name    string
	index   int
	names   []string
	indices []int
	start   *int
	end     *int
	step    int
	filter  filterExpr
}

// Path is a compiled JSONPath ($ or $$ rooted).
type Path struct {
	raw      string
	context  bool // starts with $$: evaluated against the context object
	segs     []pathSeg
	definite bool // selects at most one node
	refPath  bool // only names and non-negative indices: a Reference Path
}

func (p *Path) String() string { return p.raw }

func parsePath(s string) (*Path, error) {
	p := &Path{raw: s}
	rest := s
	switch {
	case strings.HasPrefix(s, "$$"):
		p.context = true
		rest = s[2:]
	case strings.HasPrefix(s, "$"):
		rest = s[1:]
	default:
		return nil, fmt.Errorf("path %q must start with '$'", s)
	}
	segs, n, err := parseSegments(rest, false)
	if err != nil {
		return nil, fmt.Errorf("invalid path %q: %w", s, err)
	}
	if n != len(rest) {
		return nil, fmt.Errorf("invalid path %q: unexpected %q", s, rest[n:])
	}
	p.segs = segs
	p.definite, p.refPath = true, true
	for _, sg := range segs {
		switch sg.kind {
		case segName:
		case segIndex:
			if sg.index < 0 {
				p.refPath = false
			}
		default:
			p.definite, p.refPath = false, false
		}
		if sg.desc {
			p.definite, p.refPath = false, false
		}
	}
	return p, nil
}

// parseSegments parses path steps until the end of s or, when inFilter, a
// character that cannot continue a path. It returns the bytes consumed.
func parseSegments(s string, inFilter bool) ([]pathSeg, int, error) {
	var segs []pathSeg
	i := 0
	for i < len(s) {
		desc := false
		switch s[i] {
		case '.':
			i++
			if i < len(s) && s[i] == '.' {
				desc = true
				i++
			}
			if i < len(s) && s[i] == '[' {
				// "..[x]" is recursive; ".[x]" (seen in AWS's examples) is
				// the same as "[x]".
				seg, n, err := parseBracket(s[i:])
				if err != nil {
					return nil, i, err
				}
				seg.desc = desc
				segs = append(segs, seg)
				i += n
				continue
			}
			j := i
			for j < len(s) && s[j] != '.' && s[j] != '[' && !(inFilter && strings.IndexByte(" )=!<>&|,", s[j]) >= 0) {
				j++
			}
			name := s[i:j]
			if name == "" {
				return nil, i, fmt.Errorf("empty field name")
			}
			if name == "*" {
				segs = append(segs, pathSeg{kind: segWildcard, desc: desc})
			} else {
				segs = append(segs, pathSeg{kind: segName, name: name, desc: desc})
			}
			i = j
		case '[':
			seg, n, err := parseBracket(s[i:])
			if err != nil {
				return nil, i, err
			}
			segs = append(segs, seg)
			i += n
		default:
			if inFilter {
				return segs, i, nil
			}
			return nil, i, fmt.Errorf("unexpected character %q", s[i])
		}
	}
	return segs, i, nil
}

// parseBracket parses one "[...]" selector starting at s[0]=='['.
func parseBracket(s string) (pathSeg, int, error) {
	i := 1
	skip := func() {
		for i < len(s) && s[i] == ' ' {
			i++
		}
	}
	skip()
	if i >= len(s) {
		return pathSeg{}, i, fmt.Errorf("unterminated '['")
	}
	switch {
	case s[i] == '*':
		i++
		skip()
		if i >= len(s) || s[i] != ']' {
			return pathSeg{}, i, fmt.Errorf("expected ']'")
		}
		return pathSeg{kind: segWildcard}, i + 1, nil
	case s[i] == '?':
		i++
		skip()
		if i >= len(s) || s[i] != '(' {
			return pathSeg{}, i, fmt.Errorf("expected '(' after '?'")
		}
		fp := &filterParser{s: s, i: i + 1}
		expr, err := fp.parseOr()
		if err != nil {
			return pathSeg{}, fp.i, err
		}
		fp.skip()
		if fp.i >= len(s) || s[fp.i] != ')' {
			return pathSeg{}, fp.i, fmt.Errorf("expected ')' to close filter")
		}
		i = fp.i + 1
		skip()
		if i >= len(s) || s[i] != ']' {
			return pathSeg{}, i, fmt.Errorf("expected ']' after filter")
		}
		return pathSeg{kind: segFilter, filter: expr}, i + 1, nil
	case s[i] == '\'' || s[i] == '"':
		var names []string
		for {
			skip()
			if i >= len(s) || (s[i] != '\'' && s[i] != '"') {
				return pathSeg{}, i, fmt.Errorf("expected quoted name")
			}
			name, n, err := parseQuoted(s[i:])
			if err != nil {
				return pathSeg{}, i, err
			}
			names = append(names, name)
			i += n
			skip()
			if i < len(s) && s[i] == ',' {
				i++
				continue
			}
			if i < len(s) && s[i] == ']' {
				i++
				break
			}
			return pathSeg{}, i, fmt.Errorf("expected ']'")
		}
		if len(names) == 1 {
			return pathSeg{kind: segName, name: names[0]}, i, nil
		}
		return pathSeg{kind: segNames, names: names}, i, nil
	}
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return pathSeg{}, len(s), fmt.Errorf("unterminated '['")
	}
	body := strings.TrimSpace(s[i:end])
	if strings.Contains(body, ":") {
		parts := strings.Split(body, ":")
		if len(parts) > 3 {
			return pathSeg{}, i, fmt.Errorf("bad slice %q", body)
		}
		seg := pathSeg{kind: segSlice, step: 1}
		for k, part := range parts {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			n, err := strconv.Atoi(part)
			if err != nil {
				return pathSeg{}, i, fmt.Errorf("bad slice %q", body)
			}
			switch k {
			case 0:
				seg.start = &n
			case 1:
				seg.end = &n
			case 2:
				if n == 0 {
					return pathSeg{}, i, fmt.Errorf("slice step must not be 0")
				}
				seg.step = n
			}
		}
		return seg, end + 1, nil
	}
	var idx []int
	for _, part := range strings.Split(body, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil {
			return pathSeg{}, i, fmt.Errorf("bad index %q", body)
		}
		idx = append(idx, n)
	}
	if len(idx) == 1 {
		return pathSeg{kind: segIndex, index: idx[0]}, end + 1, nil
	}
	return pathSeg{kind: segIndices, indices: idx}, end + 1, nil
}

func parseQuoted(s string) (string, int, error) {
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			i++
			b.WriteByte(s[i])
			continue
		}
		if c == q {
			return b.String(), i + 1, nil
		}
		b.WriteByte(c)
	}
	return "", len(s), fmt.Errorf("unterminated quoted name")
}

// get evaluates a definite path; found is false when a step does not exist.
func (p *Path) get(root any) (any, bool) {
	cur := root
	for i := range p.segs {
		sg := &p.segs[i]
		cur = resolve(cur)
		switch sg.kind {
		case segName:
			m, ok := cur.(map[string]any)
			if !ok {
				return nil, false
			}
			cur, ok = m[sg.name]
			if !ok {
				return nil, false
			}
		case segIndex:
			a, ok := cur.([]any)
			if !ok {
				return nil, false
			}
			ix := sg.index
			if ix < 0 {
				ix += len(a)
			}
			if ix < 0 || ix >= len(a) {
				return nil, false
			}
			cur = a[ix]
		}
	}
	return cur, true
}

// eval evaluates the path. A definite path yields its node (found=false if
// missing); an indefinite path yields an array of all matches.
func (p *Path) eval(root any) (any, bool) {
	if p.definite {
		return p.get(root)
	}
	nodes := []any{root}
	for i := range p.segs {
		nodes = applySeg(&p.segs[i], nodes, root)
	}
	if nodes == nil {
		nodes = []any{}
	}
	return nodes, true
}

func applySeg(sg *pathSeg, nodes []any, root any) []any {
	var out []any
	if sg.desc {
		var all []any
		for _, n := range nodes {
			all = appendDescendants(all, n)
		}
		nodes = all
	}
	for _, n := range nodes {
		out = selectSeg(sg, n, root, out)
	}
	return out
}

func appendDescendants(out []any, n any) []any {
	out = append(out, n)
	switch x := resolve(n).(type) {
	case map[string]any:
		for _, k := range sortedKeys(x) {
			out = appendDescendants(out, x[k])
		}
	case []any:
		for _, e := range x {
			out = appendDescendants(out, e)
		}
	}
	return out
}

func selectSeg(sg *pathSeg, n any, root any, out []any) []any {
	n = resolve(n)
	switch sg.kind {
	case segName:
		if m, ok := n.(map[string]any); ok {
			if v, ok := m[sg.name]; ok {
				out = append(out, v)
			}
		}
	case segNames:
		if m, ok := n.(map[string]any); ok {
			for _, name := range sg.names {
				if v, ok := m[name]; ok {
					out = append(out, v)
				}
			}
		}
	case segIndex, segIndices:
		a, ok := n.([]any)
		if !ok {
			return out
		}
		idx := sg.indices
		if sg.kind == segIndex {
			idx = []int{sg.index}
		}
		for _, ix := range idx {
			if ix < 0 {
				ix += len(a)
			}
			if ix >= 0 && ix < len(a) {
				out = append(out, a[ix])
			}
		}
	case segWildcard:
		switch x := n.(type) {
		case map[string]any:
			for _, k := range sortedKeys(x) {
				out = append(out, x[k])
			}
		case []any:
			out = append(out, x...)
		}
	case segSlice:
		a, ok := n.([]any)
		if !ok {
			return out
		}
		l := len(a)
		norm := func(p *int, def int) int {
			if p == nil {
				return def
			}
			v := *p
			if v < 0 {
				v += l
			}
			return v
		}
		if sg.step > 0 {
			s, e := max(norm(sg.start, 0), 0), min(norm(sg.end, l), l)
			for i := s; i < e; i += sg.step {
				out = append(out, a[i])
			}
		} else {
			s, e := min(norm(sg.start, l-1), l-1), max(norm(sg.end, -1), -1)
			for i := s; i > e; i += sg.step {
				out = append(out, a[i])
			}
		}
	case segFilter:
		switch x := n.(type) {
		case []any:
			for _, e := range x {
				if sg.filter.test(e, root) {
					out = append(out, e)
				}
			}
		case map[string]any:
			for _, k := range sortedKeys(x) {
				if sg.filter.test(x[k], root) {
					out = append(out, x[k])
				}
			}
		}
	}
	return out
}

// ---- filter expressions: [?(@.price < 10 && @.category == 'fiction')]

type filterExpr interface {
	test(node, root any) bool
}

type filterOperand struct {
	rel     bool // @-rooted
	path    *Path
	literal any
	isLit   bool
}

func (o *filterOperand) value(node, root any) (any, bool) {
	if o.isLit {
		return o.literal, true
	}
	base := root
	if o.rel {
		base = node
	}
	if o.path.definite {
		return o.path.get(base)
	}
	return o.path.eval(base)
}

type filterCmp struct {
	left  filterOperand
	op    string
	right *filterOperand
}

func (c *filterCmp) test(node, root any) bool {
	l, ok := c.left.value(node, root)
	if c.right == nil {
		if !ok {
			return false
		}
		if b, isBool := l.(bool); isBool {
			return b
		}
		return true
	}
	r, ok2 := c.right.value(node, root)
	if !ok || !ok2 {
		return c.op == "!=" && ok != ok2
	}
	switch c.op {
	case "==":
		return jsonEqual(l, r)
	case "!=":
		return !jsonEqual(l, r)
	}
	if lf, ok := toFloat(l); ok {
		rf, ok := toFloat(r)
		if !ok {
			return false
		}
		switch c.op {
		case "<":
			return lf < rf
		case "<=":
			return lf <= rf
		case ">":
			return lf > rf
		case ">=":
			return lf >= rf
		}
	}
	ls, ok1 := l.(string)
	rs, ok2 := r.(string)
	if !ok1 || !ok2 {
		return false
	}
	switch c.op {
	case "<":
		return ls < rs
	case "<=":
		return ls <= rs
	case ">":
		return ls > rs
	case ">=":
		return ls >= rs
	}
	return false
}

type filterAnd []filterExpr

func (a filterAnd) test(node, root any) bool {
	for _, e := range a {
		if !e.test(node, root) {
			return false
		}
	}
	return true
}

type filterOr []filterExpr

func (o filterOr) test(node, root any) bool {
	for _, e := range o {
		if e.test(node, root) {
			return true
		}
	}
	return false
}

type filterNot struct{ e filterExpr }

func (n filterNot) test(node, root any) bool { return !n.e.test(node, root) }

type filterParser struct {
	s string
	i int
}

func (p *filterParser) skip() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *filterParser) parseOr() (filterExpr, error) {
	var terms filterOr
	for {
		e, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		terms = append(terms, e)
		p.skip()
		if strings.HasPrefix(p.s[p.i:], "||") {
			p.i += 2
			continue
		}
		break
	}
	if len(terms) == 1 {
		return terms[0], nil
	}
	return terms, nil
}

func (p *filterParser) parseAnd() (filterExpr, error) {
	var terms filterAnd
	for {
		e, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		terms = append(terms, e)
		p.skip()
		if strings.HasPrefix(p.s[p.i:], "&&") {
			p.i += 2
			continue
		}
		break
	}
	if len(terms) == 1 {
		return terms[0], nil
	}
	return terms, nil
}

func (p *filterParser) parseUnary() (filterExpr, error) {
	p.skip()
	if p.i < len(p.s) && p.s[p.i] == '!' && !strings.HasPrefix(p.s[p.i:], "!=") {
		p.i++
		e, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return filterNot{e}, nil
	}
	if p.i < len(p.s) && p.s[p.i] == '(' {
		p.i++
		e, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		p.skip()
		if p.i >= len(p.s) || p.s[p.i] != ')' {
			return nil, fmt.Errorf("expected ')' in filter")
		}
		p.i++
		return e, nil
	}
	left, err := p.parseOperand()
	if err != nil {
		return nil, err
	}
	p.skip()
	for _, op := range []string{"==", "!=", "<=", ">=", "<", ">"} {
		if strings.HasPrefix(p.s[p.i:], op) {
			p.i += len(op)
			right, err := p.parseOperand()
			if err != nil {
				return nil, err
			}
			return &filterCmp{left: left, op: op, right: &right}, nil
		}
	}
	if left.isLit {
		return nil, fmt.Errorf("filter needs a comparison")
	}
	return &filterCmp{left: left}, nil
}

func (p *filterParser) parseOperand() (filterOperand, error) {
	p.skip()
	if p.i >= len(p.s) {
		return filterOperand{}, fmt.Errorf("unterminated filter")
	}
	c := p.s[p.i]
	switch {
	case c == '@' || c == '$':
		p.i++
		segs, n, err := parseSegments(p.s[p.i:], true)
		if err != nil {
			return filterOperand{}, err
		}
		raw := string(c) + p.s[p.i:p.i+n]
		p.i += n
		path := &Path{raw: raw, segs: segs, definite: true}
		for _, sg := range segs {
			if sg.desc || (sg.kind != segName && sg.kind != segIndex) {
				path.definite = false
			}
		}
		return filterOperand{rel: c == '@', path: path}, nil
	case c == '\'' || c == '"':
		s, n, err := parseQuoted(p.s[p.i:])
		if err != nil {
			return filterOperand{}, err
		}
		p.i += n
		return filterOperand{isLit: true, literal: s}, nil
	}
	j := p.i
	for j < len(p.s) && strings.IndexByte(" )=!<>&|", p.s[j]) < 0 {
		j++
	}
	tok := p.s[p.i:j]
	p.i = j
	switch tok {
	case "true":
		return filterOperand{isLit: true, literal: true}, nil
	case "false":
		return filterOperand{isLit: true, literal: false}, nil
	case "null":
		return filterOperand{isLit: true, literal: nil}, nil
	}
	if _, err := strconv.ParseFloat(tok, 64); err == nil {
		return filterOperand{isLit: true, literal: jsonNumberLiteral(tok)}, nil
	}
	return filterOperand{}, fmt.Errorf("bad filter operand %q", tok)
}

func jsonNumberLiteral(s string) any {
	v, err := decodeJSON([]byte(s))
	if err != nil {
		return nil
	}
	return v
}

// set returns a copy of root with the reference path set to value, creating
// missing objects on the way. It never modifies root.
func (p *Path) set(root, value any) (any, error) {
	return setSegs(root, p.segs, value)
}

func setSegs(cur any, segs []pathSeg, value any) (any, error) {
	if len(segs) == 0 {
		return value, nil
	}
	sg := &segs[0]
	cur = resolve(cur)
	switch sg.kind {
	case segName:
		var m map[string]any
		switch x := cur.(type) {
		case map[string]any:
			// Cloning copies the table, rather than inserting key by key.
			m = maps.Clone(x)
			if m == nil {
				m = map[string]any{}
			}
		case nil:
			m = map[string]any{}
		default:
			return nil, fmt.Errorf("cannot set field %q on a %s", sg.name, typeName(cur))
		}
		child, err := setSegs(m[sg.name], segs[1:], value)
		if err != nil {
			return nil, err
		}
		m[sg.name] = child
		return m, nil
	case segIndex:
		a, ok := cur.([]any)
		if !ok {
			return nil, fmt.Errorf("cannot set index %d on a %s", sg.index, typeName(cur))
		}
		if sg.index < 0 || sg.index >= len(a) {
			return nil, fmt.Errorf("index %d out of range", sg.index)
		}
		b := make([]any, len(a))
		copy(b, a)
		child, err := setSegs(b[sg.index], segs[1:], value)
		if err != nil {
			return nil, err
		}
		b[sg.index] = child
		return b, nil
	}
	return nil, fmt.Errorf("not a reference path")
}
