"""Training runs: configs, the asynchronous RL trainer, SFT warm start, metrics.

| module        | job                                                              |
|---------------|------------------------------------------------------------------|
| `config.py`   | `TrainConfig` and its sections (pydantic)                        |
| `loading.py`  | YAML + dotted `key=value` overrides → a validated config         |
| `trainer.py`  | `Trainer`: SFT → eval → rollouts ∥ learner → eval, checkpoints   |
| `demos.py`    | demonstrations from envs' scripted agents, through the agent loop|
| `sft.py`      | supervised warm start on trajectories (same masks as RL)         |
| `tasks.py`    | the seeded, resumable task stream                                |
| `metrics.py`  | console / JSONL / TensorBoard                                    |
| `plot.py`     | the reward-curve PNG                                             |
"""

from agent_rl.training.config import TrainConfig
from agent_rl.training.loading import ConfigError, apply_override, load_config
from agent_rl.training.trainer import Trainer, TrainSummary, run_training

__all__ = ["ConfigError", "TrainConfig", "TrainSummary", "Trainer", "apply_override", "load_config", "run_training"]
