package cpu

import (
	"os"
	"strconv"
)

func noBlasEnv() bool { return os.Getenv("PREFTUNE_NOBLAS") != "" }

func noVecEnv() bool { return os.Getenv("PREFTUNE_NOVEC") != "" }

// blasThreadsEnv reads PREFTUNE_BLAS_THREADS (0 when unset or invalid).
func blasThreadsEnv() int {
	n, err := strconv.Atoi(os.Getenv("PREFTUNE_BLAS_THREADS"))
	if err != nil || n < 0 {
		return 0
	}
	return n
}
