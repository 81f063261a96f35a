package train

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/preftune/preftune/kernels/cpu"
	"github.com/preftune/preftune/model"
	"github.com/preftune/preftune/report"
	"github.com/preftune/preftune/train/config"
)

// TestLiPOSGDStep: one SGD step at learning rate 1 on three lists of four responses
// (one with tied scores) with a separate reference gives W − ∇W of the mean LiPO loss,
// ListMLE and lambda, as reference/train/gen_lipo.py computes it in PyTorch; the step's
// loss and ranking accuracy match too.
func TestLiPOSGDStep(t *testing.T) {
	dir := "testdata/lipo"
	var exp map[string]json.RawMessage
	var lists []struct {
		Prompt    []int32   `json:"prompt_input_ids"`
		Responses [][]int32 `json:"responses_input_ids"`
		Scores    []float64 `json:"scores"`
	}
	for path, v := range map[string]any{dir + "/expected.json": &exp, dir + "/lists.json": &lists} {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatal(err)
		}
	}
	var beta float64
	if err := json.Unmarshal(exp["beta"], &beta); err != nil {
		t.Fatal(err)
	}
	its := make([]item, len(lists))
	for i, l := range lists {
		its[i] = item{prompt: l.Prompt, list: l.Responses, scores: l.Scores, where: "lists.json"}
	}
	be := cpu.New(2)
	defer be.Close()
	ref, err := model.Load(dir+"/ref", be, model.Options{Frozen: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"lipo_listmle", "lipo_lambda"} {
		t.Run(name, func(t *testing.T) {
			var want struct {
				Loss float64 `json:"loss"`
				Acc  float64 `json:"rewards/accuracies"`
			}
			if err := json.Unmarshal(exp[name], &want); err != nil {
				t.Fatal(err)
			}
			l, err := config.Parse([]byte("model_name_or_path: "+dir+"/policy\nref_model: "+dir+"/ref\ndataset: unused\noutput_dir: unused\n"),
				[]string{"--loss_type", name, "--beta", fmtF(beta)})
			if err != nil {
				t.Fatal(err)
			}
			c := &l.Config
			policy, err := model.Load(dir+"/policy", be, model.Options{})
			if err != nil {
				t.Fatal(err)
			}
			st := stepper{c: c, kind: c.Kind(), policy: policy, ref: ref, refMode: refModel, params: lossParams(c), noDrop: true}
			if st.kind != "list" {
				t.Fatalf("kind %q", st.kind)
			}
			opt, err := newOptimizer(policy, "sgd", 0, 0, 0, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			policy.ZeroGrad()
			res, err := st.micro(its, 1, true)
			if err != nil {
				t.Fatal(err)
			}
			opt.update(1)
			if math.Abs(res.loss-want.Loss) > 1e-5*math.Max(1, want.Loss) {
				t.Errorf("loss %.9g, want %.9g", res.loss, want.Loss)
			}
			if g := res.metrics["rewards/accuracies"]; math.Abs(g-want.Acc) > 1e-12 {
				t.Errorf("rewards/accuracies %v, want %v", g, want.Acc)
			}
			wantW := readTensors(t, dir+"/expected_"+name+".safetensors")
			init := readTensors(t, dir+"/policy")
			var check sgdStepCheck
			for _, ts := range policy.Tensors() {
				check.tensor(t, ts.Name, ts.Data, wantW[ts.Name], init[ts.Name])
			}
			t.Logf("loss %.6g; %s", res.loss, &check)
		})
	}
}

// TestLiPOLearns trains lipo_listmle and lipo_lambda end to end on TRL listwise rows
// (prompt, responses, scores; and one file with ranking instead of scores) through the
// tokenizer and checks that the ranking accuracy rises (means of the first and last
// ten logged steps).
func TestLiPOLearns(t *testing.T) {
	if testing.Short() {
		t.Skip("trains tiny models for 40 steps")
	}
	dir := t.TempDir()
	modelDir := byteTokModel(t, dir)
	rng := rand.New(rand.NewPCG(5, 6))
	word := func() string {
		b := make([]byte, 3+rng.IntN(6))
		for i := range b {
			b[i] = byte('a' + rng.IntN(26))
		}
		return string(b)
	}
	var scored, ranked bytes.Buffer
	for i := 0; i < 24; i++ {
		resp := []string{word() + " " + word(), word(), word() + " " + word() + " " + word()}
		perm := rng.Perm(3)
		row, _ := json.Marshal(map[string]any{"prompt": "say " + word(), "responses": resp, "scores": []float64{float64(perm[0]), float64(perm[1]), float64(perm[2])}})
		scored.Write(append(row, '\n'))
		row, _ = json.Marshal(map[string]any{"prompt": "say " + word(), "responses": resp, "ranking": []int{perm[0] + 1, perm[1] + 1, perm[2] + 1}})
		ranked.Write(append(row, '\n'))
	}
	for name, b := range map[string][]byte{"scored.jsonl": scored.Bytes(), "ranked.jsonl": ranked.Bytes()} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ loss, data string }{
		{"lipo_listmle", "scored.jsonl"},
		{"lipo_lambda", "scored.jsonl"},
		{"lipo_listmle", "ranked.jsonl"},
	} {
		t.Run(tc.loss+"/"+tc.data, func(t *testing.T) {
			out := t.TempDir()
			yaml := fmt.Sprintf(`
model_name_or_path: %s
dataset: %s
output_dir: %s
loss_type: %s
beta: 0.1
learning_rate: 5e-3
lr_scheduler_type: constant
per_device_train_batch_size: 4
max_steps: 40
logging_steps: 1
plot_loss: false
`, modelDir, filepath.Join(dir, tc.data), out, tc.loss)
			if _, err := runConfig(t, yaml); err != nil {
				t.Fatal(err)
			}
			log, err := report.ReadLog(filepath.Join(out, "trainer_log.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			series := func(k string, from, to int) float64 {
				var v []float64
				for _, e := range log[from:to] {
					v = append(v, e.Values[k])
				}
				return mean(v)
			}
			a0, a1 := series("rewards/accuracies", 0, 10), series("rewards/accuracies", 30, 40)
			t.Logf("ranking accuracy %.3f → %.3f, loss %.4f → %.4f", a0, a1, series("loss", 0, 10), series("loss", 30, 40))
			if !(a1 > a0) {
				t.Errorf("ranking accuracy did not rise: %.3f → %.3f", a0, a1)
			}
		})
	}
}
