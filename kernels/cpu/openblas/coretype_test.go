package openblas

import (
	"strings"
	"testing"
)

func TestCoretypeAdvice(t *testing.T) {
	tests := []struct {
		coretype string
		avx512   bool
		advise   bool
	}{
		{"Haswell", true, true},
		{"ZEN", true, true},
		{"SkylakeX", true, false},
		{"sapphirerapids", true, false},
		{"COOPERLAKE", true, false},
		{"Haswell", false, false}, // an AVX2 CPU: Haswell is the right choice
		{"", true, false},
	}
	for _, tc := range tests {
		got := coretypeAdvice(tc.coretype, tc.avx512)
		if tc.advise != (got != "") || (tc.advise && !strings.Contains(got, "SkylakeX")) {
			t.Errorf("coretypeAdvice(%q, %v) = %q, want advice %v", tc.coretype, tc.avx512, got, tc.advise)
		}
	}
}
