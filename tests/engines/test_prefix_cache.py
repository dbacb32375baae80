"""The `hf` engine's prefix cache: a conversation's next turn reuses the KV of the last one.

Hits must be invisible in the output (the same greedy tokens and logprobs as a cold
prefill), never survive a weight update, and never hold more than their budget.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import torch

from agent_rl.engines._batch import RowKV
from agent_rl.engines._prefix_cache import PrefixCache
from agent_rl.engines.base import SamplingParams, WeightUpdate
from agent_rl.engines.hf import HFEngine
from tests.engines.conftest import PROMPTS, other_weights, reference_greedy, reference_logprobs

GREEDY = SamplingParams(max_new_tokens=12, temperature=0, ignore_eos=True)
#: What a tool answer's template delta looks like to the engine: a few new tokens.
DELTAS = [[11, 12, 13], [400, 401], list(range(60, 75)), [9]]


def _kv(tokens: int, fill: float = 0.0) -> RowKV:
    """A real-shaped RowKV (2 layers, 2 heads, head_dim 4) holding `tokens` positions."""
    tensor = torch.full((2, tokens, 4), fill)
    return RowKV((tensor, tensor.clone()), (tensor.clone(), tensor.clone()))


async def _stats(engine: HFEngine) -> dict:
    return dict((await engine.health()).detail)


async def _conversation(engine: HFEngine, prompt: list[int], turns: int, delay: float = 0.0
                        ) -> list[tuple[list[int], list[float]]]:
    """`turns` greedy turns, each prompt = the last prompt + its output + a delta."""
    await asyncio.sleep(delay)
    context, out = list(prompt), []
    for turn in range(turns):
        result = await engine.generate(context, GREEDY)
        out.append((result.token_ids, result.logprobs))
        context += result.token_ids + DELTAS[turn % len(DELTAS)]
    return out


@pytest.fixture(scope="module")
def cold_engine(tiny_model_dir: Path):  # type: ignore[no-untyped-def]
    engine = HFEngine(tiny_model_dir, prefix_cache_tokens=0)
    yield engine
    asyncio.run(engine.aclose())


async def test_a_hit_gives_the_tokens_and_logprobs_of_a_cold_run(tiny_model_dir: Path, cold_engine: HFEngine) -> None:
    engine = HFEngine(tiny_model_dir)
    try:
        first = await engine.generate(PROMPTS[2], GREEDY)
        before = await _stats(engine)
        second_prompt = PROMPTS[2] + first.token_ids + DELTAS[0]
        warm = await engine.generate(second_prompt, GREEDY)
        after = await _stats(engine)
        assert after["prefix_hits"] == before["prefix_hits"] + 1
        # Only the last sampled token (its KV was never computed) and the delta were prefilled.
        assert after["prefill_tokens"] - before["prefill_tokens"] == 1 + len(DELTAS[0])
        cold = await cold_engine.generate(second_prompt, GREEDY)
        assert warm.token_ids == cold.token_ids == reference_greedy(engine.model, second_prompt, GREEDY.max_new_tokens)
        assert warm.logprobs == pytest.approx(cold.logprobs, abs=1e-4)
        assert warm.logprobs == pytest.approx(reference_logprobs(engine.model, second_prompt, warm.token_ids), abs=1e-4)
        # A prompt equal to a parked sequence reuses all of it but the last token.
        parked = second_prompt + warm.token_ids[:-1]
        again = await engine.generate(parked, GREEDY)
        assert (await _stats(engine))["prefill_tokens"] - after["prefill_tokens"] == 1
        assert again.token_ids == (await cold_engine.generate(parked, GREEDY)).token_ids
    finally:
        await engine.aclose()


async def test_staggered_conversations_mixing_hits_and_cold_rows(tiny_model_dir: Path,
                                                                 cold_engine: HFEngine) -> None:
    """Conversations at different turns share prefills and decode steps: a hit, a cold
    prompt and running rows in one batch, rows joining and leaving all the time."""
    engine = HFEngine(tiny_model_dir)
    try:
        warm = await asyncio.gather(*[_conversation(engine, p, 4, 0.004 * i) for i, p in enumerate(PROMPTS)])
        stats = await _stats(engine)
        assert stats["prefix_hits"] >= 3 * len(PROMPTS) - 2  # nearly every later turn hit
        cold = [await _conversation(cold_engine, p, 4) for p in PROMPTS]
        for warm_turns, cold_turns in zip(warm, cold, strict=True):
            for (warm_ids, warm_logprobs), (cold_ids, cold_logprobs) in zip(warm_turns, cold_turns, strict=True):
                assert warm_ids == cold_ids
                assert warm_logprobs == pytest.approx(cold_logprobs, abs=1e-4)
    finally:
        await engine.aclose()


async def test_cold_prompts_with_a_common_start_prefill_it_once(tiny_model_dir: Path,
                                                                cold_engine: HFEngine) -> None:
    """Like one env's episodes (same system prompt and tools, different tasks): the
    common start is prefilled once, and every output is still that of a cold run."""
    start = list(range(500, 570))
    prompts = [start + [10 + i, 9, 11] * (i + 1) for i in range(4)]
    engine = HFEngine(tiny_model_dir)
    try:
        # Hold admission with a pending weight update (same weights) so that all four
        # requests are waiting together when it is applied.
        blocker = asyncio.create_task(engine.generate(PROMPTS[0], SamplingParams(max_new_tokens=3000, temperature=0,
                                                                                  ignore_eos=True),
                                                      request_id="blocker"))
        while (await _stats(engine))["steps"] < 2:
            await asyncio.sleep(0.005)
        update = asyncio.create_task(engine.update_weights(WeightUpdate(version=1,
                                                                        state_dict=engine.model.state_dict()),
                                                           abort_running=False))
        await asyncio.sleep(0.05)
        requests = [asyncio.create_task(engine.generate(p, GREEDY)) for p in prompts]
        await asyncio.sleep(0.05)
        before = await _stats(engine)
        await engine.abort("blocker")
        await blocker
        assert await update == 1
        warm = await asyncio.gather(*requests)
        after = await _stats(engine)
        prefilled = after["prefill_tokens"] - before["prefill_tokens"]
        assert prefilled == len(start) + sum(len(p) - len(start) for p in prompts)  # the start once
        for prompt, result in zip(prompts, warm, strict=True):
            cold = await cold_engine.generate(prompt, GREEDY)
            assert result.token_ids == cold.token_ids
            assert result.logprobs == pytest.approx(cold.logprobs, abs=1e-4)
        # A later prompt with the same start finds it parked.
        late = start + [77, 78]
        hits = (await _stats(engine))["prefix_hits"]
        result = await engine.generate(late, GREEDY)
        assert (await _stats(engine))["prefix_hits"] == hits + 1
        assert result.token_ids == (await cold_engine.generate(late, GREEDY)).token_ids
    finally:
        await engine.aclose()


async def test_a_weight_update_invalidates_the_cache(tiny_model_dir: Path) -> None:
    other = other_weights(tiny_model_dir, 99)
    engine = HFEngine(tiny_model_dir)
    try:
        first = await engine.generate(PROMPTS[2], GREEDY)
        assert (await _stats(engine))["prefix_entries"] == 2  # the prompt (parked at admission), the finished row
        assert await engine.update_weights(WeightUpdate(version=1, state_dict=other.state_dict())) == 1
        stats = await _stats(engine)
        assert stats["prefix_entries"] == 0 and stats["prefix_cached_tokens"] == 0
        next_prompt = PROMPTS[2] + first.token_ids + DELTAS[1]
        result = await engine.generate(next_prompt, GREEDY)
        after = await _stats(engine)
        assert after["prefix_hits"] == stats["prefix_hits"]  # a miss: the old KV is gone
        assert after["prefill_tokens"] - stats["prefill_tokens"] == len(next_prompt)
        assert result.weight_version == 1
        assert result.token_ids == reference_greedy(other, next_prompt, GREEDY.max_new_tokens)
    finally:
        await engine.aclose()


async def test_the_engine_never_holds_more_than_its_budget(tiny_model_dir: Path) -> None:
    engine = HFEngine(tiny_model_dir, prefix_cache_tokens=120)
    try:
        for prompt in PROMPTS:
            await engine.generate(prompt, GREEDY)
            assert (await _stats(engine))["prefix_cached_tokens"] <= 120
        stats = await _stats(engine)
        assert stats["prefix_evictions"] > 0 and stats["prefix_entries"] >= 1
    finally:
        await engine.aclose()


def test_lookup_takes_the_longest_parked_prefix_once() -> None:
    cache = PrefixCache(max_tokens=1000, block=1)
    cache.put([1, 2, 3], _kv(3, 1.0), version=0)
    cache.put([1, 2, 3, 4, 5], _kv(5, 2.0), version=0)
    cache.put([9, 9, 9, 9], _kv(4, 3.0), version=0)
    assert cache.take([7, 1, 2, 3], version=0) is None  # not a prefix
    hit = cache.take([1, 2, 3, 4, 5, 6], version=0)
    assert hit is not None and hit[1] == 5 and float(hit[0].keys[0][0, 0, 0]) == 2.0
    second = cache.take([1, 2, 3, 4, 5, 6], version=0)  # the longest one was taken; the shorter is left
    assert second is not None and second[1] == 3
    assert cache.take([1, 2, 3, 4, 5, 6], version=0) is None
    # A prompt equal to a parked sequence leaves its last token to prefill.
    exact = cache.take([9, 9, 9, 9], version=0)
    assert exact is not None and exact[1] == 3 and exact[0].length == 3
    assert cache.stats["prefix_hits"] == 3 and cache.stats["prefix_misses"] == 2
    assert len(cache) == 0 and cache.tokens == 0


def test_a_shared_start_is_reused_and_kept() -> None:
    cache = PrefixCache(max_tokens=1000, block=2)
    cache.put([1, 2, 3, 4, 5, 6], _kv(6, 1.0), version=0)  # a finished row
    partial = cache.take([1, 2, 3, 4, 9, 9], version=0)  # shares 4 tokens: reused, the entry stays
    assert partial is not None and partial[1] == 4 and partial[0].length == 4
    cache.put([7, 7, 7, 7], _kv(4, 2.0), version=0, shared=True)  # a common start of many prompts
    for tail in ([1], [2], [3, 3]):
        hit = cache.take([7, 7, 7, 7, *tail], version=0)
        assert hit is not None and hit[1] == 4 and float(hit[0].keys[0][0, 0, 0]) == 2.0
    assert len(cache) == 2
    assert cache.take([1, 9, 9, 9], version=0) is None  # 1 common token: shorter than a block
    continued = cache.take([1, 2, 3, 4, 5, 6, 7], version=0)  # extends the whole finished row: taken
    assert continued is not None and continued[1] == 6 and len(cache) == 1


def test_other_versions_never_match() -> None:
    cache = PrefixCache(max_tokens=100, block=1)
    cache.put([1, 2, 3], _kv(3), version=0)
    assert cache.take([1, 2, 3, 4], version=1) is None
    cache.clear()
    assert cache.take([1, 2, 3, 4], version=0) is None and cache.tokens == 0


def test_eviction_is_bounded_by_tokens_oldest_first() -> None:
    cache = PrefixCache(max_tokens=10, block=1)
    cache.put([1] * 4, _kv(4), version=0)
    cache.put([2] * 4, _kv(4), version=0)
    cache.put([3] * 4, _kv(4), version=0)  # 12 > 10: the oldest goes
    assert cache.tokens == 8 and len(cache) == 2 and cache.stats["prefix_evictions"] == 1
    assert cache.take([1] * 5, version=0) is None and cache.take([2] * 5, version=0) is not None
    cache.put([4] * 11, _kv(11), version=0)  # larger than the whole budget: not kept
    assert cache.tokens == 4
    # Identical sequences (two samples that coincided) are parked once each.
    cache.put([5] * 3, _kv(3), version=0)
    cache.put([5] * 3, _kv(3), version=0)
    assert cache.take([5] * 4, version=0) is not None and cache.take([5] * 4, version=0) is not None


def test_entries_expire_after_their_ttl() -> None:
    now = [100.0]
    cache = PrefixCache(max_tokens=100, ttl_s=10, block=1, clock=lambda: now[0])
    cache.put([1, 2], _kv(2), version=0)
    now[0] = 105.0
    cache.put([3, 4], _kv(2), version=0)
    now[0] = 111.0  # the first is 11 s old, the second 6 s
    assert cache.take([1, 2, 9], version=0) is None
    assert cache.take([3, 4, 9], version=0) is not None
    assert cache.stats["prefix_evictions"] == 1


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        PrefixCache(max_tokens=0)
    with pytest.raises(ValueError, match="ttl_s"):
        PrefixCache(max_tokens=10, ttl_s=0)
    with pytest.raises(ValueError, match="block"):
        PrefixCache(max_tokens=10, block=0)
    with pytest.raises(ValueError, match="holds 3 tokens"):
        PrefixCache(max_tokens=10).put([1, 2], _kv(3), version=0)


@pytest.mark.parametrize("prefill_thread", [False, True], ids=["one-thread", "prefill-thread"])
async def test_the_samples_of_one_task_prefill_its_text_once(tiny_model_dir: Path, cold_engine: HFEngine,
                                                             prefill_thread: bool) -> None:
    """Two tasks × two samples arriving together: the env's common start is prefilled
    once, and each task's own text once more on top of it — on one thread as a shared
    entry (each sample then prefills one token), on the prefill thread as one row of the
    job that every sample of the task copies."""
    start, task_a, task_b = list(range(500, 540)), list(range(600, 640)), list(range(700, 736))
    prompts = [start + task_a, start + task_b, start + task_a, start + task_b]
    engine = HFEngine(tiny_model_dir, prefill_thread=prefill_thread)
    try:
        results = await asyncio.gather(*(engine.generate(p, GREEDY) for p in prompts))
        stats = await _stats(engine)
        texts = len(task_a) + len(task_b)
        assert stats["prefill_tokens"] == len(start) + (texts if prefill_thread else texts - 2 + len(prompts))
        # parked: the start, each task's prompt once (not once per sample), each finished row
        assert stats["prefix_entries"] == 1 + 2 + len(prompts)
        for prompt, result in zip(prompts, results, strict=True):
            assert result.token_ids == (await cold_engine.generate(prompt, GREEDY)).token_ids
    finally:
        await engine.aclose()


async def test_a_prompt_is_reusable_while_its_first_sample_still_runs(tiny_model_dir: Path,
                                                                   cold_engine: HFEngine) -> None:
    prompt = list(range(800, 860))
    long = SamplingParams(max_new_tokens=200, temperature=0, ignore_eos=True)
    engine = HFEngine(tiny_model_dir)
    try:
        first = asyncio.ensure_future(engine.generate(prompt, long))
        while (await _stats(engine))["generated_tokens"] < 2:  # admitted and decoding
            await asyncio.sleep(0.001)
        before = await _stats(engine)
        second = await engine.generate(prompt, GREEDY)
        after = await _stats(engine)
        assert not first.done(), "the first sample must still be running for this test to mean anything"
        assert after["prefill_tokens"] - before["prefill_tokens"] == 1
        assert second.token_ids == (await cold_engine.generate(prompt, GREEDY)).token_ids
        assert (await first).token_ids[:GREEDY.max_new_tokens] == second.token_ids
    finally:
        await engine.aclose()
