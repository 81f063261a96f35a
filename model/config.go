package model

import (
	"github.com/preftune/preftune/hf/config"
	"github.com/preftune/preftune/kernels"
)

// FromConfig is the Arch of a parsed config.json (package hf/config resolves the
// transformers defaults of each family).
func FromConfig(c *config.Config) Arch {
	a := Arch{
		ModelType: string(c.Family),
		Vocab:     c.VocabSize, Hidden: c.HiddenSize, Layers: c.NumHiddenLayers,
		Heads: c.NumAttentionHeads, KVHeads: c.NumKeyValueHeads, HeadDim: c.HeadDim,
		FFN: c.IntermediateSize, MaxPos: c.MaxPositionEmbeddings,
		Eps: float32(c.RMSNormEps), RopeTheta: c.RopeTheta,
		Tied: c.TieWordEmbeddings, QKVBias: c.QKVBias, OBias: c.OProjBias, MLPBias: c.MLPBias,
		QKNorm: c.QKNorm,
	}
	if rs := c.RopeScaling; rs != nil {
		a.RopeScaling = &kernels.RopeScaling{Type: rs.Type, Factor: rs.Factor, LowFreqFactor: rs.LowFreqFactor,
			HighFreqFactor: rs.HighFreqFactor, OriginalMaxPositionEmbeddings: rs.OriginalMaxPositionEmbeddings}
	}
	if c.SlidingWindow > 0 {
		a.Windows = make([]int, c.NumHiddenLayers)
		for l := range a.Windows {
			a.Windows[l] = c.SlidingWindowFor(l)
		}
	}
	return a
}

// ReadArch reads the config.json of a model dir (or the file itself).
func ReadArch(path string) (Arch, error) {
	if err := CheckNotAdapter(path); err != nil {
		return Arch{}, err
	}
	c, err := config.Load(path)
	if err != nil {
		return Arch{}, err
	}
	a := FromConfig(c)
	return a, a.Validate()
}
