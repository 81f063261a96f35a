package chattemplate

import (
	"fmt"
	"strings"
)

// ---- AST ----

type node interface{}

type (
	dataNode  struct{ text string }
	printNode struct {
		expr expr
		line int
	}
	ifNode struct {
		tests    []expr
		lines    []int // line of each test (if, elif...)
		bodies   [][]node
		elseBody []node
	}
	forNode struct {
		target   target
		iter     expr
		test     expr
		body     []node
		elseBody []node
		line     int
	}
	setNode struct {
		target  target
		value   expr   // nil for a block set
		body    []node // block set body
		filters *filterExpr
		line    int
	}
	macroNode struct {
		name     string
		params   []string
		defaults []expr // defaults for the last len(defaults) params
		body     []node
		varargs  bool
		kwargs   bool
		line     int
	}
	withNode struct {
		targets []target
		values  []expr
		body    []node
		line    int
	}
	filterBlockNode struct {
		filter *filterExpr // chain whose innermost value is nil
		body   []node
		line   int
	}
	scopeNode    struct{ body []node } // {% generation %}: rendered in place
	breakNode    struct{}
	continueNode struct{}
)

type expr interface{}

type (
	constExpr struct{ v any }
	nameExpr  struct {
		name string
		line int
	}
	getattrExpr struct {
		obj  expr
		attr string
	}
	getitemExpr struct{ obj, key expr }
	sliceExpr   struct{ start, stop, step expr }
	callArgs    struct {
		args      []expr
		kwNames   []string
		kwValues  []expr
		dynArgs   expr
		dynKwargs expr
	}
	callExpr struct {
		fn expr
		callArgs
		line int
	}
	filterExpr struct {
		value expr
		name  string
		callArgs
		known bool // checked at parse time
		line  int
	}
	testExpr struct {
		value expr
		name  string
		callArgs
		line int
	}
	binExpr struct {
		op   string
		l, r expr
	}
	unaryExpr struct {
		op string
		x  expr
	}
	compareExpr struct {
		first expr
		ops   []string
		rest  []expr
	}
	concatExpr struct{ parts []expr }
	condExpr   struct{ test, then, els expr }
	listExpr   struct{ items []expr }
	tupleExpr  struct{ items []expr }
	dictExpr   struct{ keys, values []expr }
)

// targets of set/for/with
type target interface{}

type (
	nameTarget  struct{ name string }
	tupleTarget struct{ items []target }
	nsTarget    struct{ name, attr string }
)

// ---- parser ----

type parser struct {
	toks []token
	pos  int
	soft int // >0 inside an if or conditional expression: unknown filters fail at render time
	// names referenced inside the macro being parsed (innermost last)
	macroNames []map[string]bool
	loopDepth  int
	tagStack   []string   // tags whose bodies are being parsed
	endStack   [][]string // end tags each open body is looking for
	depth      int        // expression nesting, bounded to keep the Go stack small
}

const maxNesting = 200

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxNesting {
		return p.fail(p.cur().line, "expression nested too deeply")
	}
	return nil
}

func parse(src string) ([]node, error) {
	toks, err := tokenize(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	body, err := p.subparse(nil)
	if err != nil {
		return nil, err
	}
	return body, nil
}

func (p *parser) cur() token { return p.toks[p.pos] }

func (p *parser) look() token {
	if p.pos+1 < len(p.toks) {
		return p.toks[p.pos+1]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) next() token {
	t := p.toks[p.pos]
	if p.pos < len(p.toks)-1 {
		p.pos++
	}
	return t
}

func (p *parser) fail(line int, format string, args ...any) error {
	return &TemplateError{Message: fmt.Sprintf(format, args...), Line: line, Syntax: true}
}

func (p *parser) isOp(op string) bool {
	t := p.cur()
	return t.kind == tokOp && t.val == op
}

func (p *parser) isName(name string) bool {
	t := p.cur()
	return t.kind == tokName && t.val == name
}

func (p *parser) skipOp(op string) bool {
	if p.isOp(op) {
		p.next()
		return true
	}
	return false
}

func (p *parser) skipName(name string) bool {
	if p.isName(name) {
		p.next()
		return true
	}
	return false
}

func (p *parser) expectOp(op string) error {
	if !p.skipOp(op) {
		t := p.cur()
		return p.fail(t.line, "expected token '%s', got '%s'", op, t.describe())
	}
	return nil
}

func (p *parser) expectKind(k tokenKind, what string) (token, error) {
	t := p.cur()
	if t.kind != k {
		return t, p.fail(t.line, "expected token '%s', got '%s'", what, t.describe())
	}
	return p.next(), nil
}

func (p *parser) expectName() (string, error) {
	t, err := p.expectKind(tokName, "name")
	return t.val, err
}

// subparse parses nodes until a block tag whose name is in end (left unconsumed
// after the name) or, with end == nil, the end of the template.
func (p *parser) subparse(end []string) ([]node, error) {
	var body []node
	if end != nil {
		p.endStack = append(p.endStack, end)
		defer func() { p.endStack = p.endStack[:len(p.endStack)-1] }()
	}
	for {
		t := p.cur()
		switch t.kind {
		case tokEOF:
			if end != nil {
				return nil, p.failEOF("", t.line)
			}
			return body, nil
		case tokData:
			p.next()
			body = append(body, &dataNode{text: t.val})
		case tokVarBegin:
			p.next()
			e, err := p.parseTuple(false, true, nil, false)
			if err != nil {
				return nil, err
			}
			if _, err := p.expectKind(tokVarEnd, "end of print statement"); err != nil {
				return nil, err
			}
			body = append(body, &printNode{expr: e, line: t.line})
		case tokBlockBegin:
			p.next()
			if end != nil && p.cur().kind == tokName {
				for _, e := range end {
					if p.cur().val == e {
						return body, nil
					}
				}
			}
			n, err := p.parseStatement()
			if err != nil {
				return nil, err
			}
			if n != nil {
				body = append(body, n)
			}
			if _, err := p.expectKind(tokBlockEnd, "end of statement block"); err != nil {
				return nil, err
			}
		default:
			return nil, p.fail(t.line, "unexpected '%s'", t.describe())
		}
	}
}

// failEOF builds Jinja2's message for an unknown tag (name != "") or an
// unexpected end of template inside open blocks.
func (p *parser) failEOF(name string, line int) error {
	msg := "Unexpected end of template."
	if name != "" {
		msg = fmt.Sprintf("Encountered unknown tag '%s'.", name)
	}
	if n := len(p.endStack); n > 0 {
		expected := false
		for _, ends := range p.endStack {
			for _, e := range ends {
				if e == name {
					expected = true
				}
			}
		}
		looking := quoteTags(p.endStack[n-1])
		if name != "" && expected {
			msg += " You probably made a nesting mistake. Jinja is expecting this tag, but currently looking for " + looking + "."
		} else {
			msg += " Jinja was looking for the following tags: " + looking + "."
		}
	}
	if n := len(p.tagStack); n > 0 {
		msg += fmt.Sprintf(" The innermost block that needs to be closed is '%s'.", p.tagStack[n-1])
	}
	return p.fail(line, "%s", msg)
}

func quoteTags(tags []string) string {
	q := make([]string, len(tags))
	for i, t := range tags {
		q[i] = "'" + t + "'"
	}
	return strings.Join(q, " or ")
}

// parseStatements parses the rest of a tag header's block end, then a body up to
// one of the end tags. With drop, the end tag's name is consumed.
func (p *parser) parseStatements(end []string, drop bool) ([]node, error) {
	p.skipOp(":")
	if _, err := p.expectKind(tokBlockEnd, "end of statement block"); err != nil {
		return nil, err
	}
	body, err := p.subparse(end)
	if err != nil {
		return nil, err
	}
	if drop {
		p.next()
	}
	return body, nil
}

func (p *parser) parseStatement() (node, error) {
	t := p.cur()
	if t.kind != tokName {
		return nil, p.fail(t.line, "tag name expected")
	}
	if len(p.tagStack) >= maxNesting {
		return nil, p.fail(t.line, "blocks nested too deeply")
	}
	p.tagStack = append(p.tagStack, t.val)
	defer func() { p.tagStack = p.tagStack[:len(p.tagStack)-1] }()
	switch t.val {
	case "if":
		return p.parseIf()
	case "for":
		return p.parseFor()
	case "set":
		return p.parseSet()
	case "macro":
		return p.parseMacro()
	case "with":
		return p.parseWith()
	case "filter":
		return p.parseFilterBlock()
	case "generation":
		p.next()
		body, err := p.parseStatements([]string{"endgeneration"}, true)
		return &scopeNode{body: body}, err
	case "print":
		p.next()
		e, err := p.parseTuple(false, true, nil, false)
		return &printNode{expr: e, line: t.line}, err
	case "break", "continue":
		p.next()
		if p.loopDepth == 0 {
			return nil, p.fail(t.line, "'%s' outside of a loop", t.val)
		}
		if t.val == "break" {
			return &breakNode{}, nil
		}
		return &continueNode{}, nil
	case "block", "extends", "include", "import", "from", "call", "autoescape", "do":
		return nil, p.fail(t.line, "tag '%s' is not supported in chat templates", t.val)
	}
	p.tagStack = p.tagStack[:len(p.tagStack)-1]
	err := p.failEOF(t.val, t.line)
	p.tagStack = append(p.tagStack, t.val)
	return nil, err
}

func (p *parser) parseIf() (node, error) {
	line := p.next().line
	n := &ifNode{}
	p.soft++
	defer func() { p.soft-- }()
	for {
		n.lines = append(n.lines, line)
		test, err := p.parseTuple(false, false, nil, false)
		if err != nil {
			return nil, err
		}
		body, err := p.parseStatements([]string{"elif", "else", "endif"}, false)
		if err != nil {
			return nil, err
		}
		n.tests = append(n.tests, test)
		n.bodies = append(n.bodies, body)
		tok := p.next()
		if tok.val == "elif" {
			line = tok.line
			continue
		}
		if tok.val == "else" {
			n.elseBody, err = p.parseStatements([]string{"endif"}, true)
			if err != nil {
				return nil, err
			}
		}
		return n, nil
	}
}

func (p *parser) parseFor() (node, error) {
	line := p.next().line
	tgt, err := p.parseAssignTarget(false, []string{"in"})
	if err != nil {
		return nil, err
	}
	if !p.skipName("in") {
		return nil, p.fail(p.cur().line, "expected token 'in', got '%s'", p.cur().describe())
	}
	iter, err := p.parseTuple(false, false, []string{"recursive"}, false)
	if err != nil {
		return nil, err
	}
	n := &forNode{target: tgt, iter: iter, line: line}
	soft := p.soft
	p.soft = 0
	defer func() { p.soft = soft }()
	if p.skipName("if") {
		if n.test, err = p.parseExpression(true); err != nil {
			return nil, err
		}
	}
	if p.isName("recursive") {
		return nil, p.fail(p.cur().line, "recursive loops are not supported")
	}
	p.loopDepth++
	n.body, err = p.parseStatements([]string{"endfor", "else"}, false)
	p.loopDepth--
	if err != nil {
		return nil, err
	}
	if p.next().val == "else" {
		if n.elseBody, err = p.parseStatements([]string{"endfor"}, true); err != nil {
			return nil, err
		}
	}
	return n, nil
}

func (p *parser) parseSet() (node, error) {
	line := p.next().line
	tgt, err := p.parseAssignTarget(true, nil)
	if err != nil {
		return nil, err
	}
	if p.skipOp("=") {
		v, err := p.parseTuple(false, true, nil, false)
		if err != nil {
			return nil, err
		}
		return &setNode{target: tgt, value: v, line: line}, nil
	}
	f, err := p.parseFilter(nil, false)
	if err != nil {
		return nil, err
	}
	body, err := p.parseStatements([]string{"endset"}, true)
	if err != nil {
		return nil, err
	}
	n := &setNode{target: tgt, body: body, line: line}
	if fe, ok := f.(*filterExpr); ok {
		n.filters = fe
	}
	return n, nil
}

func (p *parser) parseMacro() (node, error) {
	line := p.next().line
	name, err := p.expectName()
	if err != nil {
		return nil, err
	}
	n := &macroNode{name: name, line: line}
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	for !p.isOp(")") {
		if len(n.params) > 0 {
			if err := p.expectOp(","); err != nil {
				return nil, err
			}
		}
		pname, err := p.expectName()
		if err != nil {
			return nil, err
		}
		if p.skipOp("=") {
			d, err := p.parseExpression(true)
			if err != nil {
				return nil, err
			}
			n.defaults = append(n.defaults, d)
		} else if len(n.defaults) > 0 {
			return nil, p.fail(line, "non-default argument follows default argument")
		}
		n.params = append(n.params, pname)
	}
	p.next()
	soft, loops := p.soft, p.loopDepth
	p.soft, p.loopDepth = 0, 0
	p.macroNames = append(p.macroNames, map[string]bool{})
	n.body, err = p.parseStatements([]string{"endmacro"}, true)
	names := p.macroNames[len(p.macroNames)-1]
	p.macroNames = p.macroNames[:len(p.macroNames)-1]
	p.soft, p.loopDepth = soft, loops
	if err != nil {
		return nil, err
	}
	n.varargs, n.kwargs = names["varargs"], names["kwargs"]
	return n, nil
}

func (p *parser) parseWith() (node, error) {
	n := &withNode{line: p.next().line}
	for p.cur().kind != tokBlockEnd {
		if len(n.targets) > 0 {
			if err := p.expectOp(","); err != nil {
				return nil, err
			}
		}
		tgt, err := p.parseAssignTarget(false, nil)
		if err != nil {
			return nil, err
		}
		if err := p.expectOp("="); err != nil {
			return nil, err
		}
		v, err := p.parseExpression(true)
		if err != nil {
			return nil, err
		}
		n.targets = append(n.targets, tgt)
		n.values = append(n.values, v)
	}
	var err error
	n.body, err = p.parseStatements([]string{"endwith"}, true)
	return n, err
}

func (p *parser) parseFilterBlock() (node, error) {
	line := p.next().line
	f, err := p.parseFilter(nil, true)
	if err != nil {
		return nil, err
	}
	body, err := p.parseStatements([]string{"endfilter"}, true)
	if err != nil {
		return nil, err
	}
	fe, _ := f.(*filterExpr)
	return &filterBlockNode{filter: fe, body: body, line: line}, nil
}

// parseAssignTarget parses a set/for/with target: a name, a tuple of names, or
// (withNamespace) ns.attr.
func (p *parser) parseAssignTarget(withNamespace bool, extraEnd []string) (target, error) {
	if withNamespace && p.cur().kind == tokName && p.look().kind == tokOp && p.look().val == "." {
		name := p.next().val
		p.next()
		attr, err := p.expectName()
		if err != nil {
			return nil, err
		}
		return &nsTarget{name: name, attr: attr}, nil
	}
	var items []target
	isTuple := false
	for {
		if len(items) > 0 {
			if err := p.expectOp(","); err != nil {
				return nil, err
			}
		}
		if p.isTupleEnd(extraEnd) {
			break
		}
		var t target
		if p.isOp("(") {
			p.next()
			inner, err := p.parseAssignTarget(false, nil)
			if err != nil {
				return nil, err
			}
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
			t = inner
		} else {
			tok := p.cur()
			if tok.kind != tokName {
				return nil, p.fail(tok.line, "can't assign to %s", tok.describe())
			}
			switch tok.val {
			case "true", "false", "none", "True", "False", "None":
				return nil, p.fail(tok.line, "can't assign to '%s'", tok.val)
			}
			p.next()
			t = &nameTarget{name: tok.val}
		}
		items = append(items, t)
		if p.isOp(",") {
			isTuple = true
		} else {
			break
		}
	}
	if !isTuple {
		if len(items) == 0 {
			return nil, p.fail(p.cur().line, "expected an assignment target")
		}
		return items[0], nil
	}
	return &tupleTarget{items: items}, nil
}

func (p *parser) isTupleEnd(extraEnd []string) bool {
	t := p.cur()
	switch t.kind {
	case tokVarEnd, tokBlockEnd, tokEOF:
		return true
	case tokOp:
		return t.val == ")"
	case tokName:
		for _, e := range extraEnd {
			if t.val == e {
				return true
			}
		}
	}
	return false
}

// parseTuple parses comma-separated expressions; a single one without a comma is
// returned as is.
func (p *parser) parseTuple(simplified, withCondexpr bool, extraEnd []string, explicitParens bool) (expr, error) {
	var items []expr
	isTuple := false
	for {
		if len(items) > 0 {
			if err := p.expectOp(","); err != nil {
				return nil, err
			}
		}
		if p.isTupleEnd(extraEnd) {
			break
		}
		var e expr
		var err error
		if simplified {
			e, err = p.parsePrimary()
		} else {
			e, err = p.parseExpression(withCondexpr)
		}
		if err != nil {
			return nil, err
		}
		items = append(items, e)
		if p.isOp(",") {
			isTuple = true
		} else {
			break
		}
	}
	if !isTuple {
		if len(items) > 0 {
			return items[0], nil
		}
		if !explicitParens {
			return nil, p.fail(p.cur().line, "Expected an expression, got '%s'", p.cur().describe())
		}
	}
	return &tupleExpr{items: items}, nil
}

func (p *parser) parseExpression(withCondexpr bool) (expr, error) {
	defer func() { p.depth-- }()
	if err := p.enter(); err != nil {
		return nil, err
	}
	if withCondexpr {
		return p.parseCondexpr()
	}
	return p.parseOr()
}

func (p *parser) parseCondexpr() (expr, error) {
	e1, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	for p.isName("if") {
		p.next()
		p.soft++
		e2, err := p.parseOr()
		if err != nil {
			p.soft--
			return nil, err
		}
		var e3 expr
		if p.skipName("else") {
			e3, err = p.parseCondexpr()
			if err != nil {
				p.soft--
				return nil, err
			}
		}
		p.soft--
		e1 = &condExpr{test: e2, then: e1, els: e3}
	}
	return e1, nil
}

func (p *parser) parseOr() (expr, error) {
	l, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.skipName("or") {
		r, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		l = &binExpr{op: "or", l: l, r: r}
	}
	return l, nil
}

func (p *parser) parseAnd() (expr, error) {
	l, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	for p.skipName("and") {
		r, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		l = &binExpr{op: "and", l: l, r: r}
	}
	return l, nil
}

func (p *parser) parseNot() (expr, error) {
	defer func() { p.depth-- }()
	if err := p.enter(); err != nil {
		return nil, err
	}
	if p.skipName("not") {
		x, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		return &unaryExpr{op: "not", x: x}, nil
	}
	return p.parseCompare()
}

func (p *parser) parseCompare() (expr, error) {
	first, err := p.parseMath1()
	if err != nil {
		return nil, err
	}
	c := &compareExpr{first: first}
	for {
		t := p.cur()
		var op string
		switch {
		case t.kind == tokOp && (t.val == "==" || t.val == "!=" || t.val == "<" || t.val == ">" || t.val == "<=" || t.val == ">="):
			p.next()
			op = t.val
		case p.isName("in"):
			p.next()
			op = "in"
		case p.isName("not") && p.look().kind == tokName && p.look().val == "in":
			p.next()
			p.next()
			op = "notin"
		}
		if op == "" {
			break
		}
		r, err := p.parseMath1()
		if err != nil {
			return nil, err
		}
		c.ops = append(c.ops, op)
		c.rest = append(c.rest, r)
	}
	if len(c.ops) == 0 {
		return first, nil
	}
	return c, nil
}

func (p *parser) parseMath1() (expr, error) {
	l, err := p.parseConcat()
	if err != nil {
		return nil, err
	}
	for p.isOp("+") || p.isOp("-") {
		op := p.next().val
		r, err := p.parseConcat()
		if err != nil {
			return nil, err
		}
		l = &binExpr{op: op, l: l, r: r}
	}
	return l, nil
}

func (p *parser) parseConcat() (expr, error) {
	first, err := p.parseMath2()
	if err != nil {
		return nil, err
	}
	parts := []expr{first}
	for p.skipOp("~") {
		e, err := p.parseMath2()
		if err != nil {
			return nil, err
		}
		parts = append(parts, e)
	}
	if len(parts) == 1 {
		return first, nil
	}
	return &concatExpr{parts: parts}, nil
}

func (p *parser) parseMath2() (expr, error) {
	l, err := p.parsePow()
	if err != nil {
		return nil, err
	}
	for p.isOp("*") || p.isOp("/") || p.isOp("//") || p.isOp("%") {
		op := p.next().val
		r, err := p.parsePow()
		if err != nil {
			return nil, err
		}
		l = &binExpr{op: op, l: l, r: r}
	}
	return l, nil
}

func (p *parser) parsePow() (expr, error) {
	l, err := p.parseUnary(true)
	if err != nil {
		return nil, err
	}
	for p.skipOp("**") {
		r, err := p.parseUnary(true)
		if err != nil {
			return nil, err
		}
		l = &binExpr{op: "**", l: l, r: r}
	}
	return l, nil
}

func (p *parser) parseUnary(withFilter bool) (expr, error) {
	defer func() { p.depth-- }()
	if err := p.enter(); err != nil {
		return nil, err
	}
	var e expr
	var err error
	switch {
	case p.isOp("-"):
		p.next()
		x, err := p.parseUnary(false)
		if err != nil {
			return nil, err
		}
		e = &unaryExpr{op: "-", x: x}
	case p.isOp("+"):
		p.next()
		x, err := p.parseUnary(false)
		if err != nil {
			return nil, err
		}
		e = &unaryExpr{op: "+", x: x}
	default:
		if e, err = p.parsePrimary(); err != nil {
			return nil, err
		}
	}
	if e, err = p.parsePostfix(e); err != nil {
		return nil, err
	}
	if withFilter {
		return p.parseFilterExpr(e)
	}
	return e, nil
}

func (p *parser) parsePrimary() (expr, error) {
	t := p.cur()
	switch t.kind {
	case tokName:
		p.next()
		switch t.val {
		case "true", "True":
			return &constExpr{v: true}, nil
		case "false", "False":
			return &constExpr{v: false}, nil
		case "none", "None":
			return &constExpr{v: nil}, nil
		}
		if n := len(p.macroNames); n > 0 {
			p.macroNames[n-1][t.val] = true
		}
		return &nameExpr{name: t.val, line: t.line}, nil
	case tokString:
		p.next()
		s := t.val
		for p.cur().kind == tokString {
			s += p.next().val
		}
		return &constExpr{v: s}, nil
	case tokInt, tokFloat:
		p.next()
		return &constExpr{v: t.num}, nil
	case tokOp:
		switch t.val {
		case "(":
			p.next()
			e, err := p.parseTuple(false, true, nil, true)
			if err != nil {
				return nil, err
			}
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
			return e, nil
		case "[":
			p.next()
			l := &listExpr{}
			for !p.isOp("]") {
				if len(l.items) > 0 {
					if err := p.expectOp(","); err != nil {
						return nil, err
					}
					if p.isOp("]") {
						break
					}
				}
				e, err := p.parseExpression(true)
				if err != nil {
					return nil, err
				}
				l.items = append(l.items, e)
			}
			p.next()
			return l, nil
		case "{":
			p.next()
			d := &dictExpr{}
			for !p.isOp("}") {
				if len(d.keys) > 0 {
					if err := p.expectOp(","); err != nil {
						return nil, err
					}
					if p.isOp("}") {
						break
					}
				}
				k, err := p.parseExpression(true)
				if err != nil {
					return nil, err
				}
				if err := p.expectOp(":"); err != nil {
					return nil, err
				}
				v, err := p.parseExpression(true)
				if err != nil {
					return nil, err
				}
				d.keys = append(d.keys, k)
				d.values = append(d.values, v)
			}
			p.next()
			return d, nil
		}
	}
	return nil, p.fail(t.line, "unexpected '%s'", t.describe())
}

func (p *parser) parsePostfix(e expr) (expr, error) {
	for {
		switch {
		case p.isOp("."):
			p.next()
			t := p.next()
			switch t.kind {
			case tokName:
				e = &getattrExpr{obj: e, attr: t.val}
			case tokInt:
				e = &getitemExpr{obj: e, key: &constExpr{v: t.num}}
			default:
				return nil, p.fail(t.line, "expected name or number")
			}
		case p.isOp("["):
			p.next()
			var keys []expr
			for !p.isOp("]") {
				if len(keys) > 0 {
					if err := p.expectOp(","); err != nil {
						return nil, err
					}
				}
				k, err := p.parseSubscribed()
				if err != nil {
					return nil, err
				}
				keys = append(keys, k)
			}
			p.next()
			if len(keys) == 1 {
				e = &getitemExpr{obj: e, key: keys[0]}
			} else {
				e = &getitemExpr{obj: e, key: &tupleExpr{items: keys}}
			}
		case p.isOp("("):
			line := p.cur().line
			args, err := p.parseCallArgs()
			if err != nil {
				return nil, err
			}
			e = &callExpr{fn: e, callArgs: args, line: line}
		default:
			return e, nil
		}
	}
}

func (p *parser) parseSubscribed() (expr, error) {
	var args []expr
	if p.isOp(":") {
		p.next()
		args = []expr{nil}
	} else {
		e, err := p.parseExpression(true)
		if err != nil {
			return nil, err
		}
		if !p.isOp(":") {
			return e, nil
		}
		p.next()
		args = []expr{e}
	}
	switch {
	case p.isOp(":"):
		args = append(args, nil)
	case !p.isOp("]") && !p.isOp(","):
		e, err := p.parseExpression(true)
		if err != nil {
			return nil, err
		}
		args = append(args, e)
	default:
		args = append(args, nil)
	}
	if p.skipOp(":") {
		if !p.isOp("]") && !p.isOp(",") {
			e, err := p.parseExpression(true)
			if err != nil {
				return nil, err
			}
			args = append(args, e)
		} else {
			args = append(args, nil)
		}
	} else {
		args = append(args, nil)
	}
	return &sliceExpr{start: args[0], stop: args[1], step: args[2]}, nil
}

func (p *parser) parseCallArgs() (callArgs, error) {
	var ca callArgs
	open := p.next()
	requireComma := false
	bad := func() error { return p.fail(open.line, "invalid syntax for function call expression") }
	for !p.isOp(")") {
		if requireComma {
			if err := p.expectOp(","); err != nil {
				return ca, err
			}
			if p.isOp(")") {
				break
			}
		}
		switch {
		case p.isOp("*"):
			if ca.dynArgs != nil || ca.dynKwargs != nil {
				return ca, bad()
			}
			p.next()
			e, err := p.parseExpression(true)
			if err != nil {
				return ca, err
			}
			ca.dynArgs = e
		case p.isOp("**"):
			if ca.dynKwargs != nil {
				return ca, bad()
			}
			p.next()
			e, err := p.parseExpression(true)
			if err != nil {
				return ca, err
			}
			ca.dynKwargs = e
		case p.cur().kind == tokName && p.look().kind == tokOp && p.look().val == "=":
			if ca.dynKwargs != nil {
				return ca, bad()
			}
			name := p.next().val
			p.next()
			e, err := p.parseExpression(true)
			if err != nil {
				return ca, err
			}
			ca.kwNames = append(ca.kwNames, name)
			ca.kwValues = append(ca.kwValues, e)
		default:
			if ca.dynArgs != nil || ca.dynKwargs != nil || len(ca.kwNames) > 0 {
				return ca, bad()
			}
			e, err := p.parseExpression(true)
			if err != nil {
				return ca, err
			}
			ca.args = append(ca.args, e)
		}
		requireComma = true
	}
	p.next()
	return ca, nil
}

func (p *parser) parseFilterExpr(e expr) (expr, error) {
	for {
		var err error
		switch {
		case p.isOp("|"):
			e, err = p.parseFilter(e, false)
		case p.isName("is"):
			e, err = p.parseTest(e)
		case p.isOp("("):
			line := p.cur().line
			var args callArgs
			args, err = p.parseCallArgs()
			e = &callExpr{fn: e, callArgs: args, line: line}
		default:
			return e, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func (p *parser) parseFilter(e expr, startInline bool) (expr, error) {
	for p.isOp("|") || startInline {
		if !startInline {
			p.next()
		}
		tok, err := p.expectKind(tokName, "name")
		if err != nil {
			return nil, err
		}
		name := tok.val
		for p.isOp(".") {
			p.next()
			n, err := p.expectName()
			if err != nil {
				return nil, err
			}
			name += "." + n
		}
		f := &filterExpr{value: e, name: name, line: tok.line}
		if p.isOp("(") {
			if f.callArgs, err = p.parseCallArgs(); err != nil {
				return nil, err
			}
		}
		if _, ok := filters[name]; ok {
			f.known = true
		} else if p.soft == 0 {
			return nil, p.fail(tok.line, "No filter named '%s'.", name)
		}
		e = f
		startInline = false
	}
	return e, nil
}

func (p *parser) parseTest(e expr) (expr, error) {
	line := p.next().line
	negated := p.skipName("not")
	name, err := p.expectName()
	if err != nil {
		return nil, err
	}
	for p.isOp(".") {
		p.next()
		n, err := p.expectName()
		if err != nil {
			return nil, err
		}
		name += "." + n
	}
	t := &testExpr{value: e, name: name, line: line}
	cur := p.cur()
	switch {
	case p.isOp("("):
		if t.callArgs, err = p.parseCallArgs(); err != nil {
			return nil, err
		}
	case (cur.kind == tokName || cur.kind == tokString || cur.kind == tokInt || cur.kind == tokFloat ||
		(cur.kind == tokOp && (cur.val == "[" || cur.val == "{"))) &&
		!(cur.kind == tokName && (cur.val == "else" || cur.val == "or" || cur.val == "and")):
		if cur.kind == tokName && cur.val == "is" {
			return nil, p.fail(cur.line, "You cannot chain multiple tests with is")
		}
		arg, err := p.parsePrimary()
		if err != nil {
			return nil, err
		}
		if arg, err = p.parsePostfix(arg); err != nil {
			return nil, err
		}
		t.args = []expr{arg}
	}
	if _, ok := tests[name]; !ok && p.soft == 0 {
		return nil, p.fail(line, "No test named '%s'.", name)
	}
	if negated {
		return &unaryExpr{op: "not", x: t}, nil
	}
	return t, nil
}
