package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
)

// MaxHeaderSize caps the JSON header length (the same 100 MB cap as the reference Rust
// implementation): a larger length prefix is treated as a corrupt or hostile file rather
// than an allocation request.
const MaxHeaderSize = 100_000_000

// ErrInvalid is wrapped by every error about a malformed file or index, so callers can
// tell bad input (errors.Is(err, ErrInvalid)) from I/O failures.
var ErrInvalid = errors.New("invalid safetensors")

// TensorInfo describes one tensor of a file.
type TensorInfo struct {
	Name  string
	DType DType
	Shape []int // row-major; [] is a scalar
	// Offset is the absolute byte offset of the tensor's data in File, Size its length.
	Offset int64
	Size   int64
	// File is the path of the file holding the tensor (a shard, for sharded models).
	File string
}

// NumElements is the product of the shape (1 for a scalar).
func (t TensorInfo) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// header is the parsed header of one file.
type header struct {
	tensors  []TensorInfo // sorted by Offset
	byName   map[string]int
	metadata map[string]string
}

// invalidf builds an ErrInvalid error naming the file.
func invalidf(file, format string, args ...any) error {
	return fmt.Errorf("safetensors %s: %s: %w", file, fmt.Sprintf(format, args...), ErrInvalid)
}

// readHeader reads and validates the header of a safetensors file of the given size:
// u64 little-endian header length N, N bytes of JSON, then the data section, which the
// tensors' data_offsets must tile exactly (no gaps, no overlaps, nothing left over).
func readHeader(r io.ReaderAt, size int64, file string) (*header, error) {
	if size < 8 {
		return nil, invalidf(file, "file is %d bytes, too short for the 8-byte header length", size)
	}
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, fmt.Errorf("safetensors %s: reading header length: %w", file, err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > MaxHeaderSize {
		return nil, invalidf(file, "header length %d exceeds the %d-byte limit", n, MaxHeaderSize)
	}
	if int64(n) > size-8 {
		return nil, invalidf(file, "header length %d runs past the end of the %d-byte file (truncated?)", n, size)
	}
	js := make([]byte, n)
	if _, err := r.ReadAt(js, 8); err != nil && n > 0 {
		return nil, fmt.Errorf("safetensors %s: reading header: %w", file, err)
	}
	return parseHeader(js, 8+int64(n), size-8-int64(n), file)
}

// rawTensor is a header entry before validation. Numbers stay json.Number so negative,
// fractional and oversized values get their own messages instead of a decode error.
type rawTensor struct {
	DType       *string       `json:"dtype"`
	Shape       []json.Number `json:"shape"`
	DataOffsets []json.Number `json:"data_offsets"`
}

// parseHeader validates the JSON header js. dataStart is the absolute offset of the data
// section and dataLen its length.
func parseHeader(js []byte, dataStart, dataLen int64, file string) (*header, error) {
	trimmed := bytes.TrimLeft(js, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, invalidf(file, "header is not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return nil, invalidf(file, "header JSON: %v", err)
	}
	h := &header{byName: map[string]int{}}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, invalidf(file, "header JSON: %v", err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, invalidf(file, "header JSON: expected a key, got %v", tok)
		}
		if seen[name] {
			return nil, invalidf(file, "header lists %q twice", name)
		}
		seen[name] = true
		if name == "__metadata__" {
			var md map[string]any
			if err := dec.Decode(&md); err != nil {
				return nil, invalidf(file, "__metadata__: %v", err)
			}
			if h.metadata, err = stringMetadata(md); err != nil {
				return nil, invalidf(file, "__metadata__: %v", err)
			}
			continue
		}
		var rt rawTensor
		if err := dec.Decode(&rt); err != nil {
			return nil, invalidf(file, "tensor %q: header JSON: %v", name, err)
		}
		ti, err := rt.validate(name, dataStart, dataLen)
		if err != nil {
			return nil, invalidf(file, "tensor %q: %v", name, err)
		}
		ti.File = file
		h.tensors = append(h.tensors, ti)
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, invalidf(file, "header JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, invalidf(file, "header has data after the JSON object")
	}
	if err := checkTiling(h.tensors, dataStart, dataLen); err != nil {
		return nil, invalidf(file, "%v", err)
	}
	for i, t := range h.tensors {
		h.byName[t.Name] = i
	}
	return h, nil
}

// stringMetadata checks that __metadata__ maps strings to strings, as the format requires.
func stringMetadata(md map[string]any) (map[string]string, error) {
	out := make(map[string]string, len(md))
	for k, v := range md {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("value of %q is %T, want a string", k, v)
		}
		out[k] = s
	}
	return out, nil
}

// validate checks one entry on its own: dtype, shape, offsets and their agreement.
func (rt *rawTensor) validate(name string, dataStart, dataLen int64) (TensorInfo, error) {
	ti := TensorInfo{Name: name}
	if rt.DType == nil {
		return ti, errors.New("missing dtype")
	}
	ti.DType = DType(*rt.DType)
	if !ti.DType.Valid() {
		return ti, fmt.Errorf("unknown dtype %q", *rt.DType)
	}
	if rt.Shape == nil {
		return ti, errors.New("missing shape")
	}
	if rt.DataOffsets == nil {
		return ti, errors.New("missing data_offsets")
	}
	ti.Shape = make([]int, len(rt.Shape))
	numel := int64(1)
	for i, d := range rt.Shape {
		v, err := nonNegative(d)
		if err != nil {
			return ti, fmt.Errorf("shape[%d]: %v", i, err)
		}
		if v != 0 && numel > math.MaxInt64/v {
			return ti, fmt.Errorf("shape %v has too many elements", rt.Shape)
		}
		numel *= v
		ti.Shape[i] = int(v)
	}
	if len(rt.DataOffsets) != 2 {
		return ti, fmt.Errorf("data_offsets has %d numbers, want 2", len(rt.DataOffsets))
	}
	begin, err := nonNegative(rt.DataOffsets[0])
	if err != nil {
		return ti, fmt.Errorf("data_offsets[0]: %v", err)
	}
	end, err := nonNegative(rt.DataOffsets[1])
	if err != nil {
		return ti, fmt.Errorf("data_offsets[1]: %v", err)
	}
	if end < begin {
		return ti, fmt.Errorf("data_offsets [%d, %d] end before they begin", begin, end)
	}
	if end > dataLen {
		return ti, fmt.Errorf("data_offsets [%d, %d] run past the %d-byte data section (truncated file?)", begin, end, dataLen)
	}
	size := int64(ti.DType.Size())
	if numel > math.MaxInt64/size || numel*size != end-begin {
		return ti, fmt.Errorf("shape %v of %s needs %d bytes but data_offsets [%d, %d] hold %d",
			ti.Shape, ti.DType, numel*size, begin, end, end-begin)
	}
	ti.Offset = dataStart + begin
	ti.Size = end - begin
	return ti, nil
}

// nonNegative parses a JSON number that must be a non-negative integer.
func nonNegative(n json.Number) (int64, error) {
	v, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s is not an integer in range", n)
	}
	if v < 0 {
		return 0, fmt.Errorf("%d is negative", v)
	}
	return v, nil
}

// checkTiling sorts tensors by offset and checks they cover the data section exactly.
func checkTiling(ts []TensorInfo, dataStart, dataLen int64) error {
	sort.SliceStable(ts, func(i, j int) bool {
		if ts[i].Offset != ts[j].Offset {
			return ts[i].Offset < ts[j].Offset
		}
		return ts[i].Size < ts[j].Size
	})
	next := dataStart
	prev := ""
	for _, t := range ts {
		switch {
		case t.Offset < next:
			return fmt.Errorf("tensor %q (data_offsets [%d, %d]) overlaps tensor %q",
				t.Name, t.Offset-dataStart, t.Offset-dataStart+t.Size, prev)
		case t.Offset > next:
			return fmt.Errorf("tensor %q starts at data offset %d, leaving a %d-byte gap after %s",
				t.Name, t.Offset-dataStart, t.Offset-next, describePrev(prev))
		}
		next = t.Offset + t.Size
		prev = t.Name
	}
	if covered := next - dataStart; covered != dataLen {
		return fmt.Errorf("tensors cover %d bytes but the data section has %d (%d unexplained bytes at the end)",
			covered, dataLen, dataLen-covered)
	}
	return nil
}

func describePrev(prev string) string {
	if prev == "" {
		return "the start of the data section"
	}
	return fmt.Sprintf("tensor %q", prev)
}
