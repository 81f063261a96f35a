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
