// Command preftune is preference optimization (DPO and its family) for Hugging Face
// causal language models. Each subcommand lives in its own file and registers itself
// in init, so adding a verb never edits this file.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
)

// command is one subcommand: its name, a one-line summary for `preftune help`, and its body.
type command struct {
	name    string
	summary string
	run     func(args []string, stdin io.Reader, stdout, stderr io.Writer) error
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("preftune: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// inputError marks an error caused by the user's input (bad flag, bad file, bad row):
// exit code 2. Every other error is an internal failure: exit code 1.
type inputError struct{ err error }

func (e *inputError) Error() string { return e.err.Error() }
func (e *inputError) Unwrap() error { return e.err }

// badInput wraps err as a user-input error.
func badInput(err error) error {
	if err == nil {
		return nil
	}
	return &inputError{err}
}

// badInputf formats a user-input error.
func badInputf(format string, args ...any) error { return &inputError{fmt.Errorf(format, args...)} }

// newFlagSet returns a FlagSet that reports parse errors as errors (never exits) and
// writes its usage to stderr.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("preftune "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args into fs; a parse error is bad input. -h/--help is not an error.
func parseFlags(fs *flag.FlagSet, args []string) (helped bool, err error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return true, nil
		}
		return false, badInput(err)
	}
	return false, nil
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run dispatches to a subcommand and maps its error to an exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printHelp(stderr)
		return 2
	}
	name := args[0]
	if name == "-h" || name == "--help" {
		name = "help"
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "preftune: unknown command %q (run `preftune help` for the list)\n", name)
		return 2
	}
	limitMemory()
	stopProfile := startProfile(stderr)
	err := guarded(func() error { return c.run(args[1:], stdin, stdout, stderr) })
	stopProfile()
	if err == nil {
		return 0
	}
	// a data-parallel rank whose error another rank prints stays quiet
	var q interface{ Quiet() bool }
	if !errors.As(err, &q) || !q.Quiet() {
		fmt.Fprintf(stderr, "preftune %s: %v\n", name, err)
	}
	var ec interface{ ExitCode() int }
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	var in *inputError
	if errors.As(err, &in) {
		return 2
	}
	return 1
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "preftune: preference optimization (DPO and its family) for Hugging Face causal LMs")
	fmt.Fprintln(w, "\nusage: preftune <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nrun `preftune <command> -h` for a command's flags")
}

func init() {
	register(&command{
		name:    "help",
		summary: "list the commands",
		run: func(args []string, _ io.Reader, stdout, _ io.Writer) error {
			printHelp(stdout)
			return nil
		},
	})
}
