package dist

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Mpirun returns the mpirun command line that starts np copies of argv on this
// machine, or skips the test (with the reason logged) when mpirun is absent.
func mpirun(t *testing.T, np int, argv ...string) *exec.Cmd {
	t.Helper()
	p, err := exec.LookPath("mpirun")
	if err != nil {
		t.Skipf("mpirun not installed (apt-get install openmpi-bin libopenmpi-dev): %v", err)
	}
	args := append([]string{"--allow-run-as-root", "--oversubscribe", "-np", fmt.Sprint(np)}, argv...)
	return exec.Command(p, args...)
}

func TestFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want Env
		ok   bool
	}{
		{"none", nil, Env{Size: 1, LocalSize: 1}, false},
		{"openmpi", map[string]string{"OMPI_COMM_WORLD_RANK": "3", "OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_LOCAL_RANK": "1", "OMPI_COMM_WORLD_LOCAL_SIZE": "2"},
			Env{Rank: 3, Size: 4, LocalRank: 1, LocalSize: 2, Launcher: "OMPI_COMM_WORLD_*"}, true},
		{"slurm pmix", map[string]string{"PMIX_RANK": "5", "SLURM_NTASKS": "8", "SLURM_LOCALID": "1", "SLURM_NTASKS_PER_NODE": "4"},
			Env{Rank: 5, Size: 8, LocalRank: 1, LocalSize: 4, Launcher: "PMIX_RANK, SLURM_*"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE", "PMIX_RANK", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_NTASKS_PER_NODE"} {
				t.Setenv(k, "")
				os.Unsetenv(k)
			}
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			got, ok := FromEnv()
			if got != tc.want || ok != tc.ok {
				t.Errorf("FromEnv() = %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestHelperCollectives is the MPI child of TestCollectives.
func TestHelperCollectives(t *testing.T) {
	if os.Getenv("PREFTUNE_DIST_CHILD") == "" {
		t.Skip("helper process")
	}
	w, err := Init()
	if err != nil {
		t.Fatal(err)
	}
	r := w.Rank
	f32 := []float32{float32(r), 1, 0.5}
	f64 := []float64{float64(r) * 1e-17, 1}
	i64 := []int64{int64(r) << 40, 1}
	if err := w.SumF32(f32, Step); err != nil {
		t.Fatal(err)
	}
	if err := w.SumF64(f64, Step); err != nil {
		t.Fatal(err)
	}
	if err := w.SumI64(i64, Step); err != nil {
		t.Fatal(err)
	}
	msg := []byte(nil)
	if r == 1 {
		msg = []byte("from rank one")
	}
	got, err := w.Bcast(msg, 1, Step)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Barrier(Step); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("rank %d/%d: %v %v %v %q\n", r, w.Size, f32, f64, i64, got)
	if err := w.Finalize(); err != nil {
		t.Fatal(err)
	}
}

// TestCollectives: three ranks under mpirun sum float32/float64/int64 vectors and
// broadcast bytes; every rank prints the same, expected, values.
func TestCollectives(t *testing.T) {
	cmd := mpirun(t, 3, "-x", "PREFTUNE_DIST_CHILD=1", os.Args[0], "-test.run=^TestHelperCollectives$", "-test.v")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mpirun: %v\n%s", err, out)
	}
	for r := 0; r < 3; r++ {
		want := fmt.Sprintf("rank %d/3: [3 3 1.5] [3e-17 3] [3298534883328 3] \"from rank one\"", r)
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if strings.Count(string(out), "rank ") < 3 {
		t.Errorf("output:\n%s", out)
	}
}

// TestHelperAllreduceTiming prints the time of an all-reduce of PREFTUNE_DIST_TIMING
// float32 (after a barrier, so no rank waits for another); run by hand under mpirun to
// size the communication of a step.
func TestHelperAllreduceTiming(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("PREFTUNE_DIST_TIMING"))
	if n == 0 {
		t.Skip("helper process")
	}
	w, err := Init()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]float32, n)
	for i := 0; i < 6; i++ {
		w.Barrier(Step)
		t0 := time.Now()
		if err := w.SumF32(b, Step); err != nil {
			t.Fatal(err)
		}
		if w.Rank == 0 {
			fmt.Printf("all-reduce of %d float32 (%.1f MB) on %d ranks: %.1f ms\n", n, float64(4*n)/1e6, w.Size, 1e3*time.Since(t0).Seconds())
		}
	}
	w.Finalize()
}

// TestInitWithoutLibrary: where libmpi cannot be opened, Init says what to install
// (the ordinary binary never calls Init outside a launcher).
func TestInitWithoutLibrary(t *testing.T) {
	t.Setenv("PREFTUNE_MPI", "/nonexistent/libmpi.so.40")
	t.Setenv("OMPI_COMM_WORLD_SIZE", "2")
	_, err := Init()
	if err == nil || !strings.Contains(err.Error(), "openmpi-bin") || !strings.Contains(err.Error(), "OMPI_COMM_WORLD_*") {
		t.Errorf("Init() = %v, want an error naming the launcher variables and openmpi-bin", err)
	}
}

func TestThreadsPerRank(t *testing.T) {
	for _, tc := range []struct{ machine, affinity, local, want int }{
		{16, 16, 4, 4}, // not bound: a quarter of the machine each
		{16, 8, 4, 4},  // bound to a socket of 8 shared by 2 ranks
		{16, 1, 4, 1},  // bound to one core
		{2, 2, 2, 1},   // this box, two ranks
		{2, 2, 5, 1},   // oversubscribed: still one
		{8, 8, 0, 8},   // no local size: the machine
	} {
		if got := threadsFor(tc.machine, tc.affinity, tc.local); got != tc.want {
			t.Errorf("machine %d, affinity %d, %d local ranks: %d threads, want %d", tc.machine, tc.affinity, tc.local, got, tc.want)
		}
	}
	if got := (Env{LocalSize: 1}).DefaultThreads(); got != runtime.NumCPU() {
		t.Errorf("one rank: %d threads, want runtime.NumCPU() = %d", got, runtime.NumCPU())
	}
}

func TestCountCPUList(t *testing.T) {
	for s, want := range map[string]int{"0": 1, "0-1": 2, "0-3,8-11": 8, "0-3,8,10-11": 7, "": 0, "3-1": 0, "x": 0} {
		if got := countCPUList(s); got != want {
			t.Errorf("countCPUList(%q) = %d, want %d", s, got, want)
		}
	}
}

// TestHelperStuckRank is the child of TestWatchdogAbortsStuckCollective: rank 1 never
// joins the third barrier.
func TestHelperStuckRank(t *testing.T) {
	if os.Getenv("PREFTUNE_DIST_STUCK") == "" {
		t.Skip("helper process")
	}
	w, err := Init()
	if err != nil {
		t.Fatal(err)
	}
	w.Barrier(Step) // two quick "steps": a short period, so the limit is the 1 s floor
	w.Barrier(Step)
	if w.Rank == 1 {
		time.Sleep(120 * time.Second)
	}
	w.Barrier(Step)
	w.Finalize()
}

// TestWatchdogAbortsStuckCollective: with PREFTUNE_DIST_TIMEOUT=1, a barrier that one
// rank never reaches aborts the whole job (non-zero exit, well within 60 s) with a
// message naming the waiting rank and collective.
func TestWatchdogAbortsStuckCollective(t *testing.T) {
	cmd := mpirun(t, 2, "-x", "PREFTUNE_DIST_STUCK=1", "-x", "PREFTUNE_DIST_TIMEOUT=1", os.Args[0], "-test.run=^TestHelperStuckRank$")
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	el := time.Since(t0)
	t.Logf("job ended after %.1f s: %v", el.Seconds(), err)
	if err == nil {
		t.Fatalf("stuck job exited 0:\n%s", out)
	}
	if !(el < 8*time.Second) { // 1 s limit (not the first-step 10 s)
		t.Errorf("stuck job took %.0f s to end", el.Seconds())
	}
	if !bytes.Contains(out, []byte("rank 0 of 2: barrier has waited")) {
		t.Errorf("no watchdog message:\n%s", out)
	}
}
