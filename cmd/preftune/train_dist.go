package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/preftune/preftune/dist"
	"github.com/preftune/preftune/train"
	"github.com/preftune/preftune/train/config"
)

// quiet is an error another rank of a data-parallel run prints; this one exits with
// its status without a message.
type quiet struct{ error }

func (q quiet) Unwrap() error { return q.error }
func (quiet) Quiet() bool     { return true }

// runTrainRank is `preftune train` as one rank of an mpirun/srun job: MPI is loaded
// and initialised, threads default to the cores this rank owns, rank 0 alone logs
// and writes, and the run ends with MPI_Finalize on every rank — or, after an error
// the other ranks have not agreed on, with MPI_Abort so that none waits for this one.
func runTrainRank(cfg *config.Loaded, env dist.Env, stderr, stdout io.Writer) error {
	w, err := dist.Init()
	if err != nil {
		return err
	}
	if cfg.Threads == 0 {
		cfg.Threads = w.DefaultThreads()
	}
	log := stderr
	if w.Rank != 0 {
		log = io.Discard
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := train.Run(ctx, cfg, train.Options{Log: log, Dist: w})
	_, ferr := train.FinishRank(w, err, func(e error) { fmt.Fprintf(stderr, "preftune train: %v\n", e) })
	if err != nil {
		// reported (or left to the rank that carries it) by FinishRank; main prints
		// nothing more
		return quiet{trainError(err)}
	}
	if ferr != nil {
		return ferr
	}
	if w.Rank == 0 {
		fmt.Fprintf(stdout, "trained %d steps (%.2f epochs) on %d ranks, mean loss %.6g; outputs in %s\n", sum.GlobalStep, sum.Epoch, w.Size, sum.TrainLoss, cfg.OutputDir)
	}
	return nil
}
