//go:build cgo && !noblas

package openblas

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>

// CBLAS enum values (cblas.h): RowMajor 101, NoTrans 111, Trans 112.
typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int,
                         const float *, int, float, float *, int);
typedef void (*set_threads_fn)(int);
typedef int (*get_threads_fn)(void);
typedef char *(*get_str_fn)(void);

static sgemm_fn p_sgemm;
static set_threads_fn p_set_threads;
static get_threads_fn p_get_threads;
static get_str_fn p_corename;
static get_str_fn p_config;

static const char *ob_load(const char *name) {
	void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) return dlerror();
	p_sgemm = (sgemm_fn)dlsym(h, "cblas_sgemm");
	if (p_sgemm == NULL) return "symbol cblas_sgemm not found";
	p_set_threads = (set_threads_fn)dlsym(h, "openblas_set_num_threads");
	p_get_threads = (get_threads_fn)dlsym(h, "openblas_get_num_threads");
	p_corename = (get_str_fn)dlsym(h, "openblas_get_corename");
	p_config = (get_str_fn)dlsym(h, "openblas_get_config");
	return NULL;
}

static void ob_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                     const float *b, int ldb, float beta, float *c, int ldc) {
	p_sgemm(101, ta ? 112 : 111, tb ? 112 : 111, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

static void ob_set_threads(int n) { if (p_set_threads) p_set_threads(n); }
static int ob_get_threads(void) { return p_get_threads ? p_get_threads() : 0; }
static const char *ob_corename(void) { return p_corename ? p_corename() : "unknown"; }
static const char *ob_config(void) { return p_config ? p_config() : ""; }
*/
import "C"

import (
	"os"
	"strconv"
	"sync"
	"unsafe"

	"github.com/preftune/preftune/internal/dlopen"
)

var (
	once    sync.Once
	loadErr error
	info    string
)

// Load opens OpenBLAS (once per process) after choosing its core type, and
// sets its thread count. It returns a description such as
// "openblas SkylakeX (OPENBLAS_CORETYPE=SkylakeX set by preftune)" or an
// error when the library cannot be opened. Later calls only set the thread
// count.
func Load(threads int) (string, error) {
	once.Do(func() {
		note := ""
		if ct := coretypeOverride(); ct != "" {
			os.Setenv("OPENBLAS_CORETYPE", ct) // cgo: also updates the C environment
			note = " (OPENBLAS_CORETYPE=" + ct + " set by preftune)"
		} else if ct := os.Getenv("OPENBLAS_CORETYPE"); ct != "" {
			note = " (OPENBLAS_CORETYPE=" + ct + " from environment" + coretypeAdvice(ct, cpuHasAVX512F()) + ")"
		}
		// OpenBLAS starts a pool of (cores − 1) server threads when it loads unless told
		// otherwise, and those spin on sched_yield after start-up — CPU taken from our
		// workers, which call it single-threaded. Ask for the threads we will use.
		if threads > 0 && os.Getenv("OPENBLAS_NUM_THREADS") == "" && os.Getenv("OMP_NUM_THREADS") == "" {
			os.Setenv("OPENBLAS_NUM_THREADS", strconv.Itoa(threads))
		}
		loadErr = dlopen.First("openblas", "PREFTUNE_OPENBLAS", []string{"libopenblas.so.0", "libopenblas.so"}, func(name string) string {
			cs := C.CString(name)
			defer C.free(unsafe.Pointer(cs))
			if e := C.ob_load(cs); e != nil {
				return C.GoString(e)
			}
			return ""
		})
		if loadErr == nil {
			info = "openblas " + C.GoString(C.ob_corename()) + note
		}
	})
	if loadErr != nil {
		return "", loadErr
	}
	if threads > 0 {
		C.ob_set_threads(C.int(threads))
	}
	return info, nil
}

// Threads returns OpenBLAS's current thread count (0 when not loaded).
func Threads() int {
	if loadErr != nil || info == "" {
		return 0
	}
	return int(C.ob_get_threads())
}

// SetThreads sets OpenBLAS's thread count (process-wide); a no-op when not loaded.
func SetThreads(n int) {
	if loadErr != nil || info == "" || n <= 0 {
		return
	}
	C.ob_set_threads(C.int(n))
}

// Config returns openblas_get_config() (build options and core), or "".
func Config() string {
	if loadErr != nil || info == "" {
		return ""
	}
	return C.GoString(C.ob_config())
}

// Sgemm calls cblas_sgemm in row-major order. Load must have succeeded; the
// caller has checked the shapes (m, n, k > 0 and slices long enough).
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	ta, tb := C.int(0), C.int(0)
	if transA {
		ta = 1
	}
	if transB {
		tb = 1
	}
	C.ob_sgemm(ta, tb, C.int(m), C.int(n), C.int(k), C.float(alpha),
		(*C.float)(unsafe.Pointer(&a[0])), C.int(lda),
		(*C.float)(unsafe.Pointer(&b[0])), C.int(ldb), C.float(beta),
		(*C.float)(unsafe.Pointer(&c[0])), C.int(ldc))
}
