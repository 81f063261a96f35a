package demo

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/preftune/preftune/atomicfile"
)

// The demo task: write a number in English words. Both "three hundred forty-seven"
// (American) and "three hundred and forty-seven" (British) are correct; the preference
// is the American form, which the SFT data uses only a quarter of the time.

var (
	ones = [...]string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
		"ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"}
	tens = [...]string{"", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"}
)

// Words spells n (0 ≤ n ≤ 999) in English words; british puts "and" after "hundred"
// when a remainder follows ("one hundred and five"), the American form does not.
func Words(n int, british bool) string {
	if n < 0 || n > 999 {
		panic(fmt.Sprintf("demo.Words(%d): out of range", n)) // callers are the task's own code
	}
	if n < 20 {
		return ones[n]
	}
	if n < 100 {
		if n%10 == 0 {
			return tens[n/10]
		}
		return tens[n/10] + "-" + ones[n%10]
	}
	s := ones[n/100] + " hundred"
	if r := n % 100; r > 0 {
		if british {
			s += " and"
		}
		s += " " + Words(r, false)
	}
	return s
}

// promptSuffix follows the number in every prompt.
const promptSuffix = " in words:"

// Prompt is the task's prompt for n.
func Prompt(n int) string { return strconv.Itoa(n) + promptSuffix }

// Completion is the completion text for n: a space, then the words.
func Completion(n int, british bool) string { return " " + Words(n, british) }

// ParsePrompt returns the number a task prompt asks for.
func ParsePrompt(prompt string) (int, bool) {
	digits, ok := strings.CutSuffix(prompt, promptSuffix)
	if !ok || digits == "" || len(digits) > 3 {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 0 || digits[0] == '+' || digits[0] == '-' || strconv.Itoa(n) != digits {
		return 0, false
	}
	return n, true
}

// HasStyle says whether n has two spellings (a hundreds part and a remainder).
func HasStyle(n int) bool { return n > 100 && n < 1000 && n%100 != 0 }

// Split is the seeded division of the task's numbers.
type Split struct {
	Train   []int // numbers with two spellings, for SFT and DPO
	HeldOut []int // numbers with two spellings never seen in training: evaluation only
	Plain   []int // numbers with one spelling (1–100, 200, …, 900): SFT only
}

// HeldOutCount is how many of the 891 two-spelling numbers are held out.
const HeldOutCount = 200

// NewSplit shuffles the two-spelling numbers 101–999 with seed and holds out
// HeldOutCount of them; each list is sorted.
func NewSplit(seed uint64) Split {
	var styled []int
	var s Split
	for n := 1; n <= 999; n++ {
		if HasStyle(n) {
			styled = append(styled, n)
		} else if n <= 100 || n%100 == 0 {
			s.Plain = append(s.Plain, n)
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0x73706c6974))
	rng.Shuffle(len(styled), func(i, j int) { styled[i], styled[j] = styled[j], styled[i] })
	s.HeldOut = slices.Sorted(slices.Values(styled[:HeldOutCount]))
	s.Train = slices.Sorted(slices.Values(styled[HeldOutCount:]))
	return s
}

// PrefRow is one TRL standard-format preference row.
type PrefRow struct {
	Prompt   string `json:"prompt"`
	Chosen   string `json:"chosen"`
	Rejected string `json:"rejected"`
}

// PreferencePairs are the DPO rows of numbers: chosen American, rejected British.
func PreferencePairs(numbers []int) []PrefRow {
	rows := make([]PrefRow, len(numbers))
	for i, n := range numbers {
		rows[i] = PrefRow{Prompt: Prompt(n), Chosen: Completion(n, false), Rejected: Completion(n, true)}
	}
	return rows
}

// SFTAmericanShare is the fraction of the SFT completions of a two-spelling number
// that use the preferred (American) form: one row in SFTRowsPerNumber.
const (
	SFTRowsPerNumber = 4
	SFTAmericanShare = 1.0 / SFTRowsPerNumber
)

// SFTRows is the supervised corpus: for every training number one American and
// three British rows, for every plain number SFTRowsPerNumber identical rows, in a
// seeded order. Each row is a preference row whose chosen completion is the SFT target
// (stage: sft trains on chosen only); its rejected completion is the other spelling
// (for plain numbers, the same text).
func SFTRows(s Split, seed uint64) []PrefRow {
	var rows []PrefRow
	for _, n := range s.Train {
		am, br := Completion(n, false), Completion(n, true)
		rows = append(rows, PrefRow{Prompt(n), am, br})
		for k := 1; k < SFTRowsPerNumber; k++ {
			rows = append(rows, PrefRow{Prompt(n), br, am})
		}
	}
	for _, n := range s.Plain {
		c := Completion(n, false)
		for k := 0; k < SFTRowsPerNumber; k++ {
			rows = append(rows, PrefRow{Prompt(n), c, c})
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0x736674))
	rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	return rows
}

// WriteJSONL writes rows as JSON Lines, atomically (see atomicfile).
func WriteJSONL(path string, rows []PrefRow) error {
	err := atomicfile.Write(path, 0o644, func(f io.Writer) error {
		w := bufio.NewWriter(f)
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return w.Flush()
	})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return nil
}
