package chattemplate

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

// allocated reports the bytes the Go heap hands out while fn runs.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestResourceBombs renders templates that would make Python (and the
// interpreter before these bounds) allocate without end. Each must fail with
// a *TemplateError that names the template line holding the runaway
// statement, after allocating a bounded amount of memory. The first two are
// the reproductions of issue 16 item 2.
func TestResourceBombs(t *testing.T) {
	const prefix = "{# line 1 #}\n{# line 2 #}\n"
	cases := []struct {
		name string
		src  string // the bomb is on line 3
		want string // part of the error message
	}{
		{"issue16_string_doubling_tilde",
			"{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", "string result too large"},
		{"issue16_list_doubling_plus",
			"{% set ns = namespace(s=['x']) %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}", "result too large"},
		{"string_doubling_plus",
			"{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}", "string result too large"},
		{"tuple_doubling_plus",
			"{% set ns = namespace(s=(1,)) %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}", "result too large"},
		{"repr_of_shared_references",
			"{% set s = 'x' * 1000000 %}{{ [s] * 1000 }}", "printed value exceeds"},
		{"tilde_of_shared_references",
			"{% set s = 'x' * 1000000 %}{% set t = 'a' ~ ([s] * 1000) %}", "exceeds"},
		{"tojson_of_shared_references",
			"{% set s = 'x' * 1000000 %}{{ ([s] * 1000) | tojson }}", "JSON output exceeds"},
		{"tojson_deep_indent",
			"{{ [[[[[[[[[[1]]]]]]]]]] | tojson(indent=9000000) }}", "JSON output exceeds"},
		{"join_filter",
			"{% set s = 'x' * 1000000 %}{{ ([s] * 1000) | join }}", "string result too large"},
		{"join_method",
			"{% set s = 'x' * 1000000 %}{{ s.join([s] * 100) }}", "string result too large"},
		{"replace_filter_empty_old",
			"{% set s = 'x' * 1000000 %}{{ s | replace('', s) }}", "replace would exceed"},
		{"replace_method",
			"{% set s = 'x' * 1000000 %}{{ s.replace('x', s) }}", "replace would exceed"},
		{"indent_many_lines",
			"{% set s = '\\n' * 1000000 %}{{ ('a' ~ s ~ 'b') | indent(1000, blank=true) }}", "indent would exceed"},
		{"percent_precision",
			"{{ '%.999999999f' % 1.0 }}", "result too large"},
		{"format_precision",
			"{{ '{:.999999999f}'.format(1.0) }}", "result too large"},
		{"percent_tuple_args",
			"{% set s = 'x' * 10000000 %}{% set t = (s, s, s, s, s, s, s, s, s, s) %}{{ '%s%s%s%s%s%s%s%s%s%s' % t }}", "string result too large"},
		{"str_format_many_args",
			"{% set s = 'x' * 10000000 %}{{ '{0}{0}{0}{0}{0}{0}{0}{0}{0}{0}'.format(s) }}", "string result too large"},
		{"huge_power",
			"{{ 7 ** 100000000 }}", "Exceeds the limit (4300 digits)"},
		{"repeated_squaring",
			"{% set ns = namespace(x=3) %}{% for i in range(40) %}{% set ns.x = ns.x * ns.x %}{% endfor %}", "Exceeds the limit (4300 digits)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tpl, err := Parse(prefix+c.src, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got string
			alloc := allocated(func() { got, err = tpl.Render(nil, RenderOptions{}) })
			var te *TemplateError
			if !errors.As(err, &te) {
				t.Fatalf("rendered %d bytes, err %v; want a *TemplateError", len(got), err)
			}
			if te.Line != 3 {
				t.Errorf("error %q names line %d, want 3", err, te.Line)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
			// the largest legal value is 64 MiB (a string) or 160 MiB (a list of
			// 10M items); a bomb may build a few of them, never gigabytes
			t.Logf("%s: failed after allocating %d MiB: %v", c.name, alloc>>20, err)
			if !(alloc <= 1<<30) {
				t.Errorf("allocated %d MiB before failing", alloc>>20)
			}
		})
	}
}

// TestBuiltBudget: a loop that keeps concatenating values each within the
// per-value bound is stopped by the budget on everything ~, + and * build.
func TestBuiltBudget(t *testing.T) {
	saved := maxBuilt
	maxBuilt = 64 << 20
	defer func() { maxBuilt = saved }()
	tpl, err := Parse("{% set s = 'x' * 1000000 %}\n{% for i in range(1000) %}{% set t = s ~ i %}{% endfor %}", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tpl.Render(nil, RenderOptions{})
	var te *TemplateError
	if !errors.As(err, &te) || te.Line != 2 || !strings.Contains(err.Error(), "runaway concatenation") {
		t.Fatalf("err = %v; want the concatenation budget error at line 2", err)
	}
	// a loop that stays inside the budget renders
	tpl, err = Parse("{% set s = 'x' * 1000 %}{% for i in range(1000) %}{% set t = s ~ i %}{% endfor %}ok", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := tpl.Render(nil, RenderOptions{}); err != nil || got != "ok" {
		t.Fatalf("got %q, %v", got, err)
	}
}

// TestWatchdog drives the wall-time watchdog with a fake clock that advances a
// second at every look, so no real time passes.
func TestWatchdog(t *testing.T) {
	saved := watchdogClock
	defer func() { watchdogClock = saved }()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	watchdogClock = func() time.Time { now = now.Add(time.Second); return now }
	tpl, err := Parse("a\n{% for i in range(100000) %}{% for j in range(10) %}{% endfor %}{% endfor %}", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		timeout time.Duration
		wantErr bool
	}{{0, true}, {5 * time.Second, true}, {-1, false}} {
		_, err = tpl.Render(nil, RenderOptions{Timeout: c.timeout})
		var te *TemplateError
		if c.wantErr {
			if !errors.As(err, &te) || te.Line != 2 || !strings.Contains(err.Error(), "time limit") {
				t.Errorf("timeout %v: err = %v; want the time-limit error at line 2", c.timeout, err)
			}
		} else if err != nil {
			t.Errorf("timeout %v (none): %v", c.timeout, err)
		}
	}
}

// TestLimitErrorLines: the line of a limit error is the statement's, for
// every statement kind that evaluates expressions.
func TestLimitErrorLines(t *testing.T) {
	const bomb = "('x' * 10000000) ~ ('x' * 10000000) ~ ('x' * 10000000) ~ ('x' * 10000000) ~ ('x' * 10000000) ~ ('x' * 10000000) ~ ('x' * 10000000)"
	for _, c := range []struct {
		name, src string
		line      int
	}{
		{"print", "a\nb\n{{ " + bomb + " }}", 3},
		{"if", "a\n{% if " + bomb + " %}x{% endif %}", 2},
		{"elif", "{% if false %}\n{% elif false %}\n{% elif " + bomb + " %}x{% endif %}", 3},
		{"with", "\n{% with a = " + bomb + " %}{% endwith %}", 2},
		{"filter_block", "{% filter replace('', 'x' * 1000) %}\n" + strings.Repeat("y", 100000) + "\n{% endfilter %}", 1},
		{"for", "\n\n\n{% for c in " + bomb + " %}{% endfor %}", 4},
		{"macro_call", "{% macro m() %}\n{{ " + bomb + " }}{% endmacro %}\n{{ m() }}", 2},
	} {
		tpl, err := Parse(c.src, nil)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		_, err = tpl.Render(nil, RenderOptions{})
		var te *TemplateError
		if !errors.As(err, &te) || te.Line != c.line || !strings.Contains(err.Error(), "too large") {
			t.Errorf("%s: err = %v; want a size error at line %d", c.name, err, c.line)
		}
	}
}
