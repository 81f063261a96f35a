package cpu

// Tests of the ops added with the Free/Upload seam (seam.go) and of the
// LogitStats fields: SegmentSum, Gather, Mul, MulAcc, DropoutMask, MeanLogit,
// LogSumP2, against float64 references written here.

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/preftune/preftune/kernels"
	"github.com/preftune/preftune/kernels/cpu/vec"
)

// checkEach fails unless |got[i] − want[i]| ≤ tol·max(1, |want[i]|) for every
// i (per element, so rows of very different scales are each held to tol; NaN fails).
func checkEach(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) < len(want) {
		t.Errorf("%s: %d values, want %d", what, len(got), len(want))
		return
	}
	worst, at := 0.0, -1
	for i, w := range want {
		e := math.Abs(float64(got[i])-w) / max(1, math.Abs(w))
		if !(e <= tol) {
			t.Errorf("%s[%d] = %v, want %v (error %.3g > %.3g)", what, i, got[i], w, e, tol)
			return
		}
		if e > worst {
			worst, at = e, i
		}
	}
	if testing.Verbose() {
		t.Logf("%s: worst error %.3g at %d", what, worst, at)
	}
}

// seamBackends is testBackends plus, when OpenBLAS does not load (so
// testBackends has only the pure-Go, Go-loops backend), one with package vec's
// C loops, so that the C path of LogSoftmaxGatherForward is tested too.
func seamBackends(t *testing.T) []*Backend {
	t.Helper()
	bes := testBackends(t)
	if len(bes) == 1 && vec.Available {
		be := New(3)
		be.blas = false
		be.name = "cpu (pure-Go GEMM, C loops, 3 threads)"
		t.Cleanup(be.Close)
		bes = append(bes, be)
	}
	return bes
}

// panicText runs f and returns its panic message, "" when it did not panic.
func panicText(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg, _ = r.(string)
			if msg == "" {
				msg = "panic with a non-string value"
			}
		}
	}()
	f()
	return ""
}

func TestSegmentSum(t *testing.T) {
	for _, be := range seamBackends(t) {
		t.Run(be.Name(), func(t *testing.T) {
			r := rand.New(rand.NewPCG(31, 32))
			n, s := 1001, 7
			x := randVec(r, n+5, 2) // entries past n are not summed
			seg := make([]int32, n+5)
			for i := range seg {
				seg[i] = int32(r.IntN(s+4)) - 2 // −2 … s+1: some outside [0,s)
				if seg[i] == 3 {
					seg[i] = -1 // segment 3 stays empty
				}
			}
			seg[n] = 0 // past n: must not count
			want := make([]float64, s)
			skipped := 0
			for i := 0; i < n; i++ {
				if g := seg[i]; g >= 0 && int(g) < s {
					want[g] += float64(x[i])
				} else {
					skipped++
				}
			}
			if skipped == 0 || want[3] != 0 {
				t.Fatal("test setup: no skipped entries or segment 3 not empty")
			}
			out := randVec(r, s+2, 100) // garbage: written, not accumulated
			tail := clone(out[s:])
			be.SegmentSum(out, x, seg, n, s)
			checkEach(t, "out", out[:s], want, 1e-7)
			if out[3] != 0 {
				t.Errorf("empty segment: out[3] = %v, want 0", out[3])
			}
			checkEach(t, "out[s:] (untouched)", out[s:], to64(tail), 0)
			be.SegmentSum(out, x, seg, n, s) // a second call writes the same
			checkEach(t, "out (second call)", out[:s], want, 1e-7)

			// float64 accumulation: float32 would lose the 1 next to 1e8
			xs := []float32{1e8, 1, -1e8, 1, 1, 5}
			gs := []int32{0, 0, 0, 1, -1, 2}
			o := []float32{9, 9, 9}
			be.SegmentSum(o, xs, gs, len(xs), 2)
			if o[0] != 1 || o[1] != 1 || o[2] != 9 {
				t.Errorf("SegmentSum = %v, want [1 1 9] (float64 sums, seg 2 ≥ S skipped, out[2] untouched)", o)
			}
			// a larger S than any before (the scratch grows) and S = 0
			big := make([]float32, 50)
			be.SegmentSum(big, xs, []int32{49, 49, 49, 0, 0, 0}, 6, 50)
			if big[49] != 1 || big[0] != 7 {
				t.Errorf("S 50: out[49], out[0] = %v, %v, want 1, 7", big[49], big[0])
			}
			be.SegmentSum(nil, xs, gs, len(xs), 0)
			if msg := panicText(func() { be.SegmentSum(o, xs[:2], gs, 3, 2) }); !strings.Contains(msg, "SegmentSum") {
				t.Errorf("x shorter than n: panic %q", msg)
			}
		})
	}
}

func TestGather(t *testing.T) {
	for _, be := range seamBackends(t) {
		t.Run(be.Name(), func(t *testing.T) {
			r := rand.New(rand.NewPCG(33, 34))
			nx, n := 50, 200
			x := randVec(r, nx, 1)
			idx := make([]int32, n+3)
			for i := range idx {
				idx[i] = int32(r.IntN(nx))
			}
			idx[n] = -7 // past n: not read
			out := randVec(r, n+2, 1)
			tail := clone(out[n:])
			be.Gather(out, x, idx, n)
			for i := 0; i < n; i++ {
				if out[i] != x[idx[i]] {
					t.Fatalf("out[%d] = %v, want x[%d] = %v", i, out[i], idx[i], x[idx[i]])
				}
			}
			checkEach(t, "out[n:] (untouched)", out[n:], to64(tail), 0)
			for _, bad := range []int32{-1, int32(nx), math.MaxInt32} {
				idx[3] = bad
				msg := panicText(func() { be.Gather(out, x, idx, n) })
				if !strings.Contains(msg, "Gather") || !strings.Contains(msg, "idx[3]") {
					t.Errorf("idx[3] = %d: panic %q, want one naming Gather and idx[3]", bad, msg)
				}
			}
			if msg := panicText(func() { be.Gather(out[:n-1], x, idx, n) }); !strings.Contains(msg, "Gather") {
				t.Errorf("out shorter than n: panic %q", msg)
			}
		})
	}
}

func TestMulMulAcc(t *testing.T) {
	for _, be := range seamBackends(t) {
		t.Run(be.Name(), func(t *testing.T) {
			r := rand.New(rand.NewPCG(35, 36))
			n := 100_003 // several chunks per worker
			a, b, y0 := randVec(r, n, 1), randVec(r, n, 1), randVec(r, n, 1)
			prod, acc := make([]float64, n), make([]float64, n)
			for i := range prod {
				prod[i] = float64(a[i]) * float64(b[i])
				acc[i] = float64(y0[i]) + prod[i]
			}
			out := randVec(r, n, 1)
			be.Mul(out, a, b)
			checkEach(t, "Mul", out, prod, 1e-7)
			inA, inB := clone(a), clone(b)
			be.Mul(inA, inA, b)
			be.Mul(inB, a, inB)
			checkEach(t, "Mul out=a", inA, prod, 1e-7)
			checkEach(t, "Mul out=b", inB, prod, 1e-7)
			y := clone(y0)
			be.MulAcc(y, a, b)
			checkEach(t, "MulAcc", y, acc, 1e-7)
			if msg := panicText(func() { be.Mul(out, a, b[:n-1]) }); !strings.Contains(msg, "Mul") {
				t.Errorf("Mul with a short b: panic %q", msg)
			}
		})
	}
}

// TestDropoutHash: DropoutHash is splitmix64 (key = the generator's seed):
// the first outputs of splitmix64 seeded with 0.
func TestDropoutHash(t *testing.T) {
	for i, want := range []uint64{0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f} {
		if got := kernels.DropoutHash(0, i); got != want {
			t.Errorf("DropoutHash(0, %d) = %#x, want %#x", i, got, want)
		}
	}
}

func TestDropoutMask(t *testing.T) {
	for _, be := range seamBackends(t) {
		t.Run(be.Name(), func(t *testing.T) {
			const n = 1_000_003
			mask := make([]float32, n)
			for _, p := range []float32{0, 0.1, 0.5, 0.9} {
				const key = 0x5eed
				be.DropoutMask(mask, p, key)
				keep := 1 / (1 - float64(p))
				thresh := uint64(math.Ldexp(float64(p), 64)) // kept when hash ≥ p·2⁶⁴
				kept := 0
				for i, m := range mask {
					switch {
					case m == 0:
					case math.Abs(float64(m)-keep) <= 0x1p-23*keep:
						kept++
					default:
						t.Fatalf("p %v: mask[%d] = %v, want 0 or %v", p, i, m, keep)
					}
					if wantKept := kernels.DropoutHash(key, i) >= thresh; (m != 0) != wantKept {
						t.Fatalf("p %v: mask[%d] = %v, but DropoutHash(key, %d) = %#x vs threshold %#x", p, i, m, i, kernels.DropoutHash(key, i), thresh)
					}
				}
				// kept ~ Binomial(n, 1−p): within 6 standard deviations
				mean, sd := float64(n)*(1-float64(p)), math.Sqrt(float64(n)*float64(p)*(1-float64(p)))
				if !(math.Abs(float64(kept)-mean) <= 6*sd+0.5) {
					t.Errorf("p %v: kept %d of %d, want %.0f ± %.0f", p, kept, n, mean, 6*sd)
				}
				// the same key gives the same mask
				again := make([]float32, n)
				be.DropoutMask(again, p, key)
				for i := range mask {
					if again[i] != mask[i] {
						t.Fatalf("p %v: second mask differs at %d", p, i)
					}
				}
				if p != 0.5 {
					continue
				}
				// another key gives another mask: about half the elements differ at p = 0.5
				for _, k2 := range []uint64{key + 1, key ^ 1<<63, 0} {
					be.DropoutMask(again, p, k2)
					diff := 0
					for i := range mask {
						if again[i] != mask[i] {
							diff++
						}
					}
					if f := float64(diff) / n; !(f >= 0.49 && f <= 0.51) {
						t.Errorf("keys %#x and %#x: %.4f of the elements differ, want ≈ 0.5", uint64(key), k2, f)
					}
				}
			}
			// a short mask is the prefix of a long one (element i depends on (key, i) only)
			short := make([]float32, 1000)
			be.DropoutMask(short, 0.3, 77)
			be.DropoutMask(mask, 0.3, 77)
			for i := range short {
				if short[i] != mask[i] {
					t.Fatalf("mask of 1000 differs from the long mask at %d", i)
				}
			}
			for _, bad := range []float32{1, -0.1, float32(math.NaN()), 2} {
				if msg := panicText(func() { be.DropoutMask(short, bad, 1) }); !strings.Contains(msg, "DropoutMask") {
					t.Errorf("p = %v: panic %q, want one naming DropoutMask", bad, msg)
				}
			}
		})
	}
}

// refLogitStats: mean of each row, and log Σ p² with p = softmax(row) formed
// explicitly in float64 (not the kernel's logsumexp(2x) − 2·lse).
func refLogitStats(x []float64, n, v int) (mean, logSumP2 []float64) {
	mean, logSumP2 = make([]float64, n), make([]float64, n)
	for i := 0; i < n; i++ {
		row := x[i*v : i*v+v]
		m := math.Inf(-1)
		for _, z := range row {
			m = math.Max(m, z)
			mean[i] += z
		}
		mean[i] /= float64(v)
		s := 0.0
		for _, z := range row {
			s += math.Exp(z - m)
		}
		lse := m + math.Log(s)
		s2 := 0.0
		for _, z := range row {
			p := math.Exp(z - lse)
			s2 += p * p
		}
		logSumP2[i] = math.Log(s2)
	}
	return
}

func TestLogitStats(t *testing.T) {
	for _, be := range seamBackends(t) {
		t.Run(be.Name(), func(t *testing.T) {
			r := rand.New(rand.NewPCG(37, 38))
			v := 37
			var rows [][]float32
			for range 4 {
				rows = append(rows, randVec(r, v, 4))
			}
			offset := func(o float32) []float32 {
				x := randVec(r, v, 4)
				for i := range x {
					x[i] += o
				}
				return x
			}
			rows = append(rows, offset(1e4), offset(-1e4)) // 4, 5: stability at large offsets
			oneHot := randVec(r, v, 1)
			oneHot[5] = 1e4 // 6: p ≈ one-hot, log Σp² ≈ 0, entropy ≈ 0
			rows = append(rows, oneHot)
			uniform := make([]float32, v)
			for i := range uniform {
				uniform[i] = 3.25 // 7: log Σp² = −log V exactly
			}
			rows = append(rows, uniform, randVec(r, v, 60)) // 8: a wide spread
			n := len(rows)
			var logits []float32
			for _, x := range rows {
				logits = append(logits, x...)
			}
			labels := make([]int32, n)
			for i := range labels {
				labels[i] = int32((7 * i) % v)
			}
			labels[1] = -100 // ignored row: its stats are still filled

			wantLp, wantLse, wantEnt := refLogSoftmaxGather(to64(logits), labels, n, v)
			wantMean, wantL2 := refLogitStats(to64(logits), n, v)
			logp, lse := randVec(r, n, 1), randVec(r, n, 1)
			ent, mean, l2 := randVec(r, n, 1), randVec(r, n, 1), randVec(r, n, 1) // garbage: overwritten
			be.LogSoftmaxGatherForward(logp, lse, kernels.LogitStats{Entropy: ent, MeanLogit: mean, LogSumP2: l2}, logits, labels, n, v)
			checkEach(t, "logp", logp, wantLp, fwdTol)
			checkEach(t, "lse", lse, wantLse, fwdTol)
			checkEach(t, "entropy", ent, wantEnt, fwdTol)
			checkEach(t, "mean logit", mean, wantMean, 1e-6)
			checkEach(t, "log Σp²", l2, wantL2, fwdTol)
			if logp[1] != 0 {
				t.Errorf("ignored label: logp = %v, want 0", logp[1])
			}
			logV := math.Log(float64(v))
			for i, x := range l2 {
				if !(float64(x) >= -logV-1e-5 && x <= 1e-6) {
					t.Errorf("log Σp²[%d] = %v outside [−log V, 0]", i, x)
				}
			}
			if !(math.Abs(float64(l2[7])+logV) <= 1e-6) || !(math.Abs(float64(l2[6])) <= 1e-6) || !(math.Abs(float64(ent[6])) <= 1e-5) {
				t.Errorf("uniform row: log Σp² = %v, want %v; one-hot row: log Σp² = %v, entropy %v, want 0", l2[7], -logV, l2[6], ent[6])
			}
			if mean[7] != 3.25 {
				t.Errorf("uniform row: mean logit = %v, want 3.25", mean[7])
			}

			// each field alone (the others nil) gives the same values and the same logp, lse
			for _, f := range []struct {
				name string
				st   func(x []float32) kernels.LogitStats
				want []float64
				tol  float64
			}{
				{"entropy alone", func(x []float32) kernels.LogitStats { return kernels.LogitStats{Entropy: x} }, wantEnt, fwdTol},
				{"mean logit alone", func(x []float32) kernels.LogitStats { return kernels.LogitStats{MeanLogit: x} }, wantMean, 1e-6},
				{"log Σp² alone", func(x []float32) kernels.LogitStats { return kernels.LogitStats{LogSumP2: x} }, wantL2, fwdTol},
			} {
				x, lp, ls := randVec(r, n, 1), randVec(r, n, 1), randVec(r, n, 1)
				be.LogSoftmaxGatherForward(lp, ls, f.st(x), logits, labels, n, v)
				checkEach(t, f.name, x, f.want, f.tol)
				checkEach(t, f.name+": logp", lp, wantLp, fwdTol)
				checkEach(t, f.name+": lse", ls, wantLse, fwdTol)
			}

			// chunks of rows give the same stats
			cm, c2 := make([]float32, n), make([]float32, n)
			for i0 := 0; i0 < n; i0 += 4 {
				i1 := min(i0+4, n)
				be.LogSoftmaxGatherForward(logp[i0:i1], lse[i0:i1], kernels.LogitStats{MeanLogit: cm[i0:i1], LogSumP2: c2[i0:i1]},
					logits[i0*v:i1*v], labels[i0:i1], i1-i0, v)
			}
			checkEach(t, "mean logit in chunks", cm, wantMean, 1e-6)
			checkEach(t, "log Σp² in chunks", c2, wantL2, fwdTol)

			if msg := panicText(func() {
				be.LogSoftmaxGatherForward(logp, lse, kernels.LogitStats{LogSumP2: l2[:n-1]}, logits, labels, n, v)
			}); !strings.Contains(msg, "LogSoftmaxGatherForward") {
				t.Errorf("short LogSumP2: panic %q", msg)
			}
		})
	}
}
