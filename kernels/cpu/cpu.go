package cpu

import (
	"github.com/preftune/preftune/kernels"
)

// Backend is the CPU implementation of kernels.Backend.
type Backend struct {
	threads int
}

var _ kernels.Backend = (*Backend)(nil)

// New returns a CPU backend using threads worker threads (threads ≤ 0 means
// runtime.GOMAXPROCS(0)). The same count is given to OpenBLAS.
func New(threads int) *Backend {
	return &Backend{threads: threads}
}
