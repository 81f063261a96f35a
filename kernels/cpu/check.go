package cpu

import "fmt"

// need panics (a programmer error) if buf holds fewer than n elements.
func need(op, name string, buf []float32, n int) {
	if len(buf) < n {
		panic(fmt.Sprintf("cpu.%s: %s has %d elements, need %d", op, name, len(buf), n))
	}
}

// needInt panics if buf holds fewer than n elements.
func needInt(op, name string, buf []int32, n int) {
	if len(buf) < n {
		panic(fmt.Sprintf("cpu.%s: %s has %d elements, need %d", op, name, len(buf), n))
	}
}

// grainFor returns a parallel-for grain so one chunk holds about 32K
// float operations when a row costs perRow.
func grainFor(perRow int) int {
	return max(1, 32768/max(perRow, 1))
}
