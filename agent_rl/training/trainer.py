"""`Trainer`: the asynchronous RL loop — rollouts and learning at the same time.

    model ─┬─ (SFT warm start on demonstrations, once)
           ├─ engine copy ──► RolloutManager ──► groups ──┐   (event loop + engine thread)
           └─ Learner ◄───────────────────────────────────┘   (worker thread)
                 │  build_batch → signals → rewards → advantages → update
                 └─► push_weights(engine, version + 1) ─► manager.version_changed()

While the learner trains on batch j, the manager keeps sampling batch j + 1 with the
previous weights, as far as the staleness bound allows (`rollout.max_staleness`
versions; 0 makes the loop synchronous). A weight update aborts the turns in flight,
which resume under the new weights (partial rollouts; each token keeps its version),
and the loss corrects for the lag with the behaviour logprobs (`algo.loss.importance`).

Everything a run writes lives under `run_dir`: `config.json` (resolved), `demos.jsonl`,
`trajectories.jsonl` (every group, appended and flushed per group), `metrics.jsonl`,
`tensorboard/`, `checkpoints/` (atomic), `eval/`, `summary.json`, `reward_curve.png`.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import math
import os
import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agent_rl.algos import AdvantageInputs, build_batch, compute_advantages, filter_groups
from agent_rl.engines import Engine, SamplingParams, make_engine
from agent_rl.images import image_store_for
from agent_rl.learner import (
    Learner,
    latest_checkpoint,
    load_checkpoint,
    push_weights,
    restore_rng,
    save_checkpoint,
)
from agent_rl.rewards import RewardComposer, RewardResources
from agent_rl.rollout import (
    AgentLoop,
    ChatRenderer,
    Group,
    LoopBudget,
    RolloutConfig,
    RolloutManager,
)
from agent_rl.training.config import TrainConfig
from agent_rl.training.demos import collect_demonstrations
from agent_rl.training.metrics import MetricsLogger, truncate_metrics
from agent_rl.training.sft import sft_train
from agent_rl.training.tasks import TaskStream
from agent_rl.trajectory_io import TrajectoryWriter, read_trajectories

__all__ = ["TrainSummary", "Trainer", "run_training"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class TrainSummary:
    """What a run achieved; also written to RUN_DIR/summary.json."""

    run_dir: str
    steps: int
    evals: dict[str, dict[str, float]] = field(default_factory=dict)  # label → {pass_at_1, mean_reward, …}
    first_rewards: list[float] = field(default_factory=list)
    last_rewards: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    plot: str | None = None

    def table(self) -> str:
        """A Markdown table of the held-out evaluations, in the order they ran."""
        rows = ["| stage | pass@1 | mean reward | tool calls/ep | episodes |", "|---|---|---|---|---|"]
        for label, e in self.evals.items():
            rows.append(f"| {label} | {e['pass_at_1']:.3f} | {e['mean_reward']:.3f} | {e['tool_calls']:.2f} | "
                        f"{int(e['episodes'])} |")
        return "\n".join(rows)


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas before the engine and learner threads start.

    Why: glibc gives each thread that allocates its own arena, and freed tensor memory
    stays in the arena that held it. With an engine thread, a learner thread and asyncio's
    worker threads, a SmolLM2-135M run grew to 21 GB RSS here; with 2 arenas it stayed at
    ~10 GB. Same effect as `MALLOC_ARENA_MAX=2`. A no-op (False) off glibc."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(-8, arenas))  # M_ARENA_MAX
    except (OSError, AttributeError):
        return False


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _group_metrics(groups: list[Group], version: int) -> dict[str, float]:
    """Per-step rollout statistics of the groups trained on."""
    rows = [t for g in groups for t in g.trajectories]
    scorable = [t for t in rows if t.is_scorable]
    episodes = {str(t.metadata.get("episode_id", t.trajectory_id)): t for t in scorable}
    versions = [v for t in scorable for v in t.policy_version if v >= 0]
    engine_s = sum(float(t.metadata.get("engine_s", 0.0)) for t in rows)
    env_s = sum(float(t.metadata.get("env_s", 0.0)) for t in rows)
    if not episodes:
        return {"rollout/episodes": 0.0}
    n = len(episodes)
    return {
        "rollout/episodes": float(len(episodes)),
        "rollout/pass_rate": sum(bool(t.metadata.get("success")) for t in episodes.values()) / n,
        "rollout/outcome_mean": sum(float(t.outcome_reward or 0.0) for t in episodes.values()) / n,
        "rollout/tool_calls_per_episode": sum(int(t.counters.get("tool_calls", 0)) for t in episodes.values()) / n,
        "rollout/turns_per_episode": sum(int(t.counters.get("turns", len(t.turns))) for t in episodes.values()) / n,
        "rollout/model_tokens_per_episode": sum(t.num_model_tokens for t in scorable) / n,
        "rollout/truncated_frac": sum(t.status.value == "truncated" for t in episodes.values()) / n,
        "rollout/env_errors": float(len(rows) - len(scorable)),
        "rollout/staleness_mean": (version - sum(versions) / len(versions)) if versions else 0.0,
        "rollout/staleness_max": float(version - min(versions)) if versions else 0.0,
        "rollout/env_time_frac": env_s / (engine_s + env_s) if engine_s + env_s > 0 else 0.0,
        "rollout/resumed_turns": float(sum(int(t.metadata.get("resumes", 0)) for t in rows)),
    }


class Trainer:
    """Runs a `TrainConfig` (see the module docstring). `resume=True` continues from the
    run's latest checkpoint: weights, optimizer, schedule, RNG, task cursor."""

    def __init__(self, config: TrainConfig, *, resume: bool = False, overwrite: bool = False,
                 console: bool = True) -> None:
        if resume and overwrite:
            raise ValueError("--resume and --overwrite contradict each other; pick one")
        self.config = config
        self.resume = resume
        self.overwrite = overwrite
        self.console = console
        self.run_dir = config.run_path
        self.state: dict[str, Any] = {"step": 0, "version": 0, "task_cursor": 0, "sft_done": False, "evals": {}}

    def say(self, text: str) -> None:
        if self.console:
            print(text, flush=True)

    # ------------------------------------------------------------------ set-up
    def _model_path(self) -> Path:
        if self.config.model.path:
            path = Path(self.config.model.path)
            if not path.is_dir():
                raise FileNotFoundError(f"model.path {path} is not a local model directory (nothing is downloaded; "
                                        "use `agent-rl model init` or `agent-rl model import`)")
            return path
        path = self.run_dir / "init-model"
        if not (path / "config.json").is_file():
            from agent_rl.models.tiny import init_tiny_model

            self.say(f"creating a tiny random model ({self.config.model.init_preset}) in {path}")
            init_tiny_model(path, preset=self.config.model.init_preset, seed=self.config.model.init_seed)
        return path

    def _env_specs(self, extra: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
        specs: dict[str, dict[str, Any]] = {}
        for entry in self.config.envs:
            kwargs = {**entry.kwargs, **(extra or {})}
            if entry.server_url:
                kwargs["server_url"] = entry.server_url
            specs[entry.id] = kwargs
        return specs

    def _budget(self) -> LoopBudget:
        r = self.config.rollout
        return LoopBudget(max_turns=r.max_turns, max_total_tokens=r.max_total_tokens,
                          max_tokens_per_turn=r.max_tokens_per_turn, length_ends_turn=False)

    def _make_engine(self, model: torch.nn.Module, tokenizer: Any) -> Engine:
        e = self.config.engine
        if e.name == "hf":
            from agent_rl.engines.hf import HFEngine

            copy_ = copy.deepcopy(model).to(device=e.device, dtype=getattr(torch, e.dtype)).eval()
            return HFEngine(copy_, tokenizer=tokenizer, device=e.device, max_batch_size=e.max_batch_size,
                            seed=self.config.seed, weight_version=self.state["version"],
                            prefill_thread=e.prefill_thread)
        return make_engine(e.name, base_url=e.url, weight_version=self.state["version"])

    # ------------------------------------------------------------------ stages
    async def _sft(self, model: torch.nn.Module, renderer: ChatRenderer, tokenizer: Any, log_: MetricsLogger) -> None:
        sft = self.config.sft
        assert sft is not None
        demos_cfg = sft.demos
        if demos_cfg.path:
            demos = list(read_trajectories(demos_cfg.path))
            self.say(f"SFT: {len(demos)} demonstrations from {demos_cfg.path}")
        else:
            self.say(f"SFT: collecting {demos_cfg.episodes} demonstrations {dict(demos_cfg.kinds)} …")
            demos = await collect_demonstrations(self._env_specs(), renderer, episodes=demos_cfg.episodes,
                                                 kinds=dict(demos_cfg.kinds), seed=demos_cfg.seed,
                                                 budget=self._budget(),
                                                 image_store=image_store_for(self.run_dir / "demos.jsonl"))
            with TrajectoryWriter(self.run_dir / "demos.jsonl") as writer:
                writer.append_many(demos)
        started = time.perf_counter()

        total = math.ceil(len(demos) / sft.batch_size) * sft.epochs

        def on_step(step: int, metrics: dict[str, float]) -> None:
            log_.log(step, metrics, phase="sft")
            if step % max(1, total // 8) == 0 or step == total:
                self.say(f"SFT step {step}/{total}: loss {metrics['sft/loss']:.3f}, "
                         f"{metrics['sft/tokens_per_s']:.0f} tokens/s")

        history = await asyncio.to_thread(sft_train, model, demos, sft, pad_token_id=_pad_id(tokenizer),
                                          device=self.config.learner.device, seed=self.config.seed, on_step=on_step)
        self.say(f"SFT: {len(history)} steps in {time.perf_counter() - started:.0f} s, "
                 f"loss {history[0]['sft/loss']:.3f} → {history[-1]['sft/loss']:.3f}")

    async def _evaluate(self, engine: Engine, renderer: ChatRenderer, label: str, log_: MetricsLogger) -> None:
        ev = self.config.eval
        if ev is None:
            return
        from agent_rl.benchmark.runner import run_benchmark

        # No per-request seed: it would give every sample the same random draws.
        sampling = SamplingParams(max_new_tokens=self.config.rollout.max_tokens_per_turn, temperature=ev.temperature)
        out = self.run_dir / "eval" / label
        loop = AgentLoop(engine, renderer, sampling, self._budget(), context=self.config.rollout.context,
                         image_store=image_store_for(out / "trajectories.jsonl"))
        started = time.perf_counter()
        report = await run_benchmark(loop, self._env_specs(ev.env_kwargs), model=label, n=ev.n, limit=ev.num_tasks,
                                     concurrency=self.config.rollout.max_concurrency, out_dir=out,
                                     seed=self.config.seed + 7)
        episodes = sum(e.episodes for e in report.envs)
        weights = [e.episodes / max(1, episodes) for e in report.envs]
        result = {
            "pass_at_1": sum(w * e.pass_at.get(1, 0.0) for w, e in zip(weights, report.envs, strict=True)),
            "mean_reward": sum(w * e.mean_reward for w, e in zip(weights, report.envs, strict=True)),
            "tool_calls": sum(w * e.mean_tool_calls for w, e in zip(weights, report.envs, strict=True)),
            "episodes": float(episodes),
        }
        self.state["evals"][label] = result
        log_.log(self.state["step"], {f"eval/{k}": v for k, v in result.items()}, phase="eval")
        self.say(f"eval [{label}]: pass@1 {result['pass_at_1']:.3f}, mean reward {result['mean_reward']:.3f}, "
                 f"tool calls/ep {result['tool_calls']:.2f} ({episodes} episodes, "
                 f"{time.perf_counter() - started:.0f} s)")

    def _checkpoint(self, learner: Learner, tokenizer: Any) -> None:
        path = save_checkpoint(self.run_dir, self.state["step"], model=learner.model,
                               learner_state=learner.state_dict(), trainer_state=self.state, tokenizer=tokenizer,
                               keep=self.config.keep_checkpoints)
        log.info("checkpoint %s", path)

    # ------------------------------------------------------------------ the loop
    async def _train_step(self, groups: list[Group], learner: Learner, rewards: RewardComposer, engine: Engine,
                          manager: RolloutManager, tokenizer: Any, log_: MetricsLogger, waited_s: float) -> None:
        algo = self.config.algo
        started = time.perf_counter()
        metrics = _group_metrics(groups, self.state["version"])
        batch = build_batch(groups, pad_token_id=_pad_id(tokenizer), mask_truncated=algo.mask_truncated)
        batch = await asyncio.to_thread(learner.add_signals, batch)
        batch = await rewards.score(batch)
        reward_tensors = batch.require_rewards()
        metrics["reward/mean"] = float(reward_tensors.outcome_E.float().mean())
        metrics.update({f"reward/{k}": float(v.float().mean()) for k, v in reward_tensors.parts_E.items()})
        metrics.update(reward_tensors.metrics)
        batch, sampling_metrics = filter_groups(batch, algo.dynamic_sampling)
        metrics.update(sampling_metrics)
        if batch.num_groups and batch.num_loss_tokens:
            adv = compute_advantages(AdvantageInputs.from_batch(batch), algo.advantage)
            metrics.update(adv.metrics)
            batch = batch.with_advantages(adv.advantages_BT, adv.returns_BT)
            metrics.update(await asyncio.to_thread(learner.update, batch))
        else:
            log.warning("step %d: every group was filtered out (equal rewards); no update", self.state["step"])
        self.state["step"] += 1
        self.state["version"] += 1
        sync_started = time.perf_counter()
        export = self.config.engine.export_dir or str(self.run_dir / "exports")
        await push_weights(engine, learner.model, self.state["version"], export_dir=export, tokenizer=tokenizer)
        await manager.version_changed()
        metrics["time/weight_sync_s"] = time.perf_counter() - sync_started
        metrics["time/learner_s"] = time.perf_counter() - started
        metrics["time/wait_for_rollouts_s"] = waited_s
        metrics["time/step_s"] = metrics["time/learner_s"] + waited_s
        perf = manager.metrics.snapshot()
        metrics.update({k: float(v) for k, v in perf.items() if isinstance(v, (int, float))})
        log_.log(self.state["step"], metrics)

    async def run(self) -> TrainSummary:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        cfg = self.config
        started = time.perf_counter()
        limit_malloc_arenas()
        self._prepare_run_dir()
        (self.run_dir / "config.json").write_text(cfg.model_dump_json(indent=2) + "\n")
        _seed_everything(cfg.seed)
        checkpoint = latest_checkpoint(self.run_dir) if self.resume else None
        if self.resume and checkpoint is None:
            self.say(f"--resume: no checkpoint in {self.run_dir}/checkpoints; starting from the beginning")
        source = checkpoint / "model" if checkpoint else self._model_path()
        tokenizer = AutoTokenizer.from_pretrained(str(source))
        model = AutoModelForCausalLM.from_pretrained(str(source), dtype=torch.float32)
        renderer = ChatRenderer(tokenizer)
        loaded = load_checkpoint(checkpoint) if checkpoint else None
        if loaded is not None:
            self.state.update(loaded.trainer_state)
            redone = truncate_metrics(self.run_dir, self.state["step"])
            self.say(f"resuming from {checkpoint} (step {self.state['step']}, weights v{self.state['version']}"
                     + (f"; {redone} logged rows after it are dropped and redone)" if redone else ")"))
        log_ = MetricsLogger(self.run_dir, tensorboard=cfg.tensorboard, console=self.console)
        try:
            if cfg.sft is not None and not self.state["sft_done"]:
                if cfg.eval is not None and cfg.eval.base and "base" not in self.state["evals"]:
                    base_engine = self._make_engine(model, tokenizer)
                    try:
                        await self._evaluate(base_engine, renderer, "base", log_)
                    finally:
                        await base_engine.aclose()
                await self._sft(model, renderer, tokenizer, log_)
                self.state["sft_done"] = True
            passes = cfg.learner.ppo_epochs * cfg.learner.mini_batches
            learner = Learner(model, cfg.algo, cfg.learner, total_steps=cfg.steps * passes)
            if loaded is not None:
                learner.load_state_dict(loaded.learner_state)
                restore_rng(loaded.rng)
            elif cfg.sft is not None:
                self._checkpoint(learner, tokenizer)  # step 0 = after SFT: a resume never repeats it
            engine = self._make_engine(learner.model, tokenizer)
            try:
                if cfg.engine.name != "hf" and (self.state["version"] > 0 or cfg.sft is not None):
                    await push_weights(engine, learner.model, self.state["version"],
                                       export_dir=cfg.engine.export_dir or str(self.run_dir / "exports"),
                                       tokenizer=tokenizer)
                first_label = "after-sft" if cfg.sft is not None else "before"
                if self.state["step"] == 0 and first_label not in self.state["evals"]:
                    await self._evaluate(engine, renderer, first_label, log_)
                if self.state["step"] < cfg.steps:
                    await self._loop(learner, engine, renderer, tokenizer, log_)
                    self._checkpoint(learner, tokenizer)
                final = f"step-{self.state['step']}"
                if final not in self.state["evals"]:
                    await self._evaluate(engine, renderer, final, log_)
                    self._checkpoint(learner, tokenizer)
            finally:
                await engine.aclose()
        finally:
            log_.close()
        return self._summary(started)

    def _prepare_run_dir(self) -> None:
        """A fresh run never mixes with an old one's metrics and trajectories."""
        used = [name for name in ("metrics.jsonl", "trajectories.jsonl", "checkpoints") if (self.run_dir / name).exists()]
        if used and not self.resume:
            if not self.overwrite:
                raise FileExistsError(f"{self.run_dir} already holds a run ({', '.join(used)}); pass --resume to "
                                      "continue it, --overwrite to start over, or another run_dir=")
            for name in ("metrics.jsonl", "trajectories.jsonl", "demos.jsonl", "summary.json", "reward_curve.png"):
                (self.run_dir / name).unlink(missing_ok=True)
            for name in ("checkpoints", "eval", "tensorboard", "exports", "sft-model", "trajectories.jsonl.images",
                         "demos.jsonl.images"):
                shutil.rmtree(self.run_dir / name, ignore_errors=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)

    async def run_sft(self) -> Path:
        """Only the warm start: SFT the configured model, save it to RUN_DIR/sft-model."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if self.config.sft is None:
            raise ValueError("the config has no `sft:` section")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        _seed_everything(self.config.seed)
        source = self._model_path()
        tokenizer = AutoTokenizer.from_pretrained(str(source))
        model = AutoModelForCausalLM.from_pretrained(str(source), dtype=torch.float32)
        log_ = MetricsLogger(self.run_dir, tensorboard=self.config.tensorboard, console=self.console)
        try:
            await self._sft(model, ChatRenderer(tokenizer), tokenizer, log_)
        finally:
            log_.close()
        out = self.run_dir / "sft-model"
        tmp = self.run_dir / f".sft-model.partial-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
        return out

    async def _loop(self, learner: Learner, engine: Engine, renderer: ChatRenderer, tokenizer: Any,
                    log_: MetricsLogger) -> None:
        cfg, r = self.config, self.config.rollout
        sampling = SamplingParams(max_new_tokens=r.max_tokens_per_turn, temperature=r.temperature, top_p=r.top_p)
        loop = AgentLoop(engine, renderer, sampling, self._budget(), context=r.context,
                         image_store=image_store_for(self.run_dir / "trajectories.jsonl"))
        rollout = RolloutConfig(group_size=r.group_size, max_concurrency=r.max_concurrency,
                                per_env_concurrency=r.per_env_concurrency, batch_size=r.groups_per_step,
                                max_staleness=r.max_staleness, max_retries=r.max_retries,
                                queue_size=2 * r.groups_per_step)
        writer = TrajectoryWriter(self.run_dir / "trajectories.jsonl")
        manager = RolloutManager(loop, self._env_specs(), rollout, writer=writer)
        rewards = RewardComposer.from_config(cfg.algo.rewards, RewardResources(tokenizer=tokenizer))
        sizes = {env_id: manager.pool.num_tasks(env_id) for env_id in self._env_specs()}
        stream = TaskStream(sizes, {e.id: e.weight for e in cfg.envs}, seed=cfg.seed, cursor=self.state["task_cursor"])
        self.say(f"training: {cfg.steps - self.state['step']} steps × {r.groups_per_step} groups × {r.group_size} "
                 f"samples on {', '.join(sizes)} (staleness ≤ {r.max_staleness})")
        try:
            pending: list[Group] = []
            waited = time.perf_counter()
            async with contextlib.aclosing(manager.run(stream, start_version=self.state["version"])) as groups:
                async for group in groups:
                    pending.append(group)
                    if len(pending) < r.groups_per_step:
                        continue
                    self.state["task_cursor"] = stream.cursor
                    await self._train_step(pending, learner, rewards, engine, manager, tokenizer, log_,
                                           time.perf_counter() - waited)
                    pending = []
                    if cfg.checkpoint_every and self.state["step"] % cfg.checkpoint_every == 0:
                        await asyncio.to_thread(self._checkpoint, learner, tokenizer)
                    if cfg.eval is not None and cfg.eval.every and self.state["step"] % cfg.eval.every == 0 \
                            and self.state["step"] < cfg.steps:
                        await self._evaluate(engine, renderer, f"step-{self.state['step']}", log_)
                    if self.state["step"] >= cfg.steps:
                        break
                    waited = time.perf_counter()
        finally:
            await manager.aclose()
            writer.close()

    def _summary(self, started: float) -> TrainSummary:
        from agent_rl.training.metrics import read_metrics

        rewards = [float(r["reward/mean"]) for r in read_metrics(self.run_dir) if r.get("reward/mean") is not None]
        summary = TrainSummary(str(self.run_dir), self.state["step"], dict(self.state["evals"]),
                               rewards[:5], rewards[-5:], time.perf_counter() - started)
        if self.config.plot and rewards:
            try:
                from agent_rl.training.plot import plot_reward_curve

                summary.plot = str(plot_reward_curve(self.run_dir))
            except ImportError:
                self.say("matplotlib is not installed: no reward-curve PNG (pip install 'agent-rl[train]')")
        (self.run_dir / "summary.json").write_text(json.dumps({
            "run_dir": summary.run_dir, "steps": summary.steps, "evals": summary.evals,
            "first_rewards": summary.first_rewards, "last_rewards": summary.last_rewards,
            "wall_s": round(summary.wall_s, 1), "plot": summary.plot}, indent=2) + "\n")
        return summary


def _pad_id(tokenizer: Any) -> int:
    pad = tokenizer.pad_token_id
    if pad is None:
        pad = tokenizer.eos_token_id
    return int(pad if pad is not None else 0)


def run_training(config: TrainConfig, *, resume: bool = False, overwrite: bool = False,
                 console: bool = True) -> TrainSummary:
    """Synchronous entry point (the CLI's)."""
    return asyncio.run(Trainer(config, resume=resume, overwrite=overwrite, console=console).run())
