"""One forward pass over some rows of a `Batch`: per-token logprobs, entropies, values.

Rows are right-padded; a micro-batch is trimmed to its own longest row before the
forward (length bucketing, see `micro_batches.py`) and the outputs are padded back to
the batch width with zeros, so they line up with `Batch` tensors for
`LossInputs.from_batch(batch, logprobs, rows=...)`. Padding columns are off the loss
mask, so the zeros never reach a loss.

For training (`loss_positions_only=True`) only the positions whose next token is on the
loss mask go through the LM head, with `fused_logprobs` (one (N, V) buffer instead of
autograd over full logits): every loss reads logprobs on the loss mask alone, and on a
small model or a long prompt the LM head and softmax over all positions cost as much as
the rest of the step. A model whose logits are not `lm_head(backbone(x))` (softcapping,
logit scaling, wrappers) fails a one-time check and keeps the plain path.
"""

from __future__ import annotations

import contextlib
import logging
import weakref
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from agent_rl.algos.batch import Batch
from agent_rl.algos.logprobs import token_logprobs
from agent_rl.learner._fused_logprobs import fused_logprobs

__all__ = ["RowScores", "ValueHead", "autocast_for", "score_rows"]

log = logging.getLogger(__name__)

_LOGIT_TRANSFORMS = ("final_logit_softcapping", "logit_scale", "logits_scaling", "output_multiplier",
                     "lm_head_multiplier")
"""Config fields of models whose forward transforms the LM head's output (Gemma 2, Cohere,
Granite, Falcon-H1, ...): the fused path would skip that, so those models keep the plain one."""

_HEAD_OK: weakref.WeakKeyDictionary[nn.Module, bool] = weakref.WeakKeyDictionary()
"""Per model: does `lm_head(base_model(x))` reproduce `model(x).logits`? Checked once."""


class ValueHead(nn.Module):
    """V(s_t) from the policy's last hidden state: one linear layer (PPO's critic head,
    sharing the policy trunk as verl's and TRL's value models do with a separate trunk)."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.linear = nn.Linear(hidden_size, 1)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, hidden_BTH: Tensor) -> Tensor:
        return self.linear(hidden_BTH.float()).squeeze(-1)


@dataclass(frozen=True, slots=True)
class RowScores:
    """Per-token outputs for the scored rows, each (rows, T) at the batch's width."""

    logprobs_BT: Tensor
    entropy_BT: Tensor | None = None
    values_BT: Tensor | None = None


def autocast_for(device: torch.device, dtype: str) -> contextlib.AbstractContextManager[None]:
    """bf16 autocast on CUDA when asked; a no-op otherwise (CPU stays float32)."""
    if dtype == "bfloat16" and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _widen(t_BL: Tensor, width: int) -> Tensor:
    return F.pad(t_BL, (0, width - t_BL.shape[1])) if t_BL.shape[1] < width else t_BL


def _backbone_and_head(model: nn.Module) -> tuple[nn.Module, nn.Linear] | None:
    """The trunk and a plain linear LM head of a Hugging Face causal LM, or None."""
    config = getattr(model, "config", None)
    backbone = getattr(model, "base_model", None)
    get_head = getattr(model, "get_output_embeddings", None)
    if config is None or backbone is None or backbone is model or get_head is None:
        return None
    head = get_head()
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    if not isinstance(head, nn.Linear) or any(getattr(text_config, name, None) not in (None, 1.0)
                                               for name in _LOGIT_TRANSFORMS):
        return None
    return backbone, head


def _fused_head(model: nn.Module, input_ids_BL: Tensor, attention_BL: Tensor) -> tuple[nn.Module, nn.Linear] | None:
    """`_backbone_and_head(model)` if, on the first call for this model, it reproduces the
    model's own logits on a few tokens of the batch at hand; else None (plain path)."""
    parts = _backbone_and_head(model)
    if parts is None:
        return None
    if model not in _HEAD_OK:
        backbone, head = parts
        ids_BL, mask_BL = input_ids_BL[:1, :16], attention_BL[:1, :16]
        with torch.no_grad(), eval_mode(model):
            expected = model(input_ids=ids_BL, attention_mask=mask_BL, use_cache=False).logits.float()
            got = head(backbone(input_ids=ids_BL, attention_mask=mask_BL, use_cache=False).last_hidden_state)
        _HEAD_OK[model] = torch.allclose(got.float(), expected, rtol=1e-3, atol=1e-3)
        if not _HEAD_OK[model]:
            log.warning("%s: lm_head(base_model(x)) does not reproduce the model's logits; the learner scores "
                        "it through the full forward (slower, same results)", type(model).__name__)
    return parts if _HEAD_OK[model] else None


def _score_loss_positions(backbone: nn.Module, head: nn.Linear, input_ids_BL: Tensor, attention_BL: Tensor,
                          loss_mask_BL: Tensor, temperature: float, value_head: ValueHead | None
                          ) -> tuple[Tensor, Tensor | None]:
    """Logprobs (B, L) of the loss-mask tokens (0 elsewhere) and values (B, L) if asked."""
    hidden_BLH = backbone(input_ids=input_ids_BL, attention_mask=attention_BL, use_cache=False).last_hidden_state
    target_BL = loss_mask_BL.clone()
    target_BL[:, 0] = False  # column 0 has no predicting position
    predicts_BL = target_BL[:, 1:]  # position t predicts token t + 1
    hidden_NH = hidden_BLH[:, :-1][predicts_BL]
    targets_N = input_ids_BL[:, 1:][predicts_BL]
    logprobs_N = fused_logprobs(hidden_NH, head.weight, head.bias, targets_N, temperature)
    logprobs_BL = logprobs_N.new_zeros(target_BL.shape).masked_scatter(target_BL, logprobs_N)
    values_BL = value_head(hidden_BLH) if value_head is not None else None
    return logprobs_BL, values_BL


def score_rows(model: nn.Module, batch: Batch, rows: list[int], *, temperature: float = 1.0,
               with_entropy: bool = False, value_head: ValueHead | None = None,
               dtype: str = "float32", loss_positions_only: bool = False) -> RowScores:
    """Score `rows` of `batch` with `model` (gradients flow unless the caller disables them).

    With `loss_positions_only`, logprobs off the loss mask may be 0 (no LM head there; see
    the module docstring): for the training loss, not for signals read elsewhere."""
    device = next(model.parameters()).device
    index = torch.tensor(rows, dtype=torch.long)
    attention_BT = batch.attention_mask_BT[index]
    length = int(attention_BT.sum(dim=1).max())
    input_ids_BL = batch.input_ids_BT[index, :length].to(device)
    attention_BL = attention_BT[:, :length].to(device)
    width = batch.input_ids_BT.shape[1]
    parts = _fused_head(model, input_ids_BL, attention_BL) if loss_positions_only and not with_entropy else None
    if parts is not None:
        loss_mask_BL = batch.loss_mask_BT[index, :length].to(device)
        with autocast_for(device, dtype):
            logprobs_BL, values_BL = _score_loss_positions(*parts, input_ids_BL, attention_BL, loss_mask_BL,
                                                           temperature, value_head)
        return RowScores(_widen(logprobs_BL, width), None, None if values_BL is None else _widen(values_BL, width))
    with autocast_for(device, dtype):
        out = model(input_ids=input_ids_BL, attention_mask=attention_BL, use_cache=False,
                    output_hidden_states=value_head is not None)
    logprobs_BL, entropy_BL = token_logprobs(out.logits, input_ids_BL, temperature=temperature,
                                             with_entropy=with_entropy)
    values_BL = value_head(out.hidden_states[-1]) if value_head is not None else None
    return RowScores(_widen(logprobs_BL, width),
                     None if entropy_BL is None else _widen(entropy_BL, width),
                     None if values_BL is None else _widen(values_BL, width))


@contextlib.contextmanager
def eval_mode(*modules: nn.Module | None) -> Iterator[None]:
    """Switch modules to eval mode (no dropout) for scoring; restore afterwards."""
    present = [m for m in modules if m is not None]
    states = [m.training for m in present]
    for m in present:
        m.eval()
    try:
        yield
    finally:
        for m, state in zip(present, states, strict=True):
            m.train(state)
