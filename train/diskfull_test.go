package train

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/preftune/preftune/train/config"
)

// mountTmpfs mounts a small tmpfs for a disk-full test, or skips (with the reason) where
// the machine does not allow it (not root, no CAP_SYS_ADMIN, no mount binary).
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if os.Geteuid() != 0 {
		t.Skipf("disk-full test skipped: mounting a tmpfs needs root (euid %d)", os.Geteuid())
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("disk-full test skipped: mount -t tmpfs failed: %v %s", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Logf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// fill writes a file in dir until the file system is full.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling %s: %v", dir, err)
			}
			break
		}
	}
	for _, n := range []int{4096, 512, 1} { // the last pages too
		for {
			if _, err := f.Write(chunk[:n]); err != nil {
				break
			}
		}
	}
	return path
}

// TestDiskFull fills a real (tmpfs) file system during a run: before a checkpoint and
// before the final save. The run fails (exit 1, not a setup error), no partial
// checkpoint is listed, no final output appears, the newest checkpoint verifies, and
// once space is freed the resume ends byte-identical to an uninterrupted run.
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	modelDir, dataPath := fixture(t, dir, 20)
	ref := filepath.Join(dir, "ref")
	if _, err := runUntil(t, resumeYAML(modelDir, dataPath, ref), 0); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		fillAt   int // after this step
		lastGood int // the newest complete checkpoint after the failure
	}{
		{"before checkpoint-6", 5, 4},
		{"before the final save", 14, 14}, // the last step is checkpointed before the final outputs
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := mountTmpfs(t, "32m")
			out := filepath.Join(fs, "out")
			y := resumeYAML(modelDir, dataPath, out)
			l, err := config.Parse([]byte(y), nil)
			if err != nil {
				t.Fatal(err)
			}
			var filler string
			var log bytes.Buffer
			_, err = Run(context.Background(), l, Options{Log: &log, CacheDir: t.TempDir(), AfterStep: func(s int) {
				if s == tc.fillAt {
					filler = fill(t, fs)
				}
			}})
			if err == nil {
				t.Fatal("the run succeeded on a full disk")
			}
			t.Logf("error on a full disk: %v", err)
			var se *SetupError
			if errors.As(err, &se) || !errors.Is(err, syscall.ENOSPC) {
				t.Errorf("error %v: want an internal error wrapping ENOSPC", err)
			}
			steps, err := listCheckpoints(out)
			if err != nil {
				t.Fatal(err)
			}
			if len(steps) == 0 || steps[len(steps)-1] != tc.lastGood {
				t.Fatalf("checkpoints %v after the failure, want the newest to be %d", steps, tc.lastGood)
			}
			if err := verifyCheckpoint(checkpointDir(out, tc.lastGood)); err != nil {
				t.Error(err)
			}
			assertNoFinalOutputs(t, out)
			if err := os.Remove(filler); err != nil {
				t.Fatal(err)
			}
			if _, err := runUntil(t, y, 0, "--resume_from_checkpoint", "true"); err != nil {
				t.Fatal(err)
			}
			sameOutputs(t, ref, out, "model.safetensors")
		})
	}
}
