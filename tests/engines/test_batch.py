"""`RunningBatch` on the tiny model: rows that join, leave and move between slots, and
buffers that are re-laid out, keep decoding exactly what one unpadded row decodes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM

from agent_rl.engines._batch import RunningBatch, prefill
from tests.engines.conftest import PROMPTS, reference_greedy

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def model(tiny_model_dir: Path) -> torch.nn.Module:
    return AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()


class _Greedy:
    """Drives a RunningBatch greedily, tracking which prompt each slot holds."""

    def __init__(self, model: torch.nn.Module, headroom: int) -> None:
        self.model, self.batch = model, RunningBatch(CPU, max_rows=8, headroom=headroom)
        self.rows: list[int] = []  # prompt index per slot
        self.out: dict[int, list[int]] = {}

    def join(self, indices: list[int]) -> None:
        prefilled = prefill(self.model, [PROMPTS[i] for i in indices], [None] * len(indices), CPU)
        tokens_N = prefilled.logits_NV.argmax(-1)
        self.batch.join(prefilled, tokens_N)
        for index, token in zip(indices, tokens_N.tolist(), strict=True):
            self.out[index] = [token]
        self.rows += indices

    def step(self) -> None:
        tokens_B = self.batch.decode_step(self.model).argmax(-1)
        self.batch.set_next_tokens(tokens_B)
        for index, token in zip(self.rows, tokens_B.tolist(), strict=True):
            self.out[index].append(token)

    def leave(self, index: int) -> None:
        order = self.batch.keep([slot for slot, i in enumerate(self.rows) if i != index])
        self.rows = [self.rows[slot] for slot in order]


@pytest.mark.parametrize("headroom", [1, 3, 256])
def test_joins_leaves_and_relayouts_keep_every_row_exact(model: torch.nn.Module, headroom: int) -> None:
    greedy = _Greedy(model, headroom)
    greedy.join([0, 1])
    for _ in range(3):
        greedy.step()
    greedy.join([2])  # longer than the running rows: columns grow on the left
    greedy.step()
    greedy.leave(0)  # a hole in slot 0: the last row moves into it
    greedy.join([3, 4, 5])
    for _ in range(2):
        greedy.step()
    greedy.leave(2)  # the longest row leaves: the attended columns shrink
    for _ in range(4):
        greedy.step()
    for index, tokens in greedy.out.items():
        assert tokens == reference_greedy(model, PROMPTS[index], len(tokens)), f"prompt {index}"
    if headroom < 4:
        assert greedy.batch.relayouts > 2  # small headroom forced re-layouts on the way


def test_row_kv_and_a_prefilled_suffix_continue_the_row(model: torch.nn.Module) -> None:
    """The KV copied out of a row, used as a prefix under a suffix, gives the tokens of
    the whole sequence prefilled cold — also batched with a cold row of another length."""
    greedy = _Greedy(model, headroom=4)
    greedy.join([2, 0])
    for _ in range(5):
        greedy.step()
    parked = greedy.batch.row_kv(0)  # prompt 2 + its first 5 tokens (the 6th is pending)
    sequence = PROMPTS[2] + greedy.out[2][:5]
    assert parked.length == len(sequence)
    suffix = greedy.out[2][5:6] + [17, 18, 19]
    prefilled = prefill(model, [suffix, PROMPTS[3]], [parked, None], CPU)
    batch = RunningBatch(CPU, max_rows=4, headroom=2)
    batch.join(prefilled, prefilled.logits_NV.argmax(-1))
    assert prefilled.lengths == [len(sequence) + len(suffix), len(PROMPTS[3])]
    out = [[t] for t in prefilled.logits_NV.argmax(-1).tolist()]
    for _ in range(6):
        tokens = batch.decode_step(model).argmax(-1)
        batch.set_next_tokens(tokens)
        for row, token in zip(out, tokens.tolist(), strict=True):
            row.append(token)
    assert out[0] == reference_greedy(model, sequence + suffix, 7)
    assert out[1] == reference_greedy(model, PROMPTS[3], 7)


def test_a_join_after_buffers_grew_inside_a_decode_step(model: torch.nn.Module) -> None:
    """Buffers re-allocated during a decode step (inference mode) take joins from outside it."""
    greedy = _Greedy(model, headroom=1)
    greedy.join([2])
    relayouts = greedy.batch.relayouts
    while greedy.batch.relayouts == relayouts:  # until the write column ran out of room mid-step
        greedy.step()
    greedy.join([4])  # shorter than the running row: no re-layout of its own
    greedy.leave(2)
    greedy.join([0])
    greedy.step()
    for index, tokens in greedy.out.items():
        assert tokens == reference_greedy(model, PROMPTS[index], len(tokens)), f"prompt {index}"


@pytest.mark.parametrize("chunks", [0, 1000], ids=["through-a-copy", "in-chunks"])
def test_relayouts_within_the_same_buffers_keep_every_row_exact(model: torch.nn.Module, chunks: int,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """When the write column runs out of room but the used columns fit, the rows move
    within the buffers (left, and right for a longer joining row) instead of into new
    zeroed ones; the columns they leave behind hold stale keys, values and mask bits,
    which a row joining later with a wider window must not see."""
    monkeypatch.setattr(RunningBatch, "COMPACT_CHUNKS", chunks)
    greedy = _Greedy(model, headroom=4)
    greedy.join([2, 1])  # 40 and 3 tokens: buffers of 64 columns
    for _ in range(5):
        greedy.step()
    greedy.leave(2)  # the attended columns start at the short row now
    greedy.join([0])
    buffer, relayouts = greedy.batch.keys[0].data_ptr(), greedy.batch.relayouts
    while greedy.batch.relayouts == relayouts:  # the write column reaches 64: the rows move left
        greedy.step()
    assert greedy.batch.keys[0].data_ptr() == buffer and greedy.batch.start == 0
    greedy.join([2])  # longer than the write column: the rows move right, and the window widens over stale columns
    assert greedy.batch.keys[0].data_ptr() == buffer and greedy.batch.relayouts == relayouts + 2
    for _ in range(3):
        greedy.step()
    greedy.leave(1)
    greedy.join([3])
    relayouts = greedy.batch.relayouts
    while greedy.batch.relayouts == relayouts:  # (this one grows the buffers)
        greedy.step()
    for _ in range(3):
        greedy.step()
    for index, tokens in greedy.out.items():
        assert tokens == reference_greedy(model, PROMPTS[index], len(tokens)), f"prompt {index}"
