package demo

import (
	"strings"

	"github.com/preftune/preftune/judge"
)

// JudgeName is the demo judge's name in package judge's registry
// (`preftune judge --judge number-words`).
const JudgeName = "number-words"

func init() { judge.Register(JudgeName, Score) }

// Score is the demo's programmatic judge: 1 when the completion is the number of the
// prompt spelled the preferred (American) way, surrounding white space aside; 0 for
// anything else — the British spelling, a wrong number, or a prompt that is not a
// task prompt. The reference answer is not needed (the prompt determines it).
func Score(prompt, completion, _ string) float64 {
	n, ok := ParsePrompt(prompt)
	if !ok {
		return 0
	}
	if strings.TrimSpace(completion) == Words(n, false) {
		return 1
	}
	return 0
}
