package bt

import (
	"fmt"
	"math"
	"strings"
)

// Model is the link between a strength gap d = s_i − s_j and the probability that i wins.
type Model int

const (
	// BradleyTerry is the logistic link P(i ≻ j) = σ(s_i − s_j).
	BradleyTerry Model = iota
	// Thurstone is the Thurstone–Mosteller (Case V) probit link P(i ≻ j) = Φ(s_i − s_j).
	Thurstone
)

// ParseModel maps a CLI name ("bt", "bradley-terry", "thurstone", "thurstone-mosteller",
// "probit", "logistic") to a Model.
func ParseModel(name string) (Model, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "bt", "bradley-terry", "bradleyterry", "logistic", "logit":
		return BradleyTerry, nil
	case "thurstone", "thurstone-mosteller", "tm", "probit":
		return Thurstone, nil
	}
	return 0, fmt.Errorf("unknown model %q (want bt or thurstone)", name)
}

// String is the model's short name, as ParseModel accepts it.
func (m Model) String() string {
	switch m {
	case BradleyTerry:
		return "bt"
	case Thurstone:
		return "thurstone"
	}
	return fmt.Sprintf("Model(%d)", int(m))
}

// Formula is a one-line description of the model's link.
func (m Model) Formula() string {
	if m == Thurstone {
		return "Thurstone-Mosteller: P(i>j) = Phi(s_i - s_j)"
	}
	return "Bradley-Terry: P(i>j) = sigmoid(s_i - s_j)"
}

// P is the probability that an item beats one whose strength is d lower.
func (m Model) P(d float64) float64 {
	if m == Thurstone {
		return 0.5 * math.Erfc(-d/math.Sqrt2)
	}
	if d >= 0 {
		return 1 / (1 + math.Exp(-d))
	}
	e := math.Exp(d)
	return e / (1 + e)
}

// density is dP/dd.
func (m Model) density(d float64) float64 {
	if m == Thurstone {
		return normPDF(d)
	}
	p := m.P(d)
	return p * (1 - p)
}

// logP returns log P(d) and its first two derivatives with respect to d, computed without
// overflow or cancellation for large |d|.
func (m Model) logP(d float64) (lp, g1, g2 float64) {
	if m == Thurstone {
		lam := millsRatio(d)
		return logNormCDF(d), lam, -lam * (d + lam)
	}
	// log σ(d) = −log(1 + e^−d); derivative σ(−d); second derivative −σ(d)σ(−d).
	if d >= 0 {
		lp = -math.Log1p(math.Exp(-d))
	} else {
		lp = d - math.Log1p(math.Exp(d))
	}
	q := m.P(-d)
	return lp, q, -q * (1 - q)
}

func normPDF(x float64) float64 { return math.Exp(-0.5*x*x) / math.Sqrt(2*math.Pi) }

// farTail is where Φ(d) is computed from its asymptotic series instead of erfc.
const farTail = -30

// millsRatio is φ(d)/Φ(d), the derivative of log Φ.
func millsRatio(d float64) float64 {
	if d > farTail {
		return normPDF(d) / (0.5 * math.Erfc(-d/math.Sqrt2))
	}
	// Φ(d) = φ(d)/|d| · (1 − 1/d² + 3/d⁴ − 15/d⁶ + 105/d⁸ − …) for d → −∞.
	x := 1 / (d * d)
	return -d / (1 - x + 3*x*x - 15*x*x*x + 105*x*x*x*x)
}

// logNormCDF is log Φ(d).
func logNormCDF(d float64) float64 {
	switch {
	case d > 0:
		return math.Log1p(-0.5 * math.Erfc(d/math.Sqrt2))
	case d > farTail:
		return math.Log(0.5 * math.Erfc(-d/math.Sqrt2))
	}
	return -0.5*d*d - 0.5*math.Log(2*math.Pi) - math.Log(millsRatio(d))
}
