// Package bt fits paired-comparison models to win/loss counts: the Bradley–Terry model that
// DPO's loss is built on, and the Thurstone–Mosteller (Case V) model.
//
// # Models
//
// Every item i has a real strength s_i. A comparison between i and j is won by i with
//
//	Bradley–Terry:        P(i ≻ j) = σ(s_i − s_j) = 1 / (1 + exp(−(s_i − s_j)))     (logistic link)
//	Thurstone–Mosteller:  P(i ≻ j) = Φ(s_i − s_j)                                   (probit link)
//
// where Φ is the standard normal CDF. Bradley–Terry strengths are log-odds: a gap of
// logit(0.7) ≈ 0.8473 means the stronger item wins 70% of the time, and a pair of items with
// strengths 2.0 and 1.2 gives σ(0.8) ≈ 0.69. DPO treats β·log(π/π_ref) as exactly this s_i.
//
// Thurstone scale convention: Thurstone's Case V gives each item a normal "discriminal process"
// with common standard deviation σ_d, so P(i ≻ j) = Φ((μ_i − μ_j)/(σ_d·√2)). This package fixes
// σ_d·√2 = 1 (σ_d = 1/√2), so a strength gap of 1 means the stronger item wins Φ(1) ≈ 84% of the
// time. To convert to the "σ_d = 1" convention multiply strengths by √2; a Thurstone strength
// is roughly a Bradley–Terry strength divided by 1.7 (the logistic and the scaled normal CDF
// differ by less than 0.01 at that factor).
//
// # Data
//
// A Comparison is a pair of item names with the (possibly fractional) number of wins of each;
// one row per single comparison ("winner"/"loser") and pre-aggregated counts mix freely. A tie
// can be entered as half a win each. Aggregate sums rows into one count per unordered pair.
// ReadFile reads JSONL, a JSON array, or CSV; errors name file:row:field, where row is the
// line number in the file (JSONL, CSV) or the 1-based element index (JSON array).
//
// # Fitting
//
// FitBT and FitThurstone maximise the log-likelihood
//
//	ℓ(s) = Σ_pairs  w_ij·log F(s_i − s_j) + w_ji·log F(s_j − s_i)  −  (λ/2)·Σ_{i≠anchor} s_i²
//
// with Newton–Raphson (backtracking line search on the exact Hessian; ℓ is concave for both
// links). Strengths are identified only up to a common shift, so one anchor item is held at 0:
// Options.Anchor, or by default the first item name in byte (alphabetical) order. The optional
// L2 prior λ (Options.L2, --l2 on the CLI) shrinks every other item towards the anchor; it makes
// the estimate finite and unique when the comparison graph is disconnected or some items never
// lose (or never win). Reported log-likelihoods are without the penalty term.
//
// Without a prior the maximum-likelihood estimate exists and is finite exactly when the directed
// "beat" graph (an edge i→j when i beat j at least once) is strongly connected (Ford 1957;
// Hunter 2004, "MM algorithms for generalized Bradley–Terry models", Ann. Statist. 32:384–406):
// if the undirected comparison graph has several components the fit fails with a
// *DisconnectedError naming them, and if it is connected but not strongly connected (a group of
// items never loses to the rest) it fails with a *SeparationError naming the group and
// suggesting an L2 prior.
//
// Standard errors are the square roots of the diagonal of the inverse observed Fisher
// information −∇²ℓ at the estimate, taken over the free (non-anchor) strengths; the anchor's
// standard error is 0 by construction, so every standard error is relative to the anchor. With a
// prior the penalised information is inverted (a Laplace approximation to the posterior).
// (*Fit).ProbSE gives the delta-method standard error of a predicted probability:
// se(P) = F′(d)·sqrt(Var s_a + Var s_b − 2 Cov(s_a, s_b)).
package bt
