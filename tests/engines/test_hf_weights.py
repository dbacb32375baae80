"""Weight updates of the `hf` engine: never under a running request, versions per result."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM

from agent_rl.engines.base import FinishReason, SamplingParams, WeightUpdate
from agent_rl.engines.errors import EngineRequestError
from agent_rl.engines.hf import HFEngine
from tests.engines.conftest import PROMPTS, other_weights, reference_greedy
from tests.engines.test_hf import _wait_for_tokens

LONG = SamplingParams(max_new_tokens=3000, temperature=0, ignore_eos=True)
SHORT = SamplingParams(max_new_tokens=12, temperature=0, ignore_eos=True)


@pytest.fixture(scope="module")
def other_model(tiny_model_dir: Path) -> torch.nn.Module:
    """The same architecture with different weights (another seed)."""
    return other_weights(tiny_model_dir, 1234)


@pytest.fixture(scope="module")
def original_model(tiny_model_dir: Path) -> torch.nn.Module:
    return AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()


async def test_update_aborts_in_flight_requests_under_the_old_version(
        tiny_model_dir: Path, original_model: torch.nn.Module, other_model: torch.nn.Module) -> None:
    engine = HFEngine(tiny_model_dir)
    try:
        before = await engine.generate(PROMPTS[0], SHORT)
        in_flight = [asyncio.create_task(engine.generate(p, LONG)) for p in PROMPTS[:3]]
        await _wait_for_tokens(engine, 10)
        version = await engine.update_weights(WeightUpdate(version=1, state_dict=other_model.state_dict()))
        assert version == 1 == engine.weight_version
        aborted = await asyncio.wait_for(asyncio.gather(*in_flight), 10)
        for prompt, result in zip(PROMPTS, aborted, strict=False):
            assert result.finish_reason == FinishReason.ABORT and result.weight_version == 0
            assert 0 < len(result.token_ids) < 3000
            # every token came from the old weights
            assert result.token_ids == reference_greedy(original_model, prompt, len(result.token_ids))
        after = await engine.generate(PROMPTS[0], SHORT)
        assert after.weight_version == 1 and after.token_ids != before.token_ids
        assert after.token_ids == reference_greedy(other_model, PROMPTS[0], SHORT.max_new_tokens)
    finally:
        await engine.aclose()


async def test_update_without_abort_waits_for_running_requests(
        tiny_model_dir: Path, original_model: torch.nn.Module, other_model: torch.nn.Module) -> None:
    engine = HFEngine(tiny_model_dir)
    try:
        running = asyncio.create_task(engine.generate(PROMPTS[1], SamplingParams(max_new_tokens=60, temperature=0,
                                                                                 ignore_eos=True)))
        await _wait_for_tokens(engine, 3)
        update = asyncio.create_task(engine.update_weights(WeightUpdate(version=2, state_dict=other_model.state_dict()),
                                                           abort_running=False))
        await asyncio.sleep(0.01)
        queued = asyncio.create_task(engine.generate(PROMPTS[0], SHORT))  # arrives during the wait
        finished = await running
        assert finished.finish_reason == FinishReason.LENGTH and finished.weight_version == 0
        assert finished.token_ids == reference_greedy(original_model, PROMPTS[1], 60)
        assert await update == 2
        late = await queued
        assert late.weight_version == 2
        assert late.token_ids == reference_greedy(other_model, PROMPTS[0], SHORT.max_new_tokens)
    finally:
        await engine.aclose()


async def test_update_from_a_saved_directory_and_back(tiny_model_dir: Path, other_model: torch.nn.Module,
                                                      tmp_path: Path) -> None:
    other_model.save_pretrained(tmp_path / "step-1")
    engine = HFEngine(tiny_model_dir)
    try:
        original = await engine.generate(PROMPTS[2], SHORT)
        assert await engine.update_weights(WeightUpdate(version=1, path=str(tmp_path / "step-1"))) == 1
        changed = await engine.generate(PROMPTS[2], SHORT)
        assert changed.token_ids == reference_greedy(other_model, PROMPTS[2], SHORT.max_new_tokens)
        assert await engine.update_weights(WeightUpdate(version=2, path=str(tiny_model_dir))) == 2
        assert (await engine.generate(PROMPTS[2], SHORT)).token_ids == original.token_ids
    finally:
        await engine.aclose()


async def test_bad_weights_are_refused_and_change_nothing(tiny_model_dir: Path, tmp_path: Path) -> None:
    engine = HFEngine(tiny_model_dir)
    try:
        original = await engine.generate(PROMPTS[0], SHORT)
        state = {k: v.clone() for k, v in engine.model.state_dict().items()}
        with pytest.raises(EngineRequestError, match="no checkpoint"):
            await engine.update_weights(WeightUpdate(version=1, path=str(tmp_path / "missing")))
        wrong_shape = {**{k: torch.zeros_like(v) for k, v in state.items()},
                       "model.norm.weight": torch.zeros(3)}
        with pytest.raises(EngineRequestError, match="shapes differ"):
            await engine.update_weights(WeightUpdate(version=1, state_dict=wrong_shape))
        partial = {k: v for k, v in state.items() if "layers.0." not in k}
        with pytest.raises(EngineRequestError, match="missing"):
            await engine.update_weights(WeightUpdate(version=1, state_dict=partial))
        assert engine.weight_version == 0
        assert (await engine.generate(PROMPTS[0], SHORT)).token_ids == original.token_ids
        # A checkpoint without the tied lm_head (as save_pretrained writes it) is fine.
        untied = {k: v for k, v in state.items() if k != "lm_head.weight"}
        assert await engine.update_weights(WeightUpdate(version=5, state_dict=untied)) == 5
    finally:
        await engine.aclose()
