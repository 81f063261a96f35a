package train

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/preftune/preftune/data"
	"github.com/preftune/preftune/report"
	tiny "github.com/preftune/preftune/train/tinymodel"
)

const (
	lfDir      = "../testdata/preferences/llamafactory"
	qwenTokDir = "../testdata/tokenizers/qwen2.5"
)

// compactDemo tokenizes LLaMA-Factory's dpo_en_demo with the real Qwen2.5 tokenizer and
// chat template (cut to maxLen tokens), then renumbers the token ids that occur to
// 0..K-1 so that a tiny model's LM head stays small; it writes the pairs as TRL
// pre-tokenized JSON Lines and returns the path and K.
func compactDemo(t *testing.T, dir string, maxLen int) (string, int) {
	t.Helper()
	ds, err := data.Load("dpo_en_demo", data.Options{DatasetDir: lfDir})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := data.LoadTokenizer(qwenTokDir, data.TokenizeOptions{Rules: data.RulesTRLLegacy, MaxLength: maxLen, MaxPromptLength: maxLen / 2, TruncationMode: data.KeepStart, BOS: data.BOSNever})
	if err != nil {
		t.Fatal(err)
	}
	pairs, _, err := tok.Pairs(ds.Examples, data.PolicyDrop)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[int32]int32{}
	remap := func(s []int32) []int32 {
		out := make([]int32, len(s))
		for i, id := range s {
			n, ok := ids[id]
			if !ok {
				n = int32(len(ids))
				ids[id] = n
			}
			out[i] = n
		}
		return out
	}
	var b strings.Builder
	for _, p := range pairs {
		row, _ := json.Marshal(map[string][]int32{
			"prompt_input_ids": remap(p.PromptIDs), "chosen_input_ids": remap(p.ChosenIDs), "rejected_input_ids": remap(p.RejectedIDs),
		})
		b.Write(row)
		b.WriteByte('\n')
	}
	path := filepath.Join(dir, "dpo_en_demo.jsonl")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, len(ids)
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// TestDemoLearns trains a tiny Qwen2 for 50 steps on dpo_en_demo with sigmoid, ipo and
// orpo and checks that rewards/accuracies rises and rewards/margins grows (means of
// the first and last ten logged steps).
func TestDemoLearns(t *testing.T) {
	if testing.Short() {
		t.Skip("trains three tiny models for 50 steps")
	}
	dir := t.TempDir()
	dataPath, vocab := compactDemo(t, dir, 48)
	modelDir := filepath.Join(dir, "model")
	if err := tiny.WriteQwen2(modelDir, tiny.Spec{Vocab: vocab, Hidden: 32, Layers: 1, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		loss, lr string
	}{
		{"sigmoid", "5e-3"},
		{"ipo", "5e-3"},
		{"orpo", "5e-3"},
	}
	for _, tc := range cases {
		t.Run(tc.loss, func(t *testing.T) {
			out := filepath.Join(dir, "out-"+tc.loss)
			yaml := fmt.Sprintf(`
model_name_or_path: %s
dataset: %s
output_dir: %s
loss_type: %s
beta: 0.1
learning_rate: %s
lr_scheduler_type: constant
per_device_train_batch_size: 4
max_samples: 100
max_steps: 50
logging_steps: 1
gradient_checkpointing: false
precompute_ref_log_probs: true
`, modelDir, dataPath, out, tc.loss, tc.lr)
			if _, err := runConfig(t, yaml); err != nil {
				t.Fatal(err)
			}
			log, err := report.ReadLog(filepath.Join(out, "trainer_log.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			if len(log) != 50 {
				t.Fatalf("%d log lines, want 50", len(log))
			}
			series := func(k string, from, to int) []float64 {
				var v []float64
				for _, e := range log[from:to] {
					v = append(v, e.Values[k])
				}
				return v
			}
			acc0, acc1 := mean(series("rewards/accuracies", 0, 10)), mean(series("rewards/accuracies", 40, 50))
			mar0, mar1 := mean(series("rewards/margins", 0, 10)), mean(series("rewards/margins", 40, 50))
			l0, l1 := mean(series("loss", 0, 10)), mean(series("loss", 40, 50))
			t.Logf("%s: accuracies %.3f → %.3f, margins %.4f → %.4f, loss %.4f → %.4f (vocab %d)", tc.loss, acc0, acc1, mar0, mar1, l0, l1, vocab)
			if !(acc1 > acc0) {
				t.Errorf("rewards/accuracies did not rise: %.3f → %.3f", acc0, acc1)
			}
			if !(mar1 > mar0) {
				t.Errorf("rewards/margins did not grow: %.4f → %.4f", mar0, mar1)
			}
			for _, png := range []string{"training_loss.png", "training_rewards_accuracies.png", "training_rewards_margins.png"} {
				if st, err := os.Stat(filepath.Join(out, png)); err != nil || st.Size() == 0 {
					t.Errorf("plot %s missing", png)
				}
			}
		})
	}
}
