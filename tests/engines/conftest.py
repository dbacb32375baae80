"""Fixtures of the engine tests: one in-process `hf` engine on the session's tiny model,
and helpers that compute reference outputs with plain `model.generate` / forward passes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from agent_rl.engines.hf import HFEngine

#: Prompts of different lengths (token ids of the tiny model's vocabulary).
PROMPTS = [[5, 6, 7, 8, 9], [100, 200, 300], list(range(10, 50)), [42] * 17, [7], list(range(300, 390, 3))]


@pytest.fixture(scope="module")
def hf_engine(tiny_model_dir: Path) -> Iterator[HFEngine]:
    engine = HFEngine(tiny_model_dir)
    yield engine
    asyncio.run(engine.aclose())


def reference_greedy(model: torch.nn.Module, prompt: list[int], n: int) -> list[int]:
    """`n` greedy tokens by plain `model.generate` on one unpadded prompt."""
    with torch.inference_mode():
        out = model.generate(torch.tensor([prompt]), max_new_tokens=n, min_new_tokens=n, do_sample=False,
                             eos_token_id=None, pad_token_id=0)
    return out[0, len(prompt):].tolist()


def reference_logprobs(model: torch.nn.Module, prompt: list[int], tokens: list[int],
                       temperature: float = 1.0) -> list[float]:
    """log softmax(logits / temperature) of each generated token, from one forward pass."""
    with torch.inference_mode():
        logits = model(torch.tensor([prompt + tokens])).logits[0].float()
    scores = logits[len(prompt) - 1: len(prompt) - 1 + len(tokens)] / temperature
    return scores.log_softmax(-1).gather(1, torch.tensor(tokens)[:, None]).squeeze(1).tolist()


def other_weights(model_dir: Path, seed: int) -> torch.nn.Module:
    """The same architecture with different weights (drawn from `seed`): a "new policy"
    for weight-update tests."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    torch.manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0, 0.1)
    return model
