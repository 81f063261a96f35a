package data

import (
	"testing"
)

// TestLlamaFactorySFTRows: LLaMA-Factory's supervised data (alpaca instruction/input/
// output, sharegpt conversations ending with an assistant turn; no "ranking", no
// kto_tag) is read for stage: sft as AlpacaDatasetConverter / SharegptDatasetConverter
// read it: the prompt is "instruction\ninput" (or the turns before the last), the
// response the output (or the last assistant turn).
func TestLlamaFactorySFTRows(t *testing.T) {
	ds, err := Load("alpaca_en_demo,sg", Options{DatasetDir: "testdata/lfsft", Policy: PolicyStrict})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Examples) != 3 {
		t.Fatalf("%d examples, want 3", len(ds.Examples))
	}
	want := []struct{ prompt, response string }{{"Say hi", "hi"}, {"Add\n1+1", "2"}, {"hi", "hello"}}
	for i, ex := range ds.Examples {
		if ex.Kind != KindUnpaired || !ex.Label || !ex.SFT {
			t.Errorf("row %d: kind %v label %v sft %v", i+1, ex.Kind, ex.Label, ex.SFT)
			continue
		}
		p := ex.Prompt.Messages[len(ex.Prompt.Messages)-1]
		c := ex.Completion.Messages[0]
		if p.Role != "user" || p.Content != want[i].prompt || c.Role != "assistant" || c.Content != want[i].response {
			t.Errorf("row %d: prompt %+v response %+v, want %q → %q", i+1, p, c, want[i].prompt, want[i].response)
		}
	}
}
