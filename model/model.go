package model

import (
	"errors"
	"fmt"

	"github.com/preftune/preftune/kernels"
)

// Options configure New and Load.
type Options struct {
	// MaxTokens plans the activation buffer for batches of up to this many tokens
	// (B·T); a larger batch re-plans once. 0 plans on the first Forward.
	MaxTokens int
	// LoRA selects LoRA training (base weights frozen); nil is full fine-tuning.
	LoRA *LoRAConfig
	// LogitsBudget caps the logits buffer in float32 elements (default 16M = 64 MiB):
	// when the completion tokens' logits fit, backward reuses them; otherwise the LM
	// head runs in chunks and backward recomputes each chunk.
	LogitsBudget int
	// Checkpoint keeps only each layer's input (the residual stream) and recomputes the
	// layer's activations in Backward: one layer's activations in memory instead of all,
	// for one extra forward per step (gradient checkpointing).
	Checkpoint bool
	// Frozen builds an inference-only model: no gradient buffers (half the memory of
	// full fine-tuning's parameters), Backward refuses. For a reference model.
	Frozen bool
	// FuseGateUp runs gate_proj and up_proj as one GEMM against their weights viewed
	// as one [2F,C] matrix (adjacent in the flat buffer), and SwiGLU reads the fused
	// [N,2F] output; the backward is one GEMM pair too. Ignored with MLP biases or LoRA
	// dropout (then the two projections run separately).
	FuseGateUp bool
	// Storage keeps frozen base weights compact (16-bit or 4-bit); see Storage. Load
	// honours it for a LoRA base or a Frozen model; full fine-tuning stays float32.
	Storage Storage
	// ComputeBF16 multiplies the packed (frozen, compactly stored) weights in bf16 with
	// float32 accumulation when the backend has a bf16 GEMM (kernels.BF16Matmul, ready on
	// this CPU); otherwise, or for float32 weights, compute stays float32 (see ComputeDType).
	ComputeBF16 bool

	packNames map[string]bool // set by Load: the base tensors it fills packed
}

// Model is a decoder with its parameters, gradients and planned activations.
// It is not safe for concurrent use.
type Model struct {
	arch Arch
	be   kernels.Backend
	opt  Options

	params, grads []float32 // flat base parameters; grads nil under LoRA
	tensors       []Tensor  // base tensors (views into params/grads)
	embed, dembed []float32 // [V,C]
	head, dhead   []float32 // [V,C] (= embed when tied)
	normW, dnormW []float32 // [C]
	layers        []layer

	fuseGU bool // Options.FuseGateUp in effect

	packNames     map[string]bool // base tensors kept packed (Options.packNames)
	embedP, headP *kernels.Packed // packed embedding / head (headP = embedP when tied), or nil
	pk            packedScratch
	bf16          kernels.BF16Matmul // Options.ComputeBF16 in effect: the backend's bf16 GEMM
	bf16Host      bool               // its bf16 memory is the host's: stored bf16 weights are used in place

	lora                  *LoRAConfig
	loraParams, loraGrads []float32
	loraTensors           []Tensor

	cos, sin []float32 // RoPE tables [MaxPos, HD/2]

	acts        acts
	planned     int // tokens the activations are planned for
	plannedRows int // loss rows (targets) the activations are planned for
	last        lastForward
	rng         uint64 // dropout stream

	host hostBufs // the inputs staged for upload, per-position outputs of Labels batches

	shared kernels.SharedPromptAttention // the backend's, or nil
	fused  kernels.FusedSwiGLU           // the backend's, or nil

	hiddenGrad []float32 // BackwardHidden's d(loss)/d(final hidden) [M,C] (backend memory), during its backward
}

// hostBufs are host-side staging buffers: a batch's inputs are laid out here and
// uploaded (Backend.UploadInt32) in one copy each.
type hostBufs struct {
	ids, pos, seg, par                 []int32   // [N]
	idx, lab, tseq                     []int32   // [M]
	outLogp, outEnt, outMeanL, outLSP2 []float32 // [N] scattered outputs of a batch with Labels
}

// lastForward remembers what Backward needs from the latest Forward.
type lastForward struct {
	ok         bool
	b, t, m    int  // rows, columns, completion tokens (targets)
	targets    bool // the batch had explicit Targets
	nseq       int  // sequences (SeqLogProbs)
	par        bool // the batch had Parents
	noAdapters bool // adapters were disabled: no backward
	dropout    bool // dropout masks were drawn
	logitsKept bool // every completion logit row is still in acts.logits
}

// acts is the planned activation memory: per-layer saved tensors plus one set of
// backward scratch buffers.
type acts struct {
	buf                     []float32
	ids, pos, seg, lab, idx []int32     // [N] inputs; idx/lab/tseq: compact completion rows [M]
	par, tseq               []int32     // [N] parent segments; [M] sequence of each completion row
	seqLogp, seqMeanLogit   []float32   // [S ≤ M] per-sequence sums (Output.SeqLogProbs, SeqMeanLogitSums)
	seqWPO                  []float32   // [S] Output.SeqWPOSums
	dseq, dtok              []float32   // [S], [N]: uploaded gradients of BackwardSeq, Backward
	res                     [][]float32 // residual stream entering layer l, l = 0..L [N,C]
	xc, hc, rstdc           []float32   // final norm on completion rows: [M,C], [M,C], [M]
	logits                  []float32   // [R,V] LM head chunk (R rows)
	logp, lse, ent, mlogit  []float32   // [M] per completion row
	lsp2                    []float32   // [M] log Σ p² (WPO)
	out                     Output
	// backward scratch
	dres, dh, dq, dk, dv, datt, dqr, dkr, dgate, dup, dact, du, dxd, dxc, dhc, dlogp []float32
	dgu                                                                              []float32 // FuseGateUp [N,2F]
	rows                                                                             int       // R
}

// layerActs are the saved activations of one layer.
type layerActs struct {
	h1, rstd1         []float32 // input_layernorm out [N,C], [N]
	qr, kr, rq, rk    []float32 // Qwen3: q/k before q_norm/k_norm [N,NH·HD],[N,NKV·HD]; rstd [N·NH],[N·NKV]
	q, k, v, att, lse []float32 // [N,NH·HD], [N,NKV·HD]×2, [N,NH·HD], [N·NH]
	xmid              []float32 // residual after attention [N,C]
	h2, rstd2         []float32 // post_attention_layernorm out [N,C], [N]
	gate, up, act     []float32 // [N,F] ×3
	gu                []float32 // FuseGateUp: gate|up [N,2F] instead of gate, up
}

// Output is what Forward returns; its slices are owned by the model and valid until
// the next Forward.
type Output struct {
	LogProbs  []float32 // [B·T] log p(label | prefix), 0 where the label is ignored; nil for a batch with Targets
	Entropy   []float32 // [B·T] entropy of the next-token distribution at labelled positions (when asked); [len(Targets)] with Targets
	MeanLogit []float32 // [B·T] mean logit over the vocabulary at labelled positions (when asked); [len(Targets)] with Targets
	// LogSumP2 [B·T]: log Σ_v p(v)² = logsumexp(2·logits) − 2·logsumexp(logits) of the
	// next-token distribution at labelled positions (when asked); [len(Targets)] with Targets.
	LogSumP2 []float32

	// TargetLogProbs [len(Targets)]: log p(target label | prefix), for a batch with Targets.
	TargetLogProbs []float32
	// SeqLogProbs [Batch.NumSeqs()]: the log-probs summed per sequence (Target.Seq, or
	// per row for a batch with Labels), accumulated in float64.
	SeqLogProbs []float32
	// SeqMeanLogitSums [NumSeqs] (with MeanLogit): Σ over each sequence's targets of the
	// vocabulary-mean logit (TRL's logits/chosen is their sum over tokens).
	SeqMeanLogitSums []float32
	// SeqWPOSums [NumSeqs] (with LogSumP2): Σ over each sequence's targets of
	// log p(label) − log Σ_v p(v)² (WPO's weight is exp of its per-token mean).
	SeqWPOSums []float32
}

// ForwardOptions select what Forward computes.
type ForwardOptions struct {
	NoAdapters bool // run the base model with LoRA adapters disabled (reference log-probs); no Backward
	Eval       bool // no dropout
	Entropy    bool // fill Output.Entropy
	MeanLogit  bool // fill Output.MeanLogit
	LogSumP2   bool // fill Output.LogSumP2 (WPO weights)
}

// New builds a model with zeroed parameters (fill them through Tensors, or use Load).
func New(arch Arch, be kernels.Backend, opt Options) (*Model, error) {
	if err := arch.Validate(); err != nil {
		return nil, err
	}
	if be == nil {
		return nil, errors.New("model: nil backend")
	}
	m := &Model{arch: arch, be: be, opt: opt, lora: opt.LoRA, packNames: opt.packNames}
	m.shared, _ = be.(kernels.SharedPromptAttention)
	if bf, ok := be.(kernels.BF16Matmul); ok && opt.ComputeBF16 && bf.BF16Ready() == nil {
		m.bf16 = bf
		if h, ok := be.(kernels.HostBF16); ok && h.BF16InHostMemory() {
			m.bf16Host = true
		}
	}
	m.fused, _ = be.(kernels.FusedSwiGLU)
	if m.opt.LogitsBudget <= 0 {
		m.opt.LogitsBudget = 16 << 20
	}
	n, _ := m.layoutParams(nil, nil)
	m.params = be.Alloc(n)
	if opt.LoRA == nil && !opt.Frozen {
		m.grads = be.Alloc(n)
	}
	_, m.tensors = m.layoutParams(m.params, m.grads)
	if opt.LoRA != nil {
		if err := m.setupLoRA(opt.LoRA); err != nil {
			return nil, err
		}
	}
	if opt.FuseGateUp && m.fused != nil && !arch.MLPBias && (opt.LoRA == nil || opt.LoRA.Dropout == 0) {
		m.fuseGU = true
		F, C := arch.FFN, arch.Hidden
		for i := range m.layers {
			L := &m.layers[i]
			if m.packNames[L.gate.path+".weight"] {
				continue // packed: Load joins the two (joinPacked)
			}
			if L.up.off != L.gate.off+F*C {
				return nil, errors.New("model: internal: gate_proj and up_proj are not adjacent")
			}
			L.gu = m.params[L.gate.off : L.gate.off+2*F*C]
			if m.grads != nil {
				L.dgu = m.grads[L.gate.off : L.gate.off+2*F*C]
			}
		}
	}
	inv, err := kernels.RopeInvFreq(arch.HeadDim, arch.RopeTheta, arch.RopeScaling)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	m.cos = be.Alloc(arch.MaxPos * len(inv))
	m.sin = be.Alloc(arch.MaxPos * len(inv))
	kernels.RopeTables(m.cos, m.sin, inv, arch.MaxPos)
	if opt.MaxTokens > 0 {
		m.plan(opt.MaxTokens, opt.MaxTokens)
	}
	return m, nil
}

// Arch returns the architecture.
func (m *Model) Arch() Arch { return m.arch }

// Backend returns the compute backend.
func (m *Model) Backend() kernels.Backend { return m.be }

// Tensors returns the base parameters in Hugging Face order (Grad nil under LoRA).
func (m *Model) Tensors() []Tensor { return m.tensors }

// Trainable returns the trainable tensors: every base tensor (full fine-tuning) or
// the LoRA tensors.
func (m *Model) Trainable() []Tensor {
	if m.lora != nil {
		return m.loraTensors
	}
	return m.tensors
}

// TrainableBuffers returns the flat trainable parameter and gradient buffers (the
// optimizer's view: one contiguous slice each).
func (m *Model) TrainableBuffers() (params, grads []float32) {
	if m.lora != nil {
		return m.loraParams, m.loraGrads
	}
	return m.params, m.grads
}

// ZeroGrad clears the gradients (Backward accumulates).
func (m *Model) ZeroGrad() {
	_, g := m.TrainableBuffers()
	m.be.Zero(g)
}

// plan (re)allocates the activation buffer for n tokens and nm loss rows (nm ≥ n).
func (m *Model) plan(n, nm int) {
	nm = max(n, nm)
	a := &m.arch
	C, F, QD, KD := a.Hidden, a.FFN, a.qDim(), a.kvDim()
	rmax := 0
	maxIn := 0
	dropout := false
	if m.lora != nil {
		rmax = m.lora.MaxRank()
		dropout = m.lora.Dropout > 0
		maxIn = max(C, QD, F)
	}
	rows := max(1, min(n, m.opt.LogitsBudget/a.Vocab))
	carve := func(c *carver) {
		A := &m.acts
		A.res = make([][]float32, a.Layers+1)
		for l := range A.res {
			A.res[l] = c.take(n * C)
		}
		for i := range m.layers {
			L := &m.layers[i]
			s := &L.acts
			if m.opt.Checkpoint && i > 0 {
				// one set of layer activations, recomputed layer by layer in Backward
				*s = m.layers[0].acts
			} else {
				s.h1, s.rstd1 = c.take(n*C), c.take(n)
				if a.QKNorm {
					s.qr, s.kr, s.rq, s.rk = c.take(n*QD), c.take(n*KD), c.take(n*a.Heads), c.take(n*a.KVHeads)
				}
				s.q, s.k, s.v, s.att, s.lse = c.take(n*QD), c.take(n*KD), c.take(n*KD), c.take(n*QD), c.take(n*a.Heads)
				s.xmid, s.h2, s.rstd2 = c.take(n*C), c.take(n*C), c.take(n)
				if m.fuseGU {
					s.gu, s.act = c.take(2*n*F), c.take(n*F)
				} else {
					s.gate, s.up, s.act = c.take(n*F), c.take(n*F), c.take(n*F)
				}
			}
			for _, li := range L.linears() {
				if li.lora != nil {
					li.lora.u = c.take(n * li.lora.r)
					if dropout {
						li.lora.mask = c.take(n * li.in)
					}
				}
			}
		}
		A.xc, A.hc, A.rstdc = c.take(nm*C), c.take(nm*C), c.take(nm)
		A.logits = c.take(rows * a.Vocab)
		A.logp, A.lse, A.ent, A.mlogit, A.lsp2 = c.take(nm), c.take(nm), c.take(nm), c.take(nm), c.take(nm)
		A.seqLogp, A.seqMeanLogit, A.seqWPO, A.dseq = c.take(nm), c.take(nm), c.take(nm), c.take(nm)
		A.dtok = c.take(n)
		A.dres, A.dh = c.take(n*C), c.take(n*C)
		A.dq, A.dk, A.dv, A.datt = c.take(n*QD), c.take(n*KD), c.take(n*KD), c.take(n*QD)
		if a.QKNorm {
			A.dqr, A.dkr = c.take(n*QD), c.take(n*KD)
		}
		if m.fuseGU {
			A.dgu, A.dact = c.take(2*n*F), c.take(n*F)
		} else {
			A.dgate, A.dup, A.dact = c.take(n*F), c.take(n*F), c.take(n*F)
		}
		A.du = c.take(n * rmax)
		if dropout {
			A.dxd = c.take(n * maxIn)
		}
		A.dxc, A.dhc, A.dlogp = c.take(nm*C), c.take(nm*C), c.take(nm)
		A.rows = rows
	}
	count := &carver{}
	carve(count)
	m.freeActs()
	m.acts.buf = m.be.Alloc(count.off)
	carve(&carver{buf: m.acts.buf})
	A := &m.acts
	A.ids, A.pos, A.seg = m.be.AllocInt32(n), m.be.AllocInt32(n), m.be.AllocInt32(n)
	A.lab, A.idx, A.tseq = m.be.AllocInt32(nm), m.be.AllocInt32(nm), m.be.AllocInt32(nm)
	A.par = m.be.AllocInt32(n)
	h := &m.host
	h.ids, h.pos, h.seg, h.par = make([]int32, n), make([]int32, n), make([]int32, n), make([]int32, n)
	h.idx, h.lab, h.tseq = make([]int32, nm), make([]int32, nm), make([]int32, nm)
	h.outLogp, h.outEnt, h.outMeanL, h.outLSP2 = make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	m.planned, m.plannedRows = n, nm
	m.last = lastForward{}
}

// freeActs releases the planned activation buffers (before planning larger ones).
func (m *Model) freeActs() {
	A := &m.acts
	if A.buf == nil {
		return
	}
	m.be.Free(A.buf)
	for _, b := range [][]int32{A.ids, A.pos, A.seg, A.lab, A.idx, A.tseq, A.par} {
		m.be.FreeInt32(b)
	}
	*A = acts{}
}

// Close releases the model's backend buffers (parameters, gradients, adapters,
// activations). The model must not be used after.
func (m *Model) Close() {
	m.freeActs()
	for _, b := range [][]float32{m.params, m.grads, m.loraParams, m.loraGrads, m.cos, m.sin} {
		if b != nil {
			m.be.Free(b)
		}
	}
	if m.pk.dev != nil {
		m.be.Free(m.pk.dev)
	}
	if m.pk.ones != nil {
		m.be.Free(m.pk.ones)
	}
	if m.bf16 != nil {
		for _, b := range [][]uint16{m.pk.wB, m.pk.actB} {
			if b != nil {
				m.bf16.FreeBF16(b)
			}
		}
	}
	m.pk = packedScratch{}
	m.params, m.grads, m.loraParams, m.loraGrads, m.cos, m.sin = nil, nil, nil, nil, nil, nil
	m.tensors, m.loraTensors, m.layers = nil, nil, nil
}

// ActivationBytes is the size of the planned activation buffer.
func (m *Model) ActivationBytes() int { return 4 * len(m.acts.buf) }

// Forward runs the model on b and returns per-token log-probs of the labels.
// Errors name the offending row (a *rowerr.Error whose Row is the 1-based batch row).
func (m *Model) Forward(b *Batch, opt ForwardOptions) (*Output, error) {
	a := &m.arch
	if err := b.validate(a); err != nil {
		return nil, err
	}
	n := b.B * b.T
	nm := n
	if b.Targets != nil {
		nm = max(n, len(b.Targets))
	}
	if n > m.planned || nm > m.plannedRows {
		m.plan(max(n, m.planned), max(nm, m.plannedRows))
	}
	if opt.NoAdapters && m.lora == nil {
		opt.NoAdapters = false
	}
	A := &m.acts
	be := m.be
	C := a.Hidden
	// inputs, staged on the host and uploaded: padding gets id 0 / position 0 so every
	// table lookup is in range; the loss rows (targets) compacted to idx/lab/tseq
	h := &m.host
	mc, nseq := 0, b.B
	targets := b.Targets != nil
	for i := 0; i < n; i++ {
		if b.Segments[i] < 0 {
			h.ids[i], h.pos[i], h.seg[i] = 0, 0, -1
			continue
		}
		h.ids[i], h.pos[i], h.seg[i] = b.IDs[i], b.Positions[i], b.Segments[i]
		if !targets && b.Labels[i] >= 0 {
			h.idx[mc], h.lab[mc], h.tseq[mc] = int32(i), b.Labels[i], int32(i/b.T)
			mc++
		}
	}
	if targets {
		nseq = 0
		for k, tg := range b.Targets {
			h.idx[k], h.lab[k], h.tseq[k] = tg.Pos, tg.Label, tg.Seq
			nseq = max(nseq, int(tg.Seq)+1)
		}
		mc = len(b.Targets)
	}
	if nseq > m.plannedRows {
		return nil, fmt.Errorf("model: %w: %d sequences for %d loss rows", ErrBadBatch, nseq, mc)
	}
	be.UploadInt32(A.ids[:n], h.ids[:n])
	be.UploadInt32(A.pos[:n], h.pos[:n])
	be.UploadInt32(A.seg[:n], h.seg[:n])
	be.UploadInt32(A.idx[:mc], h.idx[:mc])
	be.UploadInt32(A.lab[:mc], h.lab[:mc])
	be.UploadInt32(A.tseq[:mc], h.tseq[:mc])
	var par []int32
	if b.Parents != nil {
		if m.shared == nil {
			return nil, fmt.Errorf("model: %w: shared prompts (Parents) need a backend with shared-prompt attention (%s has none)", ErrBadBatch, be.Name())
		}
		for i, p := range b.Parents {
			if b.Segments[i] < 0 {
				p = -1
			}
			h.par[i] = p
		}
		par = A.par[:n]
		be.UploadInt32(par, h.par[:n])
	}
	useLoRA := m.lora != nil && !opt.NoAdapters
	dropout := useLoRA && m.lora.Dropout > 0 && !opt.Eval
	if dropout {
		m.rng++
	}

	m.embedForward(A.res[0], A.ids, h.ids, n)
	st := stepShape{b: b.B, t: b.T, n: n, lora: useLoRA, dropout: dropout, par: par}
	for l := range m.layers {
		m.layerForward(l, st)
	}
	// final norm and LM head on the completion rows only
	xL := A.res[a.Layers]
	be.EmbeddingForward(A.xc[:mc*C], A.idx[:mc], xL, mc, C, n)
	be.RMSNormForward(A.hc[:mc*C], A.rstdc[:mc], A.xc[:mc*C], m.normW, mc, C, a.Eps)
	V := a.Vocab
	for r0 := 0; r0 < mc; r0 += A.rows {
		r := min(A.rows, mc-r0)
		lg := A.logits[:r*V]
		m.headForward(lg, A.hc[r0*C:(r0+r)*C], r)
		var st kernels.LogitStats
		if opt.Entropy {
			st.Entropy = A.ent[r0 : r0+r]
		}
		if opt.MeanLogit {
			st.MeanLogit = A.mlogit[r0 : r0+r]
		}
		if opt.LogSumP2 {
			st.LogSumP2 = A.lsp2[r0 : r0+r]
		}
		be.LogSoftmaxGatherForward(A.logp[r0:r0+r], A.lse[r0:r0+r], st, lg, A.lab[r0:r0+r], r, V)
	}
	// per-sequence sums on the backend
	out := &A.out
	*out = Output{}
	be.SegmentSum(A.seqLogp[:nseq], A.logp[:mc], A.tseq[:mc], mc, nseq)
	out.SeqLogProbs = A.seqLogp[:nseq]
	out.TargetLogProbs = A.logp[:mc]
	if opt.Entropy {
		out.Entropy = A.ent[:mc]
	}
	if opt.MeanLogit {
		out.MeanLogit = A.mlogit[:mc]
		be.SegmentSum(A.seqMeanLogit[:nseq], A.mlogit[:mc], A.tseq[:mc], mc, nseq)
		out.SeqMeanLogitSums = A.seqMeanLogit[:nseq]
	}
	if opt.LogSumP2 {
		out.LogSumP2 = A.lsp2[:mc]
		// WPO: Σ over each sequence of log p(token) − log Σ_v p(v)²
		tmp := A.dlogp[:mc] // free until the backward
		be.Copy(tmp, A.logp[:mc])
		be.Axpy(tmp, -1, A.lsp2[:mc])
		be.SegmentSum(A.seqWPO[:nseq], tmp, A.tseq[:mc], mc, nseq)
		out.SeqWPOSums = A.seqWPO[:nseq]
	}
	if err := be.Sync(); err != nil {
		return nil, fmt.Errorf("model: forward: %w", err)
	}
	if !targets { // a hand-built batch with Labels: per-position outputs for the host
		out.LogProbs = scatter(h.outLogp[:n], A.logp[:mc], h.idx[:mc])
		if opt.Entropy {
			out.Entropy = scatter(h.outEnt[:n], A.ent[:mc], h.idx[:mc])
		}
		if opt.MeanLogit {
			out.MeanLogit = scatter(h.outMeanL[:n], A.mlogit[:mc], h.idx[:mc])
		}
		if opt.LogSumP2 {
			out.LogSumP2 = scatter(h.outLSP2[:n], A.lsp2[:mc], h.idx[:mc])
		}
		out.TargetLogProbs = nil
	}
	m.last = lastForward{ok: true, b: b.B, t: b.T, m: mc, targets: targets, nseq: nseq, par: par != nil,
		noAdapters: opt.NoAdapters, dropout: dropout, logitsKept: mc <= A.rows}
	return out, nil
}

// scatter writes dst[idx[i]] = src[i] and zeroes the rest of dst.
func scatter(dst, src []float32, idx []int32) []float32 {
	clear(dst)
	for i, j := range idx {
		dst[j] = src[i]
	}
	return dst
}

// linearForward: out[N,out] (= or +=) x[N,in]·Wᵀ + b, plus scale·B·A·dropout(x) when the
// module has an adapter and adapters are on. u is the adapter's [N,r] scratch: nil for
// its own planned buffer (saved for the backward), or an inference forward's.
func (m *Model) linearForward(li *linear, out, x []float32, n int, accumulate, useLoRA, dropout bool, layer int, u []float32) {
	x = x[:n*li.in]
	out = out[:n*li.out]
	m.baseForward(li, out, x, n, accumulate)
	if !useLoRA || li.lora == nil {
		return
	}
	ad := li.lora
	r := ad.r
	if u == nil {
		u = ad.u
	}
	xin := x
	if dropout {
		m.be.DropoutMask(ad.mask[:n*li.in], float32(m.lora.Dropout), m.dropoutKey(layer, li.mod))
		xin = m.acts.dxd[:n*li.in] // scratch: dropped input
		m.be.Mul(xin, x, ad.mask[:n*li.in])
	}
	m.be.LinearForward(u[:n*r], xin, ad.a, nil, n, li.in, r, 1, false)
	m.be.LinearForward(out, u[:n*r], ad.b, nil, n, r, li.out, ad.scale, true)
}

// adapterForwardCols: out[N, off:off+li.out] (row stride ld) += scale·B·A·x for li's
// adapter, when it has one (no dropout: FuseGateUp is off with dropout); u as in
// linearForward.
func (m *Model) adapterForwardCols(li *linear, out []float32, off, ld int, x []float32, n int, u []float32) {
	ad := li.lora
	if ad == nil {
		return
	}
	r := ad.r
	if u == nil {
		u = ad.u
	}
	m.be.LinearForward(u[:n*r], x[:n*li.in], ad.a, nil, n, li.in, r, 1, false)
	m.be.Sgemm(false, true, n, li.out, r, ad.scale, u, r, ad.b, r, 1, out[off:], ld)
}

// adapterBackwardCols: the adapter part of linearBackward for an output gradient held in
// columns off:off+li.out of dy (row stride ld): dB, dA, and dx += its input gradient.
func (m *Model) adapterBackwardCols(li *linear, dx, dy []float32, off, ld int, x []float32, n int) {
	ad := li.lora
	if ad == nil {
		return
	}
	r := ad.r
	du := m.acts.du[:n*r]
	m.be.Sgemm(false, false, n, r, li.out, ad.scale, dy[off:], ld, ad.b, r, 0, du, r)   // du = scale·dy·B
	m.be.Sgemm(true, false, li.out, r, n, ad.scale, dy[off:], ld, ad.u, r, 1, ad.db, r) // dB += scale·dyᵀ·u
	m.be.LinearBackward(dx[:n*li.in], ad.da, nil, du, x[:n*li.in], ad.a, n, li.in, r, 1)
}

// dropoutKey is the key of one module's dropout mask in one forward: a hash of the
// seed, the forward count, the layer and the module name, so masks are deterministic
// for a given seed and differ between modules and steps.
func (m *Model) dropoutKey(layer int, mod string) uint64 {
	h := uint64(m.lora.Seed)*0x9E3779B97F4A7C15 ^ m.rng*0xBF58476D1CE4E5B9 ^ uint64(layer)<<32
	for _, c := range mod {
		h = h*131 + uint64(c)
	}
	return h
}

// Backward takes d(loss)/d(log-prob) per token of the latest Forward's batch ([B·T];
// entries at positions without a target are not read) and accumulates the gradients
// of the trainable parameters. Call ZeroGrad first unless accumulating. A batch with a
// shared prompt (several targets at one position) needs BackwardSeq.
func (m *Model) Backward(dlogp []float32) error {
	lf := m.last
	if err := m.canBackward(); err != nil {
		return err
	}
	if lf.par {
		return errors.New("model: Backward with per-token gradients after a batch with shared prompts (use BackwardSeq)")
	}
	n := lf.b * lf.t
	if len(dlogp) != n {
		return fmt.Errorf("model: Backward got %d gradients for a %d×%d batch", len(dlogp), lf.b, lf.t)
	}
	A := &m.acts
	m.be.Upload(A.dtok[:n], dlogp)
	m.be.Gather(A.dlogp[:lf.m], A.dtok[:n], A.idx[:lf.m], lf.m)
	return m.backward()
}

// BackwardSeq is Backward given d(loss)/d(SeqLogProbs[s]) per sequence of the latest
// Forward (every log-prob of sequence s gets gradient dseq[s]).
func (m *Model) BackwardSeq(dseq []float32) error {
	if err := m.canBackward(); err != nil {
		return err
	}
	lf := m.last
	if len(dseq) != lf.nseq {
		return fmt.Errorf("model: BackwardSeq got %d gradients for %d sequences", len(dseq), lf.nseq)
	}
	A := &m.acts
	m.be.Upload(A.dseq[:lf.nseq], dseq)
	m.be.Gather(A.dlogp[:lf.m], A.dseq[:lf.nseq], A.tseq[:lf.m], lf.m)
	return m.backward()
}

func (m *Model) canBackward() error {
	if !m.last.ok {
		return errors.New("model: Backward without a Forward")
	}
	if m.last.noAdapters {
		return errors.New("model: Backward after a forward with adapters disabled (that forward is for reference log-probs only)")
	}
	if m.opt.Frozen {
		return errors.New("model: Backward on a frozen model (Options.Frozen)")
	}
	return nil
}

// backward runs the backward pass from A.dlogp [M] (d(loss)/d(log-prob) per loss row).
func (m *Model) backward() error {
	lf := m.last
	m.last.ok = false // activations are consumed in place
	n := lf.b * lf.t
	a := &m.arch
	A := &m.acts
	be := m.be
	C, V := a.Hidden, a.Vocab
	mc := lf.m
	full := m.lora == nil
	// LM head, chunk by chunk: dlogits written in place over the logits
	dhc := A.dhc[:mc*C]
	be.Zero(dhc)
	var dhead []float32
	if full {
		dhead = m.dhead
	}
	for r0 := 0; r0 < mc; r0 += A.rows {
		r := min(A.rows, mc-r0)
		lg := A.logits[:r*V]
		hc := A.hc[r0*C : (r0+r)*C]
		if !lf.logitsKept {
			m.headForward(lg, hc, r)
		}
		be.LogSoftmaxGatherBackward(lg, A.dlogp[r0:r0+r], lg, A.lse[r0:r0+r], A.lab[r0:r0+r], r, V)
		if m.headP != nil {
			m.packedLinearBackward(dhc[r0*C:(r0+r)*C], lg, m.headP, r, false)
		} else {
			be.LinearBackward(dhc[r0*C:(r0+r)*C], dhead, nil, lg, hc, m.head, r, C, V, 1)
		}
	}
	if m.hiddenGrad != nil { // BackwardHidden: the gradient enters at the final norm's output
		be.Copy(dhc, m.hiddenGrad)
	}
	dxc := A.dxc[:mc*C]
	be.Zero(dxc)
	var dnorm []float32
	if full {
		dnorm = m.dnormW
	}
	be.RMSNormBackward(dxc, dnorm, dhc, A.xc[:mc*C], m.normW, A.rstdc[:mc], mc, C)
	dres := A.dres[:n*C]
	be.Zero(dres)
	be.EmbeddingBackward(dres, A.idx[:mc], dxc, mc, C, n)

	st := stepShape{b: lf.b, t: lf.t, n: n, lora: m.lora != nil, dropout: lf.dropout}
	if lf.par {
		st.par = A.par[:n]
	}
	for l := len(m.layers) - 1; l >= 0; l-- {
		if m.opt.Checkpoint && l < len(m.layers)-1 {
			m.layerForward(l, st) // recompute this layer's activations from res[l]
		}
		m.layerBackward(l, st)
	}
	if full {
		be.EmbeddingBackward(m.dembed, A.ids[:n], dres, n, C, V)
	}
	if err := be.Sync(); err != nil {
		return fmt.Errorf("model: backward: %w", err)
	}
	return nil
}

// linearBackward: dx[N,in] += dy·W (+ the adapter path), and the trainable grads.
func (m *Model) linearBackward(li *linear, dx, dy, x []float32, n int, dropout bool, layer int) {
	m.linearBackwardTo(li, dx, dy, x, n, dropout, layer, false)
}

// linearBackwardTo is linearBackward; with write, dx is overwritten rather than
// accumulated into (its first contribution is a GEMM with beta 0: no zeroing pass).
func (m *Model) linearBackwardTo(li *linear, dx, dy, x []float32, n int, dropout bool, layer int, write bool) {
	x, dx, dy = x[:n*li.in], dx[:n*li.in], dy[:n*li.out]
	if li.pw != nil {
		m.packedLinearBackward(dx, dy, li.pw, n, write) // frozen: no weight gradient
	} else if write {
		m.be.Sgemm(false, false, n, li.in, li.out, 1, dy, li.out, li.w, li.in, 0, dx, li.in) // dx = dy·W
		m.be.LinearBackward(nil, li.dw, li.db, dy, x, li.w, n, li.in, li.out, 1)
	} else {
		m.be.LinearBackward(dx, li.dw, li.db, dy, x, li.w, n, li.in, li.out, 1)
	}
	ad := li.lora
	if ad == nil {
		return
	}
	r := ad.r
	du := m.acts.du[:n*r]
	m.be.Zero(du)
	m.be.LinearBackward(du, ad.db, nil, dy, ad.u[:n*r], ad.b, n, r, li.out, ad.scale)
	if !dropout {
		m.be.LinearBackward(dx, ad.da, nil, du, x, ad.a, n, li.in, r, 1)
		return
	}
	xd := m.acts.dxd[:n*li.in]
	mask := ad.mask[:n*li.in]
	m.be.Mul(xd, x, mask)
	// dA += duᵀ·dropout(x); d(dropout(x)) = du·A, then dx += mask ⊙ that
	m.be.LinearBackward(nil, ad.da, nil, du, xd, ad.a, n, li.in, r, 1)
	m.be.Zero(xd)
	m.be.LinearBackward(xd, nil, nil, du, x, ad.a, n, li.in, r, 1)
	m.be.MulAcc(dx, xd, mask)
}

// stepShape is the shape of the current step: rows, columns, tokens, adapters on,
// dropout masks drawn.
type stepShape struct {
	b, t, n       int
	lora, dropout bool
	par           []int32 // parent segments [N] (shared prompts), nil when none
	// kv is set for a forward through a KV cache (generation): attention reads the
	// cache, into which the layer's k and v are written (layerActs.k/v are views of it).
	kv *kvStep
	// loraU is the adapters' [N,r] scratch of an inference forward (nil: their own).
	loraU []float32
}

// layerForward: res[l+1][N,C] = layer_l(res[l][N,C]), saving what layerBackward needs.
func (m *Model) layerForward(l int, st stepShape) {
	A := &m.acts
	m.layerForwardOn(l, &m.layers[l].acts, A.res[l], A.res[l+1], A.pos, st)
}

// layerForwardOn is decoder layer l: out[N,C] = layer_l(x[N,C]) at positions pos[N],
// its activations written to s. Training (layerForward) and cached decoding
// (KVCache) both run it; with st.kv the attention reads the KV cache, where s.k and
// s.v point, and out may alias x (nothing is saved for a backward).
func (m *Model) layerForwardOn(l int, s *layerActs, x, out []float32, pos []int32, st stepShape) {
	a := &m.arch
	A := &m.acts
	be := m.be
	n, useLoRA, dropout, u := st.n, st.lora, st.dropout, st.loraU
	C, F, QD, KD := a.Hidden, a.FFN, a.qDim(), a.kvDim()
	L := &m.layers[l]
	x = x[:n*C]
	be.RMSNormForward(s.h1[:n*C], s.rstd1[:n], x, L.ln1, n, C, a.Eps)
	q, k := s.q[:n*QD], s.k[:n*KD]
	if a.QKNorm {
		q, k = s.qr[:n*QD], s.kr[:n*KD]
	}
	m.linearForward(&L.q, q, s.h1, n, false, useLoRA, dropout, l, u)
	m.linearForward(&L.k, k, s.h1, n, false, useLoRA, dropout, l, u)
	m.linearForward(&L.v, s.v[:n*KD], s.h1, n, false, useLoRA, dropout, l, u)
	if a.QKNorm {
		be.RMSNormForward(s.q[:n*QD], s.rq[:n*a.Heads], q, L.qnorm, n*a.Heads, a.HeadDim, a.Eps)
		be.RMSNormForward(s.k[:n*KD], s.rk[:n*a.KVHeads], k, L.knorm, n*a.KVHeads, a.HeadDim, a.Eps)
	}
	be.RoPEForward(s.q[:n*QD], pos[:n], m.cos, m.sin, n, a.Heads, a.HeadDim)
	be.RoPEForward(s.k[:n*KD], pos[:n], m.cos, m.sin, n, a.KVHeads, a.HeadDim)
	switch {
	case st.kv != nil:
		st.kv.attend(m, l, s.att[:n*QD], s.q[:n*QD])
	case st.par != nil:
		m.shared.AttentionForwardShared(s.att[:n*QD], s.lse[:n*a.Heads], s.q[:n*QD], s.k[:n*KD], s.v[:n*KD], A.seg[:n], st.par,
			st.b, st.t, a.Heads, a.KVHeads, a.HeadDim, a.window(l))
	default:
		be.AttentionForward(s.att[:n*QD], s.lse[:n*a.Heads], s.q[:n*QD], s.k[:n*KD], s.v[:n*KD], A.seg[:n],
			st.b, st.t, a.Heads, a.KVHeads, a.HeadDim, a.window(l))
	}
	// xmid = x + o_proj(att)
	be.Copy(s.xmid[:n*C], x)
	m.linearForward(&L.o, s.xmid[:n*C], s.att, n, true, useLoRA, dropout, l, u)
	be.RMSNormForward(s.h2[:n*C], s.rstd2[:n], s.xmid[:n*C], L.ln2, n, C, a.Eps)
	if m.fuseGU {
		gu := s.gu[:2*n*F]
		if L.guP != nil {
			m.packedLinearForward(gu, s.h2, L.guP, nil, n, false)
		} else {
			be.LinearForward(gu, s.h2[:n*C], L.gu, nil, n, C, 2*F, 1, false)
		}
		if useLoRA {
			m.adapterForwardCols(&L.gate, gu, 0, 2*F, s.h2, n, u)
			m.adapterForwardCols(&L.up, gu, F, 2*F, s.h2, n, u)
		}
		m.fused.SwiGLUForwardFused(s.act[:n*F], gu, n, F)
	} else {
		m.linearForward(&L.gate, s.gate[:n*F], s.h2, n, false, useLoRA, dropout, l, u)
		m.linearForward(&L.up, s.up[:n*F], s.h2, n, false, useLoRA, dropout, l, u)
		be.SwiGLUForward(s.act[:n*F], s.gate[:n*F], s.up[:n*F], n*F)
	}
	// out = xmid + down_proj(act)
	be.Copy(out[:n*C], s.xmid[:n*C])
	m.linearForward(&L.down, out[:n*C], s.act, n, true, useLoRA, dropout, l, u)
}

// layerBackward: given dres[N,C] = dL/d(res[l+1]), accumulates layer l's parameter
// grads and leaves dL/d(res[l]) in dres.
func (m *Model) layerBackward(l int, st stepShape) {
	a := &m.arch
	A := &m.acts
	be := m.be
	n := st.n
	C, F, QD, KD := a.Hidden, a.FFN, a.qDim(), a.kvDim()
	dres, dh := A.dres[:n*C], A.dh[:n*C]
	L := &m.layers[l]
	s := &L.acts
	// MLP: res[l+1] = xmid + down(silu(gate(h2))·up(h2))
	dact := A.dact[:n*F]
	m.linearBackwardTo(&L.down, dact, dres, s.act, n, st.dropout, l, true)
	if m.fuseGU {
		dgu := A.dgu[:2*n*F]
		m.fused.SwiGLUBackwardFused(dgu, dact, s.gu[:2*n*F], n, F)
		if L.guP != nil {
			m.packedLinearBackward(dh, dgu, L.guP, n, true)
		} else {
			be.Sgemm(false, false, n, C, 2*F, 1, dgu, 2*F, L.gu, C, 0, dh, C) // dh = dgu·W_gu
			be.LinearBackward(nil, L.dgu, nil, dgu, s.h2[:n*C], L.gu, n, C, 2*F, 1)
		}
		if st.lora {
			m.adapterBackwardCols(&L.gate, dh, dgu, 0, 2*F, s.h2, n)
			m.adapterBackwardCols(&L.up, dh, dgu, F, 2*F, s.h2, n)
		}
	} else {
		dgate, dup := A.dgate[:n*F], A.dup[:n*F]
		be.Zero(dgate)
		be.Zero(dup)
		be.SwiGLUBackward(dgate, dup, dact, s.gate[:n*F], s.up[:n*F], n*F)
		m.linearBackwardTo(&L.gate, dh, dgate, s.h2, n, st.dropout, l, true)
		m.linearBackward(&L.up, dh, dup, s.h2, n, st.dropout, l)
	}
	be.RMSNormBackward(dres, L.dln2, dh, s.xmid[:n*C], L.ln2, s.rstd2[:n], n, C)
	// attention: xmid = res[l] + o(attn(rope(q), rope(k), v))
	datt := A.datt[:n*QD]
	m.linearBackwardTo(&L.o, datt, dres, s.att, n, st.dropout, l, true)
	dq, dk, dv := A.dq[:n*QD], A.dk[:n*KD], A.dv[:n*KD]
	be.Zero(dq)
	be.Zero(dk)
	be.Zero(dv)
	if st.par != nil {
		m.shared.AttentionBackwardShared(dq, dk, dv, datt, s.q[:n*QD], s.k[:n*KD], s.v[:n*KD], s.att[:n*QD], s.lse[:n*a.Heads],
			A.seg[:n], st.par, st.b, st.t, a.Heads, a.KVHeads, a.HeadDim, a.window(l))
	} else {
		be.AttentionBackward(dq, dk, dv, datt, s.q[:n*QD], s.k[:n*KD], s.v[:n*KD], s.att[:n*QD], s.lse[:n*a.Heads],
			A.seg[:n], st.b, st.t, a.Heads, a.KVHeads, a.HeadDim, a.window(l))
	}
	be.RoPEBackward(dq, A.pos[:n], m.cos, m.sin, n, a.Heads, a.HeadDim)
	be.RoPEBackward(dk, A.pos[:n], m.cos, m.sin, n, a.KVHeads, a.HeadDim)
	if a.QKNorm {
		dqr, dkr := A.dqr[:n*QD], A.dkr[:n*KD]
		be.Zero(dqr)
		be.Zero(dkr)
		be.RMSNormBackward(dqr, L.dqnorm, dq, s.qr[:n*QD], L.qnorm, s.rq[:n*a.Heads], n*a.Heads, a.HeadDim)
		be.RMSNormBackward(dkr, L.dknorm, dk, s.kr[:n*KD], L.knorm, s.rk[:n*a.KVHeads], n*a.KVHeads, a.HeadDim)
		dq, dk = dqr, dkr
	}
	m.linearBackwardTo(&L.q, dh, dq, s.h1, n, st.dropout, l, true)
	m.linearBackward(&L.k, dh, dk, s.h1, n, st.dropout, l)
	m.linearBackward(&L.v, dh, dv, s.h1, n, st.dropout, l)
	be.RMSNormBackward(dres, L.dln1, dh, A.res[l][:n*C], L.ln1, s.rstd1[:n], n, C)
}
