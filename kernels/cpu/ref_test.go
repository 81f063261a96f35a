package cpu

// Test helpers and naive float64 references, written from the math and
// independently of the optimised kernels: straightforward loops, no blocking,
// no shared code with the package.

import (
	"math"
	"math/rand/v2"
	"testing"
)

// testBackends returns the OpenBLAS-backed backend (when OpenBLAS loads) and
// the pure-Go one, with 3 workers so loops split unevenly.
func testBackends(t *testing.T) []*Backend {
	t.Helper()
	bes := []*Backend{newGo(3)}
	if be := New(3); be.UsesOpenBLAS() {
		bes = append(bes, be)
	} else {
		be.Close()
		t.Logf("OpenBLAS not in use: %s", be.Name())
	}
	t.Cleanup(func() {
		for _, be := range bes {
			be.Close()
		}
	})
	return bes
}

func randVec(r *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(scale * (2*r.Float64() - 1))
	}
	return x
}

func to64(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

func clone(x []float32) []float32 { return append([]float32(nil), x...) }

func dot64(r []float32, y []float64) float64 {
	var s float64
	for i, v := range y {
		s += float64(r[i]) * v
	}
	return s
}

// fdGrad returns dL/dx by central differences of the float64 function L at x.
func fdGrad(x []float64, L func([]float64) float64) []float64 {
	const h = 1e-6
	g := make([]float64, len(x))
	for i := range x {
		old := x[i]
		x[i] = old + h
		lp := L(x)
		x[i] = old - h
		lm := L(x)
		x[i] = old
		g[i] = (lp - lm) / (2 * h)
	}
	return g
}

// relErr is max|got−want| / max(max|want|, floor).
func relErr(got []float32, want []float64, floor float64) float64 {
	if len(got) < len(want) {
		return math.Inf(1)
	}
	var d, m float64
	for i, w := range want {
		d = max(d, math.Abs(float64(got[i])-w))
		m = max(m, math.Abs(w))
	}
	return d / max(m, floor)
}

// checkClose fails when relErr(got, want, 1) > tol, and logs the error.
func checkClose(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	e := relErr(got, want, 1e-30)
	if !(e <= tol) {
		t.Errorf("%s: relative error %.3g > %.3g", what, e, tol)
	} else if testing.Verbose() {
		t.Logf("%s: relative error %.3g", what, e)
	}
}

// checkGrad compares an accumulated kernel gradient (got − before) with want.
func checkGrad(t *testing.T, what string, got, before []float32, want []float64, tol float64) {
	t.Helper()
	d := make([]float32, len(want))
	for i := range d {
		d[i] = got[i] - before[i]
	}
	checkClose(t, what, d, want, tol)
}

// ---- references ----

func refLinear(x, w, b []float64, n, c, oc int, scale float64) []float64 {
	out := make([]float64, n*oc)
	for i := 0; i < n; i++ {
		for o := 0; o < oc; o++ {
			s := 0.0
			for k := 0; k < c; k++ {
				s += x[i*c+k] * w[o*c+k]
			}
			if b != nil {
				s += b[o]
			}
			out[i*oc+o] = scale * s
		}
	}
	return out
}

func refRMSNorm(x, w []float64, n, c int, eps float64) ([]float64, []float64) {
	out := make([]float64, n*c)
	rstd := make([]float64, n)
	for i := 0; i < n; i++ {
		ms := 0.0
		for k := 0; k < c; k++ {
			ms += x[i*c+k] * x[i*c+k]
		}
		rstd[i] = 1 / math.Sqrt(ms/float64(c)+eps)
		for k := 0; k < c; k++ {
			out[i*c+k] = x[i*c+k] * rstd[i] * w[k]
		}
	}
	return out, rstd
}

// refRoPE rotates with angles pos·invFreq computed in float64, as the
// definition q·cos + rotate_half(q)·sin with cos = cat(c, c), sin = cat(s, s).
func refRoPE(x []float64, pos []int32, invFreq []float64, n, h, hd int) []float64 {
	out := make([]float64, len(x))
	half := hd / 2
	for t := 0; t < n; t++ {
		for hh := 0; hh < h; hh++ {
			base := (t*h + hh) * hd
			for d := 0; d < hd; d++ {
				ang := float64(pos[t]) * invFreq[d%half]
				var rot float64 // rotate_half(x) = cat(−x2, x1)
				if d < half {
					rot = -x[base+d+half]
				} else {
					rot = x[base+d-half]
				}
				out[base+d] = x[base+d]*math.Cos(ang) + rot*math.Sin(ang)
			}
		}
	}
	return out
}

// refAttention: explicit scores, mask, softmax, weighted sum per (b, h, i).
func refAttention(q, k, v []float64, seg []int32, b, t, nh, nkv, hd, window int) (out, lse []float64) {
	out = make([]float64, b*t*nh*hd)
	lse = make([]float64, b*nh*t)
	for bi := 0; bi < b; bi++ {
		for h := 0; h < nh; h++ {
			kh := h / (nh / nkv)
			for i := 0; i < t; i++ {
				si := seg[bi*t+i]
				if si < 0 {
					continue
				}
				ok := func(j int) bool {
					return j <= i && seg[bi*t+j] == si && (window == 0 || i-j < window)
				}
				sc := make([]float64, t)
				m := math.Inf(-1)
				for j := 0; j < t; j++ {
					if !ok(j) {
						continue
					}
					s := 0.0
					for d := 0; d < hd; d++ {
						s += q[((bi*t+i)*nh+h)*hd+d] * k[((bi*t+j)*nkv+kh)*hd+d]
					}
					sc[j] = s / math.Sqrt(float64(hd))
					m = math.Max(m, sc[j])
				}
				z := 0.0
				for j := 0; j < t; j++ {
					if ok(j) {
						z += math.Exp(sc[j] - m)
					}
				}
				lse[(bi*nh+h)*t+i] = m + math.Log(z)
				for j := 0; j < t; j++ {
					if !ok(j) {
						continue
					}
					p := math.Exp(sc[j]-m) / z
					for d := 0; d < hd; d++ {
						out[((bi*t+i)*nh+h)*hd+d] += p * v[((bi*t+j)*nkv+kh)*hd+d]
					}
				}
			}
		}
	}
	return out, lse
}

func refSwiGLU(g, u []float64) []float64 {
	out := make([]float64, len(g))
	for i := range g {
		out[i] = g[i] / (1 + math.Exp(-g[i])) * u[i]
	}
	return out
}

func refLogSoftmaxGather(x []float64, labels []int32, n, v int) (logp, lse, ent []float64) {
	logp, lse, ent = make([]float64, n), make([]float64, n), make([]float64, n)
	for i := 0; i < n; i++ {
		row := x[i*v : i*v+v]
		m := math.Inf(-1)
		for _, z := range row {
			m = math.Max(m, z)
		}
		s := 0.0
		for _, z := range row {
			s += math.Exp(z - m)
		}
		lse[i] = m + math.Log(s)
		for _, z := range row {
			p := math.Exp(z - lse[i])
			ent[i] -= p * (z - lse[i])
		}
		if labels[i] >= 0 {
			logp[i] = row[labels[i]] - lse[i]
		}
	}
	return
}
