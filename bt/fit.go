package bt

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// Options control a fit. The zero value is a plain maximum-likelihood fit anchored at the
// alphabetically first item.
type Options struct {
	// Anchor is the item held at strength 0; empty means the first name in byte order.
	Anchor string
	// L2 is the precision λ of a N(0, 1/λ) prior on every non-anchor strength (0: none).
	L2 float64
	// MaxIter bounds the Newton iterations (0: 200).
	MaxIter int
}

// Item is one item's fitted strength.
type Item struct {
	Name     string  `json:"item"`
	Strength float64 `json:"strength"`
	StdErr   float64 `json:"std_err"`
	Wins     float64 `json:"wins"`
	Losses   float64 `json:"losses"`
}

// PairStat compares one pair's observed win rate with the fitted one.
type PairStat struct {
	A         string  `json:"a"`
	B         string  `json:"b"`
	WinsA     float64 `json:"wins_a"`
	WinsB     float64 `json:"wins_b"`
	Observed  float64 `json:"observed"`  // WinsA / (WinsA + WinsB)
	Predicted float64 `json:"predicted"` // P(A ≻ B) under the fit
}

// Fit is a fitted paired-comparison model.
type Fit struct {
	Model  Model
	Anchor string
	L2     float64
	// Items in byte order of name (see Ranked for strength order).
	Items []Item
	// Pairs are the aggregated comparisons with observed and predicted rates.
	Pairs []PairStat
	// Comparisons is the total (weighted) number of comparisons.
	Comparisons float64
	// LogLik is the log-likelihood at the estimate, without the prior term.
	LogLik float64
	// NullLogLik is the log-likelihood with all strengths equal (every P = 1/2).
	NullLogLik float64
	// SaturatedLogLik is the log-likelihood of a model that fits every pair's rate exactly.
	SaturatedLogLik float64
	// Deviance is 2·(SaturatedLogLik − LogLik), the goodness-of-fit statistic on DF degrees
	// of freedom (number of pairs − number of items + 1).
	Deviance float64
	DF       int
	// AIC is 2·(items − 1) − 2·LogLik.
	AIC        float64
	Iterations int

	index map[string]int
	cov   [][]float64 // covariance of all strengths; the anchor's row and column are 0
}

// ErrNotConverged is returned when Newton–Raphson stops before the gradient vanishes.
var ErrNotConverged = errors.New("fit did not converge")

// FitBT fits the Bradley–Terry model.
func FitBT(cs []Comparison, opts Options) (*Fit, error) { return FitModel(BradleyTerry, cs, opts) }

// FitThurstone fits the Thurstone–Mosteller (Case V) model with the σ√2 = 1 scale.
func FitThurstone(cs []Comparison, opts Options) (*Fit, error) {
	return FitModel(Thurstone, cs, opts)
}

// pairIdx is an aggregated comparison by item index.
type pairIdx struct {
	i, j   int
	wi, wj float64
}

// FitModel fits model m to the comparisons.
func FitModel(m Model, cs []Comparison, opts Options) (*Fit, error) {
	if m != BradleyTerry && m != Thurstone {
		return nil, fmt.Errorf("unknown model %v", m)
	}
	if opts.L2 < 0 || math.IsNaN(opts.L2) || math.IsInf(opts.L2, 0) {
		return nil, fmt.Errorf("L2 prior must be a finite number ≥ 0, got %v", opts.L2)
	}
	for k, c := range cs {
		if c.A == "" || c.B == "" {
			return nil, fmt.Errorf("comparison %d: empty item name", k+1)
		}
		if checkCount(c.WinsA) != nil || checkCount(c.WinsB) != nil {
			return nil, fmt.Errorf("comparison %d (%s vs %s): win counts must be finite and ≥ 0, got %v and %v", k+1, c.A, c.B, c.WinsA, c.WinsB)
		}
	}
	agg := Aggregate(cs)
	if len(agg) == 0 {
		return nil, errors.New("no comparisons between two different items")
	}
	nameSet := map[string]bool{}
	for _, c := range agg {
		nameSet[c.A], nameSet[c.B] = true, true
	}
	names := make([]string, 0, len(nameSet))
	for n := range nameSet {
		names = append(names, n)
	}
	sort.Strings(names)
	index := make(map[string]int, len(names))
	for i, n := range names {
		index[n] = i
	}
	anchor := opts.Anchor
	if anchor == "" {
		anchor = names[0]
	}
	a, ok := index[anchor]
	if !ok {
		return nil, fmt.Errorf("anchor %q is not an item in the comparisons", anchor)
	}
	n := len(names)
	pairs := make([]pairIdx, len(agg))
	for k, c := range agg {
		pairs[k] = pairIdx{index[c.A], index[c.B], c.WinsA, c.WinsB}
	}

	if opts.L2 == 0 {
		if comps := components(n, pairs); len(comps) > 1 {
			e := &DisconnectedError{}
			for _, c := range comps {
				e.Components = append(e.Components, pick(names, c))
			}
			return nil, e
		}
		if top := sourceComponent(n, pairs); top != nil {
			return nil, separationError(m, names, pairs, top)
		}
	}

	p := &problem{model: m, n: n, anchor: a, l2: opts.L2, pairs: pairs}
	s, iters, err := p.newton(opts.MaxIter)
	if err != nil {
		return nil, err
	}
	_, _, hess := p.eval(s, true)
	cov, err := p.covariance(hess)
	if err != nil {
		return nil, err
	}

	f := &Fit{Model: m, Anchor: anchor, L2: opts.L2, Iterations: iters, index: index, cov: cov}
	f.Items = make([]Item, n)
	for i, nm := range names {
		f.Items[i] = Item{Name: nm, Strength: s[i], StdErr: math.Sqrt(math.Max(cov[i][i], 0))}
	}
	for _, pr := range pairs {
		tot := pr.wi + pr.wj
		f.Comparisons += tot
		f.Items[pr.i].Wins += pr.wi
		f.Items[pr.i].Losses += pr.wj
		f.Items[pr.j].Wins += pr.wj
		f.Items[pr.j].Losses += pr.wi
		d := s[pr.i] - s[pr.j]
		lpi, _, _ := m.logP(d)
		lpj, _, _ := m.logP(-d)
		f.LogLik += xlogy(pr.wi, lpi) + xlogy(pr.wj, lpj)
		f.NullLogLik += tot * math.Log(0.5)
		obs := pr.wi / tot
		f.SaturatedLogLik += xlogy(pr.wi, math.Log(obs)) + xlogy(pr.wj, math.Log1p(-obs))
		f.Pairs = append(f.Pairs, PairStat{A: names[pr.i], B: names[pr.j], WinsA: pr.wi, WinsB: pr.wj, Observed: obs, Predicted: m.P(d)})
	}
	f.Deviance = math.Max(2*(f.SaturatedLogLik-f.LogLik), 0)
	f.DF = len(pairs) - (n - 1)
	f.AIC = 2*float64(n-1) - 2*f.LogLik
	return f, nil
}

// xlogy is x·y with 0·(−∞) = 0.
func xlogy(x, y float64) float64 {
	if x == 0 {
		return 0
	}
	return x * y
}

func pick(names []string, idx []int) []string {
	out := make([]string, len(idx))
	for k, i := range idx {
		out[k] = names[i]
	}
	sort.Strings(out)
	return out
}

func separationError(m Model, names []string, pairs []pairIdx, top []int) error {
	wins := make([]float64, len(names))
	losses := make([]float64, len(names))
	for _, p := range pairs {
		wins[p.i] += p.wi
		losses[p.i] += p.wj
		wins[p.j] += p.wj
		losses[p.j] += p.wi
	}
	e := &SeparationError{Top: pick(names, top), Model: m}
	for i, nm := range names {
		switch {
		case losses[i] == 0 && wins[i] > 0:
			e.NeverLose = append(e.NeverLose, nm)
		case wins[i] == 0 && losses[i] > 0:
			e.NeverWin = append(e.NeverWin, nm)
		}
	}
	return e
}

// problem is the penalised log-likelihood over all n strengths with s[anchor] fixed at 0.
type problem struct {
	model  Model
	n      int
	anchor int
	l2     float64
	pairs  []pairIdx
}

// eval returns the penalised log-likelihood, its gradient and (if wantHess) its Hessian
// with respect to all n strengths (the anchor's entries included; callers drop them).
func (p *problem) eval(s []float64, wantHess bool) (ll float64, grad []float64, hess [][]float64) {
	grad = make([]float64, p.n)
	if wantHess {
		hess = make([][]float64, p.n)
		for i := range hess {
			hess[i] = make([]float64, p.n)
		}
	}
	for _, pr := range p.pairs {
		d := s[pr.i] - s[pr.j]
		lpi, g1i, g2i := p.model.logP(d)
		lpj, g1j, g2j := p.model.logP(-d)
		ll += xlogy(pr.wi, lpi) + xlogy(pr.wj, lpj)
		g := pr.wi*g1i - pr.wj*g1j
		grad[pr.i] += g
		grad[pr.j] -= g
		if wantHess {
			h := pr.wi*g2i + pr.wj*g2j
			hess[pr.i][pr.i] += h
			hess[pr.j][pr.j] += h
			hess[pr.i][pr.j] -= h
			hess[pr.j][pr.i] -= h
		}
	}
	for i := 0; i < p.n; i++ {
		if i == p.anchor {
			continue
		}
		ll -= 0.5 * p.l2 * s[i] * s[i]
		grad[i] -= p.l2 * s[i]
		if wantHess {
			hess[i][i] -= p.l2
		}
	}
	return ll, grad, hess
}

// free lists the non-anchor indices.
func (p *problem) free() []int {
	out := make([]int, 0, p.n-1)
	for i := 0; i < p.n; i++ {
		if i != p.anchor {
			out = append(out, i)
		}
	}
	return out
}

// newton maximises the penalised log-likelihood from s = 0.
func (p *problem) newton(maxIter int) ([]float64, int, error) {
	if maxIter <= 0 {
		maxIter = 200
	}
	s := make([]float64, p.n)
	free := p.free()
	var weight float64
	for _, pr := range p.pairs {
		weight += pr.wi + pr.wj
	}
	gtol := 1e-10 * math.Max(weight, 1)
	ll, grad, hess := p.eval(s, true)
	for it := 1; it <= maxIter; it++ {
		// Solve (−H) δ = g on the free coordinates.
		m := len(free)
		info := make([][]float64, m)
		g := make([]float64, m)
		gmax := 0.0
		for a, i := range free {
			info[a] = make([]float64, m)
			for b, j := range free {
				info[a][b] = -hess[i][j]
			}
			g[a] = grad[i]
			gmax = math.Max(gmax, math.Abs(grad[i]))
		}
		if gmax <= gtol {
			return s, it - 1, nil
		}
		delta, err := solveSPD(info, g)
		if err != nil {
			return nil, it, fmt.Errorf("%w: information matrix is singular at iteration %d (%v)", ErrNotConverged, it, err)
		}
		// Backtracking line search (Armijo) on the penalised log-likelihood.
		slope := 0.0
		for a := range delta {
			slope += g[a] * delta[a]
		}
		step := 1.0
		accepted := false
		trial := make([]float64, p.n)
		// Near the optimum the predicted gain g·δ/2 falls below the rounding error of ℓ and a
		// line search can no longer see progress: take the pure Newton step (quadratic
		// convergence) instead.
		if slope <= 1e-9*(1+math.Abs(ll)) {
			copy(trial, s)
			for a, i := range free {
				trial[i] += delta[a]
			}
			accepted = true
		}
		for k := 0; k < 60 && !accepted; k++ {
			copy(trial, s)
			for a, i := range free {
				trial[i] += step * delta[a]
			}
			tll, _, _ := p.eval(trial, false)
			if tll >= ll+1e-4*step*slope || (tll >= ll && step*maxAbs(delta) < 1e-12) {
				accepted = true
				break
			}
			step /= 2
		}
		if !accepted {
			// No ascent possible at float64 precision: accept if the gradient is tiny.
			if gmax <= 1e-6*math.Max(weight, 1) {
				return s, it, nil
			}
			return nil, it, fmt.Errorf("%w: line search failed at iteration %d (max |gradient| %.3g)", ErrNotConverged, it, gmax)
		}
		copy(s, trial)
		ll, grad, hess = p.eval(s, true)
		if step == 1 && maxAbs(delta) < 1e-13 {
			return s, it, nil
		}
	}
	return nil, maxIter, fmt.Errorf("%w after %d Newton iterations", ErrNotConverged, maxIter)
}

func maxAbs(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}

// covariance inverts the observed information −H over the free strengths and embeds it in
// an n×n matrix with zeros for the anchor.
func (p *problem) covariance(hess [][]float64) ([][]float64, error) {
	free := p.free()
	m := len(free)
	info := make([][]float64, m)
	for a, i := range free {
		info[a] = make([]float64, m)
		for b, j := range free {
			info[a][b] = -hess[i][j]
		}
	}
	inv, err := invertSPD(info)
	if err != nil {
		return nil, fmt.Errorf("%w: information matrix is singular at the estimate (%v)", ErrNotConverged, err)
	}
	cov := make([][]float64, p.n)
	for i := range cov {
		cov[i] = make([]float64, p.n)
	}
	for a, i := range free {
		for b, j := range free {
			cov[i][j] = inv[a][b]
		}
	}
	return cov, nil
}

// cholesky returns lower-triangular L with A = L·Lᵀ for symmetric positive-definite A.
func cholesky(A [][]float64) ([][]float64, error) {
	n := len(A)
	L := make([][]float64, n)
	for i := range L {
		L[i] = make([]float64, n)
	}
	for j := 0; j < n; j++ {
		sum := A[j][j]
		for k := 0; k < j; k++ {
			sum -= L[j][k] * L[j][k]
		}
		if !(sum > 0) {
			return nil, fmt.Errorf("not positive definite at column %d", j)
		}
		L[j][j] = math.Sqrt(sum)
		for i := j + 1; i < n; i++ {
			sum := A[i][j]
			for k := 0; k < j; k++ {
				sum -= L[i][k] * L[j][k]
			}
			L[i][j] = sum / L[j][j]
		}
	}
	return L, nil
}

func cholSolve(L [][]float64, b []float64) []float64 {
	n := len(L)
	y := make([]float64, n)
	for i := 0; i < n; i++ {
		sum := b[i]
		for k := 0; k < i; k++ {
			sum -= L[i][k] * y[k]
		}
		y[i] = sum / L[i][i]
	}
	x := make([]float64, n)
	for i := n - 1; i >= 0; i-- {
		sum := y[i]
		for k := i + 1; k < n; k++ {
			sum -= L[k][i] * x[k]
		}
		x[i] = sum / L[i][i]
	}
	return x
}

func solveSPD(A [][]float64, b []float64) ([]float64, error) {
	L, err := cholesky(A)
	if err != nil {
		return nil, err
	}
	return cholSolve(L, b), nil
}

func invertSPD(A [][]float64) ([][]float64, error) {
	L, err := cholesky(A)
	if err != nil {
		return nil, err
	}
	n := len(A)
	inv := make([][]float64, n)
	for i := range inv {
		inv[i] = make([]float64, n)
	}
	e := make([]float64, n)
	for j := 0; j < n; j++ {
		for k := range e {
			e[k] = 0
		}
		e[j] = 1
		col := cholSolve(L, e)
		for i := 0; i < n; i++ {
			inv[i][j] = col[i]
		}
	}
	return inv, nil
}

// Strength returns an item's fitted strength.
func (f *Fit) Strength(name string) (float64, error) {
	i, ok := f.index[name]
	if !ok {
		return 0, fmt.Errorf("unknown item %q", name)
	}
	return f.Items[i].Strength, nil
}

// Cov returns the estimated covariance of two items' strengths (0 involving the anchor).
func (f *Fit) Cov(a, b string) (float64, error) {
	i, ok := f.index[a]
	if !ok {
		return 0, fmt.Errorf("unknown item %q", a)
	}
	j, ok := f.index[b]
	if !ok {
		return 0, fmt.Errorf("unknown item %q", b)
	}
	return f.cov[i][j], nil
}

// Prob returns the fitted probability that a beats b.
func (f *Fit) Prob(a, b string) (float64, error) {
	p, _, err := f.ProbSE(a, b)
	return p, err
}

// ProbSE returns P(a ≻ b) and its delta-method standard error
// F′(d)·sqrt(Var s_a + Var s_b − 2·Cov(s_a, s_b)), d = s_a − s_b.
func (f *Fit) ProbSE(a, b string) (p, se float64, err error) {
	i, ok := f.index[a]
	if !ok {
		return 0, 0, fmt.Errorf("unknown item %q", a)
	}
	j, ok := f.index[b]
	if !ok {
		return 0, 0, fmt.Errorf("unknown item %q", b)
	}
	d := f.Items[i].Strength - f.Items[j].Strength
	v := f.cov[i][i] + f.cov[j][j] - 2*f.cov[i][j]
	return f.Model.P(d), f.Model.density(d) * math.Sqrt(math.Max(v, 0)), nil
}

// Ranked returns the items sorted by strength, strongest first (ties by name).
func (f *Fit) Ranked() []Item {
	out := append([]Item(nil), f.Items...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Strength > out[j].Strength })
	return out
}
