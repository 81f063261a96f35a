package dlopen

import (
	"strings"
	"testing"
)

func TestFirst(t *testing.T) {
	opens := func(ok string) func(string) string {
		return func(name string) string {
			if name == ok {
				return ""
			}
			return name + ": cannot open shared object file"
		}
	}
	tests := []struct {
		name, env, ok string
		want          string // the name opened, or a substring of the error
		wantErr       bool
	}{
		{name: "first", ok: "liba.so.1", want: "liba.so.1"},
		{name: "second", ok: "liba.so", want: "liba.so"},
		{name: "override", env: "/opt/libx.so", ok: "/opt/libx.so", want: "/opt/libx.so"},
		{name: "override only", env: "/opt/libx.so", ok: "liba.so.1", want: "cannot load /opt/libx.so: /opt/libx.so: cannot", wantErr: true},
		{name: "none", ok: "", want: "lib a: cannot load liba.so.1 or liba.so: liba.so.1: cannot open shared object file; liba.so: cannot", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PREFTUNE_TEST_LIB", tc.env)
			var got string // the name that opened
			open := opens(tc.ok)
			err := First("lib a", "PREFTUNE_TEST_LIB", []string{"liba.so.1", "liba.so"}, func(name string) string {
				r := open(name)
				if r == "" {
					got = name
				}
				return r
			})
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("got %q, %v; want an error containing %q", got, err, tc.want)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
