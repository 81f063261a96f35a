package safetensors

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
	"unsafe"
)

// Reader is what File and Model have in common: loaders can take either.
type Reader interface {
	Tensors() []TensorInfo
	Tensor(name string) (TensorInfo, bool)
	Metadata() map[string]string
	ReadFloat32(name string, dst []float32) error
	ReadInt64(name string, dst []int64) error
	ReadInt32(name string, dst []int32) error
	Close() error
}

// File is one open safetensors file. Only the header is held in memory; tensor data is
// read on demand with ReadAt, so a File is cheap however large the file, and its methods
// are safe for concurrent use.
type File struct {
	path string
	f    *os.File
	r    io.ReaderAt
	h    *header
}

var (
	_ Reader = (*File)(nil)
	_ Reader = (*Model)(nil)
)

// Open opens a safetensors file and validates its header (not its data).
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	if st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("safetensors %s: is a directory (use OpenModel for a model directory): %w", path, ErrInvalid)
	}
	h, err := readHeader(f, st.Size(), path)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &File{path: path, f: f, r: f, h: h}, nil
}

// openReader reads a file held in memory or elsewhere; used by tests and the fuzzer.
func openReader(r io.ReaderAt, size int64, name string) (*File, error) {
	h, err := readHeader(r, size, name)
	if err != nil {
		return nil, err
	}
	return &File{path: name, r: r, h: h}, nil
}

// Path is the path the file was opened with.
func (f *File) Path() string { return f.path }

// Tensors lists the tensors in the order their data appears in the file.
func (f *File) Tensors() []TensorInfo {
	out := make([]TensorInfo, len(f.h.tensors))
	copy(out, f.h.tensors)
	return out
}

// Tensor looks up one tensor by name.
func (f *File) Tensor(name string) (TensorInfo, bool) {
	i, ok := f.h.byName[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.h.tensors[i], true
}

// Metadata is the header's __metadata__ (nil when absent), e.g. {"format": "pt"}.
func (f *File) Metadata() map[string]string {
	if f.h.metadata == nil {
		return nil
	}
	out := make(map[string]string, len(f.h.metadata))
	for k, v := range f.h.metadata {
		out[k] = v
	}
	return out
}

// Close closes the underlying file.
func (f *File) Close() error {
	if f.f == nil {
		return nil
	}
	return f.f.Close()
}

// lookup finds a tensor and checks the destination length.
func (f *File) lookup(name string, dstLen int) (TensorInfo, error) {
	t, ok := f.Tensor(name)
	if !ok {
		return t, fmt.Errorf("safetensors %s: no tensor %q", f.path, name)
	}
	if n := t.NumElements(); dstLen != n {
		return t, fmt.Errorf("safetensors %s: tensor %q has %d elements (shape %v), destination has %d",
			f.path, name, n, t.Shape, dstLen)
	}
	return t, nil
}

// ReadFloat32 reads a tensor into dst (len(dst) must equal its element count), converting
// F16 and BF16 exactly, F64 with rounding, and integers and BOOL as float32(v) does.
func (f *File) ReadFloat32(name string, dst []float32) error {
	t, err := f.lookup(name, len(dst))
	if err != nil {
		return err
	}
	if !t.DType.Float32Readable() {
		return fmt.Errorf("safetensors %s: tensor %q has dtype %s, which cannot be read as float32", f.path, name, t.DType)
	}
	if t.DType == F32 && littleEndianHost {
		// Same layout as dst: read straight into it, no staging buffer.
		return f.readAt(t, float32Bytes(dst), 0)
	}
	return f.convert(t, func(b []byte, at int) {
		out := dst[at : at+len(b)/t.DType.Size()]
		decodeFloat32(t.DType, b, out)
	})
}

// ReadInt64 reads an integer tensor (I64, or a narrower integer type widened) into dst.
func (f *File) ReadInt64(name string, dst []int64) error {
	t, err := f.lookup(name, len(dst))
	if err != nil {
		return err
	}
	switch t.DType {
	case I64, I32, I16, I8, U32, U16, U8, BOOL:
	default:
		return fmt.Errorf("safetensors %s: tensor %q has dtype %s, which cannot be read as int64", f.path, name, t.DType)
	}
	return f.convert(t, func(b []byte, at int) {
		out := dst[at : at+len(b)/t.DType.Size()]
		for i := range out {
			out[i] = intAt(t.DType, b, i)
		}
	})
}

// ReadInt32 reads an I32 tensor (or a narrower integer type widened) into dst.
func (f *File) ReadInt32(name string, dst []int32) error {
	t, err := f.lookup(name, len(dst))
	if err != nil {
		return err
	}
	switch t.DType {
	case I32, I16, I8, U16, U8, BOOL:
	default:
		return fmt.Errorf("safetensors %s: tensor %q has dtype %s, which cannot be read as int32", f.path, name, t.DType)
	}
	return f.convert(t, func(b []byte, at int) {
		out := dst[at : at+len(b)/t.DType.Size()]
		for i := range out {
			out[i] = int32(intAt(t.DType, b, i))
		}
	})
}

// ReadRaw copies a tensor's bytes, exactly as stored (little-endian), into dst, whose
// length must equal the tensor's byte size.
func (f *File) ReadRaw(name string, dst []byte) error {
	t, ok := f.Tensor(name)
	if !ok {
		return fmt.Errorf("safetensors %s: no tensor %q", f.path, name)
	}
	if int64(len(dst)) != t.Size {
		return fmt.Errorf("safetensors %s: tensor %q is %d bytes, destination has %d", f.path, name, t.Size, len(dst))
	}
	return f.readAt(t, dst, 0)
}

// readAt fills b from the tensor's data starting at byte off within the tensor.
func (f *File) readAt(t TensorInfo, b []byte, off int64) error {
	if len(b) == 0 {
		return nil
	}
	if _, err := f.r.ReadAt(b, t.Offset+off); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("safetensors %s: tensor %q: reading data: %w", f.path, t.Name, err)
	}
	return nil
}

// chunkSize bounds the staging buffer of converting reads: memory stays flat whatever the
// tensor size. A multiple of 8 so chunks never split an element.
const chunkSize = 1 << 20

var chunkPool = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

// convert streams the tensor through a pooled chunk buffer, calling fn(bytes, firstElement)
// for each chunk.
func (f *File) convert(t TensorInfo, fn func(b []byte, at int)) error {
	bp := chunkPool.Get().(*[]byte)
	defer chunkPool.Put(bp)
	buf := *bp
	es := int64(t.DType.Size())
	for off := int64(0); off < t.Size; off += chunkSize {
		n := min(t.Size-off, chunkSize)
		if err := f.readAt(t, buf[:n], off); err != nil {
			return err
		}
		fn(buf[:n], int(off/es))
	}
	return nil
}

// decodeFloat32 converts little-endian elements of dtype d in b to float32 in out.
func decodeFloat32(d DType, b []byte, out []float32) {
	le := binary.LittleEndian
	switch d {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
	case BF16:
		for i := range out {
			out[i] = bf16ToF32(le.Uint16(b[2*i:]))
		}
	case F16:
		for i := range out {
			out[i] = f16ToF32(le.Uint16(b[2*i:]))
		}
	case F64:
		for i := range out {
			out[i] = float32(math.Float64frombits(le.Uint64(b[8*i:])))
		}
	default:
		for i := range out {
			out[i] = float32(intAt(d, b, i))
		}
	}
}

// intAt decodes element i of an integer (or BOOL) tensor.
func intAt(d DType, b []byte, i int) int64 {
	le := binary.LittleEndian
	switch d {
	case I64:
		return int64(le.Uint64(b[8*i:]))
	case I32:
		return int64(int32(le.Uint32(b[4*i:])))
	case U32:
		return int64(le.Uint32(b[4*i:]))
	case I16:
		return int64(int16(le.Uint16(b[2*i:])))
	case U16:
		return int64(le.Uint16(b[2*i:]))
	case I8:
		return int64(int8(b[i]))
	case U8, BOOL:
		return int64(b[i])
	}
	panic("safetensors: intAt on " + string(d)) // unreachable: callers check the dtype
}

// littleEndianHost is true where a []float32 has the on-disk (little-endian) byte layout.
var littleEndianHost = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// float32Bytes views a float32 slice as bytes (no copy).
func float32Bytes(s []float32) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), 4*len(s))
}
