package preflight

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// Available is the memory a run may still take, and what limits it.
type Available struct {
	Bytes  int64
	Source string // "MemAvailable", "cgroup memory.max", "RLIMIT_AS (ulimit -v)"
}

func (a Available) String() string { return fmt.Sprintf("%s available (%s)", Human(a.Bytes), a.Source) }

// System is where the limits are read from: the root of /proc and /sys (tests point it
// at a crafted tree) and the address-space limit.
type System struct {
	Root string // "" is "/"
	// AddressSpace returns RLIMIT_AS's soft limit (ok false: unlimited) and the
	// address space in use; nil reads the process's own.
	AddressSpace func() (limit, used int64, ok bool)
}

// Host is this machine as this process sees it.
var Host = System{}

func (s System) path(p string) string { return filepath.Join(s.orRoot(), p) }

func (s System) orRoot() string {
	if s.Root == "" {
		return "/"
	}
	return s.Root
}

// Available is the least of MemAvailable, the cgroup's headroom, the address-space
// headroom and $PREFTUNE_MEMORY_LIMIT (a size such as 8GiB: a machine smaller than this
// one, for tests or to leave room for others). ok is false when none could be read (then nothing is refused).
func (s System) Available() (Available, bool) {
	var best Available
	found := false
	consider := func(b int64, src string) {
		if b < 0 {
			b = 0
		}
		if !found || b < best.Bytes {
			best, found = Available{Bytes: b, Source: src}, true
		}
	}
	if v, ok := s.memAvailable(); ok {
		consider(v, "MemAvailable in /proc/meminfo")
	}
	if lim, cur, ok := s.cgroup(); ok {
		consider(lim-cur, "cgroup memory.max minus memory.current less inactive file cache")
	}
	if v := os.Getenv("PREFTUNE_MEMORY_LIMIT"); v != "" {
		if b, err := ParseBytes(v); err == nil {
			consider(b, "PREFTUNE_MEMORY_LIMIT")
		}
	}
	as := s.AddressSpace
	if as == nil {
		as = ownAddressSpace
	}
	if lim, used, ok := as(); ok {
		consider(lim-used, "RLIMIT_AS (ulimit -v) minus the address space in use")
	}
	return best, found
}

// HardLimit is the memory this process may use at all: the cgroup's memory.max (ok
// false when there is none), for the Go runtime's soft limit.
func HardLimit() (int64, bool) {
	lim, _, ok := Host.cgroup()
	return lim, ok
}

func (s System) memAvailable() (int64, bool) {
	raw, err := os.ReadFile(s.path("proc/meminfo"))
	if err != nil {
		return 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemAvailable:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0, false
			}
			return kb << 10, true
		}
	}
	return 0, false
}

// cgroup reads the limit and usage of this process's cgroup (v2: memory.max and
// memory.current under the path /proc/self/cgroup names; v1: the memory controller's
// limit_in_bytes and usage_in_bytes). The usage leaves out the inactive file cache
// (memory.stat), which the kernel reclaims before it would refuse a page. ok is false
// without a limit.
func (s System) cgroup() (limit, current int64, ok bool) {
	var v2, v1 []string
	if raw, err := os.ReadFile(s.path("proc/self/cgroup")); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			f := strings.SplitN(line, ":", 3)
			switch {
			case len(f) != 3:
			case f[0] == "0" && f[1] == "":
				v2 = append(v2, s.path(filepath.Join("sys/fs/cgroup", f[2])))
			case slices.Contains(strings.Split(f[1], ","), "memory"):
				v1 = append(v1, s.path(filepath.Join("sys/fs/cgroup/memory", f[2])))
			}
		}
	}
	v2 = append(v2, s.path("sys/fs/cgroup"))
	v1 = append(v1, s.path("sys/fs/cgroup/memory"))
	for _, d := range v2 {
		lim, ok1 := readInt(filepath.Join(d, "memory.max"))
		cur, ok2 := readInt(filepath.Join(d, "memory.current"))
		if ok1 && ok2 {
			return lim, cur - statValue(filepath.Join(d, "memory.stat"), "inactive_file"), true
		}
	}
	for _, d := range v1 {
		lim, ok1 := readInt(filepath.Join(d, "memory.limit_in_bytes"))
		cur, ok2 := readInt(filepath.Join(d, "memory.usage_in_bytes"))
		if ok1 && ok2 && lim < 1<<62 { // v1 writes a huge number for "no limit"
			return lim, cur - statValue(filepath.Join(d, "memory.stat"), "total_inactive_file"), true
		}
	}
	return 0, 0, false
}

// statValue is the value of key in a memory.stat file (0 when absent).
func statValue(path, key string) int64 {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == key {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			return v
		}
	}
	return 0
}

// readInt reads a file holding one integer ("max" is no limit: ok false).
func readInt(path string) (int64, bool) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
	return v, err == nil
}

func ownAddressSpace() (limit, used int64, ok bool) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_AS, &rl); err != nil || rl.Cur > 1<<62 {
		return 0, 0, false
	}
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0, false
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, found := strings.CutPrefix(line, "VmSize:"); found {
			f := strings.Fields(rest)
			if len(f) > 0 {
				if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					used = kb << 10
				}
			}
		}
	}
	return int64(rl.Cur), used, true
}

// Error is a run that does not fit; its message is the advice.
type Error struct {
	Estimate  Estimate
	Available Available
	Hints     []string
}

func (e *Error) Error() string {
	hints := ""
	if len(e.Hints) > 0 {
		hints = "; try " + strings.Join(e.Hints, " / ")
	}
	return fmt.Sprintf("memory preflight: needs %s; %s%s (PREFTUNE_NO_PREFLIGHT=1 skips this check)", e.Estimate, e.Available, hints)
}

// TrainHints is the advice for a training run that does not fit.
var TrainHints = []string{"LoRA (finetuning_type: lora)", "load_in_4bit", "a smaller per_device_train_batch_size or max_length", "gradient_checkpointing"}

// Check refuses an estimate larger than what s makes available: an *Error, or nil.
// PREFTUNE_NO_PREFLIGHT=1 turns the refusal off (the estimate is still printed).
func (s System) Check(e Estimate, hints []string) (Available, error) {
	av, ok := s.Available()
	if !ok {
		return av, nil
	}
	if e.Total() > av.Bytes && os.Getenv("PREFTUNE_NO_PREFLIGHT") == "" {
		return av, &Error{Estimate: e, Available: av, Hints: hints}
	}
	return av, nil
}

// ParseBytes reads a size: a number of bytes, or with a unit (K, M, G, T; KB/KiB… all
// binary multiples), e.g. "8GiB", "512M".
func ParseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	num := strings.TrimRightFunc(t, func(r rune) bool { return r < '0' || r > '9' })
	unit := strings.ToUpper(strings.TrimSpace(t[len(num):]))
	unit = strings.TrimSuffix(strings.TrimSuffix(unit, "B"), "I")
	shift := map[string]uint{"": 0, "K": 10, "M": 20, "G": 30, "T": 40}
	sh, ok := shift[unit]
	v, err := strconv.ParseInt(num, 10, 64)
	if !ok || err != nil || v < 0 || v > (1<<62)>>sh {
		return 0, fmt.Errorf("size %q: want bytes or a number with K, M, G or T", s)
	}
	return v << sh, nil
}
