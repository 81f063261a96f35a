package cpu

import "fmt"

func checkIDs(op string, ids []int32, n, v int) {
	needInt(op, "ids", ids, n)
	for i, id := range ids[:n] {
		if id < 0 || int(id) >= v {
			panic(fmt.Sprintf("cpu.%s: ids[%d] = %d outside [0,%d)", op, i, id, v))
		}
	}
}

// EmbeddingForward: out[N,C] = table[V,C][ids[N]]; ids must lie in [0,V).
func (be *Backend) EmbeddingForward(out []float32, ids []int32, table []float32, n, c, v int) {
	const op = "EmbeddingForward"
	need(op, "out", out, n*c)
	need(op, "table", table, v*c)
	checkIDs(op, ids, n, v)
	l := &be.lp.embed
	*l = embed{x: out, table: table, ids: ids, c: c}
	be.pool.run(n, grainFor(c), l)
}

// EmbeddingBackward: dtable[V,C][ids[n]] += dout[N,C][n] (scatter-add; repeated ids sum).
func (be *Backend) EmbeddingBackward(dtable []float32, ids []int32, dout []float32, n, c, v int) {
	const op = "EmbeddingBackward"
	need(op, "dout", dout, n*c)
	need(op, "dtable", dtable, v*c)
	checkIDs(op, ids, n, v)
	l := &be.lp.embedGrad
	*l = embedScatter{embed{x: dout, table: dtable, ids: ids[:n], c: c}}
	be.pool.run(c, max(16, grainFor(n)), l)
}

// embed is the loop of both directions; x is out (forward) or dout (backward).
type embed struct {
	x, table []float32
	ids      []int32
	c        int
}

// chunk (forward, over rows): copy table rows.
func (l *embed) chunk(_, lo, hi int) {
	c := l.c
	for i := lo; i < hi; i++ {
		id := int(l.ids[i])
		copy(l.x[i*c:i*c+c], l.table[id*c:id*c+c])
	}
}

// embedScatter is the backward loop over columns: workers own disjoint
// column ranges, so repeated ids never race.
type embedScatter struct{ embed }

func (l *embedScatter) chunk(_, lo, hi int) {
	c := l.c
	for i, id := range l.ids {
		dst := l.table[int(id)*c+lo : int(id)*c+hi]
		src := l.x[i*c+lo : i*c+hi]
		for j, g := range src {
			dst[j] += g
		}
	}
}
