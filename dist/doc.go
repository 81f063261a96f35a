// Package dist is data-parallel training's process group: which rank this process is
// and how many there are (from the launcher's environment), and the few collectives
// the trainer needs (sum all-reduce of float32/float64/int64, broadcast, barrier,
// abort), over OpenMPI.
//
// OpenMPI is loaded at run time (dlopen of libmpi.so.40, as kernels/cpu/openblas
// loads OpenBLAS), not linked, so the ordinary binary builds and runs where no MPI is
// installed: only a process started by mpirun/srun (OMPI_COMM_WORLD_SIZE or PMIX_RANK
// in its environment) opens the library. OpenMPI's handles (MPI_COMM_WORLD, MPI_FLOAT,
// MPI_SUM, …) are the addresses of exported objects (ompi_mpi_comm_world,
// ompi_mpi_float, ompi_mpi_op_sum, …); dlsym gives them. PREFTUNE_MPI names another
// library file. Without cgo (or with the build tag nompi) Init reports that MPI is
// unavailable.
//
// Every collective runs under a watchdog: one that waits longer than its limit (a
// rank died or hangs, and the launcher did not kill this one) prints which collective
// waited how long and calls MPI_Abort, then exits 1 if that returns. A training step's
// collectives may wait PREFTUNE_DIST_TIMEOUT seconds (default 60) or three times the
// longest step period seen so far, whichever is longer; the first step's and those
// that wait on rank 0's file I/O (setup, checkpoints, the final save) ten times
// PREFTUNE_DIST_TIMEOUT. mpirun itself kills every rank when one dies (in about a
// second); the watchdog covers launchers that don't.
package dist
