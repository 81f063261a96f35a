package bt

import (
	"fmt"
	"sort"
	"strings"
)

// DisconnectedError reports a comparison graph with more than one connected component:
// strengths in different components share no comparisons, so their differences are not
// identified without a prior.
type DisconnectedError struct {
	Components [][]string // each sorted; components ordered by their first name
}

func (e *DisconnectedError) Error() string {
	parts := make([]string, len(e.Components))
	for i, c := range e.Components {
		parts[i] = "{" + listNames(c) + "}"
	}
	return fmt.Sprintf("comparison graph is disconnected: %d components %s share no comparisons, so their strengths cannot be placed on one scale; add comparisons across them or set a small L2 prior (--l2, e.g. 0.01)",
		len(e.Components), strings.Join(parts, ", "))
}

// SeparationError reports data whose maximum-likelihood strengths are infinite: the items in
// Top never lost to any item outside Top that they were compared with, so pushing Top's
// strengths up always raises the likelihood.
type SeparationError struct {
	Top       []string // the group that never loses to the rest (sorted)
	NeverLose []string // items with wins but no losses
	NeverWin  []string // items with losses but no wins
	Model     Model
}

func (e *SeparationError) Error() string {
	var b strings.Builder
	b.WriteString("maximum-likelihood strengths are infinite (perfect separation): ")
	switch {
	case len(e.NeverLose) > 0 || len(e.NeverWin) > 0:
		var parts []string
		if len(e.NeverLose) > 0 {
			parts = append(parts, "never lost: "+listNames(e.NeverLose))
		}
		if len(e.NeverWin) > 0 {
			parts = append(parts, "never won: "+listNames(e.NeverWin))
		}
		b.WriteString(strings.Join(parts, "; "))
	default:
		fmt.Fprintf(&b, "items {%s} never lost to any other item they were compared with", listNames(e.Top))
	}
	b.WriteString("; set a small L2 prior (--l2, e.g. 0.01) to get finite, shrunk strengths")
	return b.String()
}

func listNames(names []string) string {
	const max = 10
	if len(names) <= max {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:max], ", ") + fmt.Sprintf(", … (%d more)", len(names)-max)
}

// components returns the connected components of the undirected comparison graph as sorted
// index lists, ordered by smallest index.
func components(n int, pairs []pairIdx) [][]int {
	parent := make([]int, n)
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(x int) int {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	for _, p := range pairs {
		ri, rj := find(p.i), find(p.j)
		if ri != rj {
			parent[ri] = rj
		}
	}
	groups := map[int][]int{}
	var roots []int
	for i := 0; i < n; i++ {
		r := find(i)
		if _, ok := groups[r]; !ok {
			roots = append(roots, r)
		}
		groups[r] = append(groups[r], i)
	}
	out := make([][]int, len(roots))
	for k, r := range roots {
		out[k] = groups[r]
	}
	return out
}

// sourceComponent returns a strongly connected component of the "beat" graph (edge i→j when
// i beat j) that no outside item ever beat, or nil when the graph is strongly connected.
// It assumes the undirected graph is connected.
func sourceComponent(n int, pairs []pairIdx) []int {
	beat := make([][]int, n)   // i → items i beat
	beaten := make([][]int, n) // i → items that beat i
	for _, p := range pairs {
		if p.wi > 0 {
			beat[p.i] = append(beat[p.i], p.j)
			beaten[p.j] = append(beaten[p.j], p.i)
		}
		if p.wj > 0 {
			beat[p.j] = append(beat[p.j], p.i)
			beaten[p.i] = append(beaten[p.i], p.j)
		}
	}
	// Kosaraju: order by finish time on beat, then collect components on beaten.
	seen := make([]bool, n)
	order := make([]int, 0, n)
	type frame struct{ v, next int }
	for s := 0; s < n; s++ {
		if seen[s] {
			continue
		}
		seen[s] = true
		stack := []frame{{s, 0}}
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			if top.next < len(beat[top.v]) {
				w := beat[top.v][top.next]
				top.next++
				if !seen[w] {
					seen[w] = true
					stack = append(stack, frame{w, 0})
				}
				continue
			}
			order = append(order, top.v)
			stack = stack[:len(stack)-1]
		}
	}
	comp := make([]int, n)
	for i := range comp {
		comp[i] = -1
	}
	var comps [][]int
	for k := n - 1; k >= 0; k-- {
		s := order[k]
		if comp[s] >= 0 {
			continue
		}
		id := len(comps)
		members := []int{s}
		comp[s] = id
		for q := 0; q < len(members); q++ {
			for _, w := range beaten[members[q]] {
				if comp[w] < 0 {
					comp[w] = id
					members = append(members, w)
				}
			}
		}
		comps = append(comps, members)
	}
	if len(comps) == 1 {
		return nil
	}
	// A component with no incoming beat edge from outside.
	for id, members := range comps {
		source := true
		for _, v := range members {
			for _, w := range beaten[v] {
				if comp[w] != id {
					source = false
				}
			}
		}
		if source {
			sort.Ints(members)
			return members
		}
	}
	return nil // unreachable: a condensation DAG always has a source
}
