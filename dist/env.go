package dist

import (
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Env is what the launcher says about this process, read from the environment.
type Env struct {
	Rank, Size           int // in the whole job
	LocalRank, LocalSize int // on this machine
	// Launcher names the variables read ("OMPI_COMM_WORLD_*", "PMIX_RANK", "SLURM_*").
	Launcher string
}

// FromEnv reads the launcher's variables: OpenMPI's OMPI_COMM_WORLD_RANK/SIZE/
// LOCAL_RANK/LOCAL_SIZE (mpirun, and srun --mpi=pmix once MPI is initialised), or
// before that under srun PMIX_RANK with SLURM_NTASKS/SLURM_LOCALID/
// SLURM_NTASKS_PER_NODE. ok is false for a process that no launcher started.
func FromEnv() (e Env, ok bool) {
	get := func(k string) (int, bool) {
		v, err := strconv.Atoi(os.Getenv(k))
		return v, err == nil
	}
	if size, has := get("OMPI_COMM_WORLD_SIZE"); has {
		e = Env{Size: size, LocalSize: 1, Launcher: "OMPI_COMM_WORLD_*"}
		e.Rank, _ = get("OMPI_COMM_WORLD_RANK")
		e.LocalRank, _ = get("OMPI_COMM_WORLD_LOCAL_RANK")
		if n, has := get("OMPI_COMM_WORLD_LOCAL_SIZE"); has {
			e.LocalSize = n
		}
		return e, true
	}
	if rank, has := get("PMIX_RANK"); has {
		e = Env{Rank: rank, Size: 1, LocalSize: 1, Launcher: "PMIX_RANK"}
		if n, has := get("SLURM_NTASKS"); has {
			e.Size, e.Launcher = n, "PMIX_RANK, SLURM_*"
		}
		e.LocalRank, _ = get("SLURM_LOCALID")
		if n, has := get("SLURM_NTASKS_PER_NODE"); has {
			e.LocalSize = n
		}
		return e, true
	}
	return Env{Size: 1, LocalSize: 1}, false
}

// Launched reports whether a launcher started this process as one rank of a job
// (including a job of one rank).
func Launched() bool {
	_, ok := FromEnv()
	return ok
}

// DefaultThreads is the worker threads a rank owns: the machine's cores divided by the
// ranks on it, and no more than the cores the launcher bound the rank to (its CPU
// affinity, which Go's runtime.NumCPU reports), at least 1 — so N ranks on one machine
// never oversubscribe it, bound or not.
func (e Env) DefaultThreads() int {
	return threadsFor(machineCPUs(), runtime.NumCPU(), e.LocalSize)
}

func threadsFor(machine, affinity, local int) int {
	return max(1, min(affinity, machine/max(1, local)))
}

// machineCPUs counts the online CPUs (/sys/devices/system/cpu/online, "0-3,8-11"),
// whatever this process's affinity; runtime.NumCPU when that cannot be read.
func machineCPUs() int {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return runtime.NumCPU()
	}
	if n := countCPUList(strings.TrimSpace(string(b))); n > 0 {
		return n
	}
	return runtime.NumCPU()
}

// countCPUList counts the CPUs of a Linux CPU list ("0-3,8,10-11" → 7); 0 if malformed.
func countCPUList(s string) int {
	n := 0
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return 0
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return 0
			}
		}
		n += b - a + 1
	}
	return n
}
