package kernels

import (
	"fmt"
	"github.com/preftune/preftune/internal/goroutine"
	"math"
	"runtime"

	"github.com/preftune/preftune/hf/safetensors"
	"github.com/preftune/preftune/quant"
)

// Packed is a frozen weight matrix W[Rows,Cols] kept in a compact storage dtype (16-bit
// bf16/f16 bits, or bitsandbytes 4-bit codes): the LoRA base, a reference model, every
// inference command. It lives in host memory and is expanded to float32 rows on demand
// (DequantizeRows); its values are exactly the float32 ones a float32 load of the same
// checkpoint would hold (bf16/f16 widen exactly; 4-bit dequantizes as bitsandbytes does).
//
// Rows are split into Parts that are stored independently (a fused gate_proj|up_proj is
// two parts, each quantized with its own block scales).
type Packed struct {
	Rows, Cols int
	Parts      []PackedPart
}

// PackedPart is a run of consecutive rows with one storage format: Bits (BF16/F16) or Q4.
type PackedPart struct {
	Rows  int
	DType safetensors.DType // BF16 or F16 for Bits
	Bits  []uint16          // [Rows·Cols]
	Q4    *quant.Weight4    // [Rows, Cols] 4-bit
}

// NewPacked16 packs a float32 matrix whose values are representable in dt (BF16 or F16).
func NewPacked16(rows, cols int, dt safetensors.DType, bits []uint16) (*Packed, error) {
	if dt != safetensors.BF16 && dt != safetensors.F16 {
		return nil, fmt.Errorf("kernels: 16-bit packed storage of %s (want BF16 or F16)", dt)
	}
	if len(bits) != rows*cols {
		return nil, fmt.Errorf("kernels: %d values for a [%d,%d] packed matrix", len(bits), rows, cols)
	}
	return &Packed{Rows: rows, Cols: cols, Parts: []PackedPart{{Rows: rows, DType: dt, Bits: bits}}}, nil
}

// NewPacked4 wraps a 4-bit weight of shape [rows, cols].
func NewPacked4(w *quant.Weight4) (*Packed, error) {
	if len(w.Shape) != 2 {
		return nil, fmt.Errorf("kernels: 4-bit weight of shape %v is not a matrix", w.Shape)
	}
	return &Packed{Rows: w.Shape[0], Cols: w.Shape[1], Parts: []PackedPart{{Rows: w.Shape[0], Q4: w}}}, nil
}

// Concat stacks packed matrices with the same column count (rows of a after rows of b…).
func Concat(ps ...*Packed) (*Packed, error) {
	out := &Packed{Cols: ps[0].Cols}
	for _, p := range ps {
		if p.Cols != out.Cols {
			return nil, fmt.Errorf("kernels: concatenating packed matrices of %d and %d columns", out.Cols, p.Cols)
		}
		out.Rows += p.Rows
		out.Parts = append(out.Parts, p.Parts...)
	}
	return out, nil
}

// Bytes is the host memory the packed values take.
func (p *Packed) Bytes() int64 {
	var b int64
	for _, pt := range p.Parts {
		if pt.Q4 != nil {
			b += pt.Q4.Bytes()
		} else {
			b += 2 * int64(len(pt.Bits))
		}
	}
	return b
}

// DequantizeRows writes rows [r0, r1) as float32 into dst[(r1−r0)·Cols], in parallel
// over up to threads goroutines.
func (p *Packed) DequantizeRows(dst []float32, r0, r1, threads int) {
	n := (r1 - r0) * p.Cols
	dst = dst[:n]
	if threads < 1 {
		threads = runtime.GOMAXPROCS(0)
	}
	const minPerThread = 1 << 16
	threads = max(1, min(threads, n/minPerThread))
	goroutine.Ranges(n, threads, func(lo, hi int) {
		p.dequantize(dst[lo:hi], r0*p.Cols+lo, r0*p.Cols+hi)
	})
}

// dequantize writes the flat elements [lo, hi) of W into dst[hi−lo].
func (p *Packed) dequantize(dst []float32, lo, hi int) {
	base := 0 // first flat element of the current part
	for _, pt := range p.Parts {
		end := base + pt.Rows*p.Cols
		a, b := max(lo, base), min(hi, end)
		if a < b {
			out := dst[a-lo : b-lo]
			switch {
			case pt.Q4 != nil:
				dequant4(out, pt.Q4, a-base, b-base)
			case pt.DType == safetensors.BF16:
				for i, h := range pt.Bits[a-base : b-base] {
					out[i] = math.Float32frombits(uint32(h) << 16)
				}
			default:
				for i, h := range pt.Bits[a-base : b-base] {
					out[i] = safetensors.FromF16Bits(h)
				}
			}
		}
		base = end
	}
}

// dequant4 expands values [lo, hi) of w, decoding only the block scales it needs.
func dequant4(dst []float32, w *quant.Weight4, lo, hi int) {
	var scales [64]float32
	for a := lo; a < hi; {
		// one span of whole blocks per round: at most len(scales) blocks
		b0 := a / w.Blocksize
		b1 := min((hi+w.Blocksize-1)/w.Blocksize, b0+len(scales))
		b := min(hi, b1*w.Blocksize)
		w.ScalesInto(scales[:b1-b0], b0)
		w.DequantizeWithScales(dst[a-lo:b-lo], scales[:b1-b0], b0, a, b)
		a = b
	}
}

// RowsBF16 writes rows [r0, r1) as bfloat16 bit patterns into dst[(r1−r0)·Cols]: BF16
// parts are copied, others expanded to float32 (through tmp, at least as long as dst)
// and rounded to nearest even.
func (p *Packed) RowsBF16(dst []uint16, tmp []float32, r0, r1, threads int) {
	n := (r1 - r0) * p.Cols
	dst = dst[:n]
	lo, hi := r0*p.Cols, r1*p.Cols
	base := 0
	for _, pt := range p.Parts {
		end := base + pt.Rows*p.Cols
		a, b := max(lo, base), min(hi, end)
		if a < b {
			out := dst[a-lo : b-lo]
			if pt.Q4 == nil && pt.DType == safetensors.BF16 {
				copy(out, pt.Bits[a-base:b-base])
			} else {
				f := tmp[:b-a]
				(&Packed{Rows: pt.Rows, Cols: p.Cols, Parts: []PackedPart{pt}}).DequantizeRows(f, (a-base)/p.Cols, (b-base)/p.Cols, threads)
				for i, x := range f {
					out[i] = safetensors.BF16Bits(x)
				}
			}
		}
		base = end
	}
}

// StoredBF16 returns the stored bfloat16 bits of rows [r0, r1) when row r0 lies in a
// BF16 part, r1 being that part's last row + 1 (a fused matrix of BF16 parts is walked
// part by part); ok is false for F16 and 4-bit parts, which must be expanded.
func (p *Packed) StoredBF16(r0 int) (bits []uint16, r1 int, ok bool) {
	base := 0
	for _, pt := range p.Parts {
		if r0 < base+pt.Rows {
			if pt.Q4 != nil || pt.DType != safetensors.BF16 {
				return nil, r0, false
			}
			return pt.Bits[(r0-base)*p.Cols : pt.Rows*p.Cols], base + pt.Rows, true
		}
		base += pt.Rows
	}
	return nil, r0, false
}
