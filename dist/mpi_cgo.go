//go:build cgo && !nompi

package dist

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>

typedef int (*init_thread_fn)(int *, char ***, int, int *);
typedef int (*comm_int_fn)(void *, int *);
typedef int (*allreduce_fn)(const void *, void *, int, void *, void *, void *);
typedef int (*bcast_fn)(void *, int, void *, int, void *);
typedef int (*barrier_fn)(void *);
typedef int (*abort_fn)(void *, int);
typedef int (*finalize_fn)(void);

static init_thread_fn p_init_thread;
static comm_int_fn p_comm_rank, p_comm_size;
static allreduce_fn p_allreduce;
static bcast_fn p_bcast;
static barrier_fn p_barrier;
static abort_fn p_abort;
static finalize_fn p_finalize;
static void *h_comm_world, *h_float, *h_double, *h_int64, *h_byte, *h_sum;

static const char *mpi_load(const char *name) {
	// RTLD_GLOBAL: OpenMPI's own plugins (mca_*.so) resolve symbols of libmpi.
	void *h = dlopen(name, RTLD_NOW | RTLD_GLOBAL);
	if (h == NULL) return dlerror();
#define SYM(var, type, s) var = (type)dlsym(h, s); if (var == NULL) return "symbol " s " not found (not OpenMPI?)";
	SYM(p_init_thread, init_thread_fn, "MPI_Init_thread")
	SYM(p_comm_rank, comm_int_fn, "MPI_Comm_rank")
	SYM(p_comm_size, comm_int_fn, "MPI_Comm_size")
	SYM(p_allreduce, allreduce_fn, "MPI_Allreduce")
	SYM(p_bcast, bcast_fn, "MPI_Bcast")
	SYM(p_barrier, barrier_fn, "MPI_Barrier")
	SYM(p_abort, abort_fn, "MPI_Abort")
	SYM(p_finalize, finalize_fn, "MPI_Finalize")
	SYM(h_comm_world, void *, "ompi_mpi_comm_world")
	SYM(h_float, void *, "ompi_mpi_float")
	SYM(h_double, void *, "ompi_mpi_double")
	SYM(h_int64, void *, "ompi_mpi_int64_t")
	SYM(h_byte, void *, "ompi_mpi_byte")
	SYM(h_sum, void *, "ompi_mpi_op_sum")
#undef SYM
	return NULL;
}

// MPI_THREAD_SERIALIZED is 2 in OpenMPI's mpi.h.
static int mpi_init(int *provided) { return p_init_thread(NULL, NULL, 2, provided); }
static int mpi_rank(int *r) { return p_comm_rank(h_comm_world, r); }
static int mpi_size(int *n) { return p_comm_size(h_comm_world, n); }
// MPI_IN_PLACE is (void *) 1.
static int mpi_sum_f32(float *b, int n) { return p_allreduce((void *)1, b, n, h_float, h_sum, h_comm_world); }
static int mpi_sum_f64(double *b, int n) { return p_allreduce((void *)1, b, n, h_double, h_sum, h_comm_world); }
static int mpi_sum_i64(long long *b, int n) { return p_allreduce((void *)1, b, n, h_int64, h_sum, h_comm_world); }
static int mpi_bcast(void *b, int n, int root) { return p_bcast(b, n, h_byte, root, h_comm_world); }
static int mpi_barrier(void) { return p_barrier(h_comm_world); }
static int mpi_abort(int code) { return p_abort(h_comm_world, code); }
static int mpi_finalize(void) { return p_finalize(); }
*/
import "C"

import (
	"fmt"
	"os"
	"unsafe"
)

// chunk bounds the element count of one MPI call (its count is a C int).
const chunk = 1 << 28

type cgoMPI struct{}

func loadMPI() (mpiLib, error) {
	names := []string{"libmpi.so.40", "libmpi.so"}
	if p := os.Getenv("PREFTUNE_MPI"); p != "" {
		names = []string{p}
	}
	var errs []string
	for _, n := range names {
		cs := C.CString(n)
		e := C.mpi_load(cs)
		C.free(unsafe.Pointer(cs))
		if e == nil {
			return cgoMPI{}, nil
		}
		errs = append(errs, C.GoString(e))
	}
	return nil, fmt.Errorf("cannot load OpenMPI (%v): %v; install openmpi-bin (Debian/Ubuntu: apt-get install openmpi-bin) or set PREFTUNE_MPI to libmpi.so's path", names, errs)
}

func check(what string, rc C.int) error {
	if rc != 0 {
		return fmt.Errorf("%s: MPI error %d", what, int(rc))
	}
	return nil
}

func (cgoMPI) init() (rank, size int, err error) {
	var provided, r, n C.int
	if err := check("MPI_Init_thread", C.mpi_init(&provided)); err != nil {
		return 0, 0, err
	}
	if provided < 2 {
		return 0, 0, fmt.Errorf("MPI_Init_thread: the library provides thread level %d, preftune needs MPI_THREAD_SERIALIZED (2)", int(provided))
	}
	if err := check("MPI_Comm_rank", C.mpi_rank(&r)); err != nil {
		return 0, 0, err
	}
	if err := check("MPI_Comm_size", C.mpi_size(&n)); err != nil {
		return 0, 0, err
	}
	return int(r), int(n), nil
}

func (cgoMPI) sumF32(b []float32) error {
	for len(b) > 0 {
		n := min(len(b), chunk)
		if err := check("MPI_Allreduce(MPI_FLOAT, MPI_SUM)", C.mpi_sum_f32((*C.float)(unsafe.Pointer(&b[0])), C.int(n))); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

func (cgoMPI) sumF64(b []float64) error {
	for len(b) > 0 {
		n := min(len(b), chunk)
		if err := check("MPI_Allreduce(MPI_DOUBLE, MPI_SUM)", C.mpi_sum_f64((*C.double)(unsafe.Pointer(&b[0])), C.int(n))); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

func (cgoMPI) sumI64(b []int64) error {
	for len(b) > 0 {
		n := min(len(b), chunk)
		if err := check("MPI_Allreduce(MPI_INT64_T, MPI_SUM)", C.mpi_sum_i64((*C.longlong)(unsafe.Pointer(&b[0])), C.int(n))); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

func (cgoMPI) bcast(b []byte, root int) error {
	for len(b) > 0 {
		n := min(len(b), chunk)
		if err := check("MPI_Bcast", C.mpi_bcast(unsafe.Pointer(&b[0]), C.int(n), C.int(root))); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

func (cgoMPI) barrier() error  { return check("MPI_Barrier", C.mpi_barrier()) }
func (cgoMPI) abort(code int)  { C.mpi_abort(C.int(code)) }
func (cgoMPI) finalize() error { return check("MPI_Finalize", C.mpi_finalize()) }
