package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/preftune/preftune/train"
)

// exitError ends the process with its own exit code (a stopped run: 128 + signal).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }
func (e *exitError) ExitCode() int { return e.code }

// signalExitCode is the shell's code for a process ended by sig: 128 + its number
// (SIGINT 130, SIGTERM 143).
func signalExitCode(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 1
}

// trainAfterStep, when set (tests), is train.Options.AfterStep of `preftune train`.
var trainAfterStep func(step int)

// stopOnSignals returns a context cancelled by the first SIGINT or SIGTERM (the run
// then finishes its optimizer step, writes a checkpoint and returns), the signal
// received (nil before one), and a function that stops listening. A second signal
// exits at once with 128 + its number: checkpoints are written in a staging dir and
// renamed when complete, so the last complete one is left intact.
func stopOnSignals(stderr io.Writer) (ctx context.Context, received func() os.Signal, stop func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	var (
		mu    sync.Mutex
		first os.Signal
	)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case s := <-ch:
				mu.Lock()
				again := first != nil
				if !again {
					first = s
				}
				mu.Unlock()
				if again {
					fmt.Fprintf(stderr, "\npreftune: second signal (%v): aborting now; the last complete checkpoint in output_dir is intact\n", s)
					os.Exit(signalExitCode(s))
				}
				fmt.Fprintf(stderr, "\npreftune: %v: finishing the current optimizer step and writing a checkpoint (send it again to abort at once)\n", s)
				cancel(fmt.Errorf("%w: signal %v", train.ErrStopRequested, s))
			}
		}
	}()
	received = func() os.Signal {
		mu.Lock()
		defer mu.Unlock()
		return first
	}
	stop = func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
	return ctx, received, stop
}
