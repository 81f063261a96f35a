package train

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/preftune/preftune/data"
	"github.com/preftune/preftune/model"
	"github.com/preftune/preftune/train/config"
)

// item is one training example in token ids: a preference pair (compl[0] chosen,
// compl[1] rejected), an unpaired KTO example (compl[0], desirable), or an SFT example
// (compl[0], the answer), or a LiPO list (list, scored by scores; higher is better).
type item struct {
	prompt    []int32
	compl     [2][]int32
	list      [][]int32
	scores    []float64
	desirable bool
	where     string    // file:row
	ref       *refLogps // precomputed reference log-probs
}

// TokenizeOptions are the tokenization and length rules training applies under c (the
// one rule `score --max-length` and `data check --max-length`/`--config` apply too).
func TokenizeOptions(c *config.Config) data.TokenizeOptions { return c.TokenizeOptions() }

// tokenizerFor loads the model dir's tokenizer (and chat template). A model dir without
// tokenizer.json can still train on pre-tokenized data.
func tokenizerFor(c *config.Config) (*data.Tokenizer, error) {
	opts := TokenizeOptions(c)
	if _, err := os.Stat(filepath.Join(c.ModelNameOrPath, "tokenizer.json")); errors.Is(err, os.ErrNotExist) {
		return &data.Tokenizer{Opts: opts}, nil
	}
	tok, err := data.LoadTokenizer(c.ModelNameOrPath, opts)
	if err != nil {
		return nil, fmt.Errorf("tokenizer of %s: %w", c.ModelNameOrPath, err)
	}
	return tok, nil
}

// loadItems reads a dataset spec and tokenizes it for the trainer kind ("pair", "kto",
// "sft"), checking every id and length against the model.
func loadItems(spec string, c *config.Config, tok *data.Tokenizer, arch model.Arch, log io.Writer) ([]item, error) {
	kind := c.Kind()
	if kind == "rm" {
		kind = "pair" // a reward model reads preference pairs
	}
	// The dataset streams: each example is filtered and tokenized as it is read and only
	// its token ids are kept (memory: the ids, a few words an example, one row of text).
	var (
		tks   []data.Tokenized
		rep   data.TokenizeReport
		taken int // examples seen, for max_samples
		kept  int // examples usable for this kind of training
	)
	tokenize := func(exs []data.Example) error {
		for _, ex := range exs {
			if tok.Enc == nil && ex.Kind != data.KindPretokenized {
				return fmt.Errorf("%s: text rows need a tokenizer, and %s has no tokenizer.json", ex.Where(), c.ModelNameOrPath)
			}
		}
		one, r, err := tok.TokenizeAll(exs, data.PolicyStrict)
		if err != nil {
			return err
		}
		tks = append(tks, one...)
		rep.Tokenized += r.Tokenized
		rep.DroppedLong += r.DroppedLong
		rep.TruncatedPrompt += r.TruncatedPrompt
		rep.TruncatedCompl += r.TruncatedCompl
		rep.Collapsed += r.Collapsed
		rep.Pairs += r.Pairs
		if rep.FirstCollapsed == "" {
			rep.FirstCollapsed = r.FirstCollapsed
		}
		return nil
	}
	firstSFT := false // the first example is LLaMA-Factory supervised data
	each := func(ex *data.Example) error {
		if c.MaxSamples > 0 && taken >= c.MaxSamples {
			return nil
		}
		if taken == 0 {
			firstSFT = ex.SFT
		}
		taken++
		var keep []data.Example
		switch {
		case ex.Kind == data.KindPair || ex.Kind == data.KindPretokenized:
			if kind == "kto" {
				// TRL's unpair_preference_dataset: chosen → desirable, rejected → undesirable
				d, u := *ex, *ex
				d.Kind, d.Completion, d.Label = data.KindUnpaired, ex.Chosen, true
				u.Kind, u.Completion, u.Label = data.KindUnpaired, ex.Rejected, false
				if ex.Kind == data.KindPretokenized {
					return fmt.Errorf("%s: pre-tokenized pairs cannot be unpaired for KTO", ex.Where())
				}
				keep = append(keep, d, u)
			} else {
				keep = append(keep, *ex)
			}
		case ex.Kind == data.KindListwise && kind == "list":
			keep = append(keep, *ex)
		case ex.Kind == data.KindUnpaired && ex.SFT && kind != "sft":
			// LLaMA-Factory's supervised rows: stage: sft only
		case ex.Kind == data.KindUnpaired && (kind == "kto" || kind == "sft"):
			if !(kind == "sft" && !ex.Label) {
				keep = append(keep, *ex)
			}
		}
		kept += len(keep)
		if len(keep) == 0 {
			return nil
		}
		return tokenize(keep)
	}
	ds, err := data.Load(spec, data.Options{DatasetDir: c.DatasetDir, Policy: data.PolicyStrict, Each: each, Hub: hubSplitFiles(log)})
	if err != nil {
		return nil, err
	}
	if kept == 0 {
		if ds.Report.Rows == 0 {
			return nil, fmt.Errorf("%s: no rows (an empty dataset)", spec)
		}
		if firstSFT && kind != "sft" {
			return nil, fmt.Errorf("%s: supervised (SFT) data without chosen/rejected (LLaMA-Factory: no \"ranking\" and no kto_tag): it trains with stage: sft only", spec)
		}
		if kind != "kto" && ds.Report.Kinds[data.KindUnpaired] > 0 && ds.Report.Kinds[data.KindPair] == 0 {
			return nil, fmt.Errorf("%s: the data is unpaired (KTO: prompt, completion, label; %d rows) but the config trains %s: set stage: kto (LLaMA-Factory), trainer: kto or loss_type: kto", spec, ds.Report.Kinds[data.KindUnpaired], strings.Join(c.LossType, ", "))
		}
		return nil, fmt.Errorf("%s: no examples usable for %s training (read %s: %s)", spec, kind, Plural(ds.Report.Rows, "row", "rows"), kindCounts(ds.Report.Kinds))
	}
	if rep.DroppedLong > 0 || rep.TruncatedPrompt > 0 || rep.TruncatedCompl > 0 {
		fmt.Fprintf(log, "%s: %d examples, %d dropped (prompt too long), %d prompts and %d completions truncated\n",
			spec, rep.Tokenized, rep.DroppedLong, rep.TruncatedPrompt, rep.TruncatedCompl)
	}
	if w := rep.CollapseWarning(); w != "" {
		fmt.Fprintf(log, "%s: %s\n", spec, w)
	}
	if err := rep.CollapseError(); err != nil {
		return nil, fmt.Errorf("%s: %w", spec, err)
	}
	out := make([]item, 0, len(tks))
	for _, tk := range tks {
		it := item{prompt: tk.PromptIDs, where: fmt.Sprintf("%s:%d", tk.Source, tk.Row), desirable: tk.Label}
		switch {
		case tk.Kind == data.KindPair && kind == "pair":
			it.compl = [2][]int32{tk.Completions[0], tk.Completions[1]}
		case tk.Kind == data.KindPair && kind == "sft":
			it.compl[0] = tk.Completions[0]
		case tk.Kind == data.KindListwise:
			it.list, it.scores = tk.Completions, tk.Scores
			if len(out) > 0 && len(it.list) != len(out[0].list) {
				return nil, fmt.Errorf("%s: %d responses, but %s has %d: LiPO batches lists of one size",
					it.where, len(it.list), out[0].where, len(out[0].list))
			}
		default:
			it.compl[0] = tk.Completions[0]
		}
		if err := checkItem(&it, arch); err != nil {
			return nil, fmt.Errorf("%s: %w", it.where, err)
		}
		out = append(out, it)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: every example was dropped by the length limits", spec)
	}
	return out, nil
}

func checkItem(it *item, a model.Arch) error {
	if len(it.prompt) == 0 {
		return errors.New("empty prompt (the first completion token needs a prompt token to be predicted from)")
	}
	compls := it.compl[:]
	if it.list != nil {
		compls = it.list
	}
	for k, c := range compls {
		if k == 1 && c == nil && it.list == nil {
			break
		}
		if len(c) == 0 {
			return errors.New("empty completion")
		}
		if n := len(it.prompt) + len(c); n > a.MaxPos {
			return fmt.Errorf("prompt + completion is %d tokens, more than the model's max_position_embeddings %d (set max_length)", n, a.MaxPos)
		}
		for _, ids := range [][]int32{it.prompt, c} {
			for _, id := range ids {
				if id < 0 || int(id) >= a.Vocab {
					return fmt.Errorf("token id %d outside the model's vocabulary [0,%d)", id, a.Vocab)
				}
			}
		}
	}
	return nil
}

// splitVal holds out val_size examples (a fraction when < 1) for evaluation, chosen by
// a seeded shuffle as LLaMA-Factory's train_test_split does.
func splitVal(items []item, size float64, seed int) (train, val []item) {
	n := int(size)
	if size < 1 {
		n = int(size * float64(len(items)))
	}
	n = min(max(n, 1), len(items)-1)
	idx := rand.New(rand.NewPCG(uint64(seed), 0x76616c)).Perm(len(items))
	for i, j := range idx {
		if i < n {
			val = append(val, items[j])
		} else {
			train = append(train, items[j])
		}
	}
	return train, val
}
