"""log π(target | hidden) through the LM head, without the autograd chain over the logits.

Why: the plain path (`model(...)` → logits → `/ temperature` → `log_softmax` → `gather`)
keeps two (N, V) tensors alive for backward and makes autograd allocate four more in
it (the gather's zero-filled gradient, the log-softmax and division gradients, a float
copy under autocast). With V in the thousands to hundreds of thousands, those passes
over (N, V) cost about as much as the rest of a small model's step. This function does
the same math with one (N, V) buffer: the forward turns the logits into probabilities
in place and keeps them; the backward turns them into the logits' gradient in place,
d log p_y / d z = onehot(y) − p (scaled by 1/T), then does the two matmuls.

It is also called only on the positions whose next token is trained (see
`scoring.py`), so prompt and tool-output positions never reach the LM head.

>>> h, w = torch.randn(5, 8, dtype=torch.float64), torch.randn(11, 8, dtype=torch.float64)
>>> y = torch.randint(0, 11, (5,))
>>> ref = torch.log_softmax(h @ w.T / 0.7, -1).gather(-1, y[:, None]).squeeze(-1)
>>> torch.allclose(fused_logprobs(h, w, None, y, 0.7), ref)
True
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

__all__ = ["fused_logprobs"]


class _LinearLogprobs(torch.autograd.Function):
    """(hidden (N, H), weight (V, H), bias (V,) | None, targets (N,)) → logprobs (N,)."""

    @staticmethod
    def forward(ctx: Any, hidden_NH: Tensor, weight_VH: Tensor, bias_V: Tensor | None,  # Any: autograd ctx
                targets_N: Tensor, temperature: float) -> Tensor:
        device_type = hidden_NH.device.type
        dtype = torch.get_autocast_dtype(device_type) if torch.is_autocast_enabled(device_type) else hidden_NH.dtype
        with torch.autocast(device_type, enabled=False):
            logits_NV = hidden_NH.to(dtype) @ weight_VH.to(dtype).t()
            if bias_V is not None:
                logits_NV = logits_NV + bias_V.to(dtype)
            # softmax statistics in float32 at least (a no-op for float32 logits)
            z_NV = logits_NV.to(torch.promote_types(logits_NV.dtype, torch.float32))
            if temperature != 1.0:
                z_NV.div_(temperature)
            picked_N = z_NV.gather(1, targets_N[:, None]).squeeze(1)
            max_N = z_NV.amax(dim=1)
            z_NV.sub_(max_N[:, None]).exp_()
            sum_N = z_NV.sum(dim=1)
            z_NV.div_(sum_N[:, None])  # now the probabilities p (N, V)
            logprobs_N = picked_N - max_N - sum_N.log()
        ctx.save_for_backward(hidden_NH, weight_VH, targets_N, z_NV)
        ctx.bias_dtype = None if bias_V is None else bias_V.dtype
        ctx.dtype = dtype
        ctx.temperature = temperature
        ctx.used = False
        return logprobs_N

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_N: Tensor) -> tuple[Tensor | None, ...]:  # Any: autograd ctx
        if ctx.used:  # the probabilities were overwritten by the first backward
            raise RuntimeError("fused_logprobs cannot be backpropagated twice (retain_graph is not supported)")
        ctx.used = True
        hidden_NH, weight_VH, targets_N, probs_NV = ctx.saved_tensors
        scale_N = grad_N.to(probs_NV.dtype) / ctx.temperature
        # dL/dz = g/T · (onehot(y) − p), built in the probabilities' buffer
        grad_NV = probs_NV.mul_(-scale_N[:, None])
        grad_NV.scatter_add_(1, targets_N[:, None], scale_N[:, None])
        grad_NV = grad_NV.to(ctx.dtype)
        grad_hidden = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_hidden = (grad_NV @ weight_VH.to(ctx.dtype)).to(hidden_NH.dtype)
        if ctx.needs_input_grad[1]:
            grad_weight = (grad_NV.t() @ hidden_NH.to(ctx.dtype)).to(weight_VH.dtype)
        if ctx.bias_dtype is not None and ctx.needs_input_grad[2]:
            grad_bias = grad_NV.float().sum(dim=0).to(ctx.bias_dtype)
        return grad_hidden, grad_weight, grad_bias, None, None


def fused_logprobs(hidden_NH: Tensor, weight_VH: Tensor, bias_V: Tensor | None, targets_N: Tensor,
                   temperature: float = 1.0) -> Tensor:
    """log softmax((hidden · weightᵀ + bias) / T)[target] per row, with gradients to
    `hidden`, `weight` and `bias`. Under autocast the matmuls run in the autocast dtype.

    Args:
        hidden_NH: (N, H) hidden states of the positions to score.
        weight_VH: (V, H) the LM head's weight.
        bias_V: (V,) its bias, or None.
        targets_N: (N,) the token each position predicts.
        temperature: T > 0, divides the logits.

    Returns:
        (N,) logprobs, float32 (float64 for float64 inputs).
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0 to score tokens, got {temperature}")
    out: Tensor = _LinearLogprobs.apply(hidden_NH, weight_VH, bias_V, targets_N, float(temperature))
    return out
