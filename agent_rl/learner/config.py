"""`LearnerConfig`: how the policy is optimised (the *what* is `AlgoConfig`).

Defaults suit a small model on CPU; on a GPU set `dtype: bfloat16` (autocast) and
raise `micro_batch_tokens`. Example (YAML, under `learner:` of a training config)::

    learner:
      optimizer: {lr: 1.0e-5, warmup_steps: 10, max_grad_norm: 1.0}
      micro_batch_tokens: 16384
      ppo_epochs: 1
      mini_batches: 1

>>> LearnerConfig().optimizer.lr
1e-05
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["LearnerConfig", "OptimizerConfig"]


class OptimizerConfig(BaseModel):
    """AdamW with linear warm-up, then a constant, linear or cosine schedule."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lr: float = Field(1e-5, gt=0)
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = Field(1e-8, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    warmup_steps: int = Field(0, ge=0)
    """Optimizer steps over which the learning rate rises linearly from 0."""
    schedule: Literal["constant", "linear", "cosine"] = "constant"
    """After warm-up: keep `lr`, or decay to `min_lr_ratio × lr` by the last step."""
    min_lr_ratio: float = Field(0.0, ge=0, le=1)
    max_grad_norm: float | None = Field(1.0, gt=0)
    """Clip the global gradient norm (None: no clipping; the norm is still reported)."""


class LearnerConfig(BaseModel):
    """Optimisation, batching and memory options of the learner."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    optimizer: OptimizerConfig = OptimizerConfig()
    micro_batch_tokens: int = Field(8192, ge=1)
    """Padded tokens (rows × longest row) per forward/backward. Rows are sorted by length
    and packed greedily into micro-batches under this budget (length bucketing), so
    short rows are not padded to the longest row of the whole batch. A single row longer
    than the budget still forms its own micro-batch."""
    ppo_epochs: int = Field(1, ge=1)
    """Passes over each batch."""
    mini_batches: int = Field(1, ge=1)
    """Optimizer steps per pass (the batch's groups split evenly). More than one step per
    batch makes later steps off-policy w.r.t. π_old, so the learner then scores π_old
    before the first step."""
    temperature: float = Field(1.0, gt=0)
    """The sampling temperature of the rollouts: logprobs are scored under the same
    tempered distribution the engine sampled from."""
    dtype: Literal["float32", "bfloat16"] = "float32"
    """Weights stay float32; "bfloat16" runs forward/backward under autocast (GPU)."""
    gradient_checkpointing: bool = False
    device: str = "auto"
    """"auto": cuda when available, else cpu."""
    reference_model: str | None = None
    """A path to a frozen reference model for KL terms; None = a frozen copy of the initial
    policy, made only when the algorithm needs reference logprobs."""
    prm_model: str | None = None
    """A path to a frozen process-reward model (implicit PRM with `model: prm`)."""
    value_lr: float | None = Field(None, gt=0)
    """Learning rate of the value head (estimators with a critic); None = `optimizer.lr`."""
    seed: int = 0
