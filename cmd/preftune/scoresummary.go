package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"

	"gopkg.in/yaml.v3"
)

// adapterBeta reads β from the training config saved with an adapter: its
// training_args.yaml (preftune's and LLaMA-Factory's; key beta or pref_beta), in the
// adapter dir or, for a checkpoint-N dir, in the run dir above it. found is false when
// no such file has a β.
func adapterBeta(adapterDir string) (beta float64, from string, found bool, err error) {
	dirs := []string{adapterDir}
	if regexp.MustCompile(`^checkpoint-\d+$`).MatchString(filepath.Base(filepath.Clean(adapterDir))) {
		dirs = append(dirs, filepath.Dir(filepath.Clean(adapterDir)))
	}
	for _, d := range dirs {
		path := filepath.Join(d, "training_args.yaml")
		raw, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, "", false, err
		}
		var m map[string]any
		if err := yaml.Unmarshal(raw, &m); err != nil {
			return 0, "", false, fmt.Errorf("%s: %w", path, err)
		}
		for _, k := range []string{"beta", "pref_beta"} {
			v, ok := m[k]
			if !ok || v == nil {
				continue
			}
			b, err := strconv.ParseFloat(fmt.Sprint(v), 64)
			if err != nil || !(b > 0) || math.IsInf(b, 0) {
				return 0, "", false, fmt.Errorf("%s: %s: %v is not a positive number", path, k, v)
			}
			return b, path + " (" + k + ")", true, nil
		}
	}
	return 0, "", false, nil
}

// pairSummary accumulates the pairs' reward accuracy (chosen reward > rejected, as
// TRL's rewards/accuracies) and margin.
type pairSummary struct {
	n           int
	correct     int
	marginSum   float64
	chosenSum   float64
	rejectedSum float64
}

func (s *pairSummary) add(chosen, rejected float64) {
	s.n++
	if chosen > rejected {
		s.correct++
	}
	s.marginSum += chosen - rejected
	s.chosenSum += chosen
	s.rejectedSum += rejected
}

// write prints the summary line score ends with.
func (s *pairSummary) write(w io.Writer, beta float64, betaFrom string) {
	if s.n == 0 {
		return
	}
	n := float64(s.n)
	fmt.Fprintf(w, "score: %d pairs, beta %g (%s): mean reward accuracy %.4f, mean margin %.6g (chosen %.6g, rejected %.6g)\n",
		s.n, beta, betaFrom, float64(s.correct)/n, s.marginSum/n, s.chosenSum/n, s.rejectedSum/n)
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
