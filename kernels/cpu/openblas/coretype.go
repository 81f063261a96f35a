package openblas

import (
	"os"
	"strings"
)

// cpuHasAVX512F reports whether /proc/cpuinfo lists the avx512f flag.
func cpuHasAVX512F() bool {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "flags") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if f == "avx512f" {
				return true
			}
		}
		return false
	}
	return false
}

// coretypeOverride returns the OPENBLAS_CORETYPE value to set before
// loading, or "" to leave the environment alone.
func coretypeOverride() string {
	if os.Getenv("OPENBLAS_CORETYPE") != "" || os.Getenv("PREFTUNE_OPENBLAS_NO_CORETYPE") != "" {
		return ""
	}
	if cpuHasAVX512F() {
		return "SkylakeX"
	}
	return ""
}
