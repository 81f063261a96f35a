#!/usr/bin/python3
"""Independent PyTorch reference for preftune's bt package.

Fits Bradley-Terry (P(i>j) = sigmoid(s_i - s_j)) and Thurstone-Mosteller
(P(i>j) = Phi(s_i - s_j)) by minimising the negative (penalised) log-likelihood with
torch.optim.LBFGS in float64, the alphabetically-first item (or a given anchor) held at 0
and an optional L2 prior lam/2 * sum_{i != anchor} s_i^2. Standard errors come from the
inverse of torch.autograd.functional.hessian of the negative penalised log-likelihood over the
free strengths; predicted-probability standard errors from the delta method with the gradient
taken by autograd.

Writes bt/testdata/random8.jsonl (a seeded random 8-item dataset) and bt/testdata/golden.json.
Run from the repository root:  /usr/bin/python3 reference/bt/fit.py
Needs only torch (tested with torch 1.13, Debian python3-torch).
"""
import json
import os
import sys

import torch

torch.set_default_dtype(torch.float64)
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
TD = os.path.join(ROOT, "bt", "testdata")


def read_rows(path):
    """Yields (a, b, wins_a, wins_b) from a JSONL file in either row layout."""
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            if "winner" in r:
                yield r["winner"], r["loser"], 1.0, 0.0
            else:
                yield r["a"], r["b"], float(r["wins_a"]), float(r["wins_b"])


def make_random8():
    g = torch.Generator().manual_seed(20240608)
    names = ["m%d" % k for k in range(8)]
    true = torch.randn(8, generator=g) * 1.2
    lines = []
    for i in range(8):
        for j in range(i + 1, 8):
            if torch.rand(1, generator=g).item() < 0.3:  # leave some pairs uncompared
                continue
            n = int(torch.randint(4, 25, (1,), generator=g).item())
            p = torch.sigmoid(true[i] - true[j]).item()
            wins = int(torch.bernoulli(torch.full((n,), p), generator=g).sum().item())
            lines.append({"a": names[i], "b": names[j], "wins_a": wins, "wins_b": n - wins})
    with open(os.path.join(TD, "random8.jsonl"), "w") as f:
        for r in lines:
            f.write(json.dumps(r) + "\n")


def fit(path, model, l2=0.0, anchor=None, predict=None):
    rows = list(read_rows(path))
    names = sorted({r[0] for r in rows} | {r[1] for r in rows})
    idx = {n: k for k, n in enumerate(names)}
    anchor = anchor or names[0]
    a = idx[anchor]
    free = [k for k in range(len(names)) if k != a]
    I = torch.tensor([idx[r[0]] for r in rows])
    J = torch.tensor([idx[r[1]] for r in rows])
    WI = torch.tensor([r[2] for r in rows])
    WJ = torch.tensor([r[3] for r in rows])
    logF = torch.nn.functional.logsigmoid if model == "bt" else torch.special.log_ndtr
    F = torch.sigmoid if model == "bt" else torch.special.ndtr

    def full(x):
        s = torch.zeros(len(names))
        return s.index_put((torch.tensor(free),), x)

    def loglik(x):
        s = full(x)
        d = s[I] - s[J]
        return (WI * logF(d)).sum() + (WJ * logF(-d)).sum()

    def nll(x):
        return -loglik(x) + 0.5 * l2 * (x * x).sum()

    x = torch.zeros(len(free), requires_grad=True)
    opt = torch.optim.LBFGS([x], lr=1, max_iter=2000, tolerance_grad=1e-13,
                            tolerance_change=1e-20, history_size=50, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = nll(x)
        loss.backward()
        return loss

    for _ in range(20):
        opt.step(closure)
        g = torch.autograd.grad(nll(x), x)[0]
        if g.abs().max().item() < 1e-11:
            break
    g = torch.autograd.grad(nll(x), x)[0]
    gmax = g.abs().max().item()
    xd = x.detach()
    H = torch.autograd.functional.hessian(nll, xd)
    cov = torch.linalg.inv(H)
    # LBFGS stops where the objective's rounding noise hides further progress; the distance
    # to the optimum is then about one Newton step, |H^-1 g|, which must stay well under the
    # 1e-6 tolerance the Go tests use.
    step = (cov @ g).abs().max().item()
    assert step < 1e-7, (path, model, gmax, step)
    s = full(xd)
    se = torch.zeros(len(names))
    se[free] = cov.diagonal().sqrt()
    out = {
        "file": os.path.basename(path), "model": model, "l2": l2, "anchor": anchor,
        "strengths": {n: s[k].item() for k, n in enumerate(names)},
        "std_errs": {n: se[k].item() for k, n in enumerate(names)},
        "log_lik": loglik(xd).item(),
        "max_abs_grad": gmax,
        "newton_step_to_optimum": step,
    }
    if predict:
        pa, pb = predict

        def prob(xx):
            ss = full(xx)
            return F(ss[idx[pa]] - ss[idx[pb]])

        jac = torch.autograd.functional.jacobian(prob, xd)
        out["predict"] = {"a": pa, "b": pb, "p": prob(xd).item(),
                          "std_err": torch.sqrt(jac @ cov @ jac).item()}
    return out


def main():
    make_random8()
    cases = []
    for model in ("bt", "thurstone"):
        cases.append(fit(os.path.join(TD, "worked_three_pairs.jsonl"), model, predict=("B", "C")))
        cases.append(fit(os.path.join(TD, "worked_two_pairs.jsonl"), model, predict=("B", "C")))
        cases.append(fit(os.path.join(TD, "random8.jsonl"), model, predict=("m2", "m5")))
        cases.append(fit(os.path.join(TD, "random8.jsonl"), model, anchor="m3", predict=("m0", "m7")))
        cases.append(fit(os.path.join(TD, "random8.jsonl"), model, l2=0.3))
        cases.append(fit(os.path.join(TD, "separated.jsonl"), model, l2=0.1, predict=("alpha", "gamma")))
        cases.append(fit(os.path.join(TD, "disconnected.jsonl"), model, l2=0.5, predict=("A", "E")))
    with open(os.path.join(TD, "golden.json"), "w") as f:
        json.dump({"generator": "reference/bt/fit.py", "torch": torch.__version__,
                   "cases": cases}, f, indent=1)
        f.write("\n")
    print("wrote %d cases" % len(cases), file=sys.stderr)


if __name__ == "__main__":
    main()
