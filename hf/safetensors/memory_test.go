package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// makeSparseFile writes a safetensors file of count tensors [rows, cols] of dtype dt
// without materializing the data: the header is written, the file is extended with
// Truncate (a hole reads as zeros), and each tensor's first element gets a marker value i+1.
func makeSparseFile(tb testing.TB, path string, dt DType, count, rows, cols int) int64 {
	tb.Helper()
	var hdr strings.Builder
	hdr.WriteString("{")
	size := int64(rows * cols * dt.Size())
	for i := 0; i < count; i++ {
		if i > 0 {
			hdr.WriteString(",")
		}
		fmt.Fprintf(&hdr, `"t%03d":{"dtype":"%s","shape":[%d,%d],"data_offsets":[%d,%d]}`, i, dt, rows, cols, int64(i)*size, int64(i+1)*size)
	}
	hdr.WriteString("}")
	h := hdr.String()
	for len(h)%8 != 0 {
		h += " "
	}
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	binary.Write(f, binary.LittleEndian, uint64(len(h)))
	f.WriteString(h)
	dataStart := int64(8 + len(h))
	total := dataStart + int64(count)*size
	if err := f.Truncate(total); err != nil {
		tb.Fatal(err)
	}
	for i := 0; i < count; i++ {
		var b []byte
		switch dt {
		case BF16:
			b = binary.LittleEndian.AppendUint16(nil, f32ToBF16(float32(i+1)))
		case F32:
			b = binary.LittleEndian.AppendUint32(nil, math.Float32bits(float32(i+1)))
		}
		if _, err := f.WriteAt(b, dataStart+int64(i)*size); err != nil {
			tb.Fatal(err)
		}
	}
	return total
}

// TestReadLargeFileMemoryStaysFlat reads every tensor of a 208 MiB file into one reused
// caller buffer and checks that the reader itself allocates almost nothing: no whole-file
// buffer, no per-tensor copy, only the pooled chunk.
func TestReadLargeFileMemoryStaysFlat(t *testing.T) {
	dir := t.TempDir()
	const rows, cols = 2048, 2048 // 4 Mi elements: 8 MiB as BF16, 16 MiB as F32
	files := []struct {
		dt    DType
		count int
	}{{BF16, 18}, {F32, 4}}
	var totalBytes int64
	var paths []string
	for _, fc := range files {
		p := filepath.Join(dir, string(fc.dt)+".safetensors")
		totalBytes += makeSparseFile(t, p, fc.dt, fc.count, rows, cols)
		paths = append(paths, p)
	}
	dst := make([]float32, rows*cols)

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for _, p := range paths {
		f, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		for i, info := range f.Tensors() {
			if err := f.ReadFloat32(info.Name, dst); err != nil {
				t.Fatal(err)
			}
			if dst[0] != float32(i+1) || dst[len(dst)-1] != 0 {
				t.Fatalf("%s %s: first/last = %v/%v", p, info.Name, dst[0], dst[len(dst)-1])
			}
		}
		f.Close()
	}
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	heapGrowth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("read %d MiB of tensors: reader allocated %d KiB in total, heap grew %d KiB",
		totalBytes>>20, allocated>>10, heapGrowth>>10)
	if limit := uint64(totalBytes / 50); allocated > limit { // 2% of the data read
		t.Errorf("reader allocated %d bytes reading %d bytes of tensors (limit %d)", allocated, totalBytes, limit)
	}
	if heapGrowth > totalBytes/50 {
		t.Errorf("heap grew %d bytes reading %d bytes of tensors", heapGrowth, totalBytes)
	}
}

func TestConcurrentReads(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.safetensors")
	makeSparseFile(t, p, BF16, 8, 512, 512)
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dst := make([]float32, 512*512)
			for i, info := range f.Tensors() {
				if err := f.ReadFloat32(info.Name, dst); err != nil {
					errs <- err
					return
				}
				if dst[0] != float32(i+1) {
					errs <- fmt.Errorf("%s: first = %v", info.Name, dst[0])
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func benchmarkRead(b *testing.B, dt DType) {
	p := filepath.Join(b.TempDir(), "b.safetensors")
	const rows, cols, count = 2048, 2048, 4
	makeSparseFile(b, p, dt, count, rows, cols)
	f, err := Open(p)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	dst := make([]float32, rows*cols)
	b.SetBytes(int64(count * rows * cols * dt.Size()))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, info := range f.Tensors() {
			if err := f.ReadFloat32(info.Name, dst); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkReadFloat32FromBF16(b *testing.B) { benchmarkRead(b, BF16) }
func BenchmarkReadFloat32FromF32(b *testing.B)  { benchmarkRead(b, F32) }

func BenchmarkWriteBF16(b *testing.B) {
	vals := make([]float32, 4<<20)
	for i := range vals {
		vals[i] = float32(i) * 1e-3
	}
	p := filepath.Join(b.TempDir(), "w.safetensors")
	b.SetBytes(int64(len(vals) * 4))
	for i := 0; i < b.N; i++ {
		if err := WriteFile(p, []Tensor{{Name: "w", DType: BF16, Shape: []int{len(vals)}, F32: vals}}, nil); err != nil {
			b.Fatal(err)
		}
	}
}
