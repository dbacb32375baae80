"""The learner: turns scored batches into parameter updates (see `learner.py`).

| module               | job                                                           |
|----------------------|---------------------------------------------------------------|
| `config.py`          | `LearnerConfig`, `OptimizerConfig` (pydantic)                 |
| `learner.py`         | `Learner`: signals (π_old, π_ref, values), update, state      |
| `scoring.py`         | one forward over some rows: logprobs, entropies, values       |
| `_fused_logprobs.py` | LM head + log-softmax + gather as one autograd function       |
| `micro_batches.py`   | length bucketing under a padded-token budget                  |
| `checkpoint.py`      | atomic checkpoints, `latest`, RNG state                       |
| `weight_sync.py`     | weights → engine (in-process copy or an on-disk export)       |
"""

from agent_rl.learner.checkpoint import (
    CheckpointError,
    LoadedCheckpoint,
    latest_checkpoint,
    load_checkpoint,
    restore_rng,
    save_checkpoint,
)
from agent_rl.learner.config import LearnerConfig, OptimizerConfig
from agent_rl.learner.learner import Learner, LearnerError, lr_factor, resolve_device
from agent_rl.learner.micro_batches import plan_micro_batches
from agent_rl.learner.scoring import RowScores, ValueHead, score_rows
from agent_rl.learner.weight_sync import push_weights

__all__ = [
    "CheckpointError", "Learner", "LearnerConfig", "LearnerError", "LoadedCheckpoint", "OptimizerConfig",
    "RowScores", "ValueHead", "latest_checkpoint", "load_checkpoint", "lr_factor", "plan_micro_batches",
    "push_weights", "resolve_device", "restore_rng", "save_checkpoint", "score_rows",
]
