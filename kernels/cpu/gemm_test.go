package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// refGemm is the naive triple loop in float64.
func refGemm(transA, transB bool, m, n, k int, alpha float64, a []float32, lda int, b []float32, ldb int, beta float64, c []float32, ldc int) []float64 {
	out := to64(c)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			s := 0.0
			for p := 0; p < k; p++ {
				var x, y float32
				if transA {
					x = a[p*lda+i]
				} else {
					x = a[i*lda+p]
				}
				if transB {
					y = b[j*ldb+p]
				} else {
					y = b[p*ldb+j]
				}
				s += float64(x) * float64(y)
			}
			old := 0.0
			if beta != 0 {
				old = beta * float64(c[i*ldc+j])
			}
			out[i*ldc+j] = alpha*s + old
		}
	}
	return out
}

func TestSgemm(t *testing.T) {
	shapes := []struct{ m, n, k int }{
		{1, 1, 1}, {3, 5, 7}, {70, 300, 33}, {33, 2100, 260}, {130, 9, 515}, {4, 4, 0},
		{700, 41, 64}, {257, 300, 20}, // split over workers by rows, by columns (m·n·k ≥ gemmSplitMin)
		{20, 30, 2500}, // split along k (k ≥ 8·max(m, n))
	}
	for _, be := range testBackends(t) {
		r := rand.New(rand.NewPCG(21, 22))
		for _, sh := range shapes {
			for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
				for _, ab := range [][2]float32{{1, 0}, {0.5, 1}, {-1.5, 0.25}} {
					name := fmt.Sprintf("%s/%dx%dx%d/tA=%v,tB=%v/alpha=%v,beta=%v", be.Name(), sh.m, sh.n, sh.k, tr[0], tr[1], ab[0], ab[1])
					t.Run(name, func(t *testing.T) {
						m, n, k := sh.m, sh.n, sh.k
						ar, ac := m, k
						if tr[0] {
							ar, ac = k, m
						}
						br, bc := k, n
						if tr[1] {
							br, bc = n, k
						}
						lda, ldb, ldc := ac+3, bc+1, n+2 // padded rows
						a := randVec(r, max(ar*lda, 1), 1)
						b := randVec(r, max(br*ldb, 1), 1)
						c := randVec(r, m*ldc, 1)
						if ab[1] == 0 {
							c[0] = float32(math.NaN()) // beta = 0 ignores C, as BLAS
						}
						want := refGemm(tr[0], tr[1], m, n, k, float64(ab[0]), a, lda, b, ldb, float64(ab[1]), c, ldc)
						be.Sgemm(tr[0], tr[1], m, n, k, ab[0], a, lda, b, ldb, ab[1], c, ldc)
						// padding columns of C must be untouched (they equal the input there)
						checkClose(t, "C", c, want, 2e-6*math.Sqrt(float64(max(k, 1))))
					})
				}
			}
		}
	}
}

func TestSgemmPanicsOnShortSlices(t *testing.T) {
	be := newGo(1)
	defer be.Close()
	defer func() {
		if recover() == nil {
			t.Error("no panic for a too-short A")
		}
	}()
	be.Sgemm(false, false, 4, 4, 4, 1, make([]float32, 15), 4, make([]float32, 16), 4, 0, make([]float32, 16), 4)
}

// TestCoretypeOverride runs a child test process and checks that preftune
// set OPENBLAS_CORETYPE=SkylakeX before loading OpenBLAS on an avx512f CPU,
// and left a user's own setting alone.
func TestCoretypeOverride(t *testing.T) {
	if mode := os.Getenv("PREFTUNE_CORETYPE_CHILD"); mode != "" {
		if mode == "setenv" {
			// the mechanism the override relies on: os.Setenv before the
			// library is opened reaches OpenBLAS's constructor (C getenv)
			os.Setenv("OPENBLAS_CORETYPE", "Haswell")
		}
		be := New(1)
		fmt.Printf("NAME=%s\nENV=%s\n", be.Name(), os.Getenv("OPENBLAS_CORETYPE"))
		return
	}
	be := New(1)
	blas := be.UsesOpenBLAS()
	be.Close()
	if !blas {
		t.Skip("OpenBLAS not in use")
	}
	run := func(env ...string) string {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCoretypeOverride$")
		cmd.Env = append(os.Environ(), "PREFTUNE_CORETYPE_CHILD=1", "OPENBLAS_CORETYPE=", "PREFTUNE_OPENBLAS_NO_CORETYPE=")
		cmd.Env = append(cmd.Env, env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return string(out)
	}
	avx512 := false
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		avx512 = strings.Contains(string(b), " avx512f")
	}
	out := run()
	if avx512 && !strings.Contains(out, "ENV=SkylakeX") {
		t.Errorf("avx512f CPU: OPENBLAS_CORETYPE not set to SkylakeX:\n%s", out)
	}
	if !avx512 && !strings.Contains(out, "ENV=\n") {
		t.Errorf("no avx512f: OPENBLAS_CORETYPE should stay unset:\n%s", out)
	}
	hw := run("OPENBLAS_CORETYPE=Haswell")
	if !strings.Contains(hw, "ENV=Haswell") || !strings.Contains(hw, "openblas Haswell") {
		t.Errorf("user setting not respected:\n%s", hw)
	}
	if advised := strings.Contains(hw, "unset it for OpenBLAS's SkylakeX kernels"); advised != avx512 {
		t.Errorf("avx512f %v: the advice to unset an AVX2 core type shown %v:\n%s", avx512, advised, hw)
	}
	if out := run("PREFTUNE_CORETYPE_CHILD=setenv"); !strings.Contains(out, "openblas Haswell") {
		t.Errorf("OPENBLAS_CORETYPE set with os.Setenv did not reach OpenBLAS:\n%s", out)
	}
	if out := run("PREFTUNE_OPENBLAS_NO_CORETYPE=1"); !strings.Contains(out, "ENV=\n") {
		t.Errorf("PREFTUNE_OPENBLAS_NO_CORETYPE=1 still set the core type:\n%s", out)
	}
	t.Logf("default: %s", strings.TrimSpace(out))
}
