"""One forward pass over some rows of a `Batch`: per-token logprobs, entropies, values.

Rows are right-padded; a micro-batch is trimmed to its own longest row before the
forward (length bucketing, see `micro_batches.py`) and the outputs are padded back to
the batch width with zeros, so they line up with `Batch` tensors for
`LossInputs.from_batch(batch, logprobs, rows=...)`. Padding columns are off the loss
mask, so the zeros never reach a loss.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from agent_rl.algos.batch import Batch
from agent_rl.algos.logprobs import token_logprobs

__all__ = ["RowScores", "ValueHead", "autocast_for", "score_rows"]


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


def score_rows(model: nn.Module, batch: Batch, rows: list[int], *, temperature: float = 1.0,
               with_entropy: bool = False, value_head: ValueHead | None = None,
               dtype: str = "float32") -> RowScores:
    """Score `rows` of `batch` with `model` (gradients flow unless the caller disables them)."""
    device = next(model.parameters()).device
    index = torch.tensor(rows, dtype=torch.long)
    attention_BT = batch.attention_mask_BT[index]
    length = int(attention_BT.sum(dim=1).max())
    input_ids_BL = batch.input_ids_BT[index, :length].to(device)
    attention_BL = attention_BT[:, :length].to(device)
    with autocast_for(device, dtype):
        out = model(input_ids=input_ids_BL, attention_mask=attention_BL, use_cache=False,
                    output_hidden_states=value_head is not None)
    logprobs_BL, entropy_BL = token_logprobs(out.logits, input_ids_BL, temperature=temperature,
                                             with_entropy=with_entropy)
    values_BL = value_head(out.hidden_states[-1]) if value_head is not None else None
    width = batch.input_ids_BT.shape[1]
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
