package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/preftune/preftune/kernels"
)

// Forward outputs must match the float64 reference within fwdTol (relative
// to the largest reference value); backward gradients must match central
// differences of the float64 reference within bwdTol.
const (
	fwdTol = 1e-5
	bwdTol = 1e-3
)

func TestLinear(t *testing.T) {
	for _, be := range testBackends(t) {
		t.Run(be.Name(), func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			n, c, oc := 7, 13, 9
			scale := float32(0.75)
			x, w, b := randVec(r, n*c, 1), randVec(r, oc*c, 1), randVec(r, oc, 1)
			rout := randVec(r, n*oc, 1) // L = Σ rout·(out − out0)
			want := refLinear(to64(x), to64(w), to64(b), n, c, oc, float64(scale))

			out := make([]float32, n*oc)
			be.LinearForward(out, x, w, b, n, c, oc, scale, false)
			checkClose(t, "forward", out, want, fwdTol)

			// accumulate: out0 + scale·(x·Wᵀ + b); without bias
			out0 := randVec(r, n*oc, 1)
			acc := clone(out0)
			be.LinearForward(acc, x, w, nil, n, c, oc, scale, true)
			wantAcc := refLinear(to64(x), to64(w), nil, n, c, oc, float64(scale))
			for i := range wantAcc {
				wantAcc[i] += float64(out0[i])
			}
			checkClose(t, "forward accumulate", acc, wantAcc, fwdTol)

			L := func(x64, w64, b64 []float64) float64 {
				return dot64(rout, refLinear(x64, w64, b64, n, c, oc, float64(scale)))
			}
			x64, w64, b64 := to64(x), to64(w), to64(b)
			gx := fdGrad(x64, func(v []float64) float64 { return L(v, w64, b64) })
			gw := fdGrad(w64, func(v []float64) float64 { return L(x64, v, b64) })
			gb := fdGrad(b64, func(v []float64) float64 { return L(x64, w64, v) })

			dx0, dw0, db0 := randVec(r, n*c, 1), randVec(r, oc*c, 1), randVec(r, oc, 1)
			dx, dw, db := clone(dx0), clone(dw0), clone(db0)
			be.LinearBackward(dx, dw, db, rout, x, w, n, c, oc, scale)
			checkGrad(t, "dinp", dx, dx0, gx, bwdTol)
			checkGrad(t, "dw", dw, dw0, gw, bwdTol)
			checkGrad(t, "dbias", db, db0, gb, bwdTol)

			// frozen W: nil dw and dbias leave them untouched, dinp still accumulates
			dx = clone(dx0)
			be.LinearBackward(dx, nil, nil, rout, x, w, n, c, oc, scale)
			checkGrad(t, "dinp (frozen W)", dx, dx0, gx, bwdTol)
		})
	}
}

// TestLoRAComposition checks that base + scale·B·(A·x) built from two Linear
// calls matches the reference, and that the gradients of A and B compose.
func TestLoRAComposition(t *testing.T) {
	for _, be := range testBackends(t) {
		t.Run(be.Name(), func(t *testing.T) {
			r := rand.New(rand.NewPCG(3, 4))
			n, c, oc, rank := 5, 12, 10, 3
			s := float32(2.0)
			x, w, a, bm := randVec(r, n*c, 1), randVec(r, oc*c, 1), randVec(r, rank*c, 1), randVec(r, oc*rank, 1)
			rout := randVec(r, n*oc, 1)
			ref := func(x64, a64, b64 []float64) []float64 {
				base := refLinear(x64, to64(w), nil, n, c, oc, 1)
				h := refLinear(x64, a64, nil, n, c, rank, 1)
				lo := refLinear(h, b64, nil, n, rank, oc, float64(s))
				for i := range base {
					base[i] += lo[i]
				}
				return base
			}
			out := make([]float32, n*oc)
			h := make([]float32, n*rank)
			be.LinearForward(out, x, w, nil, n, c, oc, 1, false)
			be.LinearForward(h, x, a, nil, n, c, rank, 1, false)
			be.LinearForward(out, h, bm, nil, n, rank, oc, s, true)
			checkClose(t, "forward", out, ref(to64(x), to64(a), to64(bm)), fwdTol)

			x64, a64, b64 := to64(x), to64(a), to64(bm)
			ga := fdGrad(a64, func(v []float64) float64 { return dot64(rout, ref(x64, v, b64)) })
			gb := fdGrad(b64, func(v []float64) float64 { return dot64(rout, ref(x64, a64, v)) })
			gx := fdGrad(x64, func(v []float64) float64 { return dot64(rout, ref(v, a64, b64)) })
			da, db, dh, dx := make([]float32, rank*c), make([]float32, oc*rank), make([]float32, n*rank), make([]float32, n*c)
			be.LinearBackward(dh, db, nil, rout, h, bm, n, rank, oc, s)
			be.LinearBackward(dx, da, nil, dh, x, a, n, c, rank, 1)
			be.LinearBackward(dx, nil, nil, rout, x, w, n, c, oc, 1)
			zero := func(k int) []float32 { return make([]float32, k) }
			checkGrad(t, "dA", da, zero(rank*c), ga, bwdTol)
			checkGrad(t, "dB", db, zero(oc*rank), gb, bwdTol)
			checkGrad(t, "dx", dx, zero(n*c), gx, bwdTol)
		})
	}
}

func TestEmbedding(t *testing.T) {
	for _, be := range testBackends(t) {
		t.Run(be.Name(), func(t *testing.T) {
			r := rand.New(rand.NewPCG(5, 6))
			v, c := 11, 6
			ids := []int32{3, 0, 3, 10, 7, 3, 0}
			n := len(ids)
			table := randVec(r, v*c, 1)
			rout := randVec(r, n*c, 1)
			ref := func(tb []float64) []float64 {
				out := make([]float64, n*c)
				for i, id := range ids {
					copy(out[i*c:i*c+c], tb[int(id)*c:int(id)*c+c])
				}
				return out
			}
			out := make([]float32, n*c)
			be.EmbeddingForward(out, ids, table, n, c, v)
			checkClose(t, "forward", out, ref(to64(table)), 0)
			g := fdGrad(to64(table), func(tb []float64) float64 { return dot64(rout, ref(tb)) })
			d0 := randVec(r, v*c, 1)
			d := clone(d0)
			be.EmbeddingBackward(d, ids, rout, n, c, v)
			checkGrad(t, "dtable", d, d0, g, bwdTol)
		})
	}
}

func TestRMSNorm(t *testing.T) {
	for _, be := range testBackends(t) {
		for _, sh := range []struct {
			name string
			n, c int
		}{
			{"hidden", 5, 24},
			{"qk-norm rows N·NH of width HD", 4 * 3, 8},
		} {
			t.Run(be.Name()+"/"+sh.name, func(t *testing.T) {
				r := rand.New(rand.NewPCG(7, 8))
				n, c := sh.n, sh.c
				eps := float32(1e-6)
				x, w := randVec(r, n*c, 2), randVec(r, c, 1)
				rout := randVec(r, n*c, 1)
				want, wantR := refRMSNorm(to64(x), to64(w), n, c, float64(eps))
				out, rstd := make([]float32, n*c), make([]float32, n)
				be.RMSNormForward(out, rstd, x, w, n, c, eps)
				checkClose(t, "forward", out, want, fwdTol)
				checkClose(t, "rstd", rstd, wantR, fwdTol)

				x64, w64 := to64(x), to64(w)
				gx := fdGrad(x64, func(v []float64) float64 { o, _ := refRMSNorm(v, w64, n, c, float64(eps)); return dot64(rout, o) })
				gw := fdGrad(w64, func(v []float64) float64 { o, _ := refRMSNorm(x64, v, n, c, float64(eps)); return dot64(rout, o) })
				dx0, dw0 := randVec(r, n*c, 1), randVec(r, c, 1)
				dx, dw := clone(dx0), clone(dw0)
				be.RMSNormBackward(dx, dw, rout, x, w, rstd, n, c)
				checkGrad(t, "dinp", dx, dx0, gx, bwdTol)
				checkGrad(t, "dw", dw, dw0, gw, bwdTol)

				// in place forward (out aliases inp) gives the same values
				xi := clone(x)
				be.RMSNormForward(xi, rstd, xi, w, n, c, eps)
				checkClose(t, "forward in place", xi, want, fwdTol)
			})
		}
	}
}

// refLlama3InvFreq restates Llama-3 rope scaling in float64 (Meta's
// apply_scaling: keep high frequencies, divide low ones by factor,
// interpolate between wavelengths orig/high and orig/low).
func refLlama3InvFreq(hd int, theta float64, s kernels.RopeScaling) []float64 {
	out := make([]float64, hd/2)
	for i := range out {
		f := 1 / math.Pow(theta, float64(2*i)/float64(hd))
		wl := 2 * math.Pi / f
		lowWl := float64(s.OriginalMaxPositionEmbeddings) / s.LowFreqFactor
		highWl := float64(s.OriginalMaxPositionEmbeddings) / s.HighFreqFactor
		switch {
		case wl < highWl:
			out[i] = f
		case wl > lowWl:
			out[i] = f / s.Factor
		default:
			sm := (float64(s.OriginalMaxPositionEmbeddings)/wl - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor)
			out[i] = (1-sm)*f/s.Factor + sm*f
		}
	}
	return out
}

func TestRoPELlama3(t *testing.T) {
	// small original context so that all three frequency bands occur at HD 16
	sc := kernels.RopeScaling{Type: "llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 64}
	n, h, hd, maxPos := 6, 3, 16, 80
	inv, err := kernels.RopeInvFreq(hd, 10000, &sc)
	if err != nil {
		t.Fatal(err)
	}
	ref := refLlama3InvFreq(hd, 10000, sc)
	checkClose(t, "inv_freq", inv, ref, 1e-6)
	var bands [3]int
	for _, f := range ref {
		wl := 2 * math.Pi / f
		switch {
		case wl < 16:
			bands[0]++
		case wl > 64:
			bands[2]++
		default:
			bands[1]++
		}
	}
	if bands[0] == 0 || bands[1] == 0 || bands[2] == 0 {
		t.Fatalf("test setup does not cover all llama3 bands: %v", bands)
	}
	cos, sin := make([]float32, maxPos*hd/2), make([]float32, maxPos*hd/2)
	kernels.RopeTables(cos, sin, inv, maxPos)
	pos := []int32{0, 1, 2, 0, 1, 79} // two packed sequences restart at 0
	for _, be := range testBackends(t) {
		t.Run(be.Name(), func(t *testing.T) {
			r := rand.New(rand.NewPCG(9, 10))
			x := randVec(r, n*h*hd, 1)
			rout := randVec(r, n*h*hd, 1)
			want := refRoPE(to64(x), pos, ref, n, h, hd)
			y := clone(x)
			be.RoPEForward(y, pos, cos, sin, n, h, hd)
			checkClose(t, "forward", y, want, fwdTol)
			g := fdGrad(to64(x), func(v []float64) float64 { return dot64(rout, refRoPE(v, pos, ref, n, h, hd)) })
			d := clone(rout)
			be.RoPEBackward(d, pos, cos, sin, n, h, hd)
			checkGrad(t, "dx", d, make([]float32, len(d)), g, bwdTol)
		})
	}
}

func TestAttention(t *testing.T) {
	old := attnQB
	attnQB = 4 // several query blocks and window key offsets at small T
	t.Cleanup(func() { attnQB = old })
	type tc struct {
		name                   string
		b, t, nh, nkv, hd, win int
		seg                    []int32
	}
	ones := func(n int) []int32 { return make([]int32, n) }
	cases := []tc{
		{"causal GQA", 2, 9, 4, 2, 8, 0, ones(18)},
		{"MHA", 1, 7, 2, 2, 4, 0, ones(7)},
		{"MQA", 1, 7, 3, 1, 4, 0, ones(7)},
		{"padding", 2, 8, 4, 2, 4, 0, []int32{0, 0, 0, 0, 0, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0}},
		{"packed", 1, 12, 4, 2, 4, 0, []int32{0, 0, 0, 1, 1, 1, 1, 1, 2, 2, -1, -1}},
		{"sliding window", 1, 11, 2, 1, 4, 3, ones(11)},
		{"window+packed+GQA", 2, 10, 4, 2, 4, 4, []int32{0, 0, 0, 0, 0, 0, 1, 1, 1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
	}
	for _, be := range testBackends(t) {
		for _, c := range cases {
			t.Run(be.Name()+"/"+c.name, func(t *testing.T) {
				r := rand.New(rand.NewPCG(11, 12))
				nq, nkv := c.b*c.t*c.nh*c.hd, c.b*c.t*c.nkv*c.hd
				q, k, v := randVec(r, nq, 1.5), randVec(r, nkv, 1.5), randVec(r, nkv, 1)
				rout := randVec(r, nq, 1)
				for i, s := range c.seg { // padding queries produce zeros: no gradient flows there
					if s < 0 {
						for j := 0; j < c.nh*c.hd; j++ {
							rout[(i)*c.nh*c.hd+j] = 0
						}
					}
				}
				wantOut, wantLse := refAttention(to64(q), to64(k), to64(v), c.seg, c.b, c.t, c.nh, c.nkv, c.hd, c.win)
				out, lse := randVec(r, nq, 1), randVec(r, c.b*c.nh*c.t, 1) // garbage must be overwritten
				be.AttentionForward(out, lse, q, k, v, c.seg, c.b, c.t, c.nh, c.nkv, c.hd, c.win)
				checkClose(t, "out", out, wantOut, fwdTol)
				checkClose(t, "lse", lse, wantLse, fwdTol)

				q64, k64, v64 := to64(q), to64(k), to64(v)
				L := func(q, k, v []float64) float64 {
					o, _ := refAttention(q, k, v, c.seg, c.b, c.t, c.nh, c.nkv, c.hd, c.win)
					return dot64(rout, o)
				}
				gq := fdGrad(q64, func(x []float64) float64 { return L(x, k64, v64) })
				gk := fdGrad(k64, func(x []float64) float64 { return L(q64, x, v64) })
				gv := fdGrad(v64, func(x []float64) float64 { return L(q64, k64, x) })
				dq0, dk0, dv0 := randVec(r, nq, 1), randVec(r, nkv, 1), randVec(r, nkv, 1)
				dq, dk, dv := clone(dq0), clone(dk0), clone(dv0)
				be.AttentionBackward(dq, dk, dv, rout, q, k, v, out, lse, c.seg, c.b, c.t, c.nh, c.nkv, c.hd, c.win)
				checkGrad(t, "dq", dq, dq0, gq, bwdTol)
				checkGrad(t, "dk", dk, dk0, gk, bwdTol)
				checkGrad(t, "dv", dv, dv0, gv, bwdTol)
			})
		}
	}
}

func TestSwiGLU(t *testing.T) {
	for _, be := range testBackends(t) {
		t.Run(be.Name(), func(t *testing.T) {
			r := rand.New(rand.NewPCG(13, 14))
			n := 40
			g, u := randVec(r, n, 6), randVec(r, n, 2)
			rout := randVec(r, n, 1)
			out := make([]float32, n)
			be.SwiGLUForward(out, g, u, n)
			checkClose(t, "forward", out, refSwiGLU(to64(g), to64(u)), fwdTol)
			g64, u64 := to64(g), to64(u)
			gg := fdGrad(g64, func(x []float64) float64 { return dot64(rout, refSwiGLU(x, u64)) })
			gu := fdGrad(u64, func(x []float64) float64 { return dot64(rout, refSwiGLU(g64, x)) })
			dg0, du0 := randVec(r, n, 1), randVec(r, n, 1)
			dg, du := clone(dg0), clone(du0)
			be.SwiGLUBackward(dg, du, rout, g, u, n)
			checkGrad(t, "dgate", dg, dg0, gg, bwdTol)
			checkGrad(t, "dup", du, du0, gu, bwdTol)
		})
	}
}

func TestLogSoftmaxGather(t *testing.T) {
	for _, be := range testBackends(t) {
		t.Run(be.Name(), func(t *testing.T) {
			r := rand.New(rand.NewPCG(15, 16))
			n, v := 6, 37
			logits := randVec(r, n*v, 4)
			labels := []int32{3, -100, 0, 36, -1, 3}
			rlp := randVec(r, n, 1) // L = Σ rlp·logp
			wantLp, wantLse, wantEnt := refLogSoftmaxGather(to64(logits), labels, n, v)
			logp, lse, ent := randVec(r, n, 1), make([]float32, n), make([]float32, n)
			be.LogSoftmaxGatherForward(logp, lse, kernels.LogitStats{Entropy: ent}, logits, labels, n, v)
			checkClose(t, "logp", logp, wantLp, fwdTol)
			checkClose(t, "lse", lse, wantLse, fwdTol)
			checkClose(t, "entropy", ent, wantEnt, fwdTol)
			if logp[1] != 0 || logp[4] != 0 {
				t.Errorf("ignored labels: logp = %v, %v, want 0", logp[1], logp[4])
			}
			lp2 := make([]float32, n)
			be.LogSoftmaxGatherForward(lp2, lse, kernels.LogitStats{}, logits, labels, n, v)
			checkClose(t, "logp without entropy", lp2, wantLp, fwdTol)

			g := fdGrad(to64(logits), func(x []float64) float64 {
				lp, _, _ := refLogSoftmaxGather(x, labels, n, v)
				return dot64(rlp, lp)
			})
			zero := make([]float32, n*v)
			d := randVec(r, n*v, 1) // written, not accumulated
			be.LogSoftmaxGatherBackward(d, rlp, logits, lse, labels, n, v)
			checkGrad(t, "dlogits", d, zero, g, bwdTol)
			inplace := clone(logits)
			be.LogSoftmaxGatherBackward(inplace, rlp, inplace, lse, labels, n, v)
			checkGrad(t, "dlogits in place", inplace, zero, g, bwdTol)

			// chunks of tokens give the same result as the whole batch
			lpc := make([]float32, n)
			for i0 := 0; i0 < n; i0 += 4 {
				i1 := min(i0+4, n)
				be.LogSoftmaxGatherForward(lpc[i0:i1], lse[i0:i1], kernels.LogitStats{}, logits[i0*v:i1*v], labels[i0:i1], i1-i0, v)
			}
			checkClose(t, "logp in chunks", lpc, wantLp, fwdTol)
		})
	}
}

func TestElementwise(t *testing.T) {
	for _, be := range testBackends(t) {
		t.Run(be.Name(), func(t *testing.T) {
			r := rand.New(rand.NewPCG(17, 18))
			n := 100_003 // several chunks per worker
			a, b := randVec(r, n, 1), randVec(r, n, 1)
			want := make([]float64, n)
			var ss float64
			for i := range want {
				want[i] = float64(a[i]) + float64(b[i])
				ss += float64(a[i]) * float64(a[i])
			}
			out := make([]float32, n)
			be.Add(out, a, b)
			checkClose(t, "Add", out, want, 1e-7)
			if got := be.SumSquares(a); math.Abs(got-ss) > 1e-9*ss {
				t.Errorf("SumSquares = %v, want %v", got, ss)
			}
			y := clone(b)
			be.Axpy(y, -0.5, a)
			for i := range want {
				want[i] = float64(b[i]) - 0.5*float64(a[i])
			}
			checkClose(t, "Axpy", y, want, 1e-7)
			be.Scale(y, 2)
			for i := range want {
				want[i] *= 2
			}
			checkClose(t, "Scale", y, want, 1e-7)
			be.Copy(out, a)
			checkClose(t, "Copy", out, to64(a), 0)
			be.Zero(out)
			checkClose(t, "Zero", out, make([]float64, n), 0)
		})
	}
}

// TestAdamWFormula checks AdamWStep against the update written out in
// float64 (torch.optim.AdamW's algorithm), over several steps.
func TestAdamWFormula(t *testing.T) {
	be := newGo(2)
	defer be.Close()
	r := rand.New(rand.NewPCG(19, 20))
	n := 50
	p := randVec(r, n, 1)
	m, v := make([]float32, n), make([]float32, n)
	p64, m64, v64 := to64(p), make([]float64, n), make([]float64, n)
	lr, b1, b2, eps, wd := 1e-2, 0.9, 0.999, 1e-8, 0.05
	for step := 1; step <= 4; step++ {
		g := randVec(r, n, 1)
		be.AdamWStep(p, g, m, v, step, float32(lr), float32(b1), float32(b2), float32(eps), float32(wd))
		for i := range p64 {
			gi := float64(g[i])
			p64[i] *= 1 - lr*wd
			m64[i] = b1*m64[i] + (1-b1)*gi
			v64[i] = b2*v64[i] + (1-b2)*gi*gi
			mh := m64[i] / (1 - math.Pow(b1, float64(step)))
			vh := v64[i] / (1 - math.Pow(b2, float64(step)))
			p64[i] -= lr * mh / (math.Sqrt(vh) + eps)
		}
	}
	checkClose(t, "params", p, p64, 1e-6)
	checkClose(t, "exp_avg", m, m64, 1e-6)
	checkClose(t, "exp_avg_sq", v, v64, 1e-6)
}

func TestExpf(t *testing.T) {
	worst := 0.0
	for x := -87.3; x < 88.3; x += 0.0137 {
		got := float64(expf(float32(x)))
		want := math.Exp(float64(float32(x)))
		worst = max(worst, math.Abs(got-want)/want)
	}
	if worst > 3e-7 {
		t.Errorf("expf max relative error %.3g > 3e-7", worst)
	} else {
		t.Logf("expf max relative error %.3g", worst)
	}
	if lo := expf(float32(math.Inf(-1))); !(lo >= 0 && lo < 1.2e-38) {
		t.Errorf("expf(-Inf) = %v", lo)
	}
	if hi := expf(float32(math.Inf(1))); !(hi > 1e38) {
		t.Errorf("expf(+Inf) = %v", hi)
	}
	if !math.IsNaN(float64(expf(float32(math.NaN())))) {
		t.Error("expf(NaN) is not NaN")
	}
}
