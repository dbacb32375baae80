"""The lean decode step (`_lean_decode`) computes what the model's own forward computes —
for Qwen2 (the tiny model) and Llama (SmolLM2's architecture), through joins, leaves and
re-layouts, and with a prompt start shared by every row (cascade attention)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import torch
from transformers import (
    AutoModelForCausalLM,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
)

from agent_rl.engines import SamplingParams
from agent_rl.engines._batch import RunningBatch, prefill, prefill_start
from agent_rl.engines._lean_decode import LeanDecoder
from agent_rl.engines._weights import load_into
from agent_rl.engines.hf import HFEngine

CPU = torch.device("cpu")
START = list(range(20, 220))  # a 200-token start every row shares (an env's system prompt)
PROMPTS = [START + [300 + i] * (3 + 5 * i) for i in range(5)]


@pytest.fixture(scope="module")
def qwen2(tiny_model_dir: Path) -> torch.nn.Module:
    return AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()


@pytest.fixture(scope="module")
def llama() -> torch.nn.Module:
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=512, hidden_size=96, intermediate_size=192, num_hidden_layers=2,
                         num_attention_heads=6, num_key_value_heads=2, max_position_embeddings=1024,
                         rope_theta=100000.0, initializer_range=0.1, tie_word_embeddings=True)
    return LlamaForCausalLM(config).eval()


@pytest.fixture(scope="module")
def llama_bias() -> torch.nn.Module:
    """Llama with biased attention projections (`attention_bias`: q, k, v and o)."""
    torch.manual_seed(1)
    config = LlamaConfig(vocab_size=512, hidden_size=96, intermediate_size=192, num_hidden_layers=2,
                         num_attention_heads=6, num_key_value_heads=2, max_position_embeddings=1024,
                         initializer_range=0.1, attention_bias=True)
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():  # biases start at zero: make them count
        for layer in model.model.layers:
            attn = layer.self_attn
            for projection in (attn.q_proj, attn.k_proj, attn.v_proj, attn.o_proj):
                projection.bias.normal_(0, 0.1)
    return model


def _run(model: torch.nn.Module, lean: bool, shared: int = 0, steps: int = 12,
         lean_prefill: bool = False) -> list[torch.Tensor]:
    """Logits of every prefill and decode step: rows 0-2 start, 3-4 join after 4 steps,
    row 1 leaves after 8 (headroom 3 forces re-layouts). With `lean_prefill`, rows join
    through `RunningBatch.prefill_join`, rows 0, 2 and 4 on top of a cached KV of START."""
    batch = RunningBatch(CPU, max_rows=8, headroom=3, lean=LeanDecoder(model) if lean else None)
    out: list[torch.Tensor] = []
    start_kv = prefill_start(model, START, CPU)

    def join(indices: list[int]) -> None:
        if lean_prefill:
            cached = [i % 2 == 0 for i in indices]
            logits = batch.prefill_join([PROMPTS[i][len(START):] if c else PROMPTS[i] for i, c in zip(indices, cached)],
                                        [start_kv if c else None for c in cached])
            batch.set_joined_tokens(logits.argmax(-1))
        else:
            done = prefill(model, [PROMPTS[i] for i in indices], [None] * len(indices), CPU)
            logits = done.logits_NV
            batch.join(done, logits.argmax(-1))
        out.append(logits)
        batch.share_start(shared)

    join([0, 1, 2])
    for step in range(steps):
        if step == 4:
            join([3, 4])
        if step == 8:
            batch.keep([0, 2, 3, 4])
            batch.share_start(shared)
        logits = batch.decode_step(model)
        batch.set_next_tokens(logits.argmax(-1))
        out.append(logits)
    return out


@pytest.mark.parametrize("arch", ["qwen2", "llama", "llama_bias"])
@pytest.mark.parametrize("shared", [0, 200])
def test_lean_steps_equal_the_models_forward(arch: str, shared: int, request: pytest.FixtureRequest) -> None:
    model = request.getfixturevalue(arch)
    assert LeanDecoder.supports(model)
    reference = _run(model, lean=False)
    lean = _run(model, lean=True, shared=shared)
    for want, got in zip(reference, lean, strict=True):
        assert got.shape == want.shape
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
        assert torch.equal(got.argmax(-1), want.argmax(-1))


@pytest.mark.parametrize("arch", ["qwen2", "llama", "llama_bias"])
def test_lean_prefill_equals_the_models_forward(arch: str, request: pytest.FixtureRequest) -> None:
    """Rows prefilled straight into the buffers — cold ones beside ones on a cached start,
    of different lengths, joining a running batch and forcing re-layouts — give the
    logits of the model's own forward, at the prefill and at every step after it."""
    model = request.getfixturevalue(arch)
    reference = _run(model, lean=False)
    lean = _run(model, lean=True, shared=200, lean_prefill=True)
    for want, got in zip(reference, lean, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
        assert torch.equal(got.argmax(-1), want.argmax(-1))


def test_the_kernels_are_scripted_and_equal_to_running_them_as_python(qwen2: torch.nn.Module,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The step and the prefill run as TorchScript here (one GIL release per call, see
    `_lean_kernels`); the fallback — the same functions as Python, when scripting fails —
    computes the same logits."""
    from agent_rl.engines import _lean_decode, _lean_kernels

    assert isinstance(_lean_decode._scripted("decode_step").script, torch.jit.ScriptFunction)
    assert isinstance(_lean_decode._scripted("prefill").script, torch.jit.ScriptFunction)
    scripted = _run(qwen2, lean=True, shared=200, lean_prefill=True)
    monkeypatch.setattr(_lean_decode, "_scripted", lambda name: getattr(_lean_kernels, name))
    python = _run(qwen2, lean=True, shared=200, lean_prefill=True)
    for a, b in zip(scripted, python, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_stacked_projections_follow_in_place_weight_updates(tiny_model_dir: Path) -> None:
    """The lean step's stacked q/k/v and gate/up weights are the model's own parameters
    (views of one tensor each): stacking changes no value, and a weight update that copies
    into the parameters — how the engine loads new weights — reaches them."""
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    decoder = LeanDecoder(model)
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, before[name]), name
    torch.manual_seed(0)
    again = LeanDecoder(model)  # a second decoder on the same model: the first must keep following updates
    for index, block in enumerate(decoder.blocks):
        assert again.blocks[index].qkv_weight is block.qkv_weight
        assert again.blocks[index].gate_up_weight is block.gate_up_weight
    load_into(model, {name: tensor + 0.01 * torch.randn_like(tensor) for name, tensor in before.items()})
    for index, block in enumerate(decoder.blocks):
        prefix = f"model.layers.{index}."
        state = model.state_dict()
        assert not torch.equal(state[prefix + "self_attn.q_proj.weight"], before[prefix + "self_attn.q_proj.weight"])
        assert torch.equal(block.qkv_weight, torch.cat([state[prefix + f"self_attn.{p}_proj.weight"] for p in "qkv"]))
        assert block.qkv_bias is not None
        assert torch.equal(block.qkv_bias, torch.cat([state[prefix + f"self_attn.{p}_proj.bias"] for p in "qkv"]))
        assert torch.equal(block.gate_up_weight, torch.cat([state[prefix + f"mlp.{p}_proj.weight"] for p in ("gate", "up")]))


def test_a_failed_lean_prefill_leaves_the_batch_as_it_was(qwen2: torch.nn.Module) -> None:
    logits = {}
    for fail in (False, True):
        batch = RunningBatch(CPU, max_rows=4, lean=LeanDecoder(qwen2))
        batch.set_joined_tokens(batch.prefill_join([PROMPTS[0]], [None]).argmax(-1))
        batch.set_next_tokens(batch.decode_step(qwen2).argmax(-1))
        if fail:
            # (an IndexError from Python, a RuntimeError from the TorchScript interpreter)
            with pytest.raises((IndexError, RuntimeError), match="index out of range"):
                batch.prefill_join([PROMPTS[1][:-1] + [10**9]], [None])  # a token id outside the vocabulary
            assert len(batch) == 1
        logits[fail] = batch.decode_step(qwen2)
    torch.testing.assert_close(logits[True], logits[False])


def test_one_kv_head_and_a_leave_from_slot_zero() -> None:
    """Multi-query attention (1 KV head): the shared start must be a copy, not a view of
    slot 0, which a leave refills with another row."""
    torch.manual_seed(1)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                         num_attention_heads=4, num_key_value_heads=1, initializer_range=0.1)).eval()
    logits = {}
    for lean in (False, True):
        batch = RunningBatch(CPU, max_rows=4, lean=LeanDecoder(model) if lean else None)
        done = prefill(model, PROMPTS[:3], [None] * 3, CPU)
        batch.join(done, done.logits_NV.argmax(-1))
        batch.share_start(200)
        batch.set_next_tokens(batch.decode_step(model).argmax(-1))
        batch.keep([1, 2])  # slot 0 leaves: row 2 moves into it
        batch.share_start(200)
        logits[lean] = batch.decode_step(model)
    torch.testing.assert_close(logits[True], logits[False], rtol=1e-4, atol=1e-4)


def test_bf16_positions_are_not_rounded(llama: torch.nn.Module) -> None:
    """A model cast with .to(bfloat16) has a bf16 inv_freq; RoPE angles must still come from
    float32 positions (bf16 rounds position 1001 to 1000)."""
    model = LlamaForCausalLM(llama.config).eval()
    model.load_state_dict(llama.state_dict())
    model = model.to(torch.bfloat16)
    long = [list(range(1, 500)) * 2 + [7 + i] for i in range(2)]  # ≈ 1,000 positions
    out = {}
    for lean in (False, True):
        batch = RunningBatch(CPU, max_rows=4, lean=LeanDecoder(model) if lean else None)
        done = prefill(model, long, [None, None], CPU)
        batch.join(done, done.logits_NV.argmax(-1))
        out[lean] = batch.decode_step(model)
    assert (out[True] - out[False]).abs().max().item() < 0.1  # bf16 noise; rounded positions gave ≈ 0.65


def test_the_shared_start_is_used_only_when_long_enough(qwen2: torch.nn.Module) -> None:
    batch = RunningBatch(CPU, max_rows=4, lean=LeanDecoder(qwen2))
    done = prefill(qwen2, PROMPTS[:2], [None, None], CPU)
    batch.join(done, done.logits_NV.argmax(-1))
    batch.share_start(200)
    assert batch.shared is not None and batch.shared.length == 200
    assert batch.shared.keys[0].shape == (qwen2.config.num_key_value_heads, 200, 32)
    batch.share_start(10)  # too short to be worth a second attention block
    assert batch.shared is None
    batch.keep([0])
    batch.share_start(200)  # one row: nothing to share
    assert batch.shared is None
    no_lean = RunningBatch(CPU, max_rows=4)
    no_lean.join(done, done.logits_NV.argmax(-1))
    no_lean.share_start(200)
    assert no_lean.shared is None


def test_unsupported_models_keep_their_own_forward() -> None:
    gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=128, n_embd=32, n_layer=1, n_head=2, n_positions=64))
    assert not LeanDecoder.supports(gpt2)
    with pytest.raises(ValueError, match="not supported"):
        LeanDecoder(gpt2)
    scaled = LlamaForCausalLM(LlamaConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                          num_attention_heads=2, rope_scaling={"rope_type": "linear", "factor": 2.0}))
    assert not LeanDecoder.supports(scaled)


def test_the_engine_gives_the_same_greedy_tokens_with_and_without_it(tiny_model_dir: Path) -> None:
    async def generate(lean: bool) -> list[list[int]]:
        engine = HFEngine(tiny_model_dir, lean_decode=lean)
        try:
            assert (engine._scheduler.batch.lean is not None) == lean
            results = await asyncio.gather(*[engine.generate(p, SamplingParams(max_new_tokens=24, temperature=0,
                                                                               ignore_eos=True)) for p in PROMPTS])
            return [r.token_ids for r in results]
        finally:
            await engine.aclose()

    assert asyncio.run(generate(True)) == asyncio.run(generate(False))


def test_the_shared_start_follows_the_running_rows(qwen2: torch.nn.Module) -> None:
    """The scheduler's shared start is the common start of exactly the running prompts —
    after joins, and after the row it compares others with (its anchor) leaves."""
    from agent_rl.engines._scheduler import Request, Scheduler
    from agent_rl.engines._stop import StopChecker

    scheduler = Scheduler(qwen2, lambda update: None, device=CPU, version=0, max_batch_size=8,
                          max_prefill_tokens=8192, seed=0, lean=LeanDecoder(qwen2))
    loop = asyncio.new_event_loop()
    sampling = SamplingParams(max_new_tokens=50, temperature=0, ignore_eos=True)
    try:
        def submit(prompt: list[int]) -> Request:
            request = Request(f"r{len(prompt)}-{prompt[-1]}", prompt, sampling, StopChecker(sampling, [], None, 10**6),
                              loop, loop.create_future())
            scheduler.waiting.append(request)
            return request

        def shared() -> int:
            return 0 if scheduler.batch.shared is None else scheduler.batch.shared.length

        first = submit(START + [1] * 10)
        second = submit(START + [2] * 10)
        assert scheduler._admit() and shared() == len(START)
        third = submit(START[:150] + [3] * 10)  # shares only 150 tokens with the others
        assert scheduler._admit() and shared() == 150
        submit(START[:150] + [3] * 9 + [4])  # shares 159 with the third
        assert scheduler._admit() and shared() == 150
        scheduler._keep([row for row, r in enumerate(scheduler.rows) if r is not second])
        assert shared() == 150
        scheduler._keep([row for row, r in enumerate(scheduler.rows) if r is not first])  # the anchor leaves
        assert shared() == 159  # what the two rows left share with each other
        scheduler._keep([row for row, r in enumerate(scheduler.rows) if r is not third])
        assert [r.prompt[-1] for r in scheduler.rows] == [4] and shared() == 0  # one row: nothing to share
        submit(START[:150] + [3] * 5 + [5] * 5)
        assert scheduler._admit() and shared() == 155
    finally:
        loop.close()
