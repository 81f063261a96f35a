package data

import (
	"reflect"
	"testing"
)

var testPairs = []Pair{
	{PromptIDs: []int32{10, 11}, ChosenIDs: []int32{20}, RejectedIDs: []int32{30, 31}, Row: 1},
	{PromptIDs: []int32{12}, ChosenIDs: []int32{21, 22, 23}, RejectedIDs: []int32{32}, Row: 2},
}

func TestBuildBatchPadded(t *testing.T) {
	b, err := BuildBatch(testPairs, BatchOptions{PadID: 0})
	if err != nil {
		t.Fatal(err)
	}
	// Rows: chosen 1, chosen 2, rejected 1, rejected 2; T = 4.
	const P = IgnoreIndex
	want := Batch{Rows: 4, T: 4,
		IDs: []int32{
			10, 11, 20, 0,
			12, 21, 22, 23,
			10, 11, 30, 31,
			12, 32, 0, 0},
		Labels: []int32{
			P, P, 20, P,
			P, 21, 22, 23,
			P, P, 30, 31,
			P, 32, P, P},
		Positions: []int32{
			0, 1, 2, 0,
			0, 1, 2, 3,
			0, 1, 2, 3,
			0, 1, 0, 0},
		Segments: []int32{
			0, 0, 0, -1,
			0, 0, 0, 0,
			0, 0, 0, 0,
			0, 0, -1, -1},
	}
	if b.Rows != want.Rows || b.T != want.T || !reflect.DeepEqual(b.IDs, want.IDs) || !reflect.DeepEqual(b.Labels, want.Labels) ||
		!reflect.DeepEqual(b.Positions, want.Positions) || !reflect.DeepEqual(b.Segments, want.Segments) {
		t.Errorf("got\n%+v\nwant\n%+v", b, want)
	}
	if s := b.Seqs[2]; s.Pair != 0 || s.Chosen || s.Row != 2 || s.Len != 4 || s.PromptLen != 2 {
		t.Errorf("seq 2 = %+v", s)
	}
}

func TestBuildBatchPacked(t *testing.T) {
	b, err := BuildBatch(testPairs, BatchOptions{Packed: true, PackLength: 6, PadID: 0})
	if err != nil {
		t.Fatal(err)
	}
	// Lengths: c1 3, c2 4, r1 4, r2 2. First-fit decreasing into rows of 6:
	// c2(4) → row 0; r1(4) → row 1; c1(3) → row 2; r2(2) → row 0 at 4.
	const P = IgnoreIndex
	wantIDs := []int32{
		12, 21, 22, 23, 12, 32,
		10, 11, 30, 31, 0, 0,
		10, 11, 20, 0, 0, 0}
	wantLabels := []int32{
		P, 21, 22, 23, P, 32,
		P, P, 30, 31, P, P,
		P, P, 20, P, P, P}
	wantPos := []int32{
		0, 1, 2, 3, 0, 1,
		0, 1, 2, 3, 0, 0,
		0, 1, 2, 0, 0, 0}
	wantSeg := []int32{
		0, 0, 0, 0, 1, 1,
		0, 0, 0, 0, -1, -1,
		0, 0, 0, -1, -1, -1}
	if b.Rows != 3 || b.T != 6 || !reflect.DeepEqual(b.IDs, wantIDs) || !reflect.DeepEqual(b.Labels, wantLabels) ||
		!reflect.DeepEqual(b.Positions, wantPos) || !reflect.DeepEqual(b.Segments, wantSeg) {
		t.Errorf("got rows %d T %d\nids %v\nlabels %v\npos %v\nseg %v", b.Rows, b.T, b.IDs, b.Labels, b.Positions, b.Segments)
	}
	if _, err := BuildBatch(testPairs, BatchOptions{Packed: true, PackLength: 3}); err == nil {
		t.Error("a sequence longer than the pack length must be an error")
	}
}

func TestBatchesOrder(t *testing.T) {
	var pairs []Pair
	for i := range 10 {
		pairs = append(pairs, Pair{PromptIDs: make([]int32, i), ChosenIDs: []int32{1}, RejectedIDs: []int32{2}, Row: i + 1})
	}
	rows := func(bs []Batch) [][]int {
		var out [][]int
		for _, b := range bs {
			var r []int
			for _, p := range b.Pairs {
				r = append(r, p.Row)
			}
			out = append(out, r)
		}
		return out
	}
	plain, err := Batches(pairs, BatchOptions{BatchSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	if got := rows(plain); !reflect.DeepEqual(got, [][]int{{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10}}) {
		t.Errorf("in order: %v", got)
	}
	dl, _ := Batches(pairs, BatchOptions{BatchSize: 4, DropLast: true})
	if len(dl) != 2 {
		t.Errorf("drop last: %d batches", len(dl))
	}
	a, _ := Batches(pairs, BatchOptions{BatchSize: 4, Shuffle: true, Seed: 7})
	b, _ := Batches(pairs, BatchOptions{BatchSize: 4, Shuffle: true, Seed: 7})
	c, _ := Batches(pairs, BatchOptions{BatchSize: 4, Shuffle: true, Seed: 8})
	if !reflect.DeepEqual(rows(a), rows(b)) {
		t.Error("same seed, different order")
	}
	if reflect.DeepEqual(rows(a), rows(c)) || reflect.DeepEqual(rows(a), rows(plain)) {
		t.Error("shuffle did not change the order")
	}
	g, _ := Batches(pairs, BatchOptions{BatchSize: 4, Shuffle: true, Seed: 7, GroupByLength: true})
	if got := rows(g); !reflect.DeepEqual(got, [][]int{{10, 9, 8, 7}, {6, 5, 4, 3}, {2, 1}}) {
		t.Errorf("grouped by length: %v", got)
	}
	if _, err := Batches(pairs, BatchOptions{}); err == nil {
		t.Error("batch size 0 must be an error")
	}
}
