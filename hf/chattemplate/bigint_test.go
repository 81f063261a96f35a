package chattemplate

import (
	"strings"
	"testing"
)

// TestIntegers checks Python's arbitrary-precision ints (issue 16 item 3)
// against jinja2: reference/chattemplate/render_goldens.py writes
// testdata/integers.json from the real library.
func TestIntegers(t *testing.T) {
	var ff struct {
		Now   string        `json:"now"`
		Cases []featureCase `json:"cases"`
	}
	readGoldenFile(t, "integers.json", &ff)
	if len(ff.Cases) < 15 {
		t.Fatalf("only %d integer cases", len(ff.Cases))
	}
	clock := fixedClock(t, ff.Now)
	for _, c := range ff.Cases {
		if c.Error != nil {
			// CPython's advice (sys.set_int_max_str_digits) does not apply here
			msg, _, _ := strings.Cut(*c.Error, "; use sys.set_int_max_str_digits()")
			c.Error = &msg
		}
		t.Run(c.Name, func(t *testing.T) {
			vars, err := DecodeJSON(c.Vars)
			if err != nil {
				t.Fatal(err)
			}
			tpl, err := Parse(c.Template, nil)
			if err != nil {
				checkResult(t, "", err, c.Expected, c.Error)
				return
			}
			got, err := tpl.RenderValues(nil, RenderOptions{Extra: dictToMap(vars), Now: clock})
			checkResult(t, got, err, c.Expected, c.Error)
		})
	}
}
