package train

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/preftune/preftune/atomicfile"
	"github.com/preftune/preftune/hf/safetensors"
	"github.com/preftune/preftune/loss"
	"github.com/preftune/preftune/model"
)

// The reward model (stage: rm) follows TRL's RewardTrainer with a transformers
// *ForSequenceClassification model (num_labels 1): the policy's decoder, then
// score.weight [1, hidden] (no bias) on the final-norm hidden state of each
// sequence's last token; the Bradley–Terry loss on the chosen and rejected rewards.

// peftScoreName is the value head's key in a PEFT adapter saved with
// modules_to_save=["score"] (task_type SEQ_CLS): get_peft_model_state_dict keeps
// "base_model.model.score.modules_to_save.default.weight" and strips
// "modules_to_save." and ".default".
const peftScoreName = "base_model.model.score.weight"

// valueHeadFile holds score.weight in a checkpoint (kept out of the adapter file so that
// LoadAdapter reads the adapter unchanged).
const valueHeadFile = "value_head.safetensors"

// setupValueHead builds the value head: score.weight from the model dir when it has
// one (a reward model being trained further), else normal(0, initializer_range) from
// the seed, as transformers initialises a score layer missing from a causal-LM
// checkpoint.
func (t *trainer) setupValueHead(hidden int) error {
	c := t.c
	std := 0.02
	if raw, err := os.ReadFile(filepath.Join(c.ModelNameOrPath, "config.json")); err == nil {
		var cfg struct {
			InitializerRange *float64 `json:"initializer_range"`
		}
		if json.Unmarshal(raw, &cfg) == nil && cfg.InitializerRange != nil {
			std = *cfg.InitializerRange
		}
	}
	vh := model.NewValueHead(t.be, hidden, std, uint64(c.Seed))
	if st, err := safetensors.OpenModel(c.ModelNameOrPath); err == nil {
		if _, ok := st.Tensor(model.ValueHeadName); ok {
			if err := st.ReadFloat32(model.ValueHeadName, vh.Weight); err != nil {
				st.Close()
				return fmt.Errorf("model_name_or_path: %w", err)
			}
			fmt.Fprintf(t.log, "value head: %s from %s\n", model.ValueHeadName, c.ModelNameOrPath)
		} else {
			fmt.Fprintf(t.log, "value head: %s initialised normal(0, %g), seed %d\n", model.ValueHeadName, std, c.Seed)
		}
		st.Close()
	}
	if t.opt.scoreInit != nil {
		copy(vh.Weight, t.opt.scoreInit)
	}
	t.st.vh = vh
	next, err := newOptimizerFor(t.st.policy.Backend(), vh.Weight, vh.Grad, vh.Tensors(), c.Optim, c.AdamBeta1, c.AdamBeta2, c.AdamEpsilon, c.WeightDecay, c.Momentum)
	if err != nil {
		return err
	}
	t.optim.next = next
	return nil
}

// microRM is micro for the reward model on a batch laid out with one target per row,
// its last token (Layout.LastOnly): rewards from the value head on the final hidden
// states there, the Bradley–Terry loss, and with train set d(loss)/d(reward)·w back
// through the head and the decoder.
func (s *stepper) microRM(its []item, b *model.Batch, w float64, train bool) (microResult, error) {
	if _, err := s.policy.Forward(b, model.ForwardOptions{Eval: !train || s.noDrop}); err != nil {
		return microResult{}, fmt.Errorf("policy forward: %w", err)
	}
	h, err := s.policy.FinalHidden()
	if err != nil {
		return microResult{}, err
	}
	scores, err := s.vh.Forward(h)
	if err != nil {
		return microResult{}, err
	}
	n := len(its)
	for k, tg := range b.Targets {
		v := scores[k]
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return microResult{}, fmt.Errorf("reward of %s is %v: %w", its[int(tg.Seq)%n].where, v, ErrNonFinite)
		}
		s.sums[tg.Seq] = float64(v)
	}
	s.lb = loss.Batch{RewardChosen: s.sums[:n], RewardRejected: s.sums[n:]}
	res, err := loss.Compute(s.c.LossType[0], &s.lb, s.params)
	if err != nil {
		return microResult{}, err
	}
	if !train {
		return microResult{loss: res.Loss, metrics: res.Metrics}, nil
	}
	if cap(s.dscores) < len(b.Targets) {
		s.dscores = make([]float32, len(b.Targets))
	}
	s.dscores = s.dscores[:len(b.Targets)]
	for k, tg := range b.Targets {
		if i := int(tg.Seq); i < n {
			s.dscores[k] = float32(w * res.DRewardChosen[i])
		} else {
			s.dscores[k] = float32(w * res.DRewardRejected[i-n])
		}
	}
	dh := s.vh.Backward(s.dscores, h)
	if err := s.policy.BackwardHidden(dh); err != nil {
		return microResult{}, err
	}
	return microResult{loss: res.Loss, metrics: res.Metrics}, nil
}

// saveRewardModel writes the trained reward model. Full fine-tuning: the weights plus
// score.weight, with config.json turned into *ForSequenceClassification, num_labels 1
// (id2label/label2id as save_pretrained writes them) and a pad_token_id (transformers
// needs one to find the last non-pad token of batched rows). LoRA: the PEFT adapter
// with task_type SEQ_CLS and modules_to_save ["score"], the head under PEFT's key.
func (t *trainer) saveRewardModel(dir string) error {
	c := t.c
	p, vh := t.st.policy, t.st.vh
	if c.LoRA() {
		if err := p.SaveAdapter(dir, c.ModelNameOrPath); err != nil {
			return fmt.Errorf("saving the adapter: %w", err)
		}
		path := filepath.Join(dir, "adapter_model.safetensors")
		var ts []safetensors.Tensor
		for _, at := range p.Trainable() {
			ts = append(ts, safetensors.Tensor{Name: at.Name, DType: safetensors.F32, Shape: at.Shape, F32: at.Data})
		}
		ts = append(ts, safetensors.Tensor{Name: peftScoreName, DType: safetensors.F32, Shape: []int{1, vh.Hidden}, F32: vh.Weight})
		if err := safetensors.WriteFile(path, ts, map[string]string{"format": "pt"}); err != nil {
			return fmt.Errorf("saving the adapter: %w", err)
		}
		return editJSON(filepath.Join(dir, "adapter_config.json"), func(m map[string]any) {
			m["task_type"] = "SEQ_CLS"
			m["modules_to_save"] = []string{"score"}
		})
	}
	if err := SaveModel(dir, c.ModelNameOrPath, append(p.Tensors(), vh.Tensors()...)); err != nil {
		return err
	}
	return editJSON(filepath.Join(dir, "config.json"), func(m map[string]any) {
		var archs []string
		if as, ok := m["architectures"].([]any); ok {
			for _, a := range as {
				if s, ok := a.(string); ok {
					archs = append(archs, strings.TrimSuffix(s, "ForCausalLM")+"ForSequenceClassification")
				}
			}
		}
		m["architectures"] = archs
		m["num_labels"] = 1
		m["id2label"] = map[string]string{"0": "LABEL_0"}
		m["label2id"] = map[string]int{"LABEL_0": 0}
		if m["pad_token_id"] == nil {
			switch e := m["eos_token_id"].(type) {
			case float64:
				m["pad_token_id"] = e
			case []any:
				if len(e) > 0 {
					m["pad_token_id"] = e[0]
				}
			}
		}
	})
}

// editJSON rewrites a JSON object file atomically after edit.
func editJSON(path string, edit func(map[string]any)) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	edit(m)
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(out, '\n'), 0o644)
}
