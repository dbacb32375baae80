"""A lean decode step for Llama/Qwen2-style models: the `hf` engine's hot loop.

Why: a decode step of a small model on CPU is mostly framework overhead and memory
traffic, not arithmetic. Through the Hugging Face forward, every step builds a 4-D
attention mask, dispatches through hooks, output dataclasses and the cache API, and —
for grouped-query attention with a padding mask — `repeat_kv` *copies the whole KV
cache* of every layer to the full head count before attention (measured: a 2-layer,
128-wide model at 20 rows × 1,060 cached tokens spent ≈ 7 ms per step, half of it in
attention). This module runs the same arithmetic directly on the `RunningBatch`
buffers: queries of a key/value head group attend to that head's keys with one batched
matmul (no copy of the cache), the boolean row mask is applied in place of a 4-D mask,
and the new key/value column is written straight into the buffers.

Shared prompt starts (cascade attention): when every running row starts with the same
tokens (one env's system prompt and tool specs: 713 of ≈ 1,000 tokens in the rollout
benchmark), their keys and values there are the same for all rows. The batch then keeps
one copy of them (`SharedPrefix`), and each step attends to it with one matmul for all
rows together (read once, instead of once per row), and to each row's own tokens after
it as before; the two score blocks share one softmax, so the result is the same
attention (up to float rounding).

The arithmetic lives in `_lean_kernels` as TorchScript-compatible functions, scripted
once per process: a step is then one call that runs with the GIL released, instead of
≈ 150 calls that each wait for the GIL the asyncio event loop holds while it runs the
rollout (≈ 2x a step's time inside the rollout benchmark). This module holds the model's
weights in the layout those functions take.

Supported: `LlamaForCausalLM` and `Qwen2ForCausalLM` (SmolLM2, Qwen2.5, the tiny test
models) with SiLU MLPs, default RoPE and no sliding window; anything else keeps the
Hugging Face forward (`LeanDecoder.supports`). The results equal the Hugging Face
forward up to float rounding (checked in tests/engines/test_lean_decode.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from agent_rl.engines import _lean_kernels as kernels
from agent_rl.engines._script import scripted

_TYPES = ("llama", "qwen2")


@dataclass(frozen=True, slots=True)
class SharedPrefix:
    """Keys and values of the tokens every running row starts with: per layer
    `[kv_heads, P, head_dim]`, contiguous."""

    keys: tuple[torch.Tensor, ...]
    values: tuple[torch.Tensor, ...]

    @property
    def length(self) -> int:
        return int(self.keys[0].shape[1])


@dataclass(frozen=True, slots=True)
class _Block:
    """One decoder layer's weights as the lean step uses them: the query, key and value
    projections as one matrix (and the gate and up projections as another), so that a
    step runs two matrix products where the layer runs five."""

    qkv_weight: torch.Tensor  # [(heads + 2 kv_heads) · D, hidden]
    qkv_bias: torch.Tensor | None
    o_weight: torch.Tensor
    o_bias: torch.Tensor | None  # Llama with attention_bias
    gate_up_weight: torch.Tensor  # [2 · intermediate, hidden]
    down_weight: torch.Tensor
    input_norm: torch.Tensor
    input_eps: float
    post_norm: torch.Tensor
    post_eps: float
    scaling: float


def _stackable(layer: Any) -> bool:
    """Whether the layer's q/k/v projections can be stacked: all biased or none."""
    attn = getattr(layer, "self_attn", None)
    projections = [getattr(attn, name, None) for name in ("q_proj", "k_proj", "v_proj")]
    return (all(isinstance(p, torch.nn.Linear) for p in projections)
            and len({p.bias is None for p in projections}) == 1)


def _stacked_already(first: Any, name: str, parts: list[torch.Tensor]) -> torch.Tensor | None:
    """The stacked tensor an earlier `_fuse` made `parts` consecutive row views of (kept on
    the first module), if they still are: stacking again would leave the earlier
    decoder's copy behind, no longer updated by weight loads."""
    whole = getattr(first, "_lean_stacked", {}).get(name)
    if whole is None:
        return None
    offset = 0
    for part in parts:
        if part.data_ptr() != whole[offset:offset + part.shape[0]].data_ptr() or part.shape[1:] != whole.shape[1:]:
            return None
        offset += part.shape[0]
    return whole if offset == whole.shape[0] else None


def _fuse(*linears: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One weight (and bias) for `linears`, stacked by output rows — and each module's
    own parameters re-pointed to views of it, so that an in-place weight update
    (`load_state_dict` copies into the parameters) updates the stacked one too, and the
    model holds no second copy. (All of them have a bias or none: `_stackable`.)"""
    stacked: list[torch.Tensor | None] = []
    for name in ("weight", "bias"):
        parts = [getattr(linear, name) for linear in linears]
        if parts[0] is None:
            stacked.append(None)
            continue
        if (whole := _stacked_already(linears[0], name, parts)) is not None:  # a second decoder, same model
            stacked.append(whole)
            continue
        with torch.no_grad():
            whole = torch.cat([part.detach() for part in parts])
        offset = 0
        for part in parts:
            part.data = whole[offset:offset + part.shape[0]]
            offset += part.shape[0]
        linears[0].__dict__.setdefault("_lean_stacked", {})[name] = whole
        stacked.append(whole)
    weight, bias = stacked
    assert weight is not None
    return weight, bias


class LeanDecoder:
    """One-token forward of every running row, straight on the KV buffers.

    Args:
        model: a supported causal LM (see `supports`), already on its device, in eval mode.
    """

    def __init__(self, model: torch.nn.Module) -> None:
        if not self.supports(model):
            raise ValueError(f"{type(model).__name__} is not supported by the lean decoder")
        config = model.config
        inner: Any = model.model  # type: ignore[attr-defined]
        self.embed = inner.embed_tokens
        self.layers = list(inner.layers)
        self.norm = inner.norm
        self.lm_head: Any = model.lm_head  # type: ignore[attr-defined]
        rotary = inner.rotary_emb
        self.inv_freq: torch.Tensor = rotary.inv_freq
        self.rope_scale = float(getattr(rotary, "attention_scaling", 1.0))
        self.heads = int(config.num_attention_heads)
        self.kv_heads = int(getattr(config, "num_key_value_heads", None) or self.heads)
        self.head_dim = int(getattr(config, "head_dim", None) or config.hidden_size // self.heads)
        self.blocks = [self._block(layer) for layer in self.layers]
        # What every call of the kernels passes, resolved once (the step is the hot loop).
        self._args = self._model_args()
        self._step, self._prefill = _scripted("decode_step"), _scripted("prefill")

    @staticmethod
    def _block(layer: Any) -> _Block:
        attn, mlp = layer.self_attn, layer.mlp
        qkv_weight, qkv_bias = _fuse(attn.q_proj, attn.k_proj, attn.v_proj)
        gate_up_weight, _ = _fuse(mlp.gate_proj, mlp.up_proj)
        return _Block(qkv_weight, qkv_bias, attn.o_proj.weight, attn.o_proj.bias, gate_up_weight, mlp.down_proj.weight,
                      layer.input_layernorm.weight, float(layer.input_layernorm.variance_epsilon),
                      layer.post_attention_layernorm.weight, float(layer.post_attention_layernorm.variance_epsilon),
                      float(attn.scaling))

    @staticmethod
    def supports(model: torch.nn.Module) -> bool:
        """Whether the lean step computes exactly what this model's forward computes."""
        config = getattr(model, "config", None)
        if config is None or getattr(config, "model_type", None) not in _TYPES:
            return False
        rope = getattr(config, "rope_scaling", None) or getattr(config, "rope_parameters", None) or {}
        rope_type = rope.get("rope_type", rope.get("type", "default")) if isinstance(rope, dict) else "other"
        inner = getattr(model, "model", None)
        return (rope_type == "default" and getattr(config, "hidden_act", "silu") == "silu"
                and not getattr(config, "use_sliding_window", False)
                and not getattr(config, "mlp_bias", False)
                and inner is not None and hasattr(inner, "rotary_emb") and hasattr(model, "lm_head")
                and not getattr(model, "_hf_hook", None)  # accelerate-dispatched models: keep HF
                and all(_stackable(layer) for layer in getattr(inner, "layers", ())))

    @torch.inference_mode()
    def step(self, tokens_B: torch.Tensor, positions_B: torch.Tensor, keys: list[torch.Tensor],
             values: list[torch.Tensor], rows: int, column: int, start: int, mask_RC: torch.Tensor,
             shared: SharedPrefix | None = None, first_B: torch.Tensor | None = None) -> torch.Tensor:
        """Next-token logits [B, V] (float32) for rows `[0, rows)`, writing their new
        key/value at `column` of each layer's buffers and attending to columns
        `[start, column]` where `mask_RC` is set (and, first, to `shared`: then each row
        attends only to its columns from `first_B` + the shared length on). One call of
        the scripted `_lean_kernels.decode_step` (see there for why)."""
        own_B = None if shared is None or first_B is None else first_B + shared.length
        return self._step(tokens_B, positions_B, keys, values, rows, column, start, mask_RC, own_B,
                          list(shared.keys) if shared is not None else [],
                          list(shared.values) if shared is not None else [], *self._args)

    def _model_args(self) -> tuple[Any, ...]:
        """The weights and shapes both kernels take, in their order: per layer the stacked
        q/k/v, o, stacked gate/up, down and the two norms; the q/k/v and o biases; the
        two norms' epsilons (lists, as TorchScript takes them)."""
        weights = [t for b in self.blocks for t in (b.qkv_weight, b.o_weight, b.gate_up_weight, b.down_weight,
                                                     b.input_norm, b.post_norm)]
        biases = [t for b in self.blocks for t in (b.qkv_bias, b.o_bias)]
        eps = [e for b in self.blocks for e in (b.input_eps, b.post_eps)]
        return (self.embed.weight, self.inv_freq, self.rope_scale, weights, biases, eps, self.blocks[0].scaling,
                self.norm.weight, float(self.norm.variance_epsilon), self.lm_head.weight, self.lm_head.bias,
                self.heads, self.kv_heads, self.head_dim)

    @torch.inference_mode()
    def prefill(self, tokens_NS: torch.Tensor, positions_NS: torch.Tensor, new: list[int],
                keys: list[torch.Tensor], values: list[torch.Tensor], rows: slice, end: int,
                mask_NL: torch.Tensor) -> torch.Tensor:
        """Last-position logits [N, V] (float32) of new rows whose tokens `tokens_NS` (each
        row's `new[n]` real tokens right-aligned, padding before) follow what is already in
        the buffers: row n lives in slot `rows.start + n`, its new keys/values are written to
        columns `[end - new[n], end)`, and it attends to columns `[end - L, end)` where
        `mask_NL` is 1 (its cached tokens and its new ones), causally.

        Why here and not through the Hugging Face forward: that path builds a padded copy
        of every row's cached KV, concatenates the new keys to it, copies it again to the
        full head count, and the batch then gathers the result into its buffers — ≈ 2–3 ms
        of a 7 ms prefill of 130 tokens on 1,000 cached ones. Here the cached KV is copied
        once (into the buffers, by the caller) and attention reads it in place."""
        return self._prefill(tokens_NS, positions_NS, new, keys, values, rows.start, end, mask_NL, *self._args)

    def kv_like(self) -> tuple[torch.Tensor, ...]:
        """Empty tensors `[0, kv_heads, 0, head_dim]` per layer, in the model's dtype and
        device: what the batch allocates its buffers after."""
        weight = self.embed.weight
        return tuple(weight.new_empty(0, self.kv_heads, 0, self.head_dim) for _ in self.layers)


def _scripted(name: str) -> Callable[..., torch.Tensor]:
    """`_lean_kernels.<name>`, scripted once per process (see `_script`)."""
    return scripted(getattr(kernels, name))  # type: ignore[no-any-return]
