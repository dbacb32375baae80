"""Learner throughput: agent-rl's `Learner.update` vs TRL's `GRPOTrainer`, same model and batch.

Setup (both sides, in one process, one step each in turn):

- model: the tiny random Qwen2 (`agent_rl.models.tiny`, preset "tiny": 0.92 M parameters,
  vocabulary 4104, tied embeddings; no download), loaded twice from the same directory,
  so both sides start from identical float32 weights.
- batch: `--prompts` × `--group-size` sequences, every one exactly `--prompt-len` prompt
  tokens + `--completion-len` completion tokens (random ids, seeded), one 0/1 reward per
  sequence. agent-rl turns the rewards into GRPO advantages (`build_batch` → rewards →
  `compute_advantages`, once, before timing); TRL gets the very same per-sequence
  advantages, so both train on identical tensors every step.
- loss: GRPO with PPO-clip ε_low = ε_high = 0.2; token-mean over the whole batch
  (agent-rl `aggregation: token_mean` = TRL `loss_type="dapo"`); no KL (kl.coef 0 /
  beta 0), no entropy bonus; temperature 1; one optimizer step per batch (ppo_epochs 1,
  mini_batches 1 / num_iterations 1, steps_per_generation = gradient_accumulation_steps),
  so neither side scores π_old separately (the ratio's anchor is the current logprobs,
  detached).
- micro-batches: `--micro-batch` sequences per forward/backward, gradients accumulated
  over batch/micro-batch micro-steps (agent-rl `micro_batch_tokens` = micro-batch ×
  sequence length, which packs exactly that many equal-length rows / TRL
  `per_device_train_batch_size`, `gradient_accumulation_steps`).
- optimizer: AdamW, same lr, betas (0.9, 0.999), eps 1e-8, weight decay 0, constant
  schedule, no warm-up, global grad-norm clip 1.0, no gradient checkpointing. Each side
  uses its own AdamW implementation (agent-rl: `torch.optim.AdamW` as the learner builds
  it; TRL: the Trainer default, `adamw_torch_fused`).
- precision: float32 on CPU; with `--dtype bfloat16` both run forward/backward under bf16
  autocast with float32 weights (agent-rl `learner.dtype`, TRL `bf16=True`).

What is timed, per optimizer step (wall clock; CUDA synchronised at both ends):

- agent-rl: one `Learner.update(batch)` call on the scored batch — length bucketing,
  per micro-batch a forward over prompt + completion, logprobs, `compute_loss`, backward;
  then grad-norm clip, `optimizer.step`, metrics. (`add_signals` is a no-op in this
  config and is not timed; building the batch, rewards and advantages happen once.)
- TRL: `GRPOTrainer.train()`'s own loop from `on_step_begin` to `on_step_end`: per
  micro-batch `training_step` (`_prepare_inputs` → `compute_loss` → logprob recompute with
  TRL's fused LM head + loss + its metrics → `accelerator.backward`), then clip,
  `optimizer.step`, scheduler step, `zero_grad`. Generation is replaced: a subclass's
  `_generate_and_score_completions` returns the fixed pre-generated batch (already
  tokenised, with advantages), so no sampling, reward or tokenisation time is counted.
  Dataloader fetch and logging happen outside the window.

The sides alternate step by step (agent-rl's update runs from TRL's `on_step_end`
callback, outside TRL's timing window), so load changes on a shared machine hit both
alike. After `--warmup` untimed steps each, `--steps` steps each are timed; the table
reports the median. Throughput is completion ("trained", loss-masked) tokens per
second; "all tokens/s" counts prompt + completion. The first step also checks that both
sides compute the same gradient (relative L2 difference of the clipped gradients).

TRL is not a project dependency: when `import trl` fails the script runs
`python -m pip install trl` into the running interpreter first (`--no-install`: fail
instead).

    .venv/bin/python bench/learner.py [--threads 1] [--steps 10] [--warmup 3] [--prompts 4 --group-size 8]
    .venv/bin/python bench/learner.py --device cuda --dtype bfloat16 --preset 0.5b \\
        --prompts 8 --group-size 8 --prompt-len 256 --completion-len 768 --micro-batch 8

`--threads 1` on a CPU shared with other busy processes: two OpenMP threads competing
for two cores made every step 5–10× slower and erratic (bench/RESULTS.md). The table also
gives the median CPU seconds per step (`time.process_time`), which load moves less.
On CUDA the table adds model FLOPs utilisation, MFU = 6 · parameters · (all tokens/s) /
peak FLOP/s, with the peak from `--peak-tflops` (default 989: H100 SXM dense bf16).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent_rl.algos import AdvantageInputs, AlgoConfig, Batch, build_batch, compute_advantages
from agent_rl.algos.losses import LossConfig
from agent_rl.algos.losses.ppo_clip import PPOClipConfig
from agent_rl.learner import Learner, LearnerConfig, OptimizerConfig
from agent_rl.models.tiny import init_tiny_model
from agent_rl.rewards import RewardComposer
from agent_rl.rollout.manager import Group, TaskRef
from agent_rl.trajectory import Trajectory, TrajectoryStatus, TurnSpan

CLIP_EPS = 0.2
MAX_GRAD_NORM = 1.0


@dataclass(frozen=True, slots=True)
class Shape:
    """The batch and optimisation shape shared by both sides."""

    prompts: int
    group_size: int
    prompt_len: int
    completion_len: int
    micro_batch: int
    lr: float

    @property
    def sequences(self) -> int:
        return self.prompts * self.group_size

    @property
    def accumulation_steps(self) -> int:
        return self.sequences // self.micro_batch


# ---------------------------------------------------------------------- setup
def ensure_trl(install: bool) -> Any:  # Any: the trl module, imported at run time
    """Import TRL, installing it with pip first if allowed. The benchmark needs TRL only as a
    baseline, so it is installed here rather than listed in the project's dependencies."""
    try:
        return importlib.import_module("trl")
    except ImportError:
        if not install:
            raise SystemExit("TRL is not installed: run `python -m pip install trl` or drop --no-install") from None
    print("TRL not installed: running `python -m pip install trl` ...", flush=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "trl"], check=True)
    importlib.invalidate_caches()
    return importlib.import_module("trl")


def load_model(path: Path, device: str) -> torch.nn.Module:
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).to(device)


def make_groups(shape: Shape, vocab: int, seed: int) -> list[Group]:
    """`prompts` groups of `group_size` single-turn episodes: random ids and random 0/1
    rewards (seeded), so groups have mixed outcomes and non-zero advantages, as in a
    useful RL batch. The timing does not depend on the values."""
    g = torch.Generator().manual_seed(seed)
    groups = []
    for p in range(shape.prompts):
        prompt = torch.randint(3, vocab, (shape.prompt_len,), generator=g).tolist()
        rows = []
        for i in range(shape.group_size):
            response = torch.randint(3, vocab, (shape.completion_len,), generator=g).tolist()
            reward = float((i + int(torch.randint(0, 2, (1,), generator=g))) % 2)
            rows.append(Trajectory(
                trajectory_id=f"p{p}e{i}", group_id=f"g{p}", task_id=str(p), env_id="bench-v0",
                prompt_ids=prompt, response_ids=response, loss_mask=[1] * len(response),
                behavior_logprobs=[-8.0] * len(response), policy_version=[0] * len(response),
                status=TrajectoryStatus.COMPLETED, turns=[TurnSpan(0, len(response))], outcome_reward=reward,
                metadata={"episode_id": f"p{p}e{i}", "row": 0, "rows": 1}))
        groups.append(Group(f"g{p}", TaskRef("bench-v0", p), rows, admitted_version=0))
    return groups


def scored_batch(learner: Learner, groups: list[Group], algo: AlgoConfig, pad_token_id: int) -> Batch:
    """The per-step sequence of `agent_rl.algos` up to the update: batch, signals, rewards,
    advantages."""
    batch = learner.add_signals(build_batch(groups, pad_token_id=pad_token_id))
    batch = asyncio.run(RewardComposer.from_config(algo.rewards).score(batch))
    adv = compute_advantages(AdvantageInputs.from_batch(batch), algo.advantage)
    return batch.with_advantages(adv.advantages_BT, adv.returns_BT)


def trl_inputs(groups: list[Group], batch: Batch, shape: Shape, device: str) -> dict[str, torch.Tensor]:
    """The pre-generated batch in the form `_generate_and_score_completions` returns it:
    prompt/completion ids and masks, per-sequence advantages, the completion token count."""
    rows = [t for group in groups for t in group.trajectories]
    assert len(rows) == batch.num_rows, "every row of the groups must be in the batch"
    first = shape.prompt_len  # column of the first completion token in the batch
    advantages_B = batch.advantages_BT[:, first].float()
    prompt_ids = torch.tensor([t.prompt_ids for t in rows])
    completion_ids = torch.tensor([t.response_ids for t in rows])
    out = {"prompt_ids": prompt_ids, "prompt_mask": torch.ones_like(prompt_ids),
           "completion_ids": completion_ids, "completion_mask": torch.ones_like(completion_ids),
           "advantages": advantages_B, "num_items_in_batch": torch.tensor(completion_ids.numel())}
    return {k: v.to(device) for k, v in out.items()}


def agent_rl_learner(model: torch.nn.Module, shape: Shape, args: argparse.Namespace) -> tuple[Learner, AlgoConfig]:
    algo = AlgoConfig(loss=LossConfig(policy=PPOClipConfig(clip_low=CLIP_EPS, clip_high=CLIP_EPS),
                                      aggregation="token_mean", kl={"coef": 0.0}, entropy={"coef": 0.0}))
    config = LearnerConfig(
        optimizer=OptimizerConfig(lr=shape.lr, weight_decay=0.0, max_grad_norm=MAX_GRAD_NORM),
        micro_batch_tokens=shape.micro_batch * (shape.prompt_len + shape.completion_len),
        ppo_epochs=1, mini_batches=1, dtype=args.dtype, device=args.device, temperature=1.0)
    return Learner(model, algo, config), algo


# ---------------------------------------------------------------------- TRL side
def trl_trainer(trl: Any, model: torch.nn.Module, tokenizer: Any, fixed: dict[str, torch.Tensor], shape: Shape,
                args: argparse.Namespace, out_dir: str, callbacks: list[Any]) -> Any:  # Any: TRL types
    """A `GRPOTrainer` whose generation step returns `fixed`: its `train()` then runs exactly
    the learner part (logprob recompute, loss, backward, optimizer step) on our batch."""
    from datasets import Dataset

    class FixedBatchGRPOTrainer(trl.GRPOTrainer):  # type: ignore[misc, name-defined]  # defined at run time
        def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
            return dict(fixed)

    config = trl.GRPOConfig(
        output_dir=out_dir, max_steps=args.warmup + args.steps, per_device_train_batch_size=shape.micro_batch,
        gradient_accumulation_steps=shape.accumulation_steps, num_generations=shape.group_size,
        max_completion_length=shape.completion_len, num_iterations=1, beta=0.0, epsilon=CLIP_EPS,
        epsilon_high=CLIP_EPS, loss_type="dapo", temperature=1.0, learning_rate=shape.lr,
        lr_scheduler_type="constant", warmup_steps=0, weight_decay=0.0, adam_beta1=0.9, adam_beta2=0.999,
        adam_epsilon=1e-8, max_grad_norm=MAX_GRAD_NORM, activation_checkpointing=False,
        bf16=args.dtype == "bfloat16", use_cpu=args.device == "cpu", logging_steps=10**6, save_strategy="no",
        report_to="none", disable_tqdm=True, seed=0, dataloader_num_workers=0)
    dataset = Dataset.from_dict({"prompt": [f"task {i}" for i in range(shape.prompts * 4)]})
    return FixedBatchGRPOTrainer(model=model, reward_funcs=[lambda completions, **_: [0.0] * len(completions)],
                                 args=config, train_dataset=dataset, processing_class=tokenizer,
                                 callbacks=callbacks)


def make_timer(device: str, after_step: Callable[[int], None]) -> Any:  # Any: a TrainerCallback
    """A callback that times each TRL optimizer step and then runs `after_step(step)`
    (agent-rl's turn) outside the timed window. It also keeps TRL's first clipped
    gradient for the equivalence check."""

    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.times: list[float] = []
            self.cpu_times: list[float] = []
            self.first_grad: torch.Tensor | None = None
            self._started = self._cpu_started = 0.0

        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            sync(device)
            self._started, self._cpu_started = time.perf_counter(), time.process_time()

        def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.first_grad is None:
                self.first_grad = flat_grad(kwargs["model"])

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            sync(device)
            self.times.append(time.perf_counter() - self._started)
            self.cpu_times.append(time.process_time() - self._cpu_started)
            after_step(len(self.times))

    return StepTimer()


# ---------------------------------------------------------------------- helpers
def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def flat_grad(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.detach().float().flatten().cpu() for p in model.parameters() if p.grad is not None])


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="a model directory (default: make the preset in a temp dir)")
    parser.add_argument("--preset", default="tiny", help="tiny-model preset when --model is not given")
    parser.add_argument("--prompts", type=int, default=4)
    parser.add_argument("--group-size", type=int, default=8)
    parser.add_argument("--prompt-len", type=int, default=64)
    parser.add_argument("--completion-len", type=int, default=192)
    parser.add_argument("--micro-batch", type=int, default=8, help="sequences per forward/backward")
    parser.add_argument("--lr", type=float, default=1e-5)
    parser.add_argument("--warmup", type=int, default=3, help="untimed optimizer steps per side")
    parser.add_argument("--steps", type=int, default=10, help="timed optimizer steps per side")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--peak-tflops", type=float, default=989.0,
                        help="peak dense FLOP/s of the device in TFLOP/s, for MFU (default: H100 bf16)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--no-install", action="store_true", help="fail instead of pip-installing TRL")
    args = parser.parse_args()
    if (args.prompts * args.group_size) % args.micro_batch:
        parser.error("--prompts × --group-size must be a multiple of --micro-batch")
    if args.warmup < 1:
        parser.error("--warmup must be ≥ 1 (step 1 also copies gradients for the equivalence check)")
    if args.dtype == "bfloat16" and args.device == "cpu":
        parser.error("--dtype bfloat16 is for --device cuda (agent-rl autocasts on CUDA only)")
    return args


# ---------------------------------------------------------------------- run
def run(args: argparse.Namespace, model_dir: Path, trl: Any) -> dict[str, Any]:
    """Build both sides, train them in turn, return step times and the gradient check."""
    from transformers import AutoTokenizer

    shape = Shape(args.prompts, args.group_size, args.prompt_len, args.completion_len, args.micro_batch, args.lr)
    load = os.getloadavg()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    learner, algo = agent_rl_learner(load_model(model_dir, args.device), shape, args)
    groups = make_groups(shape, len(tokenizer), seed=0)
    batch = scored_batch(learner, groups, algo, pad_token_id=tokenizer.pad_token_id)
    fixed = trl_inputs(groups, batch, shape, args.device)
    ours: list[float] = []
    ours_cpu: list[float] = []
    first_grad: list[torch.Tensor] = []

    def agent_rl_step(step: int) -> None:
        sync(args.device)
        started, cpu_started = time.perf_counter(), time.process_time()
        learner.update(batch)
        sync(args.device)
        ours.append(time.perf_counter() - started)
        ours_cpu.append(time.process_time() - cpu_started)
        if step == 1:
            first_grad.append(flat_grad(learner.model))

    timer = make_timer(args.device, agent_rl_step)
    with tempfile.TemporaryDirectory() as out_dir:
        trainer = trl_trainer(trl, load_model(model_dir, args.device), tokenizer, fixed, shape, args, out_dir,
                              [timer])
        trainer.train()
    assert timer.first_grad is not None and first_grad, "no step ran"
    grad_diff = float((first_grad[0] - timer.first_grad).norm() / timer.first_grad.norm())
    params = sum(p.numel() for p in learner.model.parameters())
    return {"shape": shape, "agent-rl": (ours[args.warmup:], ours_cpu[args.warmup:]),
            "TRL": (timer.times[args.warmup:], timer.cpu_times[args.warmup:]), "grad_diff": grad_diff,
            "params": params, "load": load}


def report(args: argparse.Namespace, result: dict[str, Any], trl_version: str) -> None:
    shape: Shape = result["shape"]
    trained = shape.sequences * shape.completion_len
    total = shape.sequences * (shape.prompt_len + shape.completion_len)
    accelerator = torch.cuda.get_device_name() if args.device == "cuda" else f"{os.cpu_count()} CPUs"
    print(f"\nmachine: {platform.node()} ({platform.machine()}, {accelerator}), torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, device {args.device}, {args.dtype}; TRL {trl_version}; "
          f"load average {result['load'][0]:.1f} at start, {os.getloadavg()[0]:.1f} at end")
    print(f"model: {result['params'] / 1e6:.2f} M parameters; batch: {shape.prompts} prompts × {shape.group_size} "
          f"= {shape.sequences} sequences × ({shape.prompt_len} prompt + {shape.completion_len} completion) tokens; "
          f"micro-batch {shape.micro_batch} × {shape.accumulation_steps} accumulation steps; "
          f"{args.warmup} warm-up + {args.steps} timed steps each")
    print("timed: agent-rl = Learner.update(batch); TRL = GRPOTrainer.train() on_step_begin→on_step_end "
          "(training_step × micro-batches + clip + optimizer step; generation replaced by the fixed batch)")
    mfu = args.device == "cuda"
    header = ("| side | median step s | min | max | CPU s/step | trained tokens/s | all tokens/s |"
              + (" MFU |" if mfu else ""))
    print("\n" + header)
    print("|---|---:|---:|---:|---:|---:|---:|" + ("---:|" if mfu else ""))
    medians = {}
    for side in ("agent-rl", "TRL"):
        times, cpu_times = result[side]
        median = statistics.median(times)
        medians[side] = median
        row = (f"| {side} | {median:.3f} | {min(times):.3f} | {max(times):.3f} | {statistics.median(cpu_times):.3f} "
               f"| {trained / median:,.0f} | {total / median:,.0f} |")
        if mfu:
            row += f" {6 * result['params'] * total / median / (args.peak_tflops * 1e12):.1%} |"
        print(row)
    print(f"\nratio agent-rl / TRL (tokens/s, medians): {medians['TRL'] / medians['agent-rl']:.2f}×  (goal ≥ 1.0)")
    print(f"gradient check, step 1: ‖g_agent-rl − g_TRL‖ / ‖g_TRL‖ = {result['grad_diff']:.2e}")


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    trl = ensure_trl(install=not args.no_install)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model or init_tiny_model(Path(tmp) / args.preset, preset=args.preset)
        result = run(args, Path(model_dir), trl)
    report(args, result, trl.__version__)


if __name__ == "__main__":
    main()
