"""Next-token sampling for a batch whose rows each have their own `SamplingParams`.

The logprob reported for a sampled token is log μ(token) under the distribution it was
actually drawn from: logits / temperature, then top-k, then top-p (renormalised). This
is what importance ratios against the learner need. Greedy rows (temperature 0) take the
argmax and report its logprob under the *unmodified* distribution (temperature 1, no
top-k/top-p): the greedy "distribution" is a point mass whose logprob (0) would tell the
learner nothing; vLLM's default `raw_logprobs` reports the same number.

Seeds: a row with `seed` draws from its own `torch.Generator`, seeded once when the
request starts, so its tokens do not depend on which other requests share the batch.
Unseeded rows share the engine's generator in one vectorised draw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from agent_rl.engines._script import scripted
from agent_rl.engines.base import SamplingParams


@dataclass(frozen=True, slots=True)
class Sampled:
    token_ids: torch.Tensor  # [B] long, on the logits' device (the next decode step's input)
    tokens: list[int]
    logprobs: list[float]
    top: list[dict[int, float] | None]  # per row: alternatives when its params ask for them


def _filter_top_k(scores_BV: torch.Tensor, top_k_B: torch.Tensor) -> torch.Tensor:
    """Keep each row's `k` largest scores (k = 0: keep all); others → -inf."""
    k_max = int(top_k_B.max())
    k_max = min(k_max, scores_BV.shape[-1])
    kth_B1 = scores_BV.topk(k_max, dim=-1).values.gather(1, (top_k_B.clamp(1, k_max) - 1)[:, None])
    drop_BV = (scores_BV < kth_B1) & (top_k_B > 0)[:, None]
    return scores_BV.masked_fill(drop_BV, float("-inf"))


def _filter_top_p(scores_BV: torch.Tensor, top_p_B: torch.Tensor) -> torch.Tensor:
    """Keep each row's smallest set of tokens whose probability reaches `p` (always ≥ 1 token)."""
    sorted_BV, order_BV = scores_BV.sort(dim=-1, descending=True)
    probs_BV = sorted_BV.softmax(dim=-1)
    mass_before_BV = probs_BV.cumsum(dim=-1) - probs_BV  # probability of strictly better tokens
    drop_sorted_BV = mass_before_BV >= top_p_B[:, None]
    drop_BV = torch.zeros_like(drop_sorted_BV).scatter(1, order_BV, drop_sorted_BV)
    return scores_BV.masked_fill(drop_BV, float("-inf"))


def sample_next(logits_BV: torch.Tensor, params_B: Sequence[SamplingParams],
                generators_B: Sequence[torch.Generator | None], shared: torch.Generator) -> Sampled:
    """Pick one token per row.

    Args:
        logits_BV: float32 next-token logits, one row per request.
        params_B: each row's sampling parameters.
        generators_B: each row's own generator (seeded requests) or None.
        shared: the generator for unseeded rows.
    """
    device = logits_BV.device
    temperature = params_B[0].temperature
    if temperature > 0 and all(p.temperature == temperature and not p.top_logprobs and p.top_k == 0
                               and p.top_p >= 1 for p in params_B) and all(g is None for g in generators_B):
        # The RL rollout case — every row samples the same way from the shared generator —
        # in one scripted call (see `_script`): the same operations as below.
        uniform_B = torch.rand(len(params_B), generator=shared, device=device, dtype=logits_BV.dtype)
        tokens_B, logprobs_B = scripted(_sample_plain)(logits_BV, uniform_B, float(temperature))
        return Sampled(tokens_B, tokens_B.tolist(), logprobs_B.tolist(), [None] * len(params_B))
    sampled_rows = [i for i, p in enumerate(params_B) if p.temperature > 0]
    if len(sampled_rows) == len(params_B):  # no greedy row, no gather/scatter
        logprobs_BV, tokens_B = _sample_rows(logits_BV, params_B, generators_B, shared)
        logprobs_B = logprobs_BV.gather(1, tokens_B[:, None]).squeeze(1)
        return Sampled(tokens_B, tokens_B.tolist(), logprobs_B.tolist(), _alternatives(logprobs_BV, params_B))
    dist_logprobs_BV = logits_BV.log_softmax(dim=-1)  # greedy rows report these
    tokens_B = logits_BV.argmax(dim=-1)
    logprobs_B = dist_logprobs_BV.gather(1, tokens_B[:, None]).squeeze(1)
    if sampled_rows:
        index = torch.tensor(sampled_rows, device=device)
        logprobs_RV, drawn_R = _sample_rows(logits_BV[index], [params_B[i] for i in sampled_rows],
                                            [generators_B[i] for i in sampled_rows], shared)
        tokens_B[index] = drawn_R
        logprobs_B[index] = logprobs_RV.gather(1, drawn_R[:, None]).squeeze(1)
        if any(params_B[i].top_logprobs for i in sampled_rows):
            dist_logprobs_BV = dist_logprobs_BV.index_copy(0, index, logprobs_RV)
    return Sampled(tokens_B, tokens_B.tolist(), logprobs_B.tolist(), _alternatives(dist_logprobs_BV, params_B))


def _sample_plain(logits_BV: torch.Tensor, uniform_B: torch.Tensor, temperature: float
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Tokens and their logprobs for rows that all sample at `temperature` without top-k,
    top-p or alternatives, each at its uniform number (`_sample_rows` + `_draw`, fused)."""
    scores_BV = logits_BV if temperature == 1.0 else logits_BV / temperature
    logprobs_BV = scores_BV.log_softmax(dim=-1)
    tokens_B = _invert_cdf(logprobs_BV.exp(), uniform_B)
    return tokens_B, logprobs_BV.gather(1, tokens_B.unsqueeze(1)).squeeze(1)


def _invert_cdf(probs_RV: torch.Tensor, uniform_R: torch.Tensor) -> torch.Tensor:
    """Row r's token at its uniform number u_r: the first index whose CDF exceeds u_r
    (`right=True`, so a token of probability 0 — cut by top-k/top-p — is never drawn)."""
    cdf_RV = probs_RV.cumsum(dim=-1)
    drawn_R1 = torch.searchsorted(cdf_RV, (uniform_R * cdf_RV[:, -1]).unsqueeze(1), right=True)
    return drawn_R1.squeeze(1).clamp(max=probs_RV.shape[1] - 1)


def _sample_rows(logits_RV: torch.Tensor, params_R: Sequence[SamplingParams],
                 generators_R: Sequence[torch.Generator | None], shared: torch.Generator
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows that all sample (temperature > 0): log μ over the vocabulary and one draw each."""
    device = logits_RV.device
    temperatures = {p.temperature for p in params_R}
    if temperatures == {1.0}:  # the usual RL setting: x / 1 is x, skip a pass over the vocabulary
        scores_RV = logits_RV
    elif len(temperatures) == 1:  # one division by a number, not a per-row tensor
        scores_RV = logits_RV / temperatures.pop()
    else:
        scores_RV = logits_RV / torch.tensor([p.temperature for p in params_R], device=device,
                                             dtype=logits_RV.dtype)[:, None]
    if any(p.top_k > 0 for p in params_R):
        scores_RV = _filter_top_k(scores_RV, torch.tensor([p.top_k for p in params_R], device=device))
    if any(p.top_p < 1 for p in params_R):
        scores_RV = _filter_top_p(scores_RV, torch.tensor([p.top_p for p in params_R], device=device,
                                                          dtype=scores_RV.dtype))
    logprobs_RV = scores_RV.log_softmax(dim=-1)
    return logprobs_RV, _draw(logprobs_RV.exp(), generators_R, shared)


def _alternatives(logprobs_BV: torch.Tensor, params_B: Sequence[SamplingParams]) -> list[dict[int, float] | None]:
    """Each row's `top_logprobs` most likely tokens (tokens filtered out by top-k/top-p excluded)."""
    wanted = max(p.top_logprobs for p in params_B)
    if not wanted:
        return [None] * len(params_B)
    values_BK, ids_BK = logprobs_BV.topk(wanted, dim=-1)
    values, ids = values_BK.tolist(), ids_BK.tolist()
    return [{i: v for i, v in zip(ids[row][: p.top_logprobs], values[row][: p.top_logprobs], strict=True)
             if v != float("-inf")} if p.top_logprobs else None for row, p in enumerate(params_B)]


def _draw(probs_RV: torch.Tensor, generators_R: Sequence[torch.Generator | None],
          shared: torch.Generator) -> torch.Tensor:
    """One draw per row by inverting its CDF at a uniform u_r.

    Each row needs one random number, not a vocabulary's worth: seeded rows take theirs
    from their own generator (a scalar draw costs microseconds), the others from the
    shared one in a single call; the inversion is one vectorised `searchsorted`. With
    `right=True` the chosen index is the first whose CDF exceeds u, so a token of
    probability 0 (cut by top-k/top-p) can never be drawn.
    """
    device = probs_RV.device
    uniform_R = torch.empty(probs_RV.shape[0], dtype=probs_RV.dtype, device=device)
    own = [i for i, g in enumerate(generators_R) if g is not None]
    rest = [i for i, g in enumerate(generators_R) if g is None]
    for i in own:
        uniform_R[i] = torch.rand((), generator=generators_R[i], device=device, dtype=probs_RV.dtype)
    if rest:
        uniform_R[torch.tensor(rest, device=device)] = torch.rand(len(rest), generator=shared, device=device,
                                                                  dtype=probs_RV.dtype)
    return _invert_cdf(probs_RV, uniform_R)
