package model

// FLOPs is the matrix-multiply work, in floating-point operations, that one Forward on
// b (with opt) and, when backward, the Backward after it perform: every linear layer
// on all B·T rows (padding included: the GEMMs run over it), the LoRA adapters when on,
// the LM head on the loss rows, and attention over the visible (query, key) pairs —
// 4·HD per pair and head forward (scores, probabilities·V), 8·HD backward (the
// recomputed scores are not counted). Backward counts the input gradients always and
// the weight gradients of trainable weights only. Elementwise kernels are not counted.
// It is the numerator of a model-FLOPs utilisation.
func (m *Model) FLOPs(b *Batch, opt ForwardOptions, backward bool) float64 {
	a := &m.arch
	n := float64(b.B * b.T)
	C, F, QD, KD := float64(a.Hidden), float64(a.FFN), float64(a.qDim()), float64(a.kvDim())
	lora := m.lora != nil && !opt.NoAdapters
	full := m.lora == nil && m.grads != nil
	// per layer: linear weights, and adapter sizes r·(in+out)
	wLayer := C*QD + 2*C*KD + QD*C + 3*C*F
	var adLayer float64 // mean over layers (rank_pattern may vary the rank by layer)
	if lora {
		for l := range m.layers {
			for _, li := range m.layers[l].linears() {
				if li.lora != nil {
					adLayer += float64(li.lora.r*(li.in+li.out)) / float64(len(m.layers))
				}
			}
		}
	}
	L := float64(a.Layers)
	fl := 2 * n * wLayer * L
	fl += 2 * n * adLayer * L
	rows := 0.0
	if b.Targets != nil {
		rows = float64(len(b.Targets))
	} else {
		for _, l := range b.Labels {
			if l >= 0 {
				rows++
			}
		}
	}
	V := float64(a.Vocab)
	fl += 2 * rows * C * V
	pairs := visiblePairs(b)
	hd := float64(a.HeadDim) * float64(a.Heads) * L
	fl += 4 * hd * pairs
	if backward {
		fl += 2 * n * wLayer * L // input gradients
		if full {
			fl += 2 * n * wLayer * L // weight gradients
		}
		fl += 2 * 2 * n * adLayer * L
		fl += 2 * rows * C * V // LM head input gradient
		if full {
			fl += 2 * rows * C * V
		}
		fl += 8 * hd * pairs
	}
	return fl
}

// visiblePairs counts the (query, key) pairs attention computes: for each real token,
// the earlier-or-equal tokens of its segment and of its parent segment in its row
// (segments are contiguous runs in every layout this package builds; a window is
// ignored).
func visiblePairs(b *Batch) float64 {
	var total float64
	for r := 0; r < b.B; r++ {
		row := b.Segments[r*b.T : (r+1)*b.T]
		runStart := 0
		// length of the most recent run of each segment id seen in this row, for parents
		var lastSeg, lastLen [8]int32
		nlast := 0
		for t, s := range row {
			if t == 0 || s != row[t-1] {
				if t > 0 && row[t-1] >= 0 {
					lastSeg[nlast%8], lastLen[nlast%8] = row[t-1], int32(t-runStart)
					nlast++
				}
				runStart = t
			}
			if s < 0 {
				continue
			}
			total += float64(t - runStart + 1)
			if b.Parents != nil {
				if p := b.Parents[r*b.T+t]; p >= 0 {
					for k := 0; k < min(nlast, 8); k++ {
						if lastSeg[k] == p {
							total += float64(lastLen[k])
							break
						}
					}
				}
			}
		}
	}
	return total
}
