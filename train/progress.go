package train

import (
	"fmt"
	"sort"
	"strings"

	"github.com/preftune/preftune/data"
	"github.com/preftune/preftune/model"
	"github.com/preftune/preftune/report"
)

// println prints a line that stays above the progress display while it runs.
func (t *trainer) println(line string) {
	if t.prog != nil {
		t.prog.Println(line)
		return
	}
	fmt.Fprintln(t.log, line)
}

// trainableParams is PEFT's print_trainable_parameters line for the policy: the
// trainable elements (the adapters under LoRA, else every weight) and all elements
// (base weights plus adapters).
func trainableParams(m *model.Model) string {
	var base, train int64
	for _, ts := range m.Tensors() {
		n := int64(1) // by shape: a packed (16-bit or 4-bit) frozen weight has no float32 Data
		for _, d := range ts.Shape {
			n *= int64(d)
		}
		base += n
	}
	for _, ts := range m.Trainable() {
		train += int64(len(ts.Data))
	}
	all := base
	if m.LoRA() != nil {
		all += train
	}
	return report.TrainableParams(train, all)
}

// Plural is "1 step" or "n steps".
func Plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// kindCounts prints row counts by kind ("pair 3, unpaired 2"), "none" when empty.
func kindCounts(m map[data.Kind]int) string {
	var parts []string
	for k, n := range m {
		parts = append(parts, fmt.Sprintf("%s %d", k, n))
	}
	if len(parts) == 0 {
		return "none usable"
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
