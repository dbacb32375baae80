"""The lean step's arithmetic as TorchScript-compatible functions (`_lean_decode` drives them).

Why TorchScript: a decode step of a small model is ≈ 150 small torch calls, and each
call from Python takes the GIL back after its kernel. The `hf` engine's scheduler thread
shares the GIL with the asyncio event loop (the rollout manager, envs, tool servers in
the same process) and the prefill thread: whenever the loop runs Python, every one of
those calls waits for it. Measured on the 2-core VM, a thread that runs Python one
third of the time made a 13-row decode step 60 % slower (4.2 → 6.5–7.1 ms), and inside
the rollout benchmark the same steps took ≈ 2x as long as alone. A scripted step runs
all its calls in the TorchScript interpreter with the GIL released, once per step.

The functions are plain Python too: `_lean_decode` scripts `decode_step` and `prefill`
once per process and falls back to calling them as Python if scripting fails (same
arithmetic, the same aten calls either way).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """Hugging Face's RMSNorm (float32 statistics). For float32 tensors torch's fused
    kernel computes the same in one op; other dtypes go operation for operation, to
    round exactly as the model does."""
    if x.dtype == torch.float32 and weight.dtype == torch.float32:
        return torch.rms_norm(x, [x.shape[-1]], weight, eps)
    dtype = x.dtype
    x32 = x.to(torch.float32)
    x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)
    return weight * x32.to(dtype)


def rope(positions: torch.Tensor, inv_freq: torch.Tensor, scale: float, head_dim: int, dtype: torch.dtype
         ) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and signed sin for `positions` (any shape P): `[*P, 1, D]`, broadcasting over
    heads. The sin's first half is negated, so that rotating is `x * cos + roll(x) * sin`
    — `rotate_half(x) * sin` in two ops instead of four, with the same products."""
    # float32 like Hugging Face: a bf16 position rounds 1001 to 1000
    freqs = positions.float().unsqueeze(-1) * inv_freq.float()  # [*P, D/2]
    angles = torch.cat((freqs, freqs), dim=-1)
    cos = (angles.cos() * scale).to(dtype).unsqueeze(-2)
    sin = (angles.sin() * scale).to(dtype)
    half = head_dim // 2
    sin = torch.cat((-sin[..., :half], sin[..., half:]), dim=-1).unsqueeze(-2)
    return cos, sin


def qkv(hidden: torch.Tensor, norm: torch.Tensor, eps: float, weight: torch.Tensor, bias: torch.Tensor | None,
        cos: torch.Tensor, sin: torch.Tensor, heads: int, kv_heads: int, head_dim: int
        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rotated queries `[*, heads, D]`, keys and values `[*, kv_heads, D]` of `hidden`
    `[*, hidden]`: views of one stacked projection (queries and keys rotate together)."""
    x = rms_norm(hidden, norm, eps)
    lead = list(hidden.shape[:-1])
    projected = F.linear(x, weight, bias)
    rotated = heads + kv_heads
    qk = projected[..., : rotated * head_dim].view(lead + [rotated, head_dim])
    v = projected[..., rotated * head_dim:].view(lead + [kv_heads, head_dim])
    qk = qk * cos + qk.roll(head_dim // 2, -1) * sin
    return qk[..., :heads, :], qk[..., heads:, :], v


def mlp(hidden: torch.Tensor, norm: torch.Tensor, eps: float, gate_up: torch.Tensor, down: torch.Tensor
        ) -> torch.Tensor:
    """The residual stream after a SiLU MLP whose gate and up projections are stacked."""
    x = rms_norm(hidden, norm, eps)
    gate, up = F.linear(x, gate_up).chunk(2, dim=-1)
    return hidden + F.linear(F.silu(gate) * up, down)


def cascade(q_BKGD: torch.Tensor, scores_BKGL: torch.Tensor, values_BKLD: torch.Tensor,
            shared_keys_KPD: torch.Tensor, shared_values_KPD: torch.Tensor, scaling: float) -> torch.Tensor:
    """Attention over [shared prefix | own tokens] with one softmax; the prefix part is one
    matmul per key/value head for all rows (M = rows × group)."""
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


def decode_step(tokens_B: torch.Tensor, positions_B: torch.Tensor, keys: list[torch.Tensor],
                values: list[torch.Tensor], rows: int, column: int, start: int, mask_RC: torch.Tensor,
                own_B: torch.Tensor | None, shared_keys: list[torch.Tensor], shared_values: list[torch.Tensor],
                embed: torch.Tensor, inv_freq: torch.Tensor, rope_scale: float, weights: list[torch.Tensor],
                biases: list[torch.Tensor | None], eps: list[float], scaling: float, final_norm: torch.Tensor,
                final_eps: float, lm_head: torch.Tensor, lm_bias: torch.Tensor | None, heads: int,
                kv_heads: int, head_dim: int) -> torch.Tensor:
    """Next-token logits [B, V] (float32) of rows `[0, rows)`, writing their new key/value
    at `column` of each layer's buffers and attending to columns `[start, column]` where
    `mask_RC` is set — and, when `shared_keys` is not empty, first to that shared prompt
    start, with `own_B` (each row's first column after it) limiting the rest.

    Per layer l: `weights[6l:6l+6]` = stacked q/k/v, o, stacked gate/up, down, input
    norm, post-attention norm; `biases[2l:2l+2]` = q/k/v, o (None: none); `eps[2l:2l+2]`
    = the two norms' epsilons."""
    hidden = F.embedding(tokens_B, embed)  # [B, hidden]
    cos, sin = rope(positions_B, inv_freq, rope_scale, head_dim, hidden.dtype)  # [B, 1, D]
    group = heads // kv_heads
    mask_BL = mask_RC[:rows, start:column + 1]
    if own_B is not None:
        columns_L = torch.arange(start, column + 1, device=mask_RC.device)
        mask_BL = mask_BL & (columns_L.unsqueeze(0) >= own_B.unsqueeze(1))
    # An additive mask, made once per step: adding it costs a tenth of a broadcast masked_fill.
    bias_B11L = torch.zeros(mask_BL.shape, dtype=hidden.dtype, device=hidden.device).masked_fill_(
        ~mask_BL, float("-inf")).unsqueeze(1).unsqueeze(1)
    for index in range(len(keys)):
        w = weights[6 * index: 6 * index + 6]
        q, k, v = qkv(hidden, w[4], eps[2 * index], w[0], biases[2 * index], cos, sin, heads, kv_heads, head_dim)
        keys[index].narrow(0, 0, rows).select(2, column).copy_(k)
        values[index].narrow(0, 0, rows).select(2, column).copy_(v)
        keys_BKLD = keys[index][:rows, :, start:column + 1]
        values_BKLD = values[index][:rows, :, start:column + 1]
        q_BKGD = q.reshape(rows, kv_heads, group, head_dim)
        scores = torch.matmul(q_BKGD, keys_BKLD.transpose(-1, -2)) * scaling + bias_B11L  # [B, K, G, L]
        if len(shared_keys) == 0:
            probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
            out = torch.matmul(probs, values_BKLD)
        else:
            out = cascade(q_BKGD, scores, values_BKLD, shared_keys[index], shared_values[index], scaling)
        hidden = hidden + F.linear(out.reshape(rows, heads * head_dim), w[1], biases[2 * index + 1])
        hidden = mlp(hidden, w[5], eps[2 * index + 1], w[2], w[3])
    return F.linear(rms_norm(hidden, final_norm, final_eps), lm_head, lm_bias).float()


def prefill(tokens_NS: torch.Tensor, positions_NS: torch.Tensor, new: list[int], keys: list[torch.Tensor],
            values: list[torch.Tensor], first_row: int, end: int, mask_NL: torch.Tensor, embed: torch.Tensor,
            inv_freq: torch.Tensor, rope_scale: float, weights: list[torch.Tensor],
            biases: list[torch.Tensor | None], eps: list[float], scaling: float, final_norm: torch.Tensor,
            final_eps: float, lm_head: torch.Tensor, lm_bias: torch.Tensor | None, heads: int, kv_heads: int,
            head_dim: int) -> torch.Tensor:
    """Last-position logits [N, V] (float32) of new rows whose tokens `tokens_NS` (each
    row's `new[n]` real tokens right-aligned, padding before) follow what is already in
    the buffers: row n lives in slot `first_row + n`, its new keys/values are written to
    columns `[end - new[n], end)`, and it attends to columns `[end - L, end)` where
    `mask_NL` is 1 (its cached tokens and its new ones), causally. Weights as in
    `decode_step`."""
    count, width = tokens_NS.shape[0], tokens_NS.shape[1]
    length = mask_NL.shape[1]
    device = tokens_NS.device
    hidden = F.embedding(tokens_NS, embed)  # [N, S, hidden]
    cos, sin = rope(positions_NS, inv_freq, rope_scale, head_dim, hidden.dtype)  # [N, S, 1, D]
    # Query i (column end - S + i) sees valid columns up to its own; padding queries see
    # every valid column (their outputs are never used, but must not be NaN).
    columns_L = torch.arange(length, device=device)
    query_S = torch.arange(width, device=device) + (length - width)
    new_N = torch.tensor(new, device=device)
    pad_NS = torch.arange(width, device=device).unsqueeze(0) < (width - new_N).unsqueeze(1)
    causal_SL = columns_L.unsqueeze(0) <= query_S.unsqueeze(1)
    allowed_N1SL = (mask_NL.unsqueeze(1) & (causal_SL.unsqueeze(0) | pad_NS.unsqueeze(2))).unsqueeze(1)
    for index in range(len(keys)):
        w = weights[6 * index: 6 * index + 6]
        q, k, v = qkv(hidden, w[4], eps[2 * index], w[0], biases[2 * index], cos, sin, heads, kv_heads, head_dim)
        k_NKSD, v_NKSD = k.transpose(1, 2), v.transpose(1, 2)
        for n in range(count):
            real = new[n]
            keys[index][first_row + n, :, end - real:end] = k_NKSD[n, :, width - real:]
            values[index][first_row + n, :, end - real:end] = v_NKSD[n, :, width - real:]
        out = F.scaled_dot_product_attention(
            q.transpose(1, 2), keys[index][first_row:first_row + count, :, end - length:end],
            values[index][first_row:first_row + count, :, end - length:end], attn_mask=allowed_N1SL,
            scale=scaling, enable_gqa=heads != kv_heads)  # [N, heads, S, D]
        hidden = hidden + F.linear(out.transpose(1, 2).reshape(count, width, heads * head_dim), w[1],
                                   biases[2 * index + 1])
        hidden = mlp(hidden, w[5], eps[2 * index + 1], w[2], w[3])
    return F.linear(rms_norm(hidden[:, -1], final_norm, final_eps), lm_head, lm_bias).float()
