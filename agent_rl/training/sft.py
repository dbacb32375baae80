"""Supervised fine-tuning on trajectories: the warm start before RL.

The loss is the mean negative log-likelihood of the tokens the policy would have
sampled (`loss_mask` 1) — the same masks RL trains on, so tool output, prompts and
template glue never get gradient. Batches are built with `build_batch` and scored with
the learner's own forward (`score_rows`, length-bucketed micro-batches), at
temperature 1.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Sequence

import torch
from torch import nn

from agent_rl.algos.batch import build_batch
from agent_rl.learner.learner import lr_factor, resolve_device
from agent_rl.learner.micro_batches import plan_micro_batches
from agent_rl.learner.scoring import score_rows
from agent_rl.rollout.manager import Group, TaskRef
from agent_rl.training.config import SFTConfig
from agent_rl.trajectory import Trajectory

__all__ = ["demo_groups", "sft_train"]

log = logging.getLogger(__name__)


def sft_train(model: nn.Module, demos: Sequence[Trajectory], config: SFTConfig, *, pad_token_id: int,
              device: str = "auto", seed: int = 0,
              on_step: Callable[[int, dict[str, float]], None] | None = None) -> list[dict[str, float]]:
    """Train `model` in place on `demos`; returns per-step metrics (loss, tokens/s)."""
    rows = [d for d in demos if d.is_scorable and any(d.loss_mask)]
    if not rows:
        raise ValueError("no demonstration has model tokens to train on")
    target = resolve_device(device)
    model.to(target).train()
    opt = config.optimizer
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=opt.lr, betas=opt.betas,
                                  eps=opt.eps, weight_decay=opt.weight_decay)
    per_epoch = math.ceil(len(rows) / config.batch_size)
    total = per_epoch * config.epochs
    rng = random.Random(seed)
    history: list[dict[str, float]] = []
    step = 0
    for epoch in range(config.epochs):
        order = rng.sample(range(len(rows)), len(rows))
        for start in range(0, len(order), config.batch_size):
            chosen = [rows[i] for i in order[start:start + config.batch_size]]
            batch = build_batch(demo_groups(chosen), pad_token_id=pad_token_id)
            started = time.perf_counter()
            factor = lr_factor(step, warmup_steps=opt.warmup_steps, total_steps=total, schedule=opt.schedule,
                               min_ratio=opt.min_lr_ratio)
            for group in optimizer.param_groups:
                group["lr"] = opt.lr * factor
            optimizer.zero_grad(set_to_none=True)
            tokens = batch.num_loss_tokens
            loss_sum = 0.0
            device_batch = batch.to(target)
            for micro in plan_micro_batches(batch.attention_mask_BT.sum(dim=1).tolist(), config.micro_batch_tokens):
                scores = score_rows(model, device_batch, micro, loss_positions_only=True)
                mask = device_batch.loss_mask_BT[torch.tensor(micro, device=target)]
                loss = -(scores.logprobs_BT * mask).sum() / tokens
                loss.backward()
                loss_sum += float(loss.detach())
            grad_norm = float(torch.nn.utils.clip_grad_norm_(
                model.parameters(), opt.max_grad_norm if opt.max_grad_norm is not None else math.inf))
            optimizer.step()
            elapsed = time.perf_counter() - started
            metrics = {"sft/loss": loss_sum, "sft/grad_norm": grad_norm, "sft/lr": opt.lr * factor,
                       "sft/epoch": float(epoch), "sft/tokens_per_s": float(batch.attention_mask_BT.sum()) / elapsed}
            history.append(metrics)
            step += 1
            if on_step is not None:
                on_step(step, metrics)
    model.eval()
    return history


def demo_groups(demos: Sequence[Trajectory]) -> list[Group]:
    """Demonstrations as rollout groups (one per trajectory), e.g. to score them."""
    return [Group(t.trajectory_id, TaskRef(t.env_id, 0), [t], 0) for t in demos]
