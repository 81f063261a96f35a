package safetensors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"

	"github.com/preftune/preftune/atomicfile"
)

// Tensor is a tensor to write: float32 values in memory, stored on disk as DType
// (F32, BF16 or F16; BF16 and F16 round to nearest, ties to even, as torch's .to() does).
type Tensor struct {
	Name  string
	DType DType
	Shape []int     // row-major; empty for a scalar
	F32   []float32 // len must equal the product of Shape
}

// byteSize is the tensor's size on disk.
func (t *Tensor) byteSize() int64 { return int64(len(t.F32)) * int64(t.DType.Size()) }

// WriteFile writes tensors as one safetensors file at path, atomically: the data goes to a
// temporary file in the same directory, is fsynced and renamed over path, so path holds
// either its old content or the complete new file, never a partial one.
//
// Layout: the header JSON lists __metadata__ (omitted when metadata is empty) and then the
// tensors in data order; it is padded with spaces so the data starts 8-byte aligned. Data
// order is by element size, largest first, then by name, so every tensor starts aligned to
// its element size; output is byte-for-byte deterministic.
func WriteFile(path string, tensors []Tensor, metadata map[string]string) error {
	if err := validateTensors(path, tensors); err != nil {
		return err
	}
	tmp, err := stageFile(path, func(w io.Writer) error { return encodeFile(w, tensors, metadata) })
	if err != nil {
		return err
	}
	return atomicfile.Commit(tmp, path)
}

// validateTensors checks everything before a byte is written.
func validateTensors(path string, tensors []Tensor) error {
	seen := make(map[string]bool, len(tensors))
	for i := range tensors {
		t := &tensors[i]
		switch {
		case t.Name == "":
			return fmt.Errorf("safetensors %s: tensor %d has an empty name", path, i)
		case t.Name == "__metadata__":
			return fmt.Errorf("safetensors %s: tensor name %q is reserved", path, t.Name)
		case seen[t.Name]:
			return fmt.Errorf("safetensors %s: tensor %q given twice", path, t.Name)
		}
		seen[t.Name] = true
		switch t.DType {
		case F32, BF16, F16:
		default:
			return fmt.Errorf("safetensors %s: tensor %q: cannot write dtype %q (want F32, BF16 or F16)", path, t.Name, t.DType)
		}
		n := int64(1)
		for _, d := range t.Shape {
			if d < 0 {
				return fmt.Errorf("safetensors %s: tensor %q: negative dimension in shape %v", path, t.Name, t.Shape)
			}
			if d != 0 && n > math.MaxInt64/int64(d) {
				return fmt.Errorf("safetensors %s: tensor %q: shape %v overflows", path, t.Name, t.Shape)
			}
			n *= int64(d)
		}
		if n != int64(len(t.F32)) {
			return fmt.Errorf("safetensors %s: tensor %q: shape %v has %d elements but %d values were given",
				path, t.Name, t.Shape, n, len(t.F32))
		}
	}
	return nil
}

// dataOrder returns the tensors in on-disk order: element size descending, then name.
func dataOrder(tensors []Tensor) []*Tensor {
	order := make([]*Tensor, len(tensors))
	for i := range tensors {
		order[i] = &tensors[i]
	}
	sort.Slice(order, func(i, j int) bool {
		si, sj := order[i].DType.Size(), order[j].DType.Size()
		if si != sj {
			return si > sj
		}
		return order[i].Name < order[j].Name
	})
	return order
}

// encodeHeader builds the padded JSON header for tensors in the given order.
func encodeHeader(order []*Tensor, metadata map[string]string) ([]byte, error) {
	var b bytes.Buffer
	str := func(s string) error {
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			return err
		}
		b.Truncate(b.Len() - 1) // Encode appends a newline
		return nil
	}
	b.WriteByte('{')
	first := true
	if len(metadata) > 0 {
		keys := make([]string, 0, len(metadata))
		for k := range metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString(`"__metadata__":{`)
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := str(k); err != nil {
				return nil, err
			}
			b.WriteByte(':')
			if err := str(metadata[k]); err != nil {
				return nil, err
			}
		}
		b.WriteByte('}')
		first = false
	}
	var off int64
	for _, t := range order {
		if !first {
			b.WriteByte(',')
		}
		first = false
		if err := str(t.Name); err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, `:{"dtype":"%s","shape":[`, t.DType)
		for i, d := range t.Shape {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(d))
		}
		end := off + t.byteSize()
		fmt.Fprintf(&b, `],"data_offsets":[%d,%d]}`, off, end)
		off = end
	}
	b.WriteByte('}')
	for b.Len()%8 != 0 {
		b.WriteByte(' ')
	}
	return b.Bytes(), nil
}

// encodeFile writes the whole file: length prefix, header, data.
func encodeFile(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	order := dataOrder(tensors)
	hdr, err := encodeHeader(order, metadata)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(hdr)))
	bw.Write(n[:])
	bw.Write(hdr)
	var buf [4096]byte
	for _, t := range order {
		es := t.DType.Size()
		per := len(buf) / es
		for i := 0; i < len(t.F32); i += per {
			vals := t.F32[i:min(i+per, len(t.F32))]
			b := buf[:len(vals)*es]
			encodeValues(t.DType, vals, b)
			if _, err := bw.Write(b); err != nil {
				return err
			}
		}
	}
	return bw.Flush()
}

// encodeValues stores vals as little-endian elements of dtype d in b.
func encodeValues(d DType, vals []float32, b []byte) {
	le := binary.LittleEndian
	switch d {
	case F32:
		for i, v := range vals {
			le.PutUint32(b[4*i:], math.Float32bits(v))
		}
	case BF16:
		for i, v := range vals {
			le.PutUint16(b[2*i:], f32ToBF16(v))
		}
	case F16:
		for i, v := range vals {
			le.PutUint16(b[2*i:], f32ToF16(v))
		}
	}
}

// stageFile stages path's new content (see atomicfile.Stage), naming the format in errors.
func stageFile(path string, write func(io.Writer) error) (string, error) {
	tmp, err := atomicfile.Stage(path, 0o644, write)
	if err != nil {
		return "", fmt.Errorf("safetensors: %w", err)
	}
	return tmp, nil
}
