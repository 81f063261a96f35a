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
		openblas.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	be.goSgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
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
