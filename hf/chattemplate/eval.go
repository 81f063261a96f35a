package chattemplate

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"
)

// TemplateError is a template syntax error or an error raised while rendering,
// including raise_exception(msg) calls from the template itself.
type TemplateError struct {
	Message string // the message, e.g. the argument of raise_exception
	Line    int    // template line, when known
	Syntax  bool   // a parse error rather than a render-time error
	Raised  bool   // raised by the template with raise_exception
}

func (e *TemplateError) Error() string {
	if e.Raised || e.Line == 0 {
		return "chat template: " + e.Message
	}
	if e.Syntax {
		return fmt.Sprintf("chat template: syntax error at line %d: %s", e.Line, e.Message)
	}
	return fmt.Sprintf("chat template: line %d: %s", e.Line, e.Message)
}

func errorf(format string, args ...any) error {
	return &TemplateError{Message: fmt.Sprintf(format, args...)}
}

// withLine attaches a template line to a render error that has none yet.
func withLine(err error, line int) error {
	var te *TemplateError
	if errors.As(err, &te) && te.Line == 0 && !te.Raised && line > 0 {
		te.Line = line
	}
	return err
}

var (
	errBreak    = errors.New("break outside loop")
	errContinue = errors.New("continue outside loop")
)

// scope is one level of variables. Scopes are small (a loop iteration holds
// its target and `loop`), so a slice beats a map.
type scope struct {
	names  []string
	vals   []any
	parent *scope
}

func newScope(parent *scope) *scope { return &scope{parent: parent} }

func (s *scope) set(name string, v any) {
	for i, n := range s.names {
		if n == name {
			s.vals[i] = v
			return
		}
	}
	s.names = append(s.names, name)
	s.vals = append(s.vals, v)
}

func (s *scope) lookup(name string) (any, bool) {
	for ; s != nil; s = s.parent {
		for i, n := range s.names {
			if n == name {
				return s.vals[i], true
			}
		}
	}
	return nil, false
}

// renderer holds per-render state.
type renderer struct {
	out      *strings.Builder
	now      func() time.Time
	steps    int
	depth    int       // macro call depth
	line     int       // line of the statement being executed (for limit errors)
	built    int64     // bytes built by ~, + and * (see charge)
	deadline time.Time // wall-time watchdog; zero: none
	timeout  time.Duration
}

// maxCallDepth bounds macro recursion (Python stops at about 1000 frames).
const maxCallDepth = 500

// Resource bounds: Python would run (or allocate) as long as a template asks;
// these stop runaway templates with an error instead. (Variables only so that
// the fuzz target can shrink them; nothing else changes them.)
const maxSteps = 5_000_000 // statements, loop iterations and calls evaluated

var (
	maxOutputLen = 64 << 20 // bytes of output or of one captured block
	maxSeqLen    = 10 << 20 // characters or items produced by one repetition or padding
)

func (r *renderer) tick() error {
	r.steps++
	if r.steps > maxSteps {
		return errorf("template exceeded %d evaluation steps", maxSteps)
	}
	if r.out.Len() > maxOutputLen {
		return errorf("rendered output exceeds %d bytes", maxOutputLen)
	}
	return r.checkClock()
}

// checkLen rejects a string or sequence that would exceed maxSeqLen.
func checkLen(n int) error {
	if n > maxSeqLen || n < 0 {
		return errorf("result too large (%d elements; the limit is %d)", n, maxSeqLen)
	}
	return nil
}

func (r *renderer) execBody(body []node, sc *scope) error {
	for _, n := range body {
		if err := r.exec(n, sc); err != nil {
			return err
		}
	}
	return nil
}

func (r *renderer) exec(n node, sc *scope) error {
	if err := r.tick(); err != nil {
		return err
	}
	switch n := n.(type) {
	case *dataNode:
		r.out.WriteString(n.text)
	case *printNode:
		r.line = n.line
		v, err := r.eval(n.expr, sc)
		if err != nil {
			return withLine(err, n.line)
		}
		r.out.WriteString(pyStr(v))
	case *ifNode:
		for i, t := range n.tests {
			r.line = n.lines[i]
			v, err := r.eval(t, sc)
			if err != nil {
				return withLine(err, n.lines[i])
			}
			if truthy(v) {
				return r.execBody(n.bodies[i], sc)
			}
		}
		return r.execBody(n.elseBody, sc)
	case *forNode:
		r.line = n.line
		return withLine(r.execFor(n, sc), n.line)
	case *setNode:
		r.line = n.line
		return withLine(r.execSet(n, sc), n.line)
	case *macroNode:
		sc.set(n.name, &macro{name: n.name, node: n, closure: sc})
	case *withNode:
		r.line = n.line
		inner := newScope(sc)
		for i, t := range n.targets {
			v, err := r.eval(n.values[i], sc)
			if err != nil {
				return withLine(err, n.line)
			}
			if err := r.assign(t, v, inner); err != nil {
				return withLine(err, n.line)
			}
		}
		return r.execBody(n.body, inner)
	case *filterBlockNode:
		s, err := r.capture(n.body, sc)
		if err != nil {
			return err
		}
		r.line = n.line
		v, err := r.applyFilterChain(n.filter, s, sc)
		if err != nil {
			return withLine(err, n.line)
		}
		r.out.WriteString(pyStr(v))
	case *scopeNode:
		return r.execBody(n.body, sc)
	case *breakNode:
		return errBreak
	case *continueNode:
		return errContinue
	default:
		return errorf("internal error: unknown node %T", n)
	}
	return nil
}

// capture renders body into a string.
func (r *renderer) capture(body []node, sc *scope) (string, error) {
	saved := r.out
	var b strings.Builder
	r.out = &b
	err := r.execBody(body, sc)
	r.out = saved
	return b.String(), err
}

func (r *renderer) execSet(n *setNode, sc *scope) error {
	var v any
	if n.value != nil {
		var err error
		if v, err = r.eval(n.value, sc); err != nil {
			return err
		}
	} else {
		s, err := r.capture(n.body, sc)
		if err != nil {
			return err
		}
		v = s
		if n.filters != nil {
			if v, err = r.applyFilterChain(n.filters, s, sc); err != nil {
				return err
			}
		}
	}
	return r.assign(n.target, v, sc)
}

// applyFilterChain evaluates a filter chain whose innermost value is nil, using
// v as that value.
func (r *renderer) applyFilterChain(f *filterExpr, v any, sc *scope) (any, error) {
	if f == nil {
		return v, nil
	}
	var in any = v
	if f.value != nil {
		inner, ok := f.value.(*filterExpr)
		if !ok {
			return nil, errorf("internal error: bad filter chain")
		}
		var err error
		if in, err = r.applyFilterChain(inner, v, sc); err != nil {
			return nil, err
		}
	}
	return r.callFilter(f, in, sc)
}

func (r *renderer) assign(t target, v any, sc *scope) error {
	switch t := t.(type) {
	case *nameTarget:
		sc.set(t.name, v)
	case *nsTarget:
		obj, ok := sc.lookup(t.name)
		ns, isNS := obj.(*namespace)
		if !ok || !isNS {
			return errorf("cannot assign attribute on non-namespace object")
		}
		ns.attrs.Set(t.attr, v)
	case *tupleTarget:
		items, err := iterate(v)
		if err != nil {
			return errorf("cannot unpack non-iterable %s object", typeName(v))
		}
		if len(items) > len(t.items) {
			return errorf("too many values to unpack (expected %d)", len(t.items))
		}
		if len(items) < len(t.items) {
			return errorf("not enough values to unpack (expected %d, got %d)", len(t.items), len(items))
		}
		for i, sub := range t.items {
			if err := r.assign(sub, items[i], sc); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *renderer) execFor(n *forNode, sc *scope) error {
	it, err := r.eval(n.iter, sc)
	if err != nil {
		return err
	}
	items, err := iterate(it)
	if err != nil {
		return err
	}
	if n.test != nil {
		var kept []any
		for _, item := range items {
			if err := r.tick(); err != nil {
				return err
			}
			tsc := newScope(sc)
			if err := r.assign(n.target, item, tsc); err != nil {
				return err
			}
			v, err := r.eval(n.test, tsc)
			if err != nil {
				return err
			}
			if truthy(v) {
				kept = append(kept, item)
			}
		}
		items = kept
	}
	// depth only grows in recursive loops, which chat templates do not use
	loop := &loopContext{items: items, depth: 1}
	for i, item := range items {
		if err := r.tick(); err != nil {
			return err
		}
		loop.index = i
		isc := newScope(sc)
		if err := r.assign(n.target, item, isc); err != nil {
			return err
		}
		isc.set("loop", loop)
		err := r.execBody(n.body, isc)
		if err == errBreak {
			break
		}
		if err != nil && err != errContinue {
			return err
		}
	}
	if len(items) == 0 {
		return r.execBody(n.elseBody, newScope(sc))
	}
	return nil
}

// ---- expressions ----

func (r *renderer) eval(e expr, sc *scope) (any, error) {
	switch e := e.(type) {
	case *constExpr:
		return e.v, nil
	case *nameExpr:
		if v, ok := sc.lookup(e.name); ok {
			return v, nil
		}
		return &undefined{name: e.name}, nil
	case *getattrExpr:
		obj, err := r.eval(e.obj, sc)
		if err != nil {
			return nil, err
		}
		return getattr(obj, e.attr)
	case *getitemExpr:
		obj, err := r.eval(e.obj, sc)
		if err != nil {
			return nil, err
		}
		if s, ok := e.key.(*sliceExpr); ok {
			return r.evalSlice(obj, s, sc)
		}
		key, err := r.eval(e.key, sc)
		if err != nil {
			return nil, err
		}
		return getitem(obj, key)
	case *callExpr:
		fn, err := r.eval(e.fn, sc)
		if err != nil {
			return nil, err
		}
		args, kw, err := r.evalArgs(&e.callArgs, sc)
		if err != nil {
			return nil, err
		}
		return r.call(fn, args, kw)
	case *filterExpr:
		v, err := r.eval(e.value, sc)
		if err != nil {
			return nil, err
		}
		return r.callFilter(e, v, sc)
	case *testExpr:
		v, err := r.eval(e.value, sc)
		if err != nil {
			return nil, err
		}
		t, ok := tests[e.name]
		if !ok {
			return nil, errorf("No test named '%s' found.", e.name)
		}
		args, kw, err := r.evalArgs(&e.callArgs, sc)
		if err != nil {
			return nil, err
		}
		return t(r, v, args, kw)
	case *binExpr:
		v, err := r.evalBin(e, sc)
		if err != nil {
			return nil, err
		}
		switch e.op {
		case "+", "*", "%":
			if err := r.charge(v); err != nil {
				return nil, err
			}
		}
		return v, nil
	case *unaryExpr:
		x, err := r.eval(e.x, sc)
		if err != nil {
			return nil, err
		}
		switch e.op {
		case "not":
			return !truthy(x), nil
		case "-":
			return negate(x)
		default:
			if u, ok := x.(*undefined); ok {
				return nil, u.err()
			}
			if _, _, _, ok := numValue(x); !ok {
				return nil, errorf("bad operand type for unary +: '%s'", typeName(x))
			}
			if b, ok := x.(bool); ok {
				if b {
					return int64(1), nil
				}
				return int64(0), nil
			}
			return x, nil
		}
	case *compareExpr:
		left, err := r.eval(e.first, sc)
		if err != nil {
			return nil, err
		}
		for i, op := range e.ops {
			right, err := r.eval(e.rest[i], sc)
			if err != nil {
				return nil, err
			}
			ok, err := compare(op, left, right)
			if err != nil {
				return nil, err
			}
			if !ok {
				return false, nil
			}
			left = right
		}
		return true, nil
	case *concatExpr:
		var b strings.Builder
		for _, p := range e.parts {
			v, err := r.eval(p, sc)
			if err != nil {
				return nil, err
			}
			s := pyStr(v)
			if err := checkStrLen(b.Len() + len(s)); err != nil {
				return nil, err
			}
			b.WriteString(s)
		}
		if err := r.charge(b.String()); err != nil {
			return nil, err
		}
		return b.String(), nil
	case *condExpr:
		t, err := r.eval(e.test, sc)
		if err != nil {
			return nil, err
		}
		if truthy(t) {
			return r.eval(e.then, sc)
		}
		if e.els == nil {
			return &undefined{hint: "the inline if-expression on line evaluated to false and no else section was defined."}, nil
		}
		return r.eval(e.els, sc)
	case *listExpr:
		out := make([]any, 0, len(e.items))
		for _, it := range e.items {
			v, err := r.eval(it, sc)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case *tupleExpr:
		out := make(Tuple, 0, len(e.items))
		for _, it := range e.items {
			v, err := r.eval(it, sc)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case *dictExpr:
		d := NewDict()
		for i := range e.keys {
			k, err := r.eval(e.keys[i], sc)
			if err != nil {
				return nil, err
			}
			v, err := r.eval(e.values[i], sc)
			if err != nil {
				return nil, err
			}
			if err := d.set(k, v); err != nil {
				return nil, errorf("%v", err)
			}
		}
		return d, nil
	case *sliceExpr:
		return nil, errorf("slice outside a subscript")
	}
	return nil, errorf("internal error: unknown expression %T", e)
}

func (r *renderer) evalArgs(ca *callArgs, sc *scope) ([]any, *kwargs, error) {
	args := make([]any, 0, len(ca.args))
	for _, a := range ca.args {
		v, err := r.eval(a, sc)
		if err != nil {
			return nil, nil, err
		}
		args = append(args, v)
	}
	kw := &kwargs{}
	for i, name := range ca.kwNames {
		v, err := r.eval(ca.kwValues[i], sc)
		if err != nil {
			return nil, nil, err
		}
		kw.set(name, v)
	}
	if ca.dynArgs != nil {
		v, err := r.eval(ca.dynArgs, sc)
		if err != nil {
			return nil, nil, err
		}
		more, err := iterate(v)
		if err != nil {
			return nil, nil, err
		}
		args = append(args, more...)
	}
	if ca.dynKwargs != nil {
		v, err := r.eval(ca.dynKwargs, sc)
		if err != nil {
			return nil, nil, err
		}
		d, ok := v.(*Dict)
		if !ok {
			return nil, nil, errorf("argument after ** must be a mapping, not %s", typeName(v))
		}
		for i, k := range d.keys {
			ks, ok := k.(string)
			if !ok {
				return nil, nil, errorf("keywords must be strings")
			}
			kw.set(ks, d.vals[i])
		}
	}
	return args, kw, nil
}

func (r *renderer) evalBin(e *binExpr, sc *scope) (any, error) {
	l, err := r.eval(e.l, sc)
	if err != nil {
		return nil, err
	}
	switch e.op {
	case "and":
		if !truthy(l) {
			return l, nil
		}
		return r.eval(e.r, sc)
	case "or":
		if truthy(l) {
			return l, nil
		}
		return r.eval(e.r, sc)
	}
	rv, err := r.eval(e.r, sc)
	if err != nil {
		return nil, err
	}
	return arith(e.op, l, rv)
}

func (r *renderer) evalSlice(obj any, s *sliceExpr, sc *scope) (any, error) {
	bounds := [3]any{}
	for i, x := range []expr{s.start, s.stop, s.step} {
		if x == nil {
			continue
		}
		v, err := r.eval(x, sc)
		if err != nil {
			return nil, err
		}
		bounds[i] = v
	}
	if u, ok := obj.(*undefined); ok {
		return nil, u.err()
	}
	return pySlice(obj, bounds[0], bounds[1], bounds[2])
}

// sliceIndices is Python's slice.indices(n).
func sliceIndices(n int, start, stop, step any) (int, int, int, error) {
	toInt := func(v any) (int, bool, error) {
		if v == nil {
			return 0, false, nil
		}
		if b, ok := v.(*big.Int); ok { // Python clamps indices beyond ssize_t
			if b.Sign() < 0 {
				return -1 << 62, true, nil
			}
			return 1 << 62, true, nil
		}
		i, _, isFloat, ok := asNumber(v)
		if !ok || isFloat {
			return 0, false, errorf("slice indices must be integers or None or have an __index__ method")
		}
		return int(max(min(i, 1<<62), -1<<62)), true, nil
	}
	st := 1
	if v, ok, err := toInt(step); err != nil {
		return 0, 0, 0, err
	} else if ok {
		if v == 0 {
			return 0, 0, 0, errorf("slice step cannot be zero")
		}
		st = v
	}
	lower, upper := 0, n
	if st < 0 {
		lower, upper = -1, n-1
	}
	clamp := func(v any, def int) (int, error) {
		i, ok, err := toInt(v)
		if err != nil || !ok {
			return def, err
		}
		if i < 0 {
			i += n
			if i < lower {
				i = lower
			}
		} else if i > upper {
			i = upper
		}
		return i, nil
	}
	defStart, defStop := lower, upper
	if st < 0 {
		defStart, defStop = upper, lower
	}
	a, err := clamp(start, defStart)
	if err != nil {
		return 0, 0, 0, err
	}
	b, err := clamp(stop, defStop)
	if err != nil {
		return 0, 0, 0, err
	}
	return a, b, st, nil
}

func sliceSeq[T any](items []T, start, stop, step any) ([]T, error) {
	a, b, st, err := sliceIndices(len(items), start, stop, step)
	if err != nil {
		return nil, err
	}
	out := []T{}
	if st > 0 {
		for i := a; i < b; i += st {
			out = append(out, items[i])
		}
	} else {
		for i := a; i > b; i += st {
			out = append(out, items[i])
		}
	}
	return out, nil
}

func pySlice(obj, start, stop, step any) (any, error) {
	switch x := obj.(type) {
	case []any:
		return sliceSeq(x, start, stop, step)
	case Tuple:
		s, err := sliceSeq([]any(x), start, stop, step)
		return Tuple(s), err
	case string:
		s, err := sliceSeq([]rune(x), start, stop, step)
		return string(s), err
	}
	return &undefined{obj: obj, hasObj: true, name: "slice"}, nil
}

// ---- attribute and item access (Jinja2 sandbox semantics) ----

var unsafeMethods = map[string]map[string]bool{
	"list": {"append": true, "clear": true, "extend": true, "insert": true, "pop": true, "remove": true, "reverse": true, "sort": true},
	"dict": {"clear": true, "pop": true, "popitem": true, "setdefault": true, "update": true},
}

func unsafeUndefined(obj any, attr string) *undefined {
	return &undefined{obj: obj, hasObj: true, name: attr,
		hint: fmt.Sprintf("access to attribute '%s' of '%s' object is unsafe.", attr, typeName(obj))}
}

// pyAttr returns a Python attribute (a method) of obj, if it has one.
func pyAttr(obj any, name string) (any, bool) {
	if strings.HasPrefix(name, "__") && strings.HasSuffix(name, "__") {
		switch obj.(type) {
		case *undefined, *namespace:
		default:
			return unsafeUndefined(obj, name), true
		}
	}
	if un, ok := unsafeMethods[typeName(obj)]; ok && un[name] {
		return unsafeUndefined(obj, name), true
	}
	if m := lookupMethod(obj, name); m != nil {
		return m, true
	}
	return nil, false
}

// getattr is Jinja2's environment.getattr: a Python attribute first, then an item.
func getattr(obj any, name string) (any, error) {
	switch x := obj.(type) {
	case *undefined:
		return nil, x.err()
	case *namespace:
		if v, ok := x.attrs.get(name); ok {
			return v, nil
		}
		return &undefined{obj: obj, hasObj: true, name: name}, nil
	case *loopContext:
		return x.attr(name), nil
	}
	if v, ok := pyAttr(obj, name); ok {
		return v, nil
	}
	if d, ok := obj.(*Dict); ok {
		if v, ok := d.get(name); ok {
			return v, nil
		}
	}
	return &undefined{obj: obj, hasObj: true, name: name}, nil
}

// getitem is Jinja2's environment.getitem: an item first, then (for string keys)
// an attribute.
func getitem(obj, key any) (any, error) {
	switch x := obj.(type) {
	case *undefined:
		return nil, x.err()
	case *Dict:
		if _, err := hashKey(key); err != nil {
			return &undefined{obj: obj, hasObj: true, name: key}, nil
		}
		if v, ok := x.get(key); ok {
			return v, nil
		}
	case []any, Tuple, string:
		if i, _, isFloat, ok := asNumber(key); ok && !isFloat {
			var n int
			switch y := obj.(type) {
			case []any:
				n = len(y)
			case Tuple:
				n = len(y)
			case string:
				n = utf8.RuneCountInString(y)
			}
			idx := int(i)
			if idx < 0 {
				idx += n
			}
			if idx >= 0 && idx < n {
				switch y := obj.(type) {
				case []any:
					return y[idx], nil
				case Tuple:
					return y[idx], nil
				case string:
					return string([]rune(y)[idx]), nil
				}
			}
		}
	case *loopContext:
		if s, ok := key.(string); ok {
			return x.attr(s), nil
		}
	}
	if s, ok := key.(string); ok {
		switch obj.(type) {
		case *namespace:
			return getattr(obj, s)
		}
		if v, ok := pyAttr(obj, s); ok {
			return v, nil
		}
	}
	return &undefined{obj: obj, hasObj: true, name: key}, nil
}

// ---- calls ----

type kwargs struct {
	names []string
	vals  []any
}

func (k *kwargs) set(name string, v any) {
	for i, n := range k.names {
		if n == name {
			k.vals[i] = v
			return
		}
	}
	k.names = append(k.names, name)
	k.vals = append(k.vals, v)
}

func (k *kwargs) len() int {
	if k == nil {
		return 0
	}
	return len(k.names)
}

// pop removes and returns the keyword argument name.
func (k *kwargs) pop(name string) (any, bool) {
	if k == nil {
		return nil, false
	}
	for i, n := range k.names {
		if n == name {
			v := k.vals[i]
			k.names = append(k.names[:i:i], k.names[i+1:]...)
			k.vals = append(k.vals[:i:i], k.vals[i+1:]...)
			return v, true
		}
	}
	return nil, false
}

// missing marks a parameter that was not passed.
type missingT struct{}

var missing = missingT{}

// bind maps positional and keyword arguments onto params, in the manner of a
// Python signature; absent parameters take defaults[name] or stay missing.
func bind(fname string, params []string, args []any, kw *kwargs, defaults map[string]any) ([]any, error) {
	if len(args) > len(params) {
		return nil, errorf("%s() takes at most %d argument(s) (%d given)", fname, len(params), len(args))
	}
	out := make([]any, len(params))
	for i := range params {
		out[i] = missing
	}
	copy(out, args)
	if kw != nil {
		for j, name := range kw.names {
			found := false
			for i, p := range params {
				if p == name {
					if i < len(args) {
						return nil, errorf("%s() got multiple values for argument '%s'", fname, name)
					}
					out[i] = kw.vals[j]
					found = true
					break
				}
			}
			if !found {
				return nil, errorf("%s() got an unexpected keyword argument '%s'", fname, name)
			}
		}
	}
	for i, p := range params {
		if out[i] == missing {
			if d, ok := defaults[p]; ok {
				out[i] = d
			}
		}
	}
	return out, nil
}

func requireArgs(fname string, vals []any, params []string) error {
	for i, v := range vals {
		if v == missing {
			return errorf("%s() missing required argument '%s'", fname, params[i])
		}
	}
	return nil
}

// builtin is a Go function exposed to templates (globals and bound methods).
type builtin struct {
	name string
	fn   func(r *renderer, args []any, kw *kwargs) (any, error)
}

func (r *renderer) call(fn any, args []any, kw *kwargs) (any, error) {
	if err := r.tick(); err != nil {
		return nil, err
	}
	switch f := fn.(type) {
	case *builtin:
		return f.fn(r, args, kw)
	case *macro:
		return r.callMacro(f, args, kw)
	case *undefined:
		return nil, f.err()
	}
	return nil, errorf("'%s' object is not callable", typeName(fn))
}

type macro struct {
	name    string
	node    *macroNode
	closure *scope
}

func (r *renderer) callMacro(m *macro, args []any, kw *kwargs) (any, error) {
	r.depth++
	defer func() { r.depth-- }()
	if r.depth > maxCallDepth {
		return nil, errorf("maximum recursion depth exceeded")
	}
	n := m.node
	sc := newScope(m.closure)
	nParams := len(n.params)
	if len(args) > nParams && !n.varargs {
		return nil, errorf("macro '%s' takes not more than %d argument(s)", m.name, nParams)
	}
	provided := make([]bool, nParams)
	for i := 0; i < nParams && i < len(args); i++ {
		sc.set(n.params[i], args[i])
		provided[i] = true
	}
	extraKw := NewDict()
	if kw != nil {
		for j, name := range kw.names {
			idx := -1
			for i, p := range n.params {
				if p == name {
					idx = i
				}
			}
			switch {
			case idx >= 0 && provided[idx]:
				return nil, errorf("macro '%s' got multiple values for argument '%s'", m.name, name)
			case idx >= 0:
				sc.set(name, kw.vals[j])
				provided[idx] = true
			case n.kwargs:
				extraKw.Set(name, kw.vals[j])
			default:
				return nil, errorf("macro '%s' takes no keyword argument '%s'", m.name, name)
			}
		}
	}
	firstDefault := nParams - len(n.defaults)
	for i, p := range n.params {
		if provided[i] {
			continue
		}
		if i >= firstDefault {
			v, err := r.eval(n.defaults[i-firstDefault], sc)
			if err != nil {
				return nil, err
			}
			sc.set(p, v)
		} else {
			sc.set(p, &undefined{name: p, hint: fmt.Sprintf("parameter '%s' was not provided", p)})
		}
	}
	if n.varargs {
		var extra []any
		if len(args) > nParams {
			extra = args[nParams:]
		}
		sc.set("varargs", Tuple(extra))
	}
	if n.kwargs {
		sc.set("kwargs", extraKw)
	}
	return r.capture(n.body, sc)
}

// ---- loop ----

type loopContext struct {
	items       []any
	index       int
	depth       int
	lastChanged []any
	changedSet  bool
}

func (l *loopContext) attr(name string) any {
	n := len(l.items)
	switch name {
	case "index":
		return int64(l.index + 1)
	case "index0":
		return int64(l.index)
	case "revindex":
		return int64(n - l.index)
	case "revindex0":
		return int64(n - l.index - 1)
	case "first":
		return l.index == 0
	case "last":
		return l.index == n-1
	case "length":
		return int64(n)
	case "depth":
		return int64(l.depth)
	case "depth0":
		return int64(l.depth - 1)
	case "previtem":
		if l.index == 0 {
			return &undefined{hint: "there is no previous item"}
		}
		return l.items[l.index-1]
	case "nextitem":
		if l.index >= n-1 {
			return &undefined{hint: "there is no next item"}
		}
		return l.items[l.index+1]
	case "cycle":
		return &builtin{name: "cycle", fn: func(_ *renderer, args []any, _ *kwargs) (any, error) {
			if len(args) == 0 {
				return nil, errorf("no items for cycling given")
			}
			return args[l.index%len(args)], nil
		}}
	case "changed":
		return &builtin{name: "changed", fn: func(_ *renderer, args []any, _ *kwargs) (any, error) {
			if l.changedSet && seqEq(l.lastChanged, args) {
				return false, nil
			}
			l.lastChanged, l.changedSet = args, true
			return true, nil
		}}
	}
	return &undefined{obj: l, hasObj: true, name: name}
}

// ---- operators ----

func negate(x any) (any, error) {
	switch v := x.(type) {
	case *undefined:
		return nil, v.err()
	case bool:
		if v {
			return int64(-1), nil
		}
		return int64(0), nil
	case int64:
		if v == math.MinInt64 {
			return new(big.Int).Neg(big.NewInt(v)), nil
		}
		return -v, nil
	case *big.Int:
		return normInt(new(big.Int).Neg(v)), nil
	case float64:
		return -v, nil
	}
	return nil, errorf("bad operand type for unary -: '%s'", typeName(x))
}

func compare(op string, a, b any) (bool, error) {
	switch op {
	case "==":
		return pyEq(a, b), nil
	case "!=":
		return !pyEq(a, b), nil
	case "in":
		return contains(b, a)
	case "notin":
		ok, err := contains(b, a)
		return !ok, err
	}
	c, err := pyCompare(a, b, op)
	if err != nil {
		return false, err
	}
	switch op {
	case "<":
		return c < 0, nil
	case "<=":
		return c <= 0, nil
	case ">":
		return c > 0, nil
	default:
		return c >= 0, nil
	}
}

// contains is Python's `item in container`.
func contains(container, item any) (bool, error) {
	switch c := container.(type) {
	case string:
		s, ok := item.(string)
		if !ok {
			if u, ok := item.(*undefined); ok {
				return false, u.err()
			}
			return false, errorf("'in <string>' requires string as left operand, not %s", typeName(item))
		}
		return strings.Contains(c, s), nil
	case []any:
		for _, e := range c {
			if pyEq(e, item) {
				return true, nil
			}
		}
		return false, nil
	case Tuple:
		for _, e := range c {
			if pyEq(e, item) {
				return true, nil
			}
		}
		return false, nil
	case *Dict:
		if _, err := hashKey(item); err != nil {
			return false, errorf("%v", err)
		}
		_, ok := c.get(item)
		return ok, nil
	case *undefined:
		return false, nil
	}
	return false, errorf("argument of type '%s' is not iterable", typeName(container))
}

func arith(op string, a, b any) (any, error) {
	if u, ok := a.(*undefined); ok {
		return nil, u.err()
	}
	if u, ok := b.(*undefined); ok {
		return nil, u.err()
	}
	if isIntValue(a) && isIntValue(b) {
		return intArith(op, a, b)
	}
	_, aBig := a.(*big.Int)
	_, bBig := b.(*big.Int)
	if aBig || bBig {
		_, af, aFloat, aNum := numValue(a)
		_, bf, bFloat, bNum := numValue(b)
		switch {
		case aNum && bNum: // an int beyond int64 with a float: the int becomes a float
			var err error
			if !aFloat {
				if af, err = bigToFloat(a.(*big.Int)); err != nil {
					return nil, err
				}
			}
			if !bFloat {
				if bf, err = bigToFloat(b.(*big.Int)); err != nil {
					return nil, err
				}
			}
			return numArith(op, 0, af, true, 0, bf, true)
		case op == "*" && (aNum || bNum):
			seq := a
			if aNum {
				seq = b
			}
			switch seq.(type) {
			case string, []any, Tuple:
				return nil, errorf("cannot fit 'int' into an index-sized integer")
			}
		case op == "%":
			if s, ok := a.(string); ok {
				return percentFormat(s, b)
			}
		}
		return nil, errorf("unsupported operand type(s) for %s: '%s' and '%s'", op, typeName(a), typeName(b))
	}
	ai, af, aFloat, aNum := asNumber(a)
	bi, bf, bFloat, bNum := asNumber(b)
	if aNum && bNum {
		return numArith(op, ai, af, aFloat, bi, bf, bFloat)
	}
	switch op {
	case "+":
		switch x := a.(type) {
		case string:
			if y, ok := b.(string); ok {
				if err := checkStrLen(len(x) + len(y)); err != nil {
					return nil, err
				}
				return x + y, nil
			}
			return nil, errorf("can only concatenate str (not \"%s\") to str", typeName(b))
		case []any:
			if y, ok := b.([]any); ok {
				if err := checkLen(len(x) + len(y)); err != nil {
					return nil, err
				}
				out := make([]any, 0, len(x)+len(y))
				return append(append(out, x...), y...), nil
			}
			return nil, errorf("can only concatenate list (not \"%s\") to list", typeName(b))
		case Tuple:
			if y, ok := b.(Tuple); ok {
				if err := checkLen(len(x) + len(y)); err != nil {
					return nil, err
				}
				out := make(Tuple, 0, len(x)+len(y))
				return append(append(out, x...), y...), nil
			}
			return nil, errorf("can only concatenate tuple (not \"%s\") to tuple", typeName(b))
		}
	case "*":
		var seq any
		var count int64
		switch {
		case bNum && !bFloat:
			seq, count = a, bi
		case aNum && !aFloat:
			seq, count = b, ai
		default:
			return nil, errorf("can't multiply sequence by non-int of type '%s'", typeName(b))
		}
		n := int(max(min(count, int64(maxSeqLen)+1), 0))
		switch x := seq.(type) {
		case string:
			if err := checkLen(len(x) * n); err != nil {
				return nil, err
			}
			return strings.Repeat(x, n), nil
		case []any:
			if err := checkLen(len(x) * n); err != nil {
				return nil, err
			}
			out := make([]any, 0, len(x)*n)
			for i := 0; i < n; i++ {
				out = append(out, x...)
			}
			return out, nil
		case Tuple:
			if err := checkLen(len(x) * n); err != nil {
				return nil, err
			}
			out := make(Tuple, 0, len(x)*n)
			for i := 0; i < n; i++ {
				out = append(out, x...)
			}
			return out, nil
		}
	case "%":
		if s, ok := a.(string); ok {
			return percentFormat(s, b)
		}
	}
	return nil, errorf("unsupported operand type(s) for %s: '%s' and '%s'", op, typeName(a), typeName(b))
}

func numArith(op string, ai int64, af float64, aFloat bool, bi int64, bf float64, bFloat bool) (any, error) {
	isFloat := aFloat || bFloat
	switch op {
	case "+":
		if isFloat {
			return af + bf, nil
		}
		return ai + bi, nil
	case "-":
		if isFloat {
			return af - bf, nil
		}
		return ai - bi, nil
	case "*":
		if isFloat {
			return af * bf, nil
		}
		return ai * bi, nil
	case "/":
		if bf == 0 {
			return nil, errorf("division by zero")
		}
		return af / bf, nil
	case "//":
		if isFloat {
			if bf == 0 {
				return nil, errorf("float floor division by zero")
			}
			return math.Floor(af / bf), nil
		}
		if bi == 0 {
			return nil, errorf("integer division or modulo by zero")
		}
		q := ai / bi
		if (ai%bi != 0) && ((ai < 0) != (bi < 0)) {
			q--
		}
		return q, nil
	case "%":
		if isFloat {
			if bf == 0 {
				return nil, errorf("float modulo")
			}
			m := math.Mod(af, bf)
			if m != 0 && (m < 0) != (bf < 0) {
				m += bf
			}
			return m, nil
		}
		if bi == 0 {
			return nil, errorf("integer modulo by zero")
		}
		m := ai % bi
		if m != 0 && (m < 0) != (bi < 0) {
			m += bi
		}
		return m, nil
	case "**":
		if !isFloat && bi >= 0 {
			if bi > 64 && ai != 0 && ai != 1 && ai != -1 {
				return nil, errorf("integer result of %d ** %d is too large", ai, bi)
			}
			result := int64(1)
			for e := bi; e > 0; e-- {
				result *= ai
			}
			return result, nil
		}
		if af == 0 && bf < 0 {
			return nil, errorf("0.0 cannot be raised to a negative power")
		}
		return math.Pow(af, bf), nil
	}
	return nil, errorf("unsupported operator %s", op)
}
