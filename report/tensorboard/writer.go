package tensorboard

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

// FileVersion is the file_version of the first event of every file.
const FileVersion = "brain.Event:2"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// MaskedCRC is TFRecord's masked CRC-32C of b.
func MaskedCRC(b []byte) uint32 {
	c := crc32.Checksum(b, castagnoli)
	return ((c >> 15) | (c << 17)) + 0xa282ead8
}

// AppendRecord appends data framed as one TFRecord to dst.
func AppendRecord(dst, data []byte) []byte {
	var hdr [8]byte
	binary.LittleEndian.PutUint64(hdr[:], uint64(len(data)))
	dst = append(dst, hdr[:]...)
	dst = binary.LittleEndian.AppendUint32(dst, MaskedCRC(hdr[:]))
	dst = append(dst, data...)
	return binary.LittleEndian.AppendUint32(dst, MaskedCRC(data))
}

// protobuf wire types
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

func appendKey(b []byte, field, wire int) []byte {
	return binary.AppendUvarint(b, uint64(field<<3|wire))
}

func appendBytesField(b []byte, field int, v []byte) []byte {
	b = appendKey(b, field, wireBytes)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// Scalar is one tagged value.
type Scalar struct {
	Tag   string
	Value float64
}

// EncodeEvent encodes a tensorflow.Event: wall_time, step (omitted when 0, as proto3
// does), file_version when not "", and a Summary of the scalars when any.
func EncodeEvent(wall float64, step int64, fileVersion string, scalars []Scalar) []byte {
	var b []byte
	b = appendKey(b, 1, wireFixed64)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(wall))
	if step != 0 {
		b = appendKey(b, 2, wireVarint)
		b = binary.AppendUvarint(b, uint64(step)) // int64: negative values are 10-byte two's complement
	}
	if fileVersion != "" {
		b = appendBytesField(b, 3, []byte(fileVersion))
	}
	if len(scalars) > 0 {
		var sum []byte
		for _, s := range scalars {
			var v []byte
			v = appendBytesField(v, 1, []byte(s.Tag))
			v = appendKey(v, 2, wireFixed32)
			v = binary.LittleEndian.AppendUint32(v, math.Float32bits(float32(s.Value)))
			sum = appendBytesField(sum, 1, v)
		}
		b = appendBytesField(b, 5, sum)
	}
	return b
}

// Tag is the TensorBoard tag transformers' TensorBoardCallback gives a trainer metric
// key: eval_x → eval/x, test_x → test/x, anything else → train/key.
func Tag(key string) string {
	if s, ok := strings.CutPrefix(key, "eval_"); ok {
		return "eval/" + s
	}
	if s, ok := strings.CutPrefix(key, "test_"); ok {
		return "test/" + s
	}
	return "train/" + key
}

// Writer appends events to one event file.
type Writer struct {
	f    *os.File
	w    *bufio.Writer
	path string
	now  func() time.Time
	buf  []byte
}

var fileSeq atomic.Int64

// FileName is the name TensorBoard's EventFileWriter gives a file created at t by this
// process: events.out.tfevents.<unix, 10 digits>.<host>.<pid>.<n>.
func FileName(t time.Time, host string, pid int, n int64) string {
	return fmt.Sprintf("events.out.tfevents.%010d.%s.%d.%d", t.Unix(), host, pid, n)
}

// Create makes dir (and its parents) and a new event file in it, and writes the
// file_version event. now, when nil, is time.Now.
func Create(dir string, now func() time.Time) (*Writer, error) {
	if now == nil {
		now = time.Now
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("tensorboard: %w", err)
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	t := now()
	path := filepath.Join(dir, FileName(t, host, os.Getpid(), fileSeq.Add(1)))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("tensorboard: %w", err)
	}
	w := &Writer{f: f, w: bufio.NewWriter(f), path: path, now: now}
	if err := w.write(EncodeEvent(seconds(t), 0, FileVersion, nil)); err != nil {
		f.Close()
		return nil, err
	}
	return w, w.Flush()
}

func seconds(t time.Time) float64 { return float64(t.Unix()) + float64(t.Nanosecond())/1e9 }

// Path is the event file's path.
func (w *Writer) Path() string { return w.path }

func (w *Writer) write(ev []byte) error {
	w.buf = AppendRecord(w.buf[:0], ev)
	if _, err := w.w.Write(w.buf); err != nil {
		return fmt.Errorf("%s: %w", w.path, err)
	}
	return nil
}

// Log writes the trainer metrics vals at step, one scalar event per key in sorted
// key order, tagged by Tag, and flushes them to the file. Non-finite values are
// written as they are (TensorBoard shows NaN/Inf).
func (w *Writer) Log(step int, vals map[string]float64) error {
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	wall := seconds(w.now())
	for _, k := range keys {
		if err := w.write(EncodeEvent(wall, int64(step), "", []Scalar{{Tag(k), vals[k]}})); err != nil {
			return err
		}
	}
	return w.Flush()
}

// Flush writes buffered events to the file.
func (w *Writer) Flush() error {
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("%s: %w", w.path, err)
	}
	return nil
}

// Close flushes, syncs and closes the file.
func (w *Writer) Close() error {
	if w == nil || w.f == nil {
		return nil
	}
	err := w.Flush()
	if serr := w.f.Sync(); err == nil && serr != nil {
		err = fmt.Errorf("%s: %w", w.path, serr)
	}
	if cerr := w.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("%s: %w", w.path, cerr)
	}
	w.f = nil
	return err
}
