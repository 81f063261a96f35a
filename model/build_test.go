package model

import (
	"reflect"
	"testing"
)

// Rebuilding a batch in place gives what a fresh BuildBatch gives and, once its
// slices are large enough, allocates nothing (the training step rebuilds one per
// micro-batch).
func TestBuildReuse(t *testing.T) {
	pairs := []Pair{{Prompt: []int32{1, 2, 3}, Chosen: []int32{4, 5}, Rejected: []int32{6}}, {Prompt: []int32{7}, Chosen: []int32{8, 9, 10}, Rejected: []int32{11, 12}}}
	small := []Pair{pairs[1]}
	var b Batch
	for _, lay := range []Layout{{}, {SharePrompt: true, Pack: true}, {Pack: true, RowTokens: 6}, {SharePrompt: true}, {LastOnly: true}} {
		for _, ps := range [][]Pair{pairs, small, pairs} {
			if err := b.Build(PairGroups(ps), lay); err != nil {
				t.Fatal(err)
			}
			fresh, err := BuildBatch(PairGroups(ps), lay)
			if err != nil {
				t.Fatal(err)
			}
			got, want := b, *fresh
			got.scratch, want.scratch = buildScratch{}, buildScratch{}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%+v, %d pairs: rebuilt batch %+v, fresh %+v", lay, len(ps), got, want)
			}
		}
		gs := PairGroups(pairs)
		if n := testing.AllocsPerRun(5, func() { b.Build(gs, lay) }); n > 0 {
			t.Errorf("%+v: %v allocations per rebuild", lay, n)
		}
	}
}
