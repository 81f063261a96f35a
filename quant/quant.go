package quant

import (
	"fmt"
	"github.com/preftune/preftune/internal/goroutine"
	"math"
	"runtime"
	"sort"

	"github.com/preftune/preftune/hf/safetensors"
)

// Type is a 4-bit code book: "nf4" or "fp4" (bnb_4bit_quant_type).
type Type string

const (
	NF4 Type = "nf4"
	FP4 Type = "fp4"
)

// nf4 is bitsandbytes' NormalFloat4 code (quantiles of N(0,1), normalised to [-1,1]).
var nf4 = [16]float32{-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
	-0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534,
	0.16093020141124725, 0.24611230194568634, 0.33791524171829224, 0.44070982933044434,
	0.5626170039176941, 0.7229568362236023, 1.0}

// fp4Raw is bitsandbytes' FP4 (1 sign, 2 exponent, 1 mantissa bit, bias 2) in bit-pattern
// order; the code is these divided by their largest magnitude, 12.
var fp4Raw = [16]float32{0, 0.0625, 8, 12, 4, 6, 2, 3, float32(math.Copysign(0, -1)), -0.0625, -8, -12, -4, -6, -2, -3}

// Code is t's code book, indexed by the 4-bit value.
func Code(t Type) ([16]float32, error) {
	switch t {
	case NF4:
		return nf4, nil
	case FP4:
		var c [16]float32
		for i, v := range fp4Raw {
			c[i] = v / 12
		}
		return c, nil
	}
	return [16]float32{}, fmt.Errorf("quant: unknown 4-bit type %q (want nf4 or fp4)", t)
}

// DynamicMap is bitsandbytes' signed 8-bit dynamic code (create_dynamic_map(signed=True,
// max_exponent_bits=7, total_bits=8)), sorted: the code double quantization uses.
func DynamicMap() []float32 {
	const maxExp, nonSign = 7, 7
	var data []float32
	add := func(scale float64, means []float32) {
		for _, m := range means {
			data = append(data, float32(scale)*m)
		}
		for _, m := range means {
			data = append(data, float32(-scale)*m)
		}
	}
	for i := range maxExp {
		items := 1<<(i+nonSign-maxExp) + 1
		add(math.Pow(10, float64(-(maxExp-1)+i)), linspaceMeans(items))
	}
	// 2^(nonSign−maxExp) − 1 = 0 additional items for the default arguments
	data = append(data, 0, 1)
	for len(data) < 256 {
		data = append(data, 0)
	}
	sort.Slice(data, func(a, b int) bool { return data[a] < data[b] })
	return data
}

// linspaceMeans is (b[:-1]+b[1:])/2 for b = torch.linspace(0.1, 1, n) in float32, bit for
// bit as torch's CPU kernel builds b (checked against torch 1.13 for every n used here):
// element i is start + step·i below n/2 and end − step·(n−1−i) from there, with one
// rounding (the kernel's FMA); inside each pair of 8-lane vectors lane j is the vector's
// first element + step·j, rounded twice (Vectorized::arange).
func linspaceMeans(n int) []float32 {
	start, end := float32(0.1), float32(1)
	step := (end - start) / float32(n-1)
	at := func(i int) float32 {
		if i < n/2 {
			return float32(math.FMA(float64(step), float64(i), float64(start)))
		}
		return float32(math.FMA(float64(-step), float64(n-1-i), float64(end)))
	}
	const lanes = 8
	b := make([]float32, n)
	i := 0
	for ; i+2*lanes <= n; i += 2 * lanes {
		for v := i; v < i+2*lanes; v += lanes {
			base := at(v)
			for j := range lanes {
				b[v+j] = base + float32(step*float32(j))
			}
		}
	}
	for ; i < n; i++ {
		b[i] = at(i)
	}
	m := make([]float32, n-1)
	for i := range m {
		m[i] = float32(b[i]+b[i+1]) / 2
	}
	return m
}

// Weight4 is one 4-bit quantized tensor with its quantization state.
type Weight4 struct {
	Type      Type
	Blocksize int
	Shape     []int
	DType     safetensors.DType // the dtype it was quantized from (F32, BF16, F16): dequantized values are rounded to it
	Packed    []byte            // ⌈n/2⌉ bytes, element 2i in the high nibble of byte i
	Code      [16]float32       // quant_map

	// Absmax is the float32 scale per block when not Nested.
	Absmax []float32

	// Double quantization: the block scales are Offset + Code2[QAbsmax[i]]·Absmax2[i/NestedBlocksize].
	Nested          bool
	QAbsmax         []byte
	Absmax2         []float32
	Code2           []float32
	Offset          float32
	NestedBlocksize int
}

// N is the number of values.
func (w *Weight4) N() int {
	n := 1
	for _, s := range w.Shape {
		n *= s
	}
	return n
}

// Blocks is the number of blocks (the last may be short).
func (w *Weight4) Blocks() int { return (w.N() + w.Blocksize - 1) / w.Blocksize }

// Bytes is the storage the quantized tensor holds (packed codes and scales).
func (w *Weight4) Bytes() int64 {
	b := int64(len(w.Packed)) + 4*int64(len(w.Absmax)) + int64(len(w.QAbsmax)) + 4*int64(len(w.Absmax2))
	return b
}

// Scales is the float32 scale of every block: Absmax, or the double-quantized scales
// decoded as bitsandbytes' dequantize_blockwise does (float32 product, then + offset).
func (w *Weight4) Scales() []float32 {
	if !w.Nested {
		return w.Absmax
	}
	s := make([]float32, len(w.QAbsmax))
	for i, q := range w.QAbsmax {
		s[i] = float32(w.Code2[q]*w.Absmax2[i/w.NestedBlocksize]) + w.Offset
	}
	return s
}

// Dequantize writes values [lo, hi) of the row-major tensor into dst[:hi-lo] with the
// block scales s (from Scales): code[nibble]·scale in float32, rounded to DType.
func (w *Weight4) Dequantize(dst []float32, s []float32, lo, hi int) {
	w.DequantizeWithScales(dst, s, 0, lo, hi)
}

// Quantize4 quantizes src (row-major, shape) to t in blocks of blocksize, as
// bitsandbytes.functional.quantize_4bit does; double quantizes the scales when double.
// dtype is the dtype src was read from (its values must be representable in it).
func Quantize4(src []float32, shape []int, dtype safetensors.DType, t Type, blocksize int, double bool) (*Weight4, error) {
	switch blocksize {
	case 32, 64, 128, 256, 512, 1024, 2048, 4096:
	default:
		return nil, fmt.Errorf("quant: invalid blocksize %d (bitsandbytes takes 32, 64, …, 4096)", blocksize)
	}
	code, err := Code(t)
	if err != nil {
		return nil, err
	}
	w := &Weight4{Type: t, Blocksize: blocksize, Shape: append([]int(nil), shape...), DType: dtype, Code: code}
	if w.N() != len(src) {
		return nil, fmt.Errorf("quant: shape %v holds %d values, have %d", shape, w.N(), len(src))
	}
	// Sorted code with its 4-bit values; torch.argsort's order for FP4's ±0 is 0 before 8
	// (a stable sort), which only decides the nibble of an exact zero.
	order := make([]int, 16)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return code[order[a]] < code[order[b]] })
	bounds := make([]float32, 15)
	for i := range bounds {
		bounds[i] = float32(code[order[i]]+code[order[i+1]]) / 2
	}
	scaled, absmax := scaleBlocks(src, blocksize)
	if len(scaled)%2 == 1 {
		scaled = append(scaled, 0) // bitsandbytes pads an odd tensor with a zero, quantized as any value
	}
	w.Packed = make([]byte, len(scaled)/2)
	parallel(len(w.Packed), func(lo, hi int) { // byte ranges: two values each
		for j := lo; j < hi; j++ {
			w.Packed[j] = byte(order[bucket(bounds, scaled[2*j])])<<4 | byte(order[bucket(bounds, scaled[2*j+1])])
		}
	})
	if !double {
		w.Absmax = absmax
		return w, nil
	}
	// offset = absmax.mean(); the scales minus it, 8-bit blockwise in blocks of 256.
	var sum float64
	for _, a := range absmax {
		sum += float64(a)
	}
	w.Nested, w.NestedBlocksize, w.Offset, w.Code2 = true, 256, float32(sum/float64(len(absmax))), DynamicMap()
	centred := make([]float32, len(absmax))
	for i, a := range absmax {
		centred[i] = a - w.Offset
	}
	w.QAbsmax, w.Absmax2 = Quantize8(centred, w.Code2, 256)
	return w, nil
}

// Quantize8 is bitsandbytes' 8-bit blockwise quantization of src with a sorted code of
// 256 values: indices and the float32 absmax of each block.
func Quantize8(src []float32, code []float32, blocksize int) ([]byte, []float32) {
	bounds := make([]float32, len(code)-1)
	for i := range bounds {
		bounds[i] = float32(code[i]+code[i+1]) / 2
	}
	scaled, absmax := scaleBlocks(src, blocksize)
	q := make([]byte, len(src))
	for i, x := range scaled {
		q[i] = byte(bucket(bounds, x))
	}
	return q, absmax
}

// scaleBlocks is clamp(x·(1/absmax), −1, 1) per full block and clamp(x/absmax) for the
// short last block (bitsandbytes divides there), with absmax clamped below at 1e-38.
func scaleBlocks(src []float32, blocksize int) (scaled, absmax []float32) {
	n := len(src)
	full := n - n%blocksize
	scaled = make([]float32, n)
	absmax = make([]float32, (n+blocksize-1)/blocksize)
	parallel(len(absmax), func(b0, b1 int) {
		scaleRange(src, scaled, absmax, blocksize, full, b0, b1)
	})
	return scaled, absmax
}

// scaleRange scales blocks [b0, b1).
func scaleRange(src, scaled, absmax []float32, blocksize, full, b0, b1 int) {
	n := len(src)
	for b := b0; b < b1; b++ {
		lo := b * blocksize
		hi := min(lo+blocksize, n)
		var m float32
		for _, x := range src[lo:hi] {
			m = max(m, float32(math.Abs(float64(x))))
		}
		absmax[b] = m
		d := max(m, 1e-38)
		if hi <= full {
			inv := 1 / d
			for i := lo; i < hi; i++ {
				scaled[i] = clamp1(float32(src[i] * inv))
			}
		} else {
			for i := lo; i < hi; i++ {
				scaled[i] = clamp1(src[i] / d)
			}
		}
	}
}

func clamp1(x float32) float32 { return min(max(x, -1), 1) }

// bucket is torch.bucketize(x, bounds) (right=False): the number of bounds below x.
func bucket(bounds []float32, x float32) int {
	return sort.Search(len(bounds), func(i int) bool { return bounds[i] >= x })
}

// ScalesInto writes the scales of blocks [b0, b0+len(dst)) into dst (see Scales).
func (w *Weight4) ScalesInto(dst []float32, b0 int) {
	if !w.Nested {
		copy(dst, w.Absmax[b0:b0+len(dst)])
		return
	}
	for i := range dst {
		b := b0 + i
		dst[i] = float32(w.Code2[w.QAbsmax[b]]*w.Absmax2[b/w.NestedBlocksize]) + w.Offset
	}
}

// DequantizeWithScales is Dequantize of values [lo, hi) with s[j] the scale of block b0+j.
func (w *Weight4) DequantizeWithScales(dst []float32, s []float32, b0, lo, hi int) {
	dst = dst[:hi-lo]
	bs := w.Blocksize
	round := w.DType != safetensors.F32
	for i := lo; i < hi; i++ {
		b := w.Packed[i>>1]
		nib := b >> 4
		if i&1 == 1 {
			nib = b & 0xF
		}
		v := w.Code[nib] * s[i/bs-b0]
		if round {
			v = safetensors.RoundTo(w.DType, v)
		}
		dst[i-lo] = v
	}
}

// parallel runs f over [0, n) in up to GOMAXPROCS contiguous ranges.
func parallel(n int, f func(lo, hi int)) {
	goroutine.Ranges(n, min(runtime.GOMAXPROCS(0), n/4096), f)
}
