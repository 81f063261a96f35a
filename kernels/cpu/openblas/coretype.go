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

// avx512Coretypes are OpenBLAS's core types whose kernels use AVX-512.
var avx512Coretypes = []string{"SKYLAKEX", "COOPERLAKE", "SAPPHIRERAPIDS"}

// coretypeAdvice is the note added to the backend description when the environment's
// OPENBLAS_CORETYPE names kernels without AVX-512 on a CPU that has it (an AVX2 core
// type such as Haswell or Zen runs this project's fp32 products at about half the
// speed there), else "". The user's setting is kept either way.
func coretypeAdvice(coretype string, cpuAVX512 bool) string {
	if coretype == "" || !cpuAVX512 {
		return ""
	}
	for _, c := range avx512Coretypes {
		if strings.EqualFold(coretype, c) {
			return ""
		}
	}
	return "; this CPU has AVX-512: unset it for OpenBLAS's SkylakeX kernels"
}
