package train

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSFTLossAlone: loss_type sft alone (TRL's DPOTrainer with only the NLL term) trains;
// it used to exit with "reference log-probs missing". TRL computes the reference for its
// rewards/* metrics, and so do we.
func TestSFTLossAlone(t *testing.T) {
	dir := t.TempDir()
	modelDir, dataPath := fixture(t, dir, 8)
	out := filepath.Join(dir, "out")
	yaml := fmt.Sprintf("model_name_or_path: %s\ndataset: %s\noutput_dir: %s\nloss_type: sft\nper_device_train_batch_size: 4\nmax_steps: 2\nlogging_steps: 1\nlearning_rate: 1e-3\n",
		modelDir, dataPath, out)
	if _, err := runConfig(t, yaml); err != nil {
		t.Fatal(err)
	}
	log, err := os.ReadFile(filepath.Join(out, "trainer_log.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), `"rewards/chosen"`) {
		t.Errorf("trainer_log.jsonl lacks rewards/chosen:\n%s", log)
	}
}

// TestKTODataNeedsKTOTrainer: unpaired (KTO) rows under the default DPO trainer end in
// an error that says how to select KTO, not in "no examples usable".
func TestKTODataNeedsKTOTrainer(t *testing.T) {
	dir := t.TempDir()
	modelDir, _ := fixture(t, dir, 1)
	data := filepath.Join(dir, "kto.jsonl")
	rows := `{"prompt": "a", "completion": "b", "label": true}` + "\n" + `{"prompt": "c", "completion": "d", "label": false}` + "\n"
	if err := os.WriteFile(data, []byte(rows), 0o644); err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf("model_name_or_path: %s\ndataset: %s\noutput_dir: %s\nmax_steps: 1\n", modelDir, data, filepath.Join(dir, "out"))
	_, err := runConfig(t, yaml)
	if err == nil || !strings.Contains(err.Error(), "stage: kto") || !strings.Contains(err.Error(), "trainer: kto") {
		t.Errorf("error %v: want one naming stage: kto / trainer: kto", err)
	}
}
