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

Supported: `LlamaForCausalLM` and `Qwen2ForCausalLM` (SmolLM2, Qwen2.5, the tiny test
models) with SiLU MLPs, default RoPE and no sliding window; anything else keeps the
Hugging Face forward (`LeanDecoder.supports`). The results equal the Hugging Face
forward up to float rounding (checked in tests/engines/test_lean_decode.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

_TYPES = ("llama", "qwen2")


def _rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """Hugging Face's RMSNorm (float32 statistics). For float32 tensors torch's fused
    kernel computes the same (one op instead of eight: a small model's decode step is
    mostly op dispatch, which also holds the GIL the prefill thread and the event loop
    need); other dtypes go operation for operation, to round exactly as the model does."""
    if x.dtype == torch.float32 and weight.dtype == torch.float32:
        return F.rms_norm(x, weight.shape, weight, eps)
    dtype = x.dtype
    x32 = x.to(torch.float32)
    x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)
    return weight * x32.to(dtype)


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


def _fuse(*linears: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One weight (and bias) for `linears`, stacked by output rows — and each module's
    own parameters re-pointed to views of it, so that an in-place weight update
    (`load_state_dict` copies into the parameters) updates the stacked one too, and the
    model holds no second copy."""
    biases = [linear.bias for linear in linears]
    if any(b is not None for b in biases) and any(b is None for b in biases):
        raise ValueError("cannot stack projections of which only some have a bias")
    stacked: list[torch.Tensor | None] = []
    for name in ("weight", "bias"):
        parts = [getattr(linear, name) for linear in linears]
        if parts[0] is None:
            stacked.append(None)
            continue
        with torch.no_grad():
            whole = torch.cat([part.detach() for part in parts])
        offset = 0
        for part in parts:
            part.data = whole[offset:offset + part.shape[0]]
            offset += part.shape[0]
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

    def _rope(self, positions: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """cos and signed sin for `positions` (any shape P): `[*P, 1, D]`, broadcasting over
        heads. The sin's first half is negated, so that rotating is `x * cos + roll(x) * sin`
        — `rotate_half(x) * sin` in two ops instead of four, with the same products."""
        # float32 like Hugging Face: a bf16 position rounds 1001 to 1000
        freqs = positions.float()[..., None] * self.inv_freq.float()  # [*P, D/2]
        angles = torch.cat((freqs, freqs), dim=-1)
        cos = (angles.cos() * self.rope_scale).to(dtype).unsqueeze(-2)
        sin = (angles.sin() * self.rope_scale).to(dtype)
        sin = torch.cat((-sin[..., : self.head_dim // 2], sin[..., self.head_dim // 2:]), dim=-1).unsqueeze(-2)
        return cos, sin

    def _qkv(self, block: _Block, hidden: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Rotated queries `[*, heads, D]`, keys and values `[*, kv_heads, D]` of `hidden`
        `[*, hidden]` (views of one projection: queries and keys rotate together)."""
        x = _rms_norm(hidden, block.input_norm, block.input_eps)
        lead = hidden.shape[:-1]
        qkv = F.linear(x, block.qkv_weight, block.qkv_bias)
        rotated = self.heads + self.kv_heads
        qk = qkv[..., : rotated * self.head_dim].view(*lead, rotated, self.head_dim)
        v = qkv[..., rotated * self.head_dim:].view(*lead, self.kv_heads, self.head_dim)
        qk = qk * cos + qk.roll(self.head_dim // 2, -1) * sin
        return qk[..., : self.heads, :], qk[..., self.heads:, :], v

    @staticmethod
    def _mlp(block: _Block, hidden: torch.Tensor) -> torch.Tensor:
        """The residual stream after the layer's MLP."""
        x = _rms_norm(hidden, block.post_norm, block.post_eps)
        gate, up = F.linear(x, block.gate_up_weight).chunk(2, dim=-1)
        return hidden + F.linear(F.silu(gate) * up, block.down_weight)

    def _logits(self, hidden: torch.Tensor) -> torch.Tensor:
        normed = _rms_norm(hidden, self.norm.weight, self.norm.variance_epsilon)
        return F.linear(normed, self.lm_head.weight, self.lm_head.bias).float()

    @torch.inference_mode()
    def step(self, tokens_B: torch.Tensor, positions_B: torch.Tensor, keys: list[torch.Tensor],
             values: list[torch.Tensor], rows: slice, column: int, attended: slice, mask_BL: torch.Tensor,
             shared: SharedPrefix | None = None) -> torch.Tensor:
        """Next-token logits [B, V] (float32) for rows `rows`, writing their new key/value at
        `column` of each layer's buffers and attending to columns `attended` under `mask_BL`
        (and, first, to `shared` — then `attended`/`mask_BL` cover only what follows it)."""
        batch = tokens_B.shape[0]
        hidden = self.embed(tokens_B)  # [B, hidden]
        cos, sin = self._rope(positions_B, hidden.dtype)  # [B, 1, D]
        group = self.heads // self.kv_heads
        # An additive mask, made once per step: adding it costs a tenth of a broadcast masked_fill.
        bias_B11L = torch.zeros(mask_BL.shape, dtype=hidden.dtype, device=hidden.device).masked_fill_(
            ~mask_BL, float("-inf"))[:, None, None, :]
        for index, block in enumerate(self.blocks):
            q, k, v = self._qkv(block, hidden, cos, sin)
            keys[index][rows, :, column] = k
            values[index][rows, :, column] = v
            keys_BKLD = keys[index][rows, :, attended]
            values_BKLD = values[index][rows, :, attended]
            q_BKGD = q.view(batch, self.kv_heads, group, self.head_dim)
            scores = torch.matmul(q_BKGD, keys_BKLD.transpose(-1, -2)) * block.scaling + bias_B11L  # [B, K, G, L]
            if shared is None:
                probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
                out = torch.matmul(probs, values_BKLD)
            else:
                out = self._cascade(q_BKGD, scores, values_BKLD, shared.keys[index], shared.values[index],
                                    block.scaling)
            hidden = hidden + F.linear(out.reshape(batch, self.heads * self.head_dim), block.o_weight, block.o_bias)
            hidden = self._mlp(block, hidden)
        return self._logits(hidden)

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
        count, width = tokens_NS.shape
        length = mask_NL.shape[1]
        hidden = self.embed(tokens_NS)  # [N, S, hidden]
        cos, sin = self._rope(positions_NS, hidden.dtype)  # [N, S, 1, D]
        # Query i (column end - S + i) sees valid columns up to its own; padding queries see
        # every valid column (their outputs are never used, but must not be NaN).
        columns_L = torch.arange(length, device=hidden.device)
        query_S = torch.arange(width, device=hidden.device) + (length - width)
        new_N = torch.tensor(new, device=hidden.device)
        pad_NS = torch.arange(width, device=hidden.device)[None, :] < (width - new_N)[:, None]
        causal_SL = columns_L[None, :] <= query_S[:, None]
        allowed_NSL = mask_NL[:, None, :] & (causal_SL[None] | pad_NS[:, :, None])
        attended = slice(end - length, end)
        for index, block in enumerate(self.blocks):
            q, k, v = self._qkv(block, hidden, cos, sin)  # [N, S, heads or kv_heads, D]
            k_NKSD, v_NKSD = k.transpose(1, 2), v.transpose(1, 2)
            for n, real in enumerate(new):
                keys[index][rows.start + n, :, end - real:end] = k_NKSD[n, :, width - real:]
                values[index][rows.start + n, :, end - real:end] = v_NKSD[n, :, width - real:]
            out = F.scaled_dot_product_attention(
                q.transpose(1, 2), keys[index][rows, :, attended], values[index][rows, :, attended],
                attn_mask=allowed_NSL[:, None], scale=block.scaling,
                enable_gqa=self.heads != self.kv_heads)  # [N, heads, S, D]
            hidden = hidden + F.linear(out.transpose(1, 2).reshape(count, width, self.heads * self.head_dim),
                                       block.o_weight, block.o_bias)
            hidden = self._mlp(block, hidden)
        return self._logits(hidden[:, -1])

    def kv_like(self) -> tuple[torch.Tensor, ...]:
        """Empty tensors `[0, kv_heads, 0, head_dim]` per layer, in the model's dtype and
        device: what the batch allocates its buffers after."""
        weight = self.embed.weight
        return tuple(weight.new_empty(0, self.kv_heads, 0, self.head_dim) for _ in self.layers)

    def _cascade(self, q_BKGD: torch.Tensor, scores_BKGL: torch.Tensor, values_BKLD: torch.Tensor,
                 shared_keys_KPD: torch.Tensor, shared_values_KPD: torch.Tensor, scaling: float) -> torch.Tensor:
        """Attention over [shared prefix | own tokens] with one softmax; the prefix part is
        one matmul per key/value head for all rows (M = rows × group)."""
        batch, kv_heads, group, dim = q_BKGD.shape
        prefix = shared_keys_KPD.shape[1]
        q_KMD = q_BKGD.permute(1, 0, 2, 3).reshape(kv_heads, batch * group, dim)
        shared_KMP = torch.bmm(q_KMD, shared_keys_KPD.transpose(1, 2)) * scaling
        shared_BKGP = shared_KMP.view(kv_heads, batch, group, prefix).permute(1, 0, 2, 3)
        probs = torch.softmax(torch.cat((shared_BKGP, scores_BKGL), dim=-1), dim=-1, dtype=torch.float32)
        probs = probs.to(q_BKGD.dtype)
        head_KMP = probs[..., :prefix].permute(1, 0, 2, 3).reshape(kv_heads, batch * group, prefix)
        from_prefix = torch.bmm(head_KMP, shared_values_KPD).view(kv_heads, batch, group, dim).permute(1, 0, 2, 3)
        return from_prefix + torch.matmul(probs[..., prefix:], values_BKLD)
