#!/usr/bin/python3
"""Golden values for preftune's loss package (loss/testdata/goldens.json).

An independent PyTorch (float64, autograd) transcription of the loss code of TRL's trainers,
written from TRL's sources and not from the Go package:

  * DPO family: trl/trainer/dpo_trainer.py, DPOTrainer._compute_loss of the newest TRL
    (per-token log-probs, completion mask, ld_alpha shared/tail masks, f-divergence scores,
    the loss_type loop with loss_weights, use_weighting's WPO weights). Two documented
    departures from that file, both from TRL v0.2x: "sigmoid" applies label_smoothing (cDPO),
    and exo_pair replaces label_smoothing = 0 by 1e-3. rpo_alpha is the newest TRL's spelling of
    RPO: loss_type [..., "sft"] with loss_weights [..., rpo_alpha].
  * KTO: trl/trainer/kto_trainer.py (kto, apo_zero_unpaired).
  * ORPO: trl/experimental/orpo (odds_ratio_loss); CPO/SimPO: trl/experimental/cpo/cpo_trainer.py.
  * Reward model: trl/trainer/reward_trainer.py compute_loss.
  * LiPO (no TRL implementation): Liu et al. 2024, ListMLE and LiPO-lambda, log2 discount.

Gradients come from autograd. For the pairwise trainers the autograd leaves are the per-token
log-probs, so the goldens pin down the per-token gradient the trainer must hand to Backward.

Run with Debian's python (torch 1.13, numpy):  /usr/bin/python3 reference/loss/gen_goldens.py
"""

import json
import math
import os

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)


def sigmoid(x):
    """σ(x), evaluated as exp(log σ(x)): the same function as torch.sigmoid, but its autograd
    derivative σ(x)·σ(−x) stays accurate in the saturated tails, where torch.sigmoid's backward
    computes y·(1 − y) from a y rounded to 1 and loses most digits."""
    return torch.exp(F.logsigmoid(x))

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "loss", "testdata", "goldens.json")


def default_params(**kw):
    p = dict(
        beta=0.1,
        label_smoothing=0.0,
        reference_free=False,
        discopop_tau=0.05,
        simpo_gamma=0.5,
        cpo_alpha=1.0,
        rpo_alpha=0.0,
        ld_alpha=None,
        use_weighting=False,
        f_divergence_type="reverse_kl",
        f_alpha_divergence_coef=0.5,
        desirable_weight=1.0,
        undesirable_weight=1.0,
        center_rewards_coefficient=0.0,
    )
    p.update(kw)
    return p


# ---------------------------------------------------------------------------------------------
# Random per-token inputs for one pairwise micro-batch.
# ---------------------------------------------------------------------------------------------


def make_pairs(gen, B, scale=1.0, ref_noise=0.5, maxlen=6, lengths=None, tie=False):
    """Per-token log-probs for B pairs: rows 0..B-1 chosen, B..2B-1 rejected (TRL's layout)."""
    if lengths is None:
        lengths = torch.randint(1, maxlen + 1, (2 * B,), generator=gen).tolist()
    T = max(max(lengths), 1)
    mask = torch.zeros(2 * B, T)
    for i, n in enumerate(lengths):
        mask[i, :n] = 1.0
    pol = -(torch.rand(2 * B, T, generator=gen) * 2.0 + 0.05) * scale
    ref = pol + torch.randn(2 * B, T, generator=gen) * ref_noise * scale
    if tie:
        # Make pair 1 an exact copy of pair 0 (chosen and rejected), so sorting sees ties.
        for half in (0, B):
            pol[half + 1] = pol[half]
            ref[half + 1] = ref[half]
            mask[half + 1] = mask[half]
            lengths[half + 1] = lengths[half]
    pol = pol * mask
    ref = ref * mask
    # What TRL computes from the logits under no_grad: log Σ_v p_v² (≤ 0) and the vocab-mean logit.
    log_denom = -torch.rand(2 * B, T, generator=gen) * math.log(32.0) * mask
    mean_logit = torch.randn(2 * B, T, generator=gen) * mask
    return dict(pol=pol, ref=ref, mask=mask, lengths=lengths, log_denom=log_denom, mean_logit=mean_logit)


def ld_masks(mask):
    """TRL's shared/tail masks for ld_alpha (dpo_trainer.py _compute_loss)."""
    comp_pos = mask.cumsum(dim=1)
    comp_lens = mask.sum(dim=1).long()
    chosen_lens, rejected_lens = comp_lens.chunk(2, dim=0)
    shared_lens = torch.minimum(chosen_lens, rejected_lens)
    shared_lens = torch.cat([shared_lens, shared_lens], dim=0)
    shared_mask = (comp_pos > 0) & (comp_pos <= shared_lens.unsqueeze(1))
    tail_mask = comp_pos > shared_lens.unsqueeze(1)
    return shared_mask, tail_mask


def pair_batch_json(d, B):
    """The Go Batch for a pairwise case: plain sums, tails, counts, WPO log-weights, logit sums."""
    mask = d["mask"]
    _, tail_mask = ld_masks(mask)
    tail = tail_mask.double() * mask
    sums = (d["pol"] * mask).sum(1)
    ref_sums = (d["ref"] * mask).sum(1)
    tails = (d["pol"] * tail).sum(1)
    ref_tails = (d["ref"] * tail).sum(1)
    lengths = mask.sum(1).clamp_min(1)
    wpo = ((d["pol"] - d["log_denom"]) * mask).sum(1) / lengths
    logit_sums = d["mean_logit"].sum(1)

    def c(x):
        return x[:B].tolist()

    def r(x):
        return x[B:].tolist()

    return dict(
        PolicyChosen=c(sums),
        PolicyRejected=r(sums),
        RefChosen=c(ref_sums),
        RefRejected=r(ref_sums),
        ChosenTokens=[int(n) for n in d["lengths"][:B]],
        RejectedTokens=[int(n) for n in d["lengths"][B:]],
        PolicyChosenTail=c(tails),
        PolicyRejectedTail=r(tails),
        RefChosenTail=c(ref_tails),
        RefRejectedTail=r(ref_tails),
        ChosenWPOLogWeight=c(wpo),
        RejectedWPOLogWeight=r(wpo),
        ChosenLogitsSum=c(logit_sums),
        RejectedLogitsSum=r(logit_sums),
    )


def token_grads_json(grad, lengths, B):
    if grad is None:  # the loss does not read this input (e.g. the reference under "sft")
        grad = torch.zeros(2 * B, max(max(lengths), 1))
    rows = [grad[i, : lengths[i]].tolist() for i in range(2 * B)]
    return rows[:B], rows[B:]


# ---------------------------------------------------------------------------------------------
# DPOTrainer._compute_loss, transcribed.
# ---------------------------------------------------------------------------------------------


def dpo_compute_loss(per_token_logps, ref_per_token_logps, completion_mask, log_denom, mean_logit, P, loss_types, loss_weights):
    beta = P["beta"]
    label_smoothing = P["label_smoothing"]
    per_token_logps = per_token_logps * completion_mask
    ref_per_token_logps = ref_per_token_logps * completion_mask
    if P["reference_free"]:
        ref_per_token_logps = ref_per_token_logps * 0.0
    if P["ld_alpha"] is None:
        logps = per_token_logps.sum(dim=1)
        ref_logps = ref_per_token_logps.sum(dim=1)
    else:
        shared_mask, tail_mask = ld_masks(completion_mask)
        logps = (per_token_logps * shared_mask).sum(1) + P["ld_alpha"] * (per_token_logps * tail_mask).sum(1)
        ref_logps = (ref_per_token_logps * shared_mask).sum(1) + P["ld_alpha"] * (ref_per_token_logps * tail_mask).sum(1)
    chosen_logps, rejected_logps = logps.chunk(2, dim=0)
    ref_chosen_logps, ref_rejected_logps = ref_logps.chunk(2, dim=0)

    chosen_logratios = chosen_logps - ref_chosen_logps
    rejected_logratios = rejected_logps - ref_rejected_logps

    f = P["f_divergence_type"]
    if f == "reverse_kl":
        chosen_scores, rejected_scores = chosen_logratios, rejected_logratios
    elif f == "forward_kl":
        chosen_scores = -torch.exp(-chosen_logratios)
        rejected_scores = -torch.exp(-rejected_logratios)
    elif f == "js_divergence":
        chosen_scores = F.logsigmoid(chosen_logratios)
        rejected_scores = F.logsigmoid(rejected_logratios)
    elif f == "alpha_divergence":
        a = P["f_alpha_divergence_coef"]
        if abs(a - 1.0) < 1e-6:
            chosen_scores, rejected_scores = chosen_logratios, rejected_logratios
        else:
            coef = 1.0 / (a - 1.0)
            chosen_scores = torch.exp(torch.clamp((a - 1.0) * chosen_logratios, max=80.0)) * coef
            rejected_scores = torch.exp(torch.clamp((a - 1.0) * rejected_logratios, max=80.0)) * coef
    else:
        raise ValueError(f)
    delta_score = chosen_scores - rejected_scores

    if P["rpo_alpha"]:
        loss_types = list(loss_types) + ["sft"]
        loss_weights = list(loss_weights) + [P["rpo_alpha"]]

    chosen_mask, rejected_mask = completion_mask.chunk(2, dim=0)
    loss = 0.0
    for loss_type, loss_weight in zip(loss_types, loss_weights):
        if loss_type == "sigmoid":
            per_sequence_loss = (
                -F.logsigmoid(beta * delta_score) * (1 - label_smoothing)
                - F.logsigmoid(-beta * delta_score) * label_smoothing
            )
        elif loss_type == "hinge":
            per_sequence_loss = torch.relu(1 - beta * delta_score)
        elif loss_type == "ipo":
            chosen_avg_score = chosen_scores / chosen_mask.sum(dim=1).clamp(min=1.0)
            rejected_avg_score = rejected_scores / rejected_mask.sum(dim=1).clamp(min=1.0)
            per_sequence_loss = (chosen_avg_score - rejected_avg_score - 1 / (2 * beta)) ** 2
        elif loss_type == "exo_pair":
            eps = label_smoothing if label_smoothing != 0 else 1e-3
            epsilon = torch.tensor(eps)
            qw = sigmoid(beta * delta_score)
            log_qw = F.logsigmoid(beta * delta_score)
            log_pw = torch.log1p(-epsilon)
            ql = sigmoid(-beta * delta_score)
            log_ql = F.logsigmoid(-beta * delta_score)
            log_pl = torch.log(epsilon)
            per_sequence_loss = qw * (log_qw - log_pw) + ql * (log_ql - log_pl)
        elif loss_type == "nca_pair":
            cr = beta * chosen_scores
            rr = beta * rejected_scores
            per_sequence_loss = -F.logsigmoid(cr) - 0.5 * F.logsigmoid(-cr) - 0.5 * F.logsigmoid(-rr)
        elif loss_type == "robust":
            clean = -(1 - label_smoothing) * F.logsigmoid(beta * delta_score)
            flipped = -label_smoothing * F.logsigmoid(-beta * delta_score)
            per_sequence_loss = (clean - flipped) / (1 - 2 * label_smoothing)
        elif loss_type == "bco_pair":
            cr = beta * chosen_scores
            rr = beta * rejected_scores
            per_sequence_loss = -F.logsigmoid(cr) - F.logsigmoid(-rr)
        elif loss_type == "sppo_hard":
            per_sequence_loss = (chosen_scores - 0.5 / beta) ** 2 + (rejected_scores + 0.5 / beta) ** 2
        elif loss_type == "aot":
            logratios = chosen_logps - rejected_logps
            ref_logratios = ref_chosen_logps - ref_rejected_logps
            logratios_sorted, _ = torch.sort(logratios, dim=0, stable=True)
            ref_logratios_sorted, _ = torch.sort(ref_logratios, dim=0, stable=True)
            delta = logratios_sorted - ref_logratios_sorted
            per_sequence_loss = (
                -F.logsigmoid(beta * delta) * (1 - label_smoothing) - F.logsigmoid(-beta * delta) * label_smoothing
            )
        elif loss_type == "aot_unpaired":
            cs, _ = torch.sort(chosen_logratios, dim=0, stable=True)
            rs, _ = torch.sort(rejected_logratios, dim=0, stable=True)
            delta = cs - rs
            per_sequence_loss = (
                -F.logsigmoid(beta * delta) * (1 - label_smoothing) - F.logsigmoid(-beta * delta) * label_smoothing
            )
        elif loss_type == "apo_zero":
            per_sequence_loss = 1 - sigmoid(beta * chosen_logratios) + sigmoid(beta * rejected_logratios)
        elif loss_type == "apo_down":
            per_sequence_loss = sigmoid(beta * chosen_logratios) + 1 - sigmoid(beta * delta_score)
        elif loss_type == "discopop":
            logits = delta_score * beta
            mod = sigmoid(logits / P["discopop_tau"])
            per_sequence_loss = -F.logsigmoid(logits) * (1 - mod) + torch.exp(-logits) * mod
        elif loss_type == "sft":
            # F.cross_entropy over the masked chosen tokens = −mean of their log-probs.
            chosen_tok, _ = per_token_logps.chunk(2, dim=0)
            batch_loss = -(chosen_tok * chosen_mask).sum() / chosen_mask.sum().clamp(min=1.0)
            per_sequence_loss = batch_loss.expand(chosen_tok.size(0))
        elif loss_type == "sigmoid_norm":
            chosen_avg_score = chosen_scores / chosen_mask.sum(dim=1).clamp(min=1.0)
            rejected_avg_score = rejected_scores / rejected_mask.sum(dim=1).clamp(min=1.0)
            per_sequence_loss = -F.logsigmoid(beta * (chosen_avg_score - rejected_avg_score))
        else:
            raise ValueError(loss_type)

        if P["use_weighting"]:
            lengths = completion_mask.sum(dim=1).clamp_min(1)
            with torch.no_grad():
                aligned = (per_token_logps - log_denom) * completion_mask
                weights = torch.exp(aligned.sum(dim=1) / lengths)
            cw, rw = weights.chunk(2, dim=0)
            per_sequence_loss = per_sequence_loss * (cw * rw)
        loss = loss + per_sequence_loss.mean() * loss_weight

    with torch.no_grad():
        chosen_rewards = beta * chosen_logratios
        rejected_rewards = beta * rejected_logratios
        metrics = {
            "rewards/chosen": chosen_rewards.mean().item(),
            "rewards/rejected": rejected_rewards.mean().item(),
            "rewards/accuracies": (chosen_rewards > rejected_rewards).double().mean().item(),
            "rewards/margins": (chosen_rewards - rejected_rewards).mean().item(),
            "logps/chosen": chosen_logps.mean().item(),
            "logps/rejected": rejected_logps.mean().item(),
        }
        cl, rl = mean_logit.chunk(2, dim=0)
        metrics["logits/chosen"] = (cl.sum() / chosen_mask.sum()).item()
        metrics["logits/rejected"] = (rl.sum() / rejected_mask.sum()).item()
        if P["rpo_alpha"]:
            chosen_tok, _ = per_token_logps.chunk(2, dim=0)
            metrics["nll_loss"] = (-(chosen_tok * chosen_mask).sum() / chosen_mask.sum().clamp(min=1.0)).item()
    return loss, metrics


# ---------------------------------------------------------------------------------------------
# ORPO and CPO/SimPO, transcribed (average_log_prob as their concatenated_forward does).
# ---------------------------------------------------------------------------------------------


def avg_and_sum(per_token_logps, completion_mask):
    sums = (per_token_logps * completion_mask).sum(-1)
    return sums, sums / completion_mask.sum(-1).clamp(min=1.0)


def chosen_nll(per_token_logps, completion_mask):
    chosen_tok, _ = per_token_logps.chunk(2, dim=0)
    chosen_mask, _ = completion_mask.chunk(2, dim=0)
    return -(chosen_tok * chosen_mask).sum() / chosen_mask.sum().clamp(min=1.0)


def ref_free_metrics(chosen_logps, rejected_logps, beta, mean_logit, completion_mask):
    chosen_rewards = beta * chosen_logps.detach()
    rejected_rewards = beta * rejected_logps.detach()
    cl, rl = mean_logit.chunk(2, dim=0)
    cm, rm = completion_mask.chunk(2, dim=0)
    return {
        "rewards/chosen": chosen_rewards.mean().item(),
        "rewards/rejected": rejected_rewards.mean().item(),
        "rewards/accuracies": (chosen_rewards > rejected_rewards).double().mean().item(),
        "rewards/margins": (chosen_rewards - rejected_rewards).mean().item(),
        "logps/chosen": chosen_logps.detach().mean().item(),
        "logps/rejected": rejected_logps.detach().mean().item(),
        "logits/chosen": (cl.sum() / cm.sum()).item(),
        "logits/rejected": (rl.sum() / rm.sum()).item(),
    }


def orpo_compute_loss(per_token_logps, completion_mask, mean_logit, P):
    beta = P["beta"]
    _, avg = avg_and_sum(per_token_logps, completion_mask)
    policy_chosen_logps, policy_rejected_logps = avg.chunk(2, dim=0)
    policy_nll_loss = chosen_nll(per_token_logps, completion_mask)
    log_odds = (policy_chosen_logps - policy_rejected_logps) - (
        torch.log1p(-torch.exp(policy_chosen_logps)) - torch.log1p(-torch.exp(policy_rejected_logps))
    )
    ratio = F.logsigmoid(log_odds)
    losses = beta * ratio
    loss = policy_nll_loss - losses.mean()
    metrics = ref_free_metrics(policy_chosen_logps, policy_rejected_logps, beta, mean_logit, completion_mask)
    metrics["nll_loss"] = policy_nll_loss.item()
    metrics["log_odds_ratio"] = ratio.mean().item()
    metrics["log_odds_chosen"] = log_odds.mean().item()
    return loss, metrics


def cpo_compute_loss(per_token_logps, completion_mask, mean_logit, P, loss_type):
    beta, ls = P["beta"], P["label_smoothing"]
    sums, avg = avg_and_sum(per_token_logps, completion_mask)
    all_logps = avg if loss_type in ["ipo", "simpo"] else sums
    policy_chosen_logps, policy_rejected_logps = all_logps.chunk(2, dim=0)
    if P["cpo_alpha"] == 0:
        nll_loss = torch.tensor(0.0)
    else:
        nll_loss = chosen_nll(per_token_logps, completion_mask)
    logits = policy_chosen_logps - policy_rejected_logps
    if loss_type == "simpo":
        logits = logits - P["simpo_gamma"] / beta
    losses = -F.logsigmoid(beta * logits) * (1 - ls) - F.logsigmoid(-beta * logits) * ls
    loss = losses.mean() + P["cpo_alpha"] * nll_loss
    metrics = ref_free_metrics(policy_chosen_logps, policy_rejected_logps, beta, mean_logit, completion_mask)
    metrics["nll_loss"] = nll_loss.item()
    return loss, metrics


# ---------------------------------------------------------------------------------------------
# Cases.
# ---------------------------------------------------------------------------------------------

CASES = []


def pair_case(name, losses, weights, P, gen, B=4, check_fd=True, **mk):
    d = make_pairs(gen, B, **mk)
    pol = d["pol"].clone().requires_grad_(True)
    ref = d["ref"].clone().requires_grad_(True)
    mask = d["mask"]
    family = losses[0]
    if family == "orpo":
        loss, metrics = orpo_compute_loss(pol, mask, d["mean_logit"], P)
    elif family in ("cpo", "simpo"):
        loss, metrics = cpo_compute_loss(pol, mask, d["mean_logit"], P, "sigmoid" if family == "cpo" else "simpo")
    else:
        loss, metrics = dpo_compute_loss(pol, ref, mask, d["log_denom"], d["mean_logit"], P, losses, weights or [1.0] * len(losses))
    loss.backward()
    batch = pair_batch_json(d, B)
    if family in ("orpo", "cpo", "simpo") or P["reference_free"]:
        for k in ("RefChosen", "RefRejected", "RefChosenTail", "RefRejectedTail"):
            batch.pop(k)
    pc, pr = token_grads_json(pol.grad, d["lengths"], B)
    want = dict(loss=loss.item(), metrics=metrics, token_grads=dict(PolicyChosen=pc, PolicyRejected=pr))
    if family not in ("orpo", "cpo", "simpo") and not P["reference_free"]:
        rc, rr = token_grads_json(ref.grad, d["lengths"], B)
        want["token_grads"]["RefChosen"] = rc
        want["token_grads"]["RefRejected"] = rr
    CASES.append(dict(name=name, losses=losses, weights=weights, params=P, batch=batch, want=want, check_fd=check_fd))


def kto_case(name, loss_type, P, gen, B=6, with_kl=True, labels=None):
    policy = (-(torch.rand(B, generator=gen) * 20 + 1)).requires_grad_(True)
    ref = (policy.detach() + torch.randn(B, generator=gen) * 3).requires_grad_(True)
    policy_kl = -(torch.rand(B, generator=gen) * 20 + 1)
    ref_kl = policy_kl - torch.rand(B, generator=gen) * 2 + 0.3
    if labels is None:
        labels = (torch.rand(B, generator=gen) > 0.4).tolist()
    beta = P["beta"]
    bool_labels = torch.tensor(labels, dtype=torch.bool)
    chosen_idx = torch.nonzero(bool_labels, as_tuple=False).view(-1)
    rejected_idx = torch.nonzero(~bool_labels, as_tuple=False).view(-1)
    refv = ref * 0.0 if P["reference_free"] else ref
    chosen_logps = policy.index_select(0, chosen_idx)
    rejected_logps = policy.index_select(0, rejected_idx)
    ref_chosen_logps = refv.index_select(0, chosen_idx)
    ref_rejected_logps = refv.index_select(0, rejected_idx)
    calculate_kl = loss_type == "kto" and with_kl
    if calculate_kl:
        rk = ref_kl * 0.0 if P["reference_free"] else ref_kl
        kl = (policy_kl - rk).mean().detach().clamp(min=0)
    else:
        kl = torch.zeros(1)
    chosen_logratios = chosen_logps - ref_chosen_logps
    rejected_logratios = rejected_logps - ref_rejected_logps
    if loss_type == "kto":
        chosen_losses = 1 - sigmoid(beta * (chosen_logratios - kl))
        rejected_losses = 1 - sigmoid(beta * (kl - rejected_logratios))
    else:
        chosen_losses = 1 - sigmoid(beta * chosen_logratios)
        rejected_losses = sigmoid(beta * rejected_logratios)
    losses = torch.cat((P["desirable_weight"] * chosen_losses, P["undesirable_weight"] * rejected_losses), 0)
    loss = losses.nanmean()
    loss.backward()
    metrics = {"kl": kl.item()}
    nc, nr = len(chosen_idx), len(rejected_idx)
    if nc:
        metrics["rewards/chosen"] = (beta * chosen_logratios.detach()).sum().item() / nc
        metrics["logps/chosen"] = chosen_logps.detach().sum().item() / nc
    if nr:
        metrics["rewards/rejected"] = (beta * rejected_logratios.detach()).sum().item() / nr
        metrics["logps/rejected"] = rejected_logps.detach().sum().item() / nr
    if nc and nr:
        metrics["rewards/margins"] = metrics["rewards/chosen"] - metrics["rewards/rejected"]
    batch = dict(Policy=policy.tolist(), Ref=ref.tolist(), Desirable=labels)
    if with_kl:
        batch["PolicyKL"] = policy_kl.tolist()
        batch["RefKL"] = ref_kl.tolist()
    grads = dict(DPolicy=policy.grad.tolist())
    if not P["reference_free"]:
        grads["DRef"] = ref.grad.tolist()
    else:
        batch.pop("Ref")
        batch.pop("RefKL", None)
    CASES.append(dict(name=name, losses=[loss_type], weights=None, params=P, batch=batch,
                      want=dict(loss=loss.item(), metrics=metrics, grads=grads), check_fd=True))


def rm_case(name, P, gen, B=5, with_margin=True, scale=1.0):
    rc = (torch.randn(B, generator=gen) * scale).requires_grad_(True)
    rr = (torch.randn(B, generator=gen) * scale).requires_grad_(True)
    margin = torch.rand(B, generator=gen) if with_margin else None
    if margin is not None:
        loss = -F.logsigmoid(rc - rr - margin).mean()
    else:
        loss = -F.logsigmoid(rc - rr).mean()
    if P["center_rewards_coefficient"]:
        loss = loss + P["center_rewards_coefficient"] * torch.mean((rc + rr) ** 2)
    loss.backward()
    with torch.no_grad():
        allr = torch.cat([rc, rr])
        metrics = {
            "accuracy": (rc > rr).double().mean().item(),
            "margin": (rc - rr).mean().item(),
            "min_reward": allr.min().item(),
            "mean_reward": allr.mean().item(),
            "max_reward": allr.max().item(),
            "rewards/chosen": rc.mean().item(),
            "rewards/rejected": rr.mean().item(),
            "rewards/accuracies": (rc > rr).double().mean().item(),
            "rewards/margins": (rc - rr).mean().item(),
        }
    batch = dict(RewardChosen=rc.tolist(), RewardRejected=rr.tolist())
    if margin is not None:
        batch["Margin"] = margin.tolist()
    CASES.append(dict(name=name, losses=["bradley_terry"], weights=None, params=P, batch=batch,
                      want=dict(loss=loss.item(), metrics=metrics,
                                grads=dict(DRewardChosen=rc.grad.tolist(), DRewardRejected=rr.grad.tolist())),
                      check_fd=True))


def lipo_listmle(s, labels):
    order = torch.sort(labels, descending=True, stable=True).indices
    ss = s[order]
    # Plackett–Luce: Σ_m logsumexp(ss[m:]) − ss[m]
    total = 0.0
    for m in range(ss.shape[0]):
        total = total + torch.logsumexp(ss[m:], dim=0) - ss[m]
    return total


def lipo_lambda(s, labels):
    with torch.no_grad():
        order = torch.sort(s, descending=True, stable=True).indices
        rank = torch.empty_like(s)
        rank[order] = torch.arange(1, s.shape[0] + 1, dtype=s.dtype)
        gain = 2.0 ** labels - 1.0
        disc = 1.0 / torch.log2(1.0 + rank)
    total = 0.0
    K = s.shape[0]
    for a in range(K):
        for b in range(K):
            if labels[a] > labels[b]:
                w = (gain[a] - gain[b]).abs() * (disc[a] - disc[b]).abs()
                total = total - w * F.logsigmoid(s[a] - s[b])
    return total


def lipo_case(name, kind, P, gen, B=3, K=4, ties=False, check_fd=True):
    policy = (-(torch.rand(B * K, generator=gen) * 30 + 1)).requires_grad_(True)
    ref = (policy.detach() + torch.randn(B * K, generator=gen) * 4).requires_grad_(True)
    labels = torch.randint(0, 4, (B * K,), generator=gen).double()
    if ties:
        labels[1] = labels[0]
    refv = ref * 0.0 if P["reference_free"] else ref
    s_all = P["beta"] * (policy - refv)
    fn = lipo_listmle if kind == "lipo_listmle" else lipo_lambda
    loss = 0.0
    best_r, worst_r, best_lp, worst_lp, pairs, correct = 0.0, 0.0, 0.0, 0.0, 0, 0
    for l in range(B):
        s = s_all[l * K:(l + 1) * K]
        lab = labels[l * K:(l + 1) * K]
        loss = loss + fn(s, lab) / B
        sd = s.detach()
        best = int(torch.argmax(lab))  # first maximum
        worst = int(torch.argmin(lab))  # first minimum
        best_r += sd[best].item()
        worst_r += sd[worst].item()
        best_lp += policy.detach()[l * K + best].item()
        worst_lp += policy.detach()[l * K + worst].item()
        for a in range(K):
            for b in range(K):
                if lab[a] > lab[b]:
                    pairs += 1
                    correct += int(sd[a] > sd[b])
    loss.backward()
    metrics = {
        "rewards/chosen": best_r / B,
        "rewards/rejected": worst_r / B,
        "rewards/margins": (best_r - worst_r) / B,
        "logps/chosen": best_lp / B,
        "logps/rejected": worst_lp / B,
    }
    if pairs:
        metrics["rewards/accuracies"] = correct / pairs
    batch = dict(ListPolicy=policy.tolist(), ListRef=ref.tolist(), ListLabels=labels.tolist(), ListSize=K)
    grads = dict(DListPolicy=policy.grad.tolist())
    if P["reference_free"]:
        batch.pop("ListRef")
    else:
        grads["DListRef"] = ref.grad.tolist()
    CASES.append(dict(name=name, losses=[kind], weights=None, params=P, batch=batch,
                      want=dict(loss=loss.item(), metrics=metrics, grads=grads), check_fd=check_fd))


def main():
    gen = torch.Generator().manual_seed(20240521)
    dpo_family = ["sigmoid", "hinge", "ipo", "exo_pair", "nca_pair", "robust", "bco_pair", "sppo_hard",
                  "aot", "aot_unpaired", "apo_zero", "apo_down", "discopop", "sft", "sigmoid_norm"]
    for lt in dpo_family:
        pair_case(f"{lt}/basic", [lt], None, default_params(), gen)
        pair_case(f"{lt}/beta0.5_long", [lt], None, default_params(beta=0.5), gen, B=6, maxlen=12)
        pair_case(f"{lt}/smoothing", [lt], None, default_params(label_smoothing=0.2), gen)
        pair_case(f"{lt}/reference_free", [lt], None, default_params(reference_free=True), gen)
        # Large margins: β·δ far into the saturated tails of σ (hinge's kink stays away from 0).
        pair_case(f"{lt}/saturated", [lt], None, default_params(beta=1.0), gen, scale=25.0, ref_noise=2.0,
                  check_fd=lt not in ("discopop",))
        pair_case(f"{lt}/ld_alpha", [lt], None, default_params(ld_alpha=0.5), gen, B=5, maxlen=9)
        pair_case(f"{lt}/wpo", [lt], None, default_params(use_weighting=True), gen)
        pair_case(f"{lt}/rpo", [lt], None, default_params(rpo_alpha=0.7), gen)
        pair_case(f"{lt}/ties", [lt], None, default_params(), gen, tie=True, check_fd=False)
    for f in ("forward_kl", "js_divergence", "alpha_divergence"):
        for lt in ("sigmoid", "ipo", "nca_pair", "apo_down", "sigmoid_norm", "aot_unpaired"):
            pair_case(f"{lt}/{f}", [lt], None, default_params(f_divergence_type=f, f_alpha_divergence_coef=0.3), gen)
    pair_case("ipo/empty_completion", ["ipo"], None, default_params(), gen, B=3, lengths=[2, 3, 4, 5, 0, 1])
    pair_case("mix/sigmoid+sft", ["sigmoid", "sft"], [1.0, 0.3], default_params(), gen)
    pair_case("mix/mpo", ["sigmoid", "bco_pair", "sft"], [0.8, 0.2, 1.0], default_params(use_weighting=True), gen)
    pair_case("mix/all_options", ["apo_zero", "ipo", "aot"], [0.5, 0.25, 2.0],
              default_params(beta=0.3, label_smoothing=0.1, ld_alpha=0.25, use_weighting=True, rpo_alpha=0.5), gen, B=5)

    for name in ("orpo", "cpo", "simpo"):
        pair_case(f"{name}/basic", [name], None, default_params(), gen)
        pair_case(f"{name}/beta2_long", [name], None, default_params(beta=2.0, simpo_gamma=1.2), gen, B=6, maxlen=12)
        pair_case(f"{name}/smoothing", [name], None, default_params(label_smoothing=0.15, cpo_alpha=0.0), gen)
        pair_case(f"{name}/saturated", [name], None, default_params(beta=5.0), gen, scale=20.0)
        pair_case(f"{name}/near_zero_logp", [name], None, default_params(), gen, scale=0.01)

    for lt in ("kto", "apo_zero_unpaired"):
        kto_case(f"{lt}/basic", lt, default_params(), gen)
        kto_case(f"{lt}/weights", lt, default_params(beta=0.3, desirable_weight=1.33, undesirable_weight=0.7), gen, B=8)
        kto_case(f"{lt}/reference_free", lt, default_params(reference_free=True), gen)
        kto_case(f"{lt}/all_desirable", lt, default_params(), gen, labels=[True] * 4, B=4)
        kto_case(f"{lt}/all_undesirable", lt, default_params(), gen, labels=[False] * 4, B=4)
        kto_case(f"{lt}/saturated", lt, default_params(beta=5.0), gen)
    kto_case("kto/no_kl", "kto", default_params(), gen, with_kl=False)

    rm_case("bradley_terry/basic", default_params(), gen, with_margin=False)
    rm_case("bradley_terry/margin", default_params(), gen)
    rm_case("bradley_terry/center", default_params(center_rewards_coefficient=0.01), gen, B=7)
    rm_case("bradley_terry/saturated", default_params(center_rewards_coefficient=0.5), gen, scale=30.0)

    for kind in ("lipo_listmle", "lipo_lambda"):
        lipo_case(f"{kind}/basic", kind, default_params(), gen)
        lipo_case(f"{kind}/beta1_k6", kind, default_params(beta=1.0), gen, B=2, K=6)
        lipo_case(f"{kind}/reference_free", kind, default_params(reference_free=True), gen)
        lipo_case(f"{kind}/label_ties", kind, default_params(), gen, ties=True, check_fd=kind == "lipo_listmle")

    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        # One case per line keeps diffs of regenerated goldens readable.
        head = json.dumps(dict(generator="reference/loss/gen_goldens.py", torch=torch.__version__))
        f.write(head[:-1] + ', "cases": [\n')
        f.write(",\n".join(json.dumps(c) for c in CASES))
        f.write("\n]}\n")
    print(f"wrote {len(CASES)} cases to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
