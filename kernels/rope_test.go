package kernels

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

type ropeGolden struct {
	HeadDim     int     `json:"head_dim"`
	RopeTheta   float64 `json:"rope_theta"`
	RopeScaling struct {
		Factor                        float64 `json:"factor"`
		LowFreqFactor                 float64 `json:"low_freq_factor"`
		HighFreqFactor                float64 `json:"high_freq_factor"`
		OriginalMaxPositionEmbeddings int     `json:"original_max_position_embeddings"`
	} `json:"rope_scaling"`
	InvFreqDefault []float64 `json:"inv_freq_default"`
	InvFreq        []float64 `json:"inv_freq"`
	Positions      []int     `json:"positions"`
	Cos            []float64 `json:"cos"`
	Sin            []float64 `json:"sin"`
}

// maxULP returns the largest distance in float32 units in the last place.
func maxULP(got []float32, want []float64) int {
	worst := 0
	for i, w := range want {
		a, b := int64(math.Float32bits(got[i])), int64(math.Float32bits(float32(w)))
		worst = max(worst, int(max(a-b, b-a)))
	}
	return worst
}

// TestRopeGolden compares inv_freq (default and llama3-scaled) and cos/sin
// rows with PyTorch float32 values from testdata/gen.py.
func TestRopeGolden(t *testing.T) {
	b, err := os.ReadFile("testdata/rope_llama3.json")
	if err != nil {
		t.Fatal(err)
	}
	var g ropeGolden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	def, err := RopeInvFreq(g.HeadDim, g.RopeTheta, nil)
	if err != nil {
		t.Fatal(err)
	}
	if u := maxULP(def, g.InvFreqDefault); u > 1 {
		t.Errorf("default inv_freq differs from torch by %d ulp", u)
	}
	rs := g.RopeScaling
	inv, err := RopeInvFreq(g.HeadDim, g.RopeTheta, &RopeScaling{Type: "llama3", Factor: rs.Factor,
		LowFreqFactor: rs.LowFreqFactor, HighFreqFactor: rs.HighFreqFactor, OriginalMaxPositionEmbeddings: rs.OriginalMaxPositionEmbeddings})
	if err != nil {
		t.Fatal(err)
	}
	if u := maxULP(inv, g.InvFreq); u > 1 {
		t.Errorf("llama3 inv_freq differs from torch by %d ulp", u)
	}
	half := g.HeadDim / 2
	maxPos := g.Positions[len(g.Positions)-1] + 1
	cos, sin := make([]float32, maxPos*half), make([]float32, maxPos*half)
	RopeTables(cos, sin, inv, maxPos)
	var worst float64
	for r, p := range g.Positions {
		for i := 0; i < half; i++ {
			worst = max(worst, math.Abs(float64(cos[p*half+i])-g.Cos[r*half+i]), math.Abs(float64(sin[p*half+i])-g.Sin[r*half+i]))
		}
	}
	// identical float32 angles; only the cos/sin rounding may differ
	if worst > 1e-6 {
		t.Errorf("cos/sin differ from torch by %.3g", worst)
	}
}

func TestRopeInvFreqErrors(t *testing.T) {
	bad := []struct {
		hd    int
		theta float64
		s     *RopeScaling
	}{
		{0, 1e4, nil},
		{7, 1e4, nil},
		{8, 0, nil},
		{8, math.Inf(1), nil},
		{8, 1e4, &RopeScaling{Type: "yarn", Factor: 2}},
		{8, 1e4, &RopeScaling{Type: "linear"}},
		{8, 1e4, &RopeScaling{Type: "llama3", Factor: 8, LowFreqFactor: 4, HighFreqFactor: 1, OriginalMaxPositionEmbeddings: 8192}},
	}
	for _, c := range bad {
		if _, err := RopeInvFreq(c.hd, c.theta, c.s); err == nil {
			t.Errorf("RopeInvFreq(%d, %v, %+v): no error", c.hd, c.theta, c.s)
		}
	}
	// linear scaling divides every frequency by the factor
	a, _ := RopeInvFreq(8, 1e4, nil)
	l, err := RopeInvFreq(8, 1e4, &RopeScaling{Type: "linear", Factor: 4})
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if l[i] != a[i]/4 {
			t.Errorf("linear: inv_freq[%d] = %v, want %v", i, l[i], a[i]/4)
		}
	}
}
