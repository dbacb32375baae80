"""Per-row sampling: temperature, top-k, top-p, seeds, and the logprobs they imply."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_rl.engines._sampling import sample_next
from agent_rl.engines._stop import StopChecker
from agent_rl.engines.base import FinishReason, SamplingParams


def _shared(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


LOGITS = torch.tensor([[2.0, 1.0, 0.5, -1.0, 0.0], [0.0, 3.0, 2.9, 1.0, -2.0]])


def test_greedy_rows_take_the_argmax_with_unmodified_logprobs() -> None:
    out = sample_next(LOGITS, [SamplingParams(temperature=0)] * 2, [None, None], _shared())
    assert out.tokens == [0, 1]
    expected = LOGITS.log_softmax(-1)
    assert out.logprobs == pytest.approx([float(expected[0, 0]), float(expected[1, 1])])
    assert out.top == [None, None]


def test_top_k_one_and_tiny_top_p_are_deterministic_with_logprob_zero() -> None:
    rows = [SamplingParams(temperature=1.0, top_k=1), SamplingParams(temperature=1.0, top_p=1e-6)]
    out = sample_next(LOGITS, rows, [None, None], _shared())
    assert out.tokens == [0, 1] and out.logprobs == pytest.approx([0.0, 0.0])


def test_top_p_keeps_the_smallest_set_reaching_p() -> None:
    # Row 1: p(1) ≈ 0.48, p(2) ≈ 0.44 → top_p 0.5 keeps {1, 2}; the logprob is renormalised over them.
    params = SamplingParams(temperature=1.0, top_p=0.5, top_logprobs=5)
    out = sample_next(LOGITS[1:], [params], [None], _shared())
    assert out.tokens[0] in (1, 2)
    kept = LOGITS[1, [1, 2]].log_softmax(-1)
    assert out.logprobs[0] == pytest.approx(float(kept[[1, 2].index(out.tokens[0])]), abs=1e-6)
    assert set(out.top[0] or {}) == {1, 2}  # filtered-out tokens are not alternatives


def test_seeded_rows_use_their_own_generator() -> None:
    params = SamplingParams(temperature=1.0, seed=5)
    draws = []
    for noise_seed in (0, 1, 2):  # different shared generators: the seeded row does not care
        mine = torch.Generator().manual_seed(5)
        tokens = [sample_next(LOGITS[1:] * 0.1, [params], [mine], _shared(noise_seed)).tokens[0] for _ in range(8)]
        draws.append(tokens)
    assert draws[0] == draws[1] == draws[2]


@settings(max_examples=40, deadline=None)
@given(temperature=st.floats(0.05, 3.0), top_k=st.integers(0, 5), top_p=st.floats(0.05, 1.0),
       seed=st.integers(0, 1000))
def test_sampled_tokens_lie_in_the_filtered_set_and_logprobs_are_consistent(
        temperature: float, top_k: int, top_p: float, seed: int) -> None:
    params = SamplingParams(temperature=temperature, top_k=top_k, top_p=top_p, top_logprobs=5)
    out = sample_next(LOGITS, [params, params], [None, None], _shared(seed))
    for row, (token, logprob) in enumerate(zip(out.tokens, out.logprobs, strict=True)):
        assert logprob <= 1e-6 and not math.isnan(logprob)
        if top_k:
            assert token in LOGITS[row].topk(top_k).indices.tolist()
        alternatives = out.top[row] or {}
        assert token in alternatives and alternatives[token] == pytest.approx(logprob)
        assert math.log(sum(math.exp(v) for v in alternatives.values())) == pytest.approx(0.0, abs=1e-5)


class _Chars:
    """A stand-in tokenizer: token id n is the character chr(n)."""

    def decode(self, tokens: list[int], skip_special_tokens: bool = False) -> str:
        return "".join(chr(t) for t in tokens)


def test_stop_checker_rules() -> None:
    eos = StopChecker(SamplingParams(max_new_tokens=10), eos_ids=[7], tokenizer=None, room=100)
    assert eos.check([1, 7]) == FinishReason.STOP and eos.check([7, 1]) is None
    ignoring = StopChecker(SamplingParams(max_new_tokens=3, ignore_eos=True, stop_token_ids=(9,)), [7], None, 100)
    assert ignoring.check([7]) is None and ignoring.check([1, 9]) == FinishReason.STOP
    assert ignoring.check([1, 2, 3]) == FinishReason.LENGTH
    room = StopChecker(SamplingParams(max_new_tokens=10), [], None, room=2)
    assert room.check([1, 2]) == FinishReason.LENGTH  # the context is full
    strings = StopChecker(SamplingParams(stop=("</a>",)), [], _Chars(), 100)
    text = [ord(c) for c in "x </a"]
    assert strings.check(text) is None and strings.check([*text, ord(">")]) == FinishReason.STOP


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_the_plain_rollout_case_takes_the_scripted_path_with_the_same_draws(temperature: float) -> None:
    """Every row sampling alike from the shared generator (RL rollouts) goes through one
    scripted call (`_sampling._sample_plain`); it draws the same tokens, with the same
    logprobs, as the general path — which a row asking for alternatives takes."""
    from agent_rl.engines import _sampling
    from agent_rl.engines._script import scripted

    assert isinstance(scripted(_sampling._sample_plain).script, torch.jit.ScriptFunction)
    torch.manual_seed(0)
    logits = torch.randn(6, 50) * 3
    plain = SamplingParams(temperature=temperature)
    with_alternatives = SamplingParams(temperature=temperature, top_logprobs=2)
    fast = sample_next(logits, [plain] * 6, [None] * 6, torch.Generator().manual_seed(5))
    general = sample_next(logits, [with_alternatives] * 6, [None] * 6, torch.Generator().manual_seed(5))
    assert fast.tokens == general.tokens
    assert fast.logprobs == pytest.approx(general.logprobs, abs=1e-6)
    assert fast.top == [None] * 6 and all(top is not None for top in general.top)
    expected = torch.log_softmax(logits / temperature, dim=-1)
    for row, (token, logprob) in enumerate(zip(fast.tokens, fast.logprobs, strict=True)):
        assert logprob == pytest.approx(float(expected[row, token]), abs=1e-5)
