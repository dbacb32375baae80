"""`TrainConfig`: a whole training run as one pydantic model, loaded from YAML.

Every section has defaults, so the smallest config names only an env::

    envs: [{id: arith-easy-v0}]

`agent-rl train CONFIG.yaml key=value …` applies dotted overrides
(`algo.loss.kl.coef=0.01`, `rollout.group_size=16`, `envs.0.kwargs.digits=2`);
`--dry-run` prints the resolved config and exits. Unknown keys are errors (with the
key's path), so a typo never silently trains with a default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent_rl.algos.config import AlgoConfig
from agent_rl.learner.config import LearnerConfig, OptimizerConfig

__all__ = ["DemoConfig", "EngineConfig", "EnvEntry", "EvalConfig", "ModelConfig", "RolloutSection", "SFTConfig",
           "TrainConfig"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelConfig(_Section):
    """The policy: a local Hugging Face model directory, or a tiny random model made offline."""

    path: str | None = None
    """A local model directory (never downloaded). None: create a tiny model (`init`)."""
    init_preset: Literal["nano", "tiny", "small", "0.5b"] = "tiny"
    """`agent-rl model init` preset used when `path` is None (written to RUN_DIR/init-model)."""
    init_seed: int = 0


class EngineConfig(_Section):
    """Where rollouts are sampled. "hf": in-process (the embedded default), its weights
    updated in memory; "openai" / "sglang": a server at `url`, updated from disk exports."""

    name: Literal["hf", "openai", "sglang"] = "hf"
    url: str | None = None
    export_dir: str | None = None
    """HTTP engines: where weight exports go (a path the server can read). Default RUN_DIR/exports."""
    device: str = "cpu"
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    max_batch_size: int = Field(64, ge=1)
    prefill_thread: bool | None = None
    """hf: prefill arriving requests on a second thread (None: on a CPU with ≥ 2 cores)."""

    @model_validator(mode="after")
    def _check(self) -> EngineConfig:
        if self.name != "hf" and not self.url:
            raise ValueError(f"engine {self.name!r} needs `url` (the server's base URL)")
        return self


class EnvEntry(_Section):
    """One training env: its id, `envs.make` keyword arguments, and its share of tasks."""

    id: str
    kwargs: dict[str, Any] = Field(default_factory=dict)
    weight: float = Field(1.0, gt=0)
    server_url: str | None = None
    """A running tool server for this env (e.g. from `agent-rl stack up`); None = in-process."""


class RolloutSection(_Section):
    """Sampling and scheduling of the rollouts."""

    group_size: int = Field(8, ge=1)
    groups_per_step: int = Field(8, ge=1)
    max_concurrency: int = Field(32, ge=1)
    per_env_concurrency: int = Field(32, ge=1)
    max_staleness: int = Field(1, ge=0)
    """Policy versions a group may lag the learner (0 = strictly on-policy, synchronous)."""
    temperature: float = Field(1.0, gt=0)
    top_p: float = Field(1.0, gt=0, le=1)
    max_turns: int = Field(4, ge=1)
    max_tokens_per_turn: int = Field(256, ge=1)
    max_total_tokens: int = Field(2048, ge=1)
    context: Literal["incremental", "rerender", "chat"] = "incremental"
    max_retries: int = Field(2, ge=0)


class EvalConfig(_Section):
    """Held-out evaluation before training, every `every` steps, and after training."""

    env_kwargs: dict[str, Any] = Field(default_factory=lambda: {"split": "test"})
    """Merged into each training env's kwargs for evaluation (default: the test split)."""
    num_tasks: int = Field(100, ge=1)
    n: int = Field(1, ge=1)
    temperature: float = Field(1.0, gt=0)
    every: int = Field(0, ge=0)
    """Also evaluate every this many steps (0: only before and after)."""
    base: bool = True
    """With an `sft:` section, also evaluate the model before SFT ("base"), so the table
    separates what SFT and RL each bring."""


class DemoConfig(_Section):
    """Demonstrations made by the envs' scripted agents (`scripted_actions(kind)`)."""

    episodes: int = Field(256, ge=1)
    kinds: dict[str, float] = Field(default_factory=lambda: {"reference": 1.0})
    """Share of episodes per scripted kind, e.g. {reference: 0.4, wrong: 0.6} for a noisy set."""
    path: str | None = None
    """Use demonstrations from this trajectory file instead of generating them."""
    seed: int = 0


class SFTConfig(_Section):
    """Supervised warm start on demonstrations (loss on model tokens only, as in RL)."""

    demos: DemoConfig = DemoConfig()
    epochs: int = Field(3, ge=1)
    batch_size: int = Field(16, ge=1)
    """Trajectories per optimizer step."""
    optimizer: OptimizerConfig = OptimizerConfig(lr=1e-3, warmup_steps=5)
    micro_batch_tokens: int = Field(8192, ge=1)


class TrainConfig(_Section):
    """A training run: model, engine, envs, rollouts, algorithm, learner, SFT, evaluation."""

    run_dir: str = "runs/train"
    seed: int = 0
    steps: int = Field(20, ge=0)
    model: ModelConfig = ModelConfig()
    engine: EngineConfig = EngineConfig()
    envs: list[EnvEntry]
    rollout: RolloutSection = RolloutSection()
    algo: AlgoConfig = AlgoConfig()
    learner: LearnerConfig = LearnerConfig()
    sft: SFTConfig | None = None
    eval: EvalConfig | None = None
    checkpoint_every: int = Field(10, ge=0)
    """Save every this many steps (0: only at the end)."""
    keep_checkpoints: int = Field(2, ge=1)
    tensorboard: bool = True
    """Also write TensorBoard event files (when the `tensorboard` package is installed)."""
    plot: bool = True
    """Write RUN_DIR/reward_curve.png at the end (needs matplotlib)."""

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        if not self.envs:
            raise ValueError("`envs` is empty: name at least one env, e.g. envs: [{id: arith-easy-v0}]")
        if self.rollout.context == "chat" and self.engine.name != "openai":
            raise ValueError(f"rollout.context: chat needs engine.name: openai (a server that renders the "
                             f"conversation, e.g. vLLM with a vision-language model), not {self.engine.name!r}")
        if self.learner.temperature != self.rollout.temperature:
            # Scoring must use the distribution the engine sampled from.
            object.__setattr__(self, "learner", self.learner.model_copy(update={"temperature": self.rollout.temperature}))
        return self

    @property
    def run_path(self) -> Path:
        return Path(self.run_dir)
