// Package judge computes the win rate of one set of generations against another under a
// pluggable per-completion judge, with a seeded percentile-bootstrap confidence interval.
//
// A judge is a Func that scores one completion: Func(prompt, completion, ref) float64, where
// ref is the prompt's reference answer ("" when there is none). Built-in judges:
//
//   - exact: 1 if the completion equals the reference after trimming surrounding white space,
//     else 0 (needs a reference for every prompt)
//   - regex: 1 if the completion matches a Go (RE2) regular expression anywhere, else 0
//   - length: minus the completion's length in Unicode code points, so the shorter completion
//     wins; with Options.Longer, plus the length, so the longer one wins
//
// Other packages add judges with Register (typically from an init function); New builds a
// judge by name.
//
// Generation files are JSONL with one {"prompt": ..., "completion": ...} (or "output") object
// per line, optionally with a "reference" or "answer" field. The two files are aligned by
// prompt text, not by line: the k-th occurrence of a prompt in file A is paired with the k-th
// occurrence of the same prompt in file B, and a prompt occurrence without a partner is an
// error naming its file and line.
//
// For every aligned prompt, A's score above B's is a win (1), equal a tie (1/2), below a loss
// (0); the win rate is (wins + ties/2) / n. The confidence interval is the percentile
// bootstrap: resample the n per-prompt outcomes with replacement B times (default 1000), take
// each resample's win rate, and report the (1−c)/2 and (1+c)/2 quantiles (linear interpolation
// between order statistics, R's type 7) for confidence c (default 0.95). The resampling uses
// math/rand/v2's PCG seeded with the given seed, so a seed always gives the same interval for
// the same input and Go release.
package judge
