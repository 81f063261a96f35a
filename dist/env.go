package dist

import (
	"os"
	"runtime"
	"strconv"
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
// ranks on it (at least 1), so N ranks on one machine never oversubscribe it.
func (e Env) DefaultThreads() int {
	return max(1, runtime.NumCPU()/max(1, e.LocalSize))
}
