"""The `hf` engine's prefill thread (`_scheduler.PrefillWorker`): requests are prefilled
on a second thread while the running rows keep decoding. It must be invisible in the
output, and every request caught mid-prefill — aborted, cancelled, or overtaken by a
weight update — must still get its answer."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from transformers import AutoModelForCausalLM

from agent_rl.engines._scheduler import PrefillWorker
from agent_rl.engines.base import FinishReason, GenerationResult, SamplingParams, WeightUpdate
from agent_rl.engines.hf import HFEngine
from tests.engines.conftest import PROMPTS, other_weights, reference_greedy

GREEDY = SamplingParams(max_new_tokens=16, temperature=0, ignore_eos=True)
LONG_PROMPT = [(7 * i) % 3000 + 10 for i in range(900)]  # ≈ 10 ms of prefill: long enough to be caught in it


async def _until_prefilling(engine: HFEngine, request_id: str, timeout: float = 10) -> None:
    """Until the prefill thread works on `request_id` (an earlier, aborted job may still run)."""
    deadline = time.monotonic() + timeout
    while not any(r.id == request_id for r in engine._scheduler.prefilling or ()):
        assert time.monotonic() < deadline, "the request never reached the prefill thread"
        await asyncio.sleep(0)


async def _later(engine: HFEngine, prompt: list[int], delay: float) -> GenerationResult:
    await asyncio.sleep(delay)
    return await engine.generate(prompt, GREEDY)


async def test_it_is_on_by_default_on_a_cpu_with_two_cores(tiny_model_dir: Path) -> None:
    import os

    engine = HFEngine(tiny_model_dir)
    try:
        assert engine.prefill_thread == ((os.cpu_count() or 1) >= 2)
        assert not HFEngine(tiny_model_dir, lean_decode=False, prefill_thread=True).prefill_thread  # needs lean
    finally:
        await engine.aclose()


@pytest.mark.parametrize("keep_bytes", [64 << 20, 0])
async def test_the_same_tokens_with_and_without_it(tiny_model_dir: Path, keep_bytes: int,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # keep_bytes 0: the scratch buffers are freed after every job (what a big model's jobs do)
    monkeypatch.setattr(PrefillWorker, "KEEP_BYTES", keep_bytes)
    results = {}
    for threaded in (False, True):
        engine = HFEngine(tiny_model_dir, prefill_thread=threaded)
        try:
            # staggered: rows join while others decode, some through the prefix cache
            first = await asyncio.gather(*(_later(engine, p, 0.004 * i) for i, p in enumerate(PROMPTS)))
            second = await asyncio.gather(*(_later(engine, p + r.token_ids + [5, 6, 7], 0.003 * i)
                                            for i, (p, r) in enumerate(zip(PROMPTS, first, strict=True))))
            results[threaded] = [(r.token_ids, r.logprobs) for r in [*first, *second]]
            assert engine._scheduler.prefilling is None and not engine._scheduler.rows
        finally:
            await engine.aclose()
    for (tokens, logprobs), (want_tokens, want_logprobs) in zip(results[True], results[False], strict=True):
        assert tokens == want_tokens
        assert logprobs == pytest.approx(want_logprobs, abs=1e-4)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    assert results[True][0][0] == reference_greedy(model, PROMPTS[0], GREEDY.max_new_tokens)


async def test_an_abort_during_the_prefill_answers_at_once(tiny_model_dir: Path) -> None:
    engine = HFEngine(tiny_model_dir, prefill_thread=True)
    try:
        for attempt in range(3):
            task = asyncio.create_task(engine.generate(LONG_PROMPT, GREEDY, request_id=f"caught-{attempt}"))
            await _until_prefilling(engine, f"caught-{attempt}")
            await engine.abort(f"caught-{attempt}")
            result = await asyncio.wait_for(task, 10)
            assert result.finish_reason == FinishReason.ABORT and result.token_ids == []
        # the prefilled rows of aborted requests never joined; the engine goes on as before
        later = await engine.generate(PROMPTS[0], GREEDY)
        assert later.token_ids == reference_greedy(engine.model, PROMPTS[0], GREEDY.max_new_tokens)
        assert (await engine.health()).running == 0 and not engine._scheduler.rows
    finally:
        await engine.aclose()


async def test_closing_during_a_prefill_answers_every_request(tiny_model_dir: Path) -> None:
    engine = HFEngine(tiny_model_dir, prefill_thread=True)
    task = asyncio.create_task(engine.generate(LONG_PROMPT, GREEDY, request_id="closing"))
    await _until_prefilling(engine, "closing")
    await engine.aclose()
    result = await asyncio.wait_for(task, 10)
    assert result.finish_reason == FinishReason.ABORT and result.token_ids == []


async def test_a_weight_update_during_the_prefill_restarts_it_under_the_new_weights(tiny_model_dir: Path) -> None:
    other = other_weights(tiny_model_dir, 4321)
    engine = HFEngine(tiny_model_dir, prefill_thread=True)
    try:
        task = asyncio.create_task(engine.generate(LONG_PROMPT, GREEDY, request_id="overtaken"))
        await _until_prefilling(engine, "overtaken")
        assert await engine.update_weights(WeightUpdate(version=1, state_dict=other.state_dict())) == 1
        result = await asyncio.wait_for(task, 30)
        # prefilled under the old weights, then sent back to wait: every token is the new policy's
        assert result.finish_reason == FinishReason.LENGTH and result.weight_version == 1
        assert result.token_ids == reference_greedy(other, LONG_PROMPT, GREEDY.max_new_tokens)
    finally:
        await engine.aclose()
