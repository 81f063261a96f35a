package check

import (
	"testing"

	"github.com/preftune/preftune/kernels"
	"github.com/preftune/preftune/kernels/cpu"
)

// partial implements Backend and exactly the optional interfaces it embeds.
type withCachedOnly struct {
	kernels.Backend
	kernels.CachedAttention
}

type withSampleOnly struct {
	kernels.Backend
	kernels.TokenSampler
}

// TestGenerationInterfaces: Wrap's value implements CachedAttention and TokenSampler
// exactly when the inner does (alone or with the others), and Of finds the checker
// behind every such value.
func TestGenerationInterfaces(t *testing.T) {
	c := cpu.New(1)
	defer c.Close()
	plain := struct{ kernels.Backend }{c}
	for _, tc := range []struct {
		name                          string
		inner                         kernels.Backend
		shared, fused, cached, sample bool
	}{
		{"cpu", c, true, true, true, true},
		{"plain", plain, false, false, false, false},
		{"cached only", withCachedOnly{plain, c}, false, false, true, false},
		{"sampler only", withSampleOnly{plain, c}, false, false, false, true},
	} {
		be := Wrap(tc.inner)
		_, s := be.(kernels.SharedPromptAttention)
		_, f := be.(kernels.FusedSwiGLU)
		ca, ok1 := be.(kernels.CachedAttention)
		sa, ok2 := be.(kernels.TokenSampler)
		if s != tc.shared || f != tc.fused || ok1 != tc.cached || ok2 != tc.sample {
			t.Errorf("%s: Wrap has shared %v fused %v cached %v sampler %v; want %v %v %v %v", tc.name, s, f, ok1, ok2,
				tc.shared, tc.fused, tc.cached, tc.sample)
		}
		chk := Of(be)
		if chk == nil {
			t.Fatalf("%s: Of(Wrap(inner)) = nil", tc.name)
		}
		if ok1 {
			x := be.Alloc(8)
			st := be.AllocInt32(1)
			ca.AttentionForwardCached(x, x, x, x, st, 0, 1, 1, 1, 1, 8, 0)
			if chk.Counts()["AttentionForwardCached"] != 1 {
				t.Errorf("%s: AttentionForwardCached not counted", tc.name)
			}
			if _, p := panicMsg(func() { ca.AttentionForwardCached(make([]float32, 8), x, x, x, st, 0, 1, 1, 1, 1, 8, 0) }); !p {
				t.Errorf("%s: cached attention into host memory passed", tc.name)
			}
		}
		if ok2 {
			lg := be.Alloc(4)
			ids := be.AllocInt32(1)
			sa.SampleTokens(ids, lg, nil, 1, 4, 0, 1) // greedy: u may be nil
			if _, p := panicMsg(func() { sa.SampleTokens(ids, lg, nil, 1, 4, 1, 1) }); !p {
				t.Errorf("%s: sampling with temperature and nil u passed", tc.name)
			}
		}
	}
}
