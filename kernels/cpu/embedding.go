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
	be.pool.run(n, grainFor(c), func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			id := int(ids[i])
			copy(out[i*c:i*c+c], table[id*c:id*c+c])
		}
	})
}

// EmbeddingBackward: dtable[V,C][ids[n]] += dout[N,C][n] (scatter-add; repeated ids sum).
func (be *Backend) EmbeddingBackward(dtable []float32, ids []int32, dout []float32, n, c, v int) {
	const op = "EmbeddingBackward"
	need(op, "dout", dout, n*c)
	need(op, "dtable", dtable, v*c)
	checkIDs(op, ids, n, v)
	// workers own disjoint column ranges, so repeated ids never race
	be.pool.run(c, max(16, grainFor(n)), func(_, lo, hi int) {
		for i := 0; i < n; i++ {
			id := int(ids[i])
			dst := dtable[id*c+lo : id*c+hi]
			src := dout[i*c+lo : i*c+hi]
			for j, g := range src {
				dst[j] += g
			}
		}
	})
}
