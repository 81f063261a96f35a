package train

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/preftune/preftune/atomicfile"
	"github.com/preftune/preftune/dist"

	"github.com/preftune/preftune/model"
	"github.com/preftune/preftune/report"
)

// setupReference picks the reference strategy, loads what it needs and, with
// precompute_ref_log_probs, computes (or reads back) the reference log-probs of every
// example.
func (t *trainer) setupReference(arch model.Arch) error {
	c := t.c
	if !c.NeedsReference() {
		t.st.refMode = refNone
		if c.ReferenceFree {
			t.refDesc = "none (reference_free: reference log-probs are 0)"
		} else {
			t.refDesc = fmt.Sprintf("none (loss %s uses no reference model)", strings.Join(c.LossType, ","))
		}
		return nil
	}
	mode := refModel
	var ref *model.Model
	var identity []string // dirs whose files identify the reference
	switch {
	case c.RefModel != "":
		opt := t.modelOptions(max(c.PerDeviceTrainBatchSize, c.PerDeviceEvalBatchSize))
		opt.Checkpoint, opt.Frozen = false, true
		if !c.SyncRefModel { // TR-DPO mixes float32 policy weights into the reference
			opt.Storage, opt.ComputeBF16 = frozenStorage(c), computeBF16(c)
		}
		if c.RefModelAdapters != "" {
			lc, err := model.ReadAdapterConfig(c.RefModelAdapters)
			if err != nil {
				return fmt.Errorf("ref_model_adapters: %w", err)
			}
			opt.LoRA = lc
		}
		var err error
		if ref, err = model.Load(c.RefModel, t.be, opt); err != nil {
			return fmt.Errorf("ref_model: %w", err)
		}
		if c.RefModelAdapters != "" {
			if err := ref.LoadAdapter(c.RefModelAdapters); err != nil {
				return fmt.Errorf("ref_model_adapters: %w", err)
			}
			identity = append(identity, c.RefModelAdapters)
		}
		identity = append(identity, c.RefModel)
		t.refDesc = "separate model " + c.RefModel
		if c.RefModelAdapters != "" {
			t.refDesc += " with adapter " + c.RefModelAdapters
		}
	case c.LoRA():
		mode = refAdaptersOff
		identity = append(identity, c.ModelNameOrPath)
		t.refDesc = "the base model " + c.ModelNameOrPath + " (the policy with its LoRA adapters disabled)"
	default:
		var err error
		opt := t.modelOptions(max(c.PerDeviceTrainBatchSize, c.PerDeviceEvalBatchSize))
		opt.Checkpoint, opt.Frozen = false, true
		if !c.SyncRefModel { // TR-DPO mixes float32 policy weights into the reference
			opt.Storage, opt.ComputeBF16 = frozenStorage(c), computeBF16(c)
		}
		if ref, err = model.Load(c.ModelNameOrPath, t.be, opt); err != nil {
			return fmt.Errorf("reference copy of model_name_or_path: %w", err)
		}
		identity = append(identity, c.ModelNameOrPath)
		t.refDesc = "a frozen copy of the initial policy " + c.ModelNameOrPath
		if c.SyncRefModel {
			t.refDesc += fmt.Sprintf(", synced every %d steps with α = %g (TR-DPO)", c.RefModelSyncSteps, c.RefModelMixupAlpha)
		}
	}
	if ref != nil {
		if ra := ref.Arch(); !reflect.DeepEqual(ra, arch) && (c.SyncRefModel || ra.Vocab != arch.Vocab) {
			return fmt.Errorf("ref_model: %s has a different architecture from the policy (vocab %d vs %d); it must share the tokenizer%s",
				c.RefModel, ra.Vocab, arch.Vocab, map[bool]string{true: " and, with sync_ref_model, every shape", false: ""}[c.SyncRefModel])
		}
	}
	t.st.ref, t.st.refMode = ref, mode
	if !c.PrecomputeRefLogProbs {
		return nil
	}
	if err := t.precompute(mode, identity); err != nil {
		return err
	}
	if t.st.ref != nil {
		t.st.ref.Close() // the reference is no longer needed in memory
	}
	t.st.ref, t.st.refMode = nil, refPrecomputed
	return nil
}

// refCache is the on-disk form of precomputed reference log-probs.
type refCache struct {
	Key      string       `json:"key"`
	Examples int          `json:"examples"`
	Values   [][4]float64 `json:"values"` // chosen, rejected, chosen tail, rejected tail
}

// precompute computes the reference log-probs of every training and evaluation pair
// once, or reads them from the cache when the same reference, data and lengths were
// seen before (the key hashes the reference's files and every token id).
func (t *trainer) precompute(mode string, identity []string) error {
	all := make([]*item, 0, len(t.train)+len(t.eval))
	for i := range t.train {
		all = append(all, &t.train[i])
	}
	for i := range t.eval {
		all = append(all, &t.eval[i])
	}
	key, err := cacheKey(mode+"\x00"+refStorageKey(t.c), identity, all) // a 4-bit or bf16 reference gives other log-probs
	if err != nil {
		return err
	}
	dir := t.opt.CacheDir
	if dir == "" {
		dir = os.Getenv("PREFTUNE_CACHE")
	}
	if dir == "" {
		ucd, err := os.UserCacheDir()
		if err != nil {
			return fmt.Errorf("precompute_ref_log_probs: no cache dir (set PREFTUNE_CACHE): %w", err)
		}
		dir = filepath.Join(ucd, "preftune")
	}
	dir = filepath.Join(dir, "ref_logps")
	path := filepath.Join(dir, key+".json")
	hit := false
	if raw, err := os.ReadFile(path); err == nil {
		var rc refCache
		if err := json.Unmarshal(raw, &rc); err == nil && rc.Key == key && len(rc.Values) == len(all) {
			for i, it := range all {
				v := rc.Values[i]
				it.ref = &refLogps{chosen: v[0], rejected: v[1], chosenTail: v[2], rejectedTail: v[3]}
			}
			hit = true
		} else {
			fmt.Fprintf(t.log, "ignoring unreadable reference cache %s\n", path)
		}
	}
	if t.w != nil { // data parallel: the cache is used only when every rank has it
		miss := 0.0
		if !hit {
			miss = 1
		}
		scal, _, _, err := t.gather(nil, dist.IO, []float64{miss}, nil, nil)
		if err != nil {
			return err
		}
		hit = scal[0] == 0
	}
	if hit {
		t.refDesc = "precomputed log-probs of " + t.refDesc + " (read from cache " + path + ")"
		return nil
	}
	pre := stepper{c: t.c, kind: "pair", policy: t.st.policy, ref: t.st.ref, refMode: mode, lay: t.st.lay, params: t.st.params}
	bs := max(t.c.PerDeviceTrainBatchSize, t.c.PerDeviceEvalBatchSize)
	rc := refCache{Key: key, Examples: len(all), Values: make([][4]float64, len(all))}
	its := make([]item, 0, bs)
	act := report.NewActivity(t.log, t.opt.Terminal && t.rank == 0, "reference log-probs", len(all), true)
	defer act.Done()
	var shardErr error // data parallel: batch b runs on rank b mod N
	for s := 0; s < len(all); s += bs {
		if t.w != nil && (s/bs)%t.world != t.rank {
			continue
		}
		its = its[:0]
		for _, it := range all[s:min(s+bs, len(all))] {
			its = append(its, *it)
		}
		pre.layout(its)
		b, err := pre.batch()
		if err == nil {
			if err = pre.reference(its, b); err != nil {
				err = fmt.Errorf("precomputing reference log-probs: %w", err)
			}
		}
		if err != nil && t.w == nil {
			return err
		}
		if err != nil {
			shardErr = err
			break
		}
		n := len(its)
		act.Add(n)
		for i := range its {
			v := [4]float64{pre.rsums[i], pre.rsums[n+i], pre.rtails[i], pre.rtails[n+i]}
			rc.Values[s+i] = v
			all[s+i].ref = &refLogps{chosen: v[0], rejected: v[1], chosenTail: v[2], rejectedTail: v[3]}
		}
	}
	if t.w != nil {
		flat := make([]float64, 4*len(all))
		for i, v := range rc.Values {
			copy(flat[4*i:], v[:])
		}
		flat, _, _, err := t.gather(shardErr, dist.IO, flat, nil, nil)
		if err != nil {
			return err
		}
		for i := range rc.Values {
			v := [4]float64(flat[4*i : 4*i+4])
			rc.Values[i] = v
			all[i].ref = &refLogps{chosen: v[0], rejected: v[1], chosenTail: v[2], rejectedTail: v[3]}
		}
		if t.rank != 0 {
			t.refDesc = "precomputed log-probs of " + t.refDesc + " (computed by all ranks)"
			return nil
		}
	}
	raw, err := json.Marshal(rc)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("reference cache: %w", err)
	}
	if err := atomicfile.WriteFile(path, raw, 0o644); err != nil {
		return fmt.Errorf("reference cache: %w", err)
	}
	t.refDesc = "precomputed log-probs of " + t.refDesc + " (cached in " + path + ")"
	return nil
}

// cacheKey hashes the reference mode, every file of the identity dirs that defines
// weights (config.json, *.safetensors, the shard index, adapter_config.json) and the
// token ids of every example, in order.
func cacheKey(mode string, identity []string, all []*item) (string, error) {
	h := sha256.New()
	io.WriteString(h, "preftune ref_logps v1\x00"+mode+"\x00")
	for _, dir := range identity {
		if err := hashWeights(h, dir); err != nil {
			return "", fmt.Errorf("hashing the reference %s: %w", dir, err)
		}
	}
	var buf [4]byte
	put := func(ids []int32) {
		binary.LittleEndian.PutUint32(buf[:], uint32(len(ids)))
		h.Write(buf[:])
		for _, id := range ids {
			binary.LittleEndian.PutUint32(buf[:], uint32(id))
			h.Write(buf[:])
		}
	}
	for _, it := range all {
		put(it.prompt)
		put(it.compl[0])
		put(it.compl[1])
	}
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}

func hashWeights(h hash.Hash, dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var names []string
	for _, e := range ents {
		n := e.Name()
		if n == "config.json" || n == "adapter_config.json" || n == "model.safetensors.index.json" || strings.HasSuffix(n, ".safetensors") {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return errors.New("no weight files")
	}
	sort.Strings(names)
	for _, n := range names {
		f, err := os.Open(filepath.Join(dir, n))
		if err != nil {
			return err
		}
		io.WriteString(h, n+"\x00")
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// syncReference is TR-DPO's update ref ← α·policy + (1−α)·ref (TRL's
// SyncRefModelCallback).
func (t *trainer) syncReference() {
	a := float32(t.c.RefModelMixupAlpha)
	pt, rt := t.st.policy.Tensors(), t.st.ref.Tensors()
	for i := range pt {
		t.be.Scale(rt[i].Data, 1-a)
		t.be.Axpy(rt[i].Data, a, pt[i].Data)
	}
}
