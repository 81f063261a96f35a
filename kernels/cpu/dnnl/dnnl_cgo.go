//go:build cgo && !noblas

package dnnl

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>

typedef int (*bf16gemm_fn)(char, char, int64_t, int64_t, int64_t, float, const uint16_t *, int64_t,
                           const uint16_t *, int64_t, float, float *, int64_t);
typedef void (*omp_set_fn)(int);
typedef const void *(*version_fn)(void);

static bf16gemm_fn p_gemm;
static omp_set_fn p_omp_set;
static version_fn p_version;

static const char *dn_load(const char *name) {
	void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) return dlerror();
	p_gemm = (bf16gemm_fn)dlsym(h, "dnnl_gemm_bf16bf16f32");
	if (p_gemm == NULL) return "symbol dnnl_gemm_bf16bf16f32 not found";
	p_version = (version_fn)dlsym(h, "dnnl_version");
	void *g = dlopen("libgomp.so.1", RTLD_NOW | RTLD_NOLOAD);
	if (g != NULL) p_omp_set = (omp_set_fn)dlsym(g, "omp_set_num_threads");
	return NULL;
}

// dnnl_version_t: int major, minor, patch; const char *hash; unsigned cpu_runtime, gpu_runtime.
typedef struct { int major, minor, patch; const char *hash; unsigned cpu_runtime, gpu_runtime; } dn_version_t;
static void dn_version(int *v) {
	if (!p_version) { v[0] = v[1] = v[2] = 0; return; }
	const dn_version_t *x = (const dn_version_t *)p_version();
	v[0] = x->major; v[1] = x->minor; v[2] = x->patch;
}

static int dn_gemm(int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha, const uint16_t *a, int64_t lda,
                   const uint16_t *b, int64_t ldb, float beta, float *c, int64_t ldc) {
	return p_gemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
static void dn_threads(int n) { if (p_omp_set) p_omp_set(n); }
*/
import "C"

import (
	"fmt"
	"os"
	"sync"
	"unsafe"

	"github.com/preftune/preftune/internal/dlopen"
)

var (
	once    sync.Once
	loadErr error
	info    string
)

// Load opens oneDNN once per process and sets its thread count (later calls only set
// the thread count). It returns a description such as "onednn 2.6.3".
func Load(threads int) (string, error) {
	once.Do(func() {
		if os.Getenv("OMP_WAIT_POLICY") == "" {
			os.Setenv("OMP_WAIT_POLICY", "passive") // before libgomp initialises
		}
		loadErr = dlopen.First("onednn", "PREFTUNE_DNNL", []string{"libdnnl.so.2", "libdnnl.so"}, func(name string) string {
			cs := C.CString(name)
			defer C.free(unsafe.Pointer(cs))
			if e := C.dn_load(cs); e != nil {
				return C.GoString(e)
			}
			return ""
		})
		if loadErr == nil {
			var v [3]C.int
			C.dn_version(&v[0])
			info = fmt.Sprintf("onednn %d.%d.%d", v[0], v[1], v[2])
		}
	})
	if loadErr != nil {
		return "", loadErr
	}
	if threads > 0 {
		C.dn_threads(C.int(threads))
	}
	return info, nil
}

// GemmBF16 is dnnl_gemm_bf16bf16f32 (row-major): C[m,n] = alpha·op(A)[m,k]·op(B)[k,n] +
// beta·C with A, B bfloat16 bit patterns; lda, ldb, ldc are row strides as stored. It
// returns oneDNN's status as an error (dnnl_unimplemented on a CPU without bf16 support).
func GemmBF16(transA, transB bool, m, n, k int, alpha float32, a []uint16, lda int, b []uint16, ldb int, beta float32, c []float32, ldc int) error {
	if loadErr != nil || info == "" {
		return fmt.Errorf("onednn not loaded")
	}
	if m == 0 || n == 0 {
		return nil
	}
	ta, tb := 0, 0
	if transA {
		ta = 1
	}
	if transB {
		tb = 1
	}
	st := C.dn_gemm(C.int(ta), C.int(tb), C.int64_t(m), C.int64_t(n), C.int64_t(k), C.float(alpha),
		(*C.uint16_t)(unsafe.Pointer(&a[0])), C.int64_t(lda), (*C.uint16_t)(unsafe.Pointer(&b[0])), C.int64_t(ldb),
		C.float(beta), (*C.float)(unsafe.Pointer(&c[0])), C.int64_t(ldc))
	if st != 0 {
		return fmt.Errorf("onednn: dnnl_gemm_bf16bf16f32 status %d", int(st))
	}
	return nil
}
