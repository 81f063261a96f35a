package model

import "math"

// wpoBufs hold ForwardOptions.LogSumP2's outputs, grown on first use.
type wpoBufs struct {
	rows []float32 // [M] per loss row
	out  []float32 // [B·T] scattered
}

// logSumP2Rows writes log Σ_v p(v)² for loss rows r0..r0+r of the current LM-head
// chunk lg [r,V] given their logsumexp lse: logsumexp(2·logits) − 2·lse, in float64.
func (m *Model) logSumP2Rows(lg, lse []float32, r0, r, mc int) {
	m.be.Sync()
	if cap(m.wpo.rows) < mc {
		m.wpo.rows = make([]float32, mc)
	}
	m.wpo.rows = m.wpo.rows[:mc]
	V := m.arch.Vocab
	for i := 0; i < r; i++ {
		row := lg[i*V : (i+1)*V]
		mx := math.Inf(-1)
		for _, v := range row {
			mx = math.Max(mx, float64(v))
		}
		var s float64
		for _, v := range row {
			s += math.Exp(2 * (float64(v) - mx))
		}
		m.wpo.rows[r0+i] = float32(2*mx + math.Log(s) - 2*float64(lse[i]))
	}
}

// logSumP2Out returns the rows per target, or scattered to [n] positions.
func (m *Model) logSumP2Out(targets bool, mc, n int) []float32 {
	if targets {
		return m.wpo.rows[:mc]
	}
	if cap(m.wpo.out) < n {
		m.wpo.out = make([]float32, n)
	}
	return scatter(m.wpo.out[:n], m.wpo.rows[:mc], m.acts.idx[:mc])
}
