// Package chattemplate renders Hugging Face chat templates (the Jinja2
// `chat_template` of a tokenizer) byte-identically to transformers'
// apply_chat_template(..., tokenize=False).
//
// # Loading
//
// Load accepts a model/tokenizer directory, a tokenizer_config.json file or a
// standalone .jinja file. In a directory it follows transformers: the
// `chat_template` of tokenizer_config.json (a string, or the list form
// [{"name": "default", "template": ...}, {"name": "tool_use", ...}]) is replaced
// by chat_template.jinja when that file exists, and
// additional_chat_templates/<name>.jinja add named templates. With several
// templates, Render picks "tool_use" when tools are given (RenderOptions.Tools
// non-nil) and it exists, else "default"; RenderOptions.TemplateName picks one
// explicitly. Special tokens (bos_token, eos_token, unk_token, sep_token,
// pad_token, cls_token, mask_token, additional_special_tokens) are read from
// tokenizer_config.json and special_tokens_map.json, as strings or AddedToken
// objects ({"content": ...}); unset ones are left undefined, like
// transformers' special_tokens_map.
//
// # Rendering
//
// The template sees messages, tools (None unless given), documents (None
// unless given), add_generation_prompt, the special tokens and
// RenderOptions.Extra (which overrides special tokens). Globals are Jinja2's
// range, namespace and dict plus transformers' raise_exception(msg) and
// strftime_now(fmt); the clock behind strftime_now is RenderOptions.Now, so
// renders can be made reproducible. The tojson filter is transformers'
// override: json.dumps(x, ensure_ascii=False, indent=None, separators=None,
// sort_keys=False), keys in insertion order. {% generation %} blocks (the
// transformers extension) render their body in place.
//
// Errors are *TemplateError values: a template's raise_exception message comes
// back as "chat template: <message>" (Raised is set); syntax errors and
// render-time errors (undefined attribute access, type errors, ...) carry
// Jinja2's own message text.
//
// Values follow Python: None, True/False, int and float (printed with Python's
// repr: 1.0, 1e+16, 1e-05), str, list, tuple and dict (printed like
// {'a': 1}). Dict key order matters for printed and tojson output, so Go maps
// (which have none) are visited in sorted key order; decode JSON with
// DecodeJSON (objects become ordered *Dict values, and "1.0" stays a float
// while "1" is an int) and call RenderValues to keep a document's order exactly.
//
// # Implementation choice
//
// This is a small purpose-built Jinja2 interpreter (lexer, parser, tree-walking
// evaluator) rather than github.com/nikolalohinski/gonja/v2. Byte-identical
// output depends on details gonja gets wrong or models differently — negative
// indexing, |reverse, argument-less split()/strip(), dictsort, replace with two
// arguments, whitespace control — and, more fundamentally, on Python value
// semantics that a Go-native engine does not have: Python's str()/repr() of
// None, bools, floats, lists and dicts, ordered dicts, json.dumps formatting,
// Jinja2's Undefined rules, its for-loop scoping (each iteration starts from
// the enclosing scope; namespace() escapes it) and the sandbox's attribute
// lookup (a dict's methods shadow its keys). Working around those in gonja
// would mean overriding most of its value layer; owning the interpreter keeps
// every rule in one place and checkable against the jinja2 goldens.
//
// The supported language is what chat templates use: output, comments, raw,
// if/elif/else, for (with else, an if filter, tuple unpacking and the loop
// object: index, index0, revindex, revindex0, first, last, length, previtem,
// nextitem, cycle, changed, depth), break/continue, set (plain, tuple,
// namespace attribute and block form with filters), macro (defaults, varargs,
// kwargs), with, filter blocks and generation; every expression form (literals,
// arithmetic, ~, comparisons, in/not in, and/or/not, conditional expressions,
// attribute/item access, slicing, calls with *args/**kwargs, filters, tests);
// the built-in filters abs, attr, batch, capitalize, center, count, default/d,
// dictsort, escape/e, first, float, format, indent, int, items, join, last,
// length, list, lower, map, max, min, reject, rejectattr, replace, reverse,
// round, safe, select, selectattr, sort, string, sum, title, tojson, trim,
// truncate, unique, upper and wordcount; the tests of Jinja2; and the common
// Python str, dict and list methods. Template inheritance, include/import, call
// blocks and recursive loops are rejected with a syntax error; whitespace
// control (trim_blocks, lstrip_blocks, '-' and '+' markers) follows Jinja2's
// lexer exactly.
//
// Known differences from Python: map/select/reverse return lists rather than
// one-shot generators (so printing one shows a list, and a second iteration is
// not empty); dict.items()/keys()/values() print as lists; upper/lower use
// Go's simple case mapping (so 'ß'.upper() stays 'ß'); an integer result of
// more than 4300 digits is refused when it is built (CPython refuses it only
// when it is printed);
// `is escaped` is always false (no Markup type); the lipsum, cycler and joiner
// globals are absent. Unknown filters and tests fail at parse time outside
// if-blocks and conditional expressions and at render time inside them, as
// in Jinja2.
//
// Integers have Python's arbitrary precision: an int64 while the value fits,
// a math/big integer beyond (9223372036854775807 + 1 is 9223372036854775808,
// 2**64 is 18446744073709551616), checked against jinja2 in
// testdata/integers.json.
//
// Templates are user input, so rendering is bounded where Python is not:
// 5,000,000 evaluation steps, 64 MiB of output, 64 MiB for any string the
// template builds (~, +, %, join, replace, indent, str()/repr()/tojson of a
// container), 10M items for a list or tuple built by + or * and 10M
// characters from one repetition or padding, 1 GiB built by ~, + and * in one
// render (list items count 16 bytes), RenderOptions.Timeout of wall time
// (DefaultTimeout, 30 s, when zero), macro recursion depth 500, expression and
// block nesting 200. Exceeding a bound is a *TemplateError naming the template
// line. A panic inside the interpreter is turned into an "internal error"
// *TemplateError.
//
// The goldens in testdata/ are generated by
// reference/chattemplate/render_goldens.py with Python's jinja2 3.1.6 set up as
// transformers' _compile_jinja_template does.
package chattemplate
