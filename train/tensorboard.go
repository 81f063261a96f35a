package train

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/preftune/preftune/report"
	"github.com/preftune/preftune/report/tensorboard"
)

// IsRankZero says whether this process writes the run's reports (TensorBoard). One
// process is rank 0; a data-parallel launcher replaces it for the other ranks.
var IsRankZero = func() bool { return true }

// DefaultLoggingDir is transformers' default logging_dir at time t:
// output_dir/runs/<%b%d_%H-%M-%S>_<host> (training_args.default_logdir, local time).
func DefaultLoggingDir(outputDir string, t time.Time) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return filepath.Join(outputDir, "runs", t.Format("Jan02_15-04-05")+"_"+host)
}

// openReports starts the report_to integrations: a TensorBoard event file under
// logging_dir (rank 0 only), and one warning naming the values preftune does not
// write (wandb, mlflow, ...).
func (t *trainer) openReports() error {
	c := t.c
	if bad := c.UnsupportedReports(); len(bad) > 0 {
		fmt.Fprintf(t.log, "warning: report_to %s: not supported by preftune (it writes tensorboard); ignored, metrics are in trainer_log.jsonl\n", strings.Join(bad, ", "))
	}
	if !c.Reports("tensorboard") || (t.rank != 0 || !IsRankZero()) {
		return nil
	}
	dir := c.LoggingDir
	if dir == "" {
		dir = DefaultLoggingDir(c.OutputDir, time.Now())
	}
	w, err := tensorboard.Create(dir, nil)
	if err != nil {
		return fmt.Errorf("report_to tensorboard: %w", err)
	}
	t.tb = w
	fmt.Fprintf(t.log, "tensorboard: %s\n", w.Path())
	return nil
}

// closeReports flushes and closes the event file.
func (t *trainer) closeReports() error {
	if t.tb == nil {
		return nil
	}
	err := t.tb.Close()
	t.tb = nil
	return err
}

// record appends a log entry to trainer_log.jsonl and to the event file, with epoch
// among the values as the Trainer's logs carry it (train/epoch in TensorBoard).
func (t *trainer) record(e report.Entry) error {
	if err := t.appendLog(e); err != nil { // rank 0 only
		return err
	}
	if t.rank != 0 {
		return nil
	}
	return t.report(e.Step, e.Epoch, e.Values)
}

// report sends values (trainer metric keys) logged at step to the event file.
func (t *trainer) report(step int, epoch float64, vals map[string]float64) error {
	if t.tb == nil {
		return nil
	}
	withEpoch := make(map[string]float64, len(vals)+1)
	for k, v := range vals {
		withEpoch[k] = v
	}
	withEpoch["epoch"] = epoch
	return t.tb.Log(step, withEpoch)
}
