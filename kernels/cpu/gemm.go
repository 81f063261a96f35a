package cpu

import (
	"fmt"

	"github.com/preftune/preftune/kernels/cpu/openblas"
)

// Block sizes of the pure-Go GEMM: op(B) is consumed in panels of
// gemmKC rows × gemmNC columns; work items are gemmMC rows × gemmNR columns
// of C.
const (
	gemmKC = 256
	gemmNC = 2048
	gemmMC = 32
	gemmNR = 256
)

// checkGemm panics unless the slices hold the matrices the shapes describe.
func checkGemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	switch {
	case m < 0 || n < 0 || k < 0:
		panic(fmt.Sprintf("cpu.Sgemm: negative shape m=%d n=%d k=%d", m, n, k))
	case lda < max(ac, 1) || ldb < max(bc, 1) || ldc < max(n, 1):
		panic(fmt.Sprintf("cpu.Sgemm: leading dimensions lda=%d ldb=%d ldc=%d too small for m=%d n=%d k=%d", lda, ldb, ldc, m, n, k))
	case m > 0 && n > 0 && len(c) < (m-1)*ldc+n:
		panic(fmt.Sprintf("cpu.Sgemm: C has %d elements, need %d", len(c), (m-1)*ldc+n))
	case m > 0 && n > 0 && k > 0 && len(a) < (ar-1)*lda+ac:
		panic(fmt.Sprintf("cpu.Sgemm: A has %d elements, need %d", len(a), (ar-1)*lda+ac))
	case m > 0 && n > 0 && k > 0 && len(b) < (br-1)*ldb+bc:
		panic(fmt.Sprintf("cpu.Sgemm: B has %d elements, need %d", len(b), (br-1)*ldb+bc))
	}
}

// Sgemm: C[m,n] = alpha·op(A)[m,k]·op(B)[k,n] + beta·C; row-major, op(X)=Xᵀ when transX; lda/ldb/ldc are row strides of A, B, C as stored.
func (be *Backend) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if be.blas && k > 0 {
		if !be.blasSplit || be.threads == 1 || float64(m)*float64(n)*float64(k) < gemmSplitMin {
			openblas.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
			return
		}
		if k >= 8*max(m, n) && m*n <= gemmSplitKMax {
			be.sgemmSplitK(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
			return
		}
		// panels along C's longer side (each worker then streams only its share of
		// the larger operand: the vocabulary side of an LM head, the token side of
		// a linear), about two per worker so a worker slowed by another process
		// hands its share over
		g := &be.lp.gemmSplit
		*g = gemmSplit{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta,
			a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, byRows: m >= n}
		span := n
		if g.byRows {
			span = m
		}
		parts := 2 * be.threads
		g.step = max(16, (span+parts-1)/parts)
		g.step = (g.step + 15) &^ 15
		be.pool.run((span+g.step-1)/g.step, 1, g)
		return
	}
	be.goSgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// gemmSplitMin is the m·n·k below which a GEMM is not split over workers.
const gemmSplitMin = 1 << 20

// gemmSplitKMax bounds the C size (elements) of a GEMM split along k: each part
// needs a private partial C.
const gemmSplitKMax = 1 << 21

// sgemmSplitK: for a long inner dimension (an LM head's input gradient, k = V),
// part p computes alpha·op(A)[:,Kp]·op(B)[Kp,:] into its own partial C, so each
// worker streams only its share of both operands; the partials are then summed
// into beta·C. Scratch: threads partial C's, grown once.
func (be *Backend) sgemmSplitK(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	parts := be.threads
	if len(be.gemmPartial) < parts*m*n {
		be.gemmPartial = make([]float32, parts*m*n)
	}
	g := &be.lp.gemmSplitK
	step := (k + parts - 1) / parts
	*g = gemmSplitK{transA: transA, transB: transB, m: m, n: n, k: k, step: step, alpha: alpha, beta: beta,
		a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, partial: be.gemmPartial[:parts*m*n], parts: parts}
	be.pool.run(parts, 1, g)
	g.reduce = true
	be.pool.run(m, max(1, 4096/n), g)
	g.reduce = false
}

// gemmSplitK: items are k-parts (partial products) or, with reduce, rows of C.
type gemmSplitK struct {
	transA, transB, reduce bool
	m, n, k, step, parts   int
	alpha, beta            float32
	a, b, c, partial       []float32
	lda, ldb, ldc          int
}

func (g *gemmSplitK) chunk(_, lo, hi int) {
	mn := g.m * g.n
	if g.reduce {
		for i := lo; i < hi; i++ {
			row := g.c[i*g.ldc : i*g.ldc+g.n]
			if g.beta == 0 {
				clear(row)
			} else if g.beta != 1 {
				for j := range row {
					row[j] *= g.beta
				}
			}
			for p := 0; p < g.parts; p++ {
				pr := g.partial[p*mn+i*g.n : p*mn+i*g.n+g.n]
				pr = pr[:len(row)]
				for j, v := range pr {
					row[j] += v
				}
			}
		}
		return
	}
	for p := lo; p < hi; p++ {
		k0 := p * g.step
		k1 := min(k0+g.step, g.k)
		out := g.partial[p*mn : p*mn+mn]
		if k1 <= k0 {
			clear(out)
			continue
		}
		// op(A)[:, k0:k1]: columns of A, or rows when transposed; op(B)[k0:k1, :]: rows of B, or columns
		aoff, boff := k0, k0*g.ldb
		if g.transA {
			aoff = k0 * g.lda
		}
		if g.transB {
			boff = k0
		}
		openblas.Sgemm(g.transA, g.transB, g.m, g.n, k1-k0, g.alpha, g.a[aoff:], g.lda, g.b[boff:], g.ldb, 0, out, g.n)
	}
}

// gemmSplit runs one panel of a split GEMM per item: C rows [i·step, (i+1)·step)
// (byRows) or C columns, each an independent single-threaded OpenBLAS call.
type gemmSplit struct {
	transA, transB bool
	byRows         bool
	m, n, k, step  int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int
}

func (g *gemmSplit) chunk(_, lo, hi int) {
	span := g.n
	if g.byRows {
		span = g.m
	}
	for it := lo; it < hi; it++ {
		p0 := it * g.step
		p1 := min(p0+g.step, span)
		if g.byRows {
			// C[p0:p1,:] = op(A)[p0:p1,:]·op(B): A's rows, or A's columns when transposed
			aoff := p0 * g.lda
			if g.transA {
				aoff = p0
			}
			openblas.Sgemm(g.transA, g.transB, p1-p0, g.n, g.k, g.alpha, g.a[aoff:], g.lda, g.b, g.ldb, g.beta, g.c[p0*g.ldc:], g.ldc)
			continue
		}
		// C[:,p0:p1] = op(A)·op(B)[:,p0:p1]: B's columns, or B's rows when transposed
		boff := p0
		if g.transB {
			boff = p0 * g.ldb
		}
		openblas.Sgemm(g.transA, g.transB, g.m, p1-p0, g.k, g.alpha, g.a, g.lda, g.b[boff:], g.ldb, g.beta, g.c[p0:], g.ldc)
	}
}

// sgemmSerial is Sgemm on the calling goroutine only (for use inside a
// parallel loop): single-threaded OpenBLAS, or a plain Go loop without it.
func (be *Backend) sgemmSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if be.blas && k > 0 { // with BLASThreads > 1, concurrent calls queue inside OpenBLAS
		openblas.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	naiveSgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// naiveSgemm: C[m,n] = alpha·op(A)·op(B) + beta·C, a straightforward loop
// (inner loop over C's row, contiguous when B is not transposed).
func naiveSgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		crow := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(crow)
		} else if beta != 1 {
			for j := range crow {
				crow[j] *= beta
			}
		}
		for p := 0; p < k; p++ {
			var av float32
			if transA {
				av = a[p*lda+i]
			} else {
				av = a[i*lda+p]
			}
			av *= alpha
			if !transB {
				brow := b[p*ldb : p*ldb+n]
				for j, bv := range brow {
					crow[j] += av * bv
				}
				continue
			}
			for j := range crow {
				crow[j] += av * b[j*ldb+p]
			}
		}
	}
}

// goSgemm is the pure-Go GEMM: C is first scaled by beta (set to zero when
// beta is 0, as BLAS does), then op(B) is taken in panels of gemmKC×gemmNC
// (packed to contiguous rows when transposed) and the panel's products are
// added into C in parallel tiles of gemmMC rows × gemmNR columns. The inner
// loop is an axpy over a C row fed by four rows of op(B) at once.
func (be *Backend) goSgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if beta != 1 {
		sc := &be.lp.gemmScale
		*sc = gemmScale{c: c, ldc: ldc, n: n, beta: beta}
		be.pool.run(m, max(1, 16384/n), sc)
	}
	if alpha == 0 || k == 0 {
		return
	}
	for jc := 0; jc < n; jc += gemmNC {
		nc := min(gemmNC, n-jc)
		for pc := 0; pc < k; pc += gemmKC {
			kc := min(gemmKC, k-pc)
			// panel rows: op(B)[pc+p, jc:jc+nc] at bp[boff+p*bstride:]
			bp, bstride, boff := b, ldb, pc*ldb+jc
			if transB {
				// op(B)[p,j] = B[j,p]: pack the transposed panel
				bp, bstride, boff = be.gemmPack, nc, 0
				pk := &be.lp.gemmPack
				*pk = gemmPack{dst: bp, b: b, ldb: ldb, jc: jc, pc: pc, kc: kc, nc: nc}
				be.pool.run(nc, 64, pk)
			}
			tl := &be.lp.gemmTiles
			*tl = gemmTiles{transA: transA, a: a, lda: lda, alpha: alpha, bp: bp, bstride: bstride, boff: boff,
				c: c, ldc: ldc, m: m, jc: jc, nc: nc, pc: pc, kc: kc, nt: (nc + gemmNR - 1) / gemmNR}
			be.pool.run(((m+gemmMC-1)/gemmMC)*tl.nt, 1, tl)
		}
	}
}

type gemmScale struct {
	c      []float32
	ldc, n int
	beta   float32
}

func (g *gemmScale) chunk(_, lo, hi int) {
	for i := lo; i < hi; i++ {
		row := g.c[i*g.ldc : i*g.ldc+g.n]
		if g.beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= g.beta
		}
	}
}

type gemmPack struct {
	dst, b              []float32
	ldb, jc, pc, kc, nc int
}

func (g *gemmPack) chunk(_, lo, hi int) {
	for j := lo; j < hi; j++ {
		src := g.b[(g.jc+j)*g.ldb+g.pc : (g.jc+j)*g.ldb+g.pc+g.kc]
		for p, x := range src {
			g.dst[p*g.nc+j] = x
		}
	}
}

type gemmTiles struct {
	transA                 bool
	a, bp, c               []float32
	lda, bstride, boff     int
	ldc, m, jc, nc, pc, kc int
	nt                     int // tiles per row block
	alpha                  float32
}

func (g *gemmTiles) chunk(_, lo, hi int) {
	a, bp, c, alpha, kc, bstride := g.a, g.bp, g.c, g.alpha, g.kc, g.bstride
	for t := lo; t < hi; t++ {
		i0 := (t / g.nt) * gemmMC
		j0 := (t % g.nt) * gemmNR
		i1 := min(i0+gemmMC, g.m)
		w := min(gemmNR, g.nc-j0)
		for i := i0; i < i1; i++ {
			crow := c[i*g.ldc+g.jc+j0 : i*g.ldc+g.jc+j0+w]
			// alpha·op(A)[i, pc+p] = alpha·a[abase+p*astep]
			abase, astep := i*g.lda+g.pc, 1
			if g.transA {
				abase, astep = g.pc*g.lda+i, g.lda
			}
			p := 0
			for ; p+4 <= kc; p += 4 {
				ap := abase + p*astep
				a0, a1, a2, a3 := alpha*a[ap], alpha*a[ap+astep], alpha*a[ap+2*astep], alpha*a[ap+3*astep]
				o := g.boff + p*bstride + j0
				b0 := bp[o : o+w]
				b1 := bp[o+bstride : o+bstride+w]
				b2 := bp[o+2*bstride : o+2*bstride+w]
				b3 := bp[o+3*bstride : o+3*bstride+w]
				b0, b1, b2, b3 = b0[:len(crow)], b1[:len(crow)], b2[:len(crow)], b3[:len(crow)] // bounds-check elimination
				for j := range crow {
					crow[j] += a0*b0[j] + a1*b1[j] + a2*b2[j] + a3*b3[j]
				}
			}
			for ; p < kc; p++ {
				a0 := alpha * a[abase+p*astep]
				o := g.boff + p*bstride + j0
				b0 := bp[o : o+w]
				b0 = b0[:len(crow)]
				for j := range crow {
					crow[j] += a0 * b0[j]
				}
			}
		}
	}
}
