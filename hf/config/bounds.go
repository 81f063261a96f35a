package config

// Bounds on the sizes a config.json may declare. Everything a config derives
// (the per-layer attention table, the parameter list, tensor shapes) is sized
// by these fields, so a hostile or corrupt file with "num_hidden_layers":
// 1e15 must fail here with an error naming the field, not later with an
// allocation the runtime cannot satisfy. The bounds are far above any real
// model (Llama-3.1-405B: 126 layers, hidden 16384, vocab 128256).
const (
	maxLayers = 1 << 12 // num_hidden_layers
	maxDim    = 1 << 31 // every other size: hidden, intermediate, heads, vocab, positions
	// maxParameters bounds the parameter count (2**48, about 2.8e14), so
	// every element count and byte size derived from the config fits an int64.
	maxParameters = 1 << 48
)

// bound fails field when v exceeds limit.
func (f *fields) bound(field string, v, limit int) {
	if v > limit {
		f.fail(field, "%d is beyond any supported model (at most %d)", v, limit)
	}
}

// boundParameters fails when the parameter count the sizes imply is beyond
// maxParameters; computed in float64 so that it cannot overflow.
func (f *fields) boundParameters(c *Config) {
	H, I, V := float64(c.HiddenSize), float64(c.IntermediateSize), float64(c.VocabSize)
	q, kv := float64(c.NumAttentionHeads)*float64(c.HeadDim), float64(c.NumKeyValueHeads)*float64(c.HeadDim)
	perLayer := 2*q*H + 2*kv*H + 3*H*I + 2*H + q + 2*kv + 3*I + 2*float64(c.HeadDim)
	total := float64(c.NumHiddenLayers)*perLayer + 2*V*H + H
	if total > maxParameters {
		f.fail("hidden_size", "the sizes imply %.3g parameters, beyond any supported model (at most %.3g)", total, float64(maxParameters))
	}
}
