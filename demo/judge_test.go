package demo

import (
	"testing"

	"github.com/preftune/preftune/judge"
)

// TestWords: spellings written out by hand (American and British).
func TestWords(t *testing.T) {
	for _, c := range []struct {
		n        int
		am, brit string
	}{
		{0, "zero", "zero"},
		{7, "seven", "seven"},
		{13, "thirteen", "thirteen"},
		{40, "forty", "forty"},
		{99, "ninety-nine", "ninety-nine"},
		{100, "one hundred", "one hundred"},
		{101, "one hundred one", "one hundred and one"},
		{115, "one hundred fifteen", "one hundred and fifteen"},
		{342, "three hundred forty-two", "three hundred and forty-two"},
		{500, "five hundred", "five hundred"},
		{870, "eight hundred seventy", "eight hundred and seventy"},
		{999, "nine hundred ninety-nine", "nine hundred and ninety-nine"},
	} {
		if got := Words(c.n, false); got != c.am {
			t.Errorf("Words(%d, American) = %q, want %q", c.n, got, c.am)
		}
		if got := Words(c.n, true); got != c.brit {
			t.Errorf("Words(%d, British) = %q, want %q", c.n, got, c.brit)
		}
		if HasStyle(c.n) != (c.am != c.brit) {
			t.Errorf("HasStyle(%d) = %v", c.n, HasStyle(c.n))
		}
	}
}

// TestJudge is the demo judge's table: only the prompt's number, spelled the American
// way, scores 1.
func TestJudge(t *testing.T) {
	for _, c := range []struct {
		prompt, completion string
		want               float64
	}{
		{"347 in words:", " three hundred forty-seven", 1},
		{"347 in words:", "three hundred forty-seven\n", 1},          // white space aside
		{"347 in words:", " three hundred and forty-seven", 0},       // British
		{"347 in words:", " three hundred forty-six", 0},             // wrong number
		{"347 in words:", " three hundred forty-seven -- thanks", 0}, // extra text
		{"347 in words:", " Three hundred forty-seven", 0},           // case matters
		{"347 in words:", "", 0},                                     // nothing
		{"12 in words:", " twelve", 1},                               // no hundreds
		{"100 in words:", " one hundred", 1},                         // no remainder
		{"0 in words:", " zero", 1},                                  //
		{"1000 in words:", " one thousand", 0},                       // not a task prompt
		{"047 in words:", " forty-seven", 0},                         // leading zero
		{"-5 in words:", " minus five", 0},                           //
		{"347 in letters:", " three hundred forty-seven", 0},         // other prompt
		{"three hundred in words:", " three hundred", 0},             //
		{"347 in words: ", " three hundred forty-seven", 0},          // trailing space
		{"+47 in words:", " forty-seven", 0},                         //
		{" 47 in words:", " forty-seven", 0},                         //
		{"in words:", " zero", 0},                                    //
		{"999 in words:", " nine hundred ninety-nine", 1},            //
		{"999 in words:", " nine hundred and ninety-nine", 0},        //
		{"101 in words:", " one hundred one", 1},                     //
		{"101 in words:", " one hundred and one", 0},                 //
		{"870 in words:", " eight hundred seventy", 1},               //
		{"870 in words:", " eight hundred seventy-zero", 0},          //
		{"870 in words:", " eight hundred seventy" + EOSToken, 0},    // special token text is text
	} {
		if got := Score(c.prompt, c.completion, ""); got != c.want {
			t.Errorf("Score(%q, %q) = %v, want %v", c.prompt, c.completion, got, c.want)
		}
	}
}

// TestJudgeRegistered: package judge finds the demo judge by name.
func TestJudgeRegistered(t *testing.T) {
	j, err := judge.New(JudgeName, judge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if j.NeedsRef {
		t.Error("the demo judge should not need reference answers")
	}
	if got := j.Score("5 in words:", " five", ""); got != 1 {
		t.Errorf("registered judge scored %v", got)
	}
}
