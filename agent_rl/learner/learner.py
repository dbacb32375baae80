"""`Learner`: the policy-gradient update of any Hugging Face causal LM.

One training step, as the trainer drives it::

    batch = learner.add_signals(batch)           # π_old / π_ref / PRM logprobs, values (no grad)
    ... rewards, advantages ...                  # agent_rl.rewards, agent_rl.algos
    metrics = learner.update(batch)              # epochs × mini-batches × micro-batches
    state = learner.policy_state_dict()          # → the engine, with a new version

Everything is synchronous PyTorch; the trainer runs it in a worker thread so that the
rollout manager keeps sampling on the event loop meanwhile.

Micro-batch losses are normalised by their whole mini-batch's token/sequence counts
(`LossInputs.total_tokens`), so gradient accumulation gives exactly the full-batch
gradient whatever the micro-batch plan.
"""

from __future__ import annotations

import copy
import itertools
import logging
import math
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from agent_rl.algos import AlgoConfig, Batch, LossInputs, compute_loss
from agent_rl.errors import AgentRLError
from agent_rl.learner.config import LearnerConfig
from agent_rl.learner.micro_batches import plan_micro_batches
from agent_rl.learner.scoring import ValueHead, eval_mode, score_rows

__all__ = ["Learner", "LearnerError", "lr_factor", "resolve_device"]

log = logging.getLogger(__name__)


class LearnerError(AgentRLError):
    """The learner cannot do what the config asks (a missing model signal, a bad state)."""


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise LearnerError(f"learner.device is {name!r} but no CUDA device is available; use 'cpu' or 'auto'")
    return device


def lr_factor(step: int, *, warmup_steps: int, total_steps: int | None, schedule: str,
              min_ratio: float) -> float:
    """Multiplier of the base learning rate at optimizer step `step` (0-based).

    >>> [round(lr_factor(s, warmup_steps=2, total_steps=6, schedule="linear", min_ratio=0.0), 2)
    ...  for s in range(6)]
    [0.5, 1.0, 1.0, 0.75, 0.5, 0.25]
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant" or not total_steps or total_steps <= warmup_steps:
        return 1.0
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    decay = 1.0 - progress if schedule == "linear" else 0.5 * (1.0 + math.cos(math.pi * progress))
    return min_ratio + (1.0 - min_ratio) * decay


def _load_frozen(path: str, device: torch.device) -> nn.Module:
    from transformers import AutoModelForCausalLM

    if not Path(path).is_dir():
        raise LearnerError(f"no model directory at {path!r} (a frozen reference/PRM model is a local "
                           "Hugging Face model directory)")
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).to(device)
    return _freeze(model)


def _freeze(model: nn.Module) -> nn.Module:
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


class Learner:
    """Trains `model` with the algorithm `algo`.

    Args:
        model: a Hugging Face causal LM (moved to the learner's device, trained in place).
        algo: estimator, loss and rewards (the learner reads `algo.loss` and `algo.needs`).
        config: optimisation, batching and memory options.
        total_steps: optimizer steps of the whole run (for decaying schedules), if known.
    """

    def __init__(self, model: nn.Module, algo: AlgoConfig, config: LearnerConfig | None = None, *,
                 total_steps: int | None = None) -> None:
        self.config = config or LearnerConfig()
        self.algo = algo
        self.device = resolve_device(self.config.device)
        self.model = model.to(self.device)
        self.model.train()
        if self.config.gradient_checkpointing:
            if not hasattr(model, "gradient_checkpointing_enable"):
                raise LearnerError("gradient_checkpointing needs a Hugging Face model")
            model.gradient_checkpointing_enable()
        needs = algo.needs
        known = {"old_logprobs", "ref_logprobs", "prm_logprobs", "values", "entropy"}
        if needs - known:
            raise LearnerError(f"the algorithm needs signals the learner cannot provide: {sorted(needs - known)}")
        self.value_head: ValueHead | None = None
        if "values" in needs:
            hidden = int(getattr(getattr(model, "config", None), "hidden_size", 0))
            if not hidden:
                raise LearnerError("a value head needs model.config.hidden_size")
            self.value_head = ValueHead(hidden).to(self.device)
        self.reference: nn.Module | None = None
        if "ref_logprobs" in needs:
            self.reference = (_load_frozen(self.config.reference_model, self.device) if self.config.reference_model
                              else _freeze(copy.deepcopy(model)))
        self.prm: nn.Module | None = None
        if "prm_logprobs" in needs:
            if not self.config.prm_model:
                raise LearnerError("the implicit PRM reward (model: prm) needs learner.prm_model: a path to the "
                                   "PRM's model directory (or use model: policy)")
            self.prm = _load_frozen(self.config.prm_model, self.device)
        opt = self.config.optimizer
        groups: list[dict[str, Any]] = [{"params": [p for p in model.parameters() if p.requires_grad]}]
        if self.value_head is not None:
            groups.append({"params": list(self.value_head.parameters()), "lr": self.config.value_lr or opt.lr})
        # On CUDA the fused kernel needs fewer launches than torch's default there (foreach);
        # on CPU the optimizer step is a negligible part of the update, so the default stays.
        self.optimizer = torch.optim.AdamW(groups, lr=opt.lr, betas=opt.betas, eps=opt.eps,
                                           weight_decay=opt.weight_decay,
                                           fused=True if self.device.type == "cuda" else None)
        self.total_steps = total_steps
        self.step = 0  # optimizer steps taken
        self._base_lrs = [g["lr"] for g in self.optimizer.param_groups]

    # ------------------------------------------------------------------ signals
    @property
    def needs_old_logprobs(self) -> bool:
        """π_old must be scored before updating when one batch gives several optimizer steps
        (later steps' "current" weights are no longer π_old) or a reward reads it."""
        return self.config.ppo_epochs * self.config.mini_batches > 1 or "old_logprobs" in self.algo.needs

    @torch.no_grad()
    def _score_all(self, model: nn.Module, batch: Batch, *, values: bool = False) -> tuple[Tensor, Tensor | None]:
        logprobs = torch.zeros(batch.input_ids_BT.shape, dtype=torch.float32)
        values_BT = torch.zeros_like(logprobs) if values else None
        lengths = batch.attention_mask_BT.sum(dim=1).tolist()
        with eval_mode(model, self.value_head if values else None):
            for rows in plan_micro_batches(lengths, self.config.micro_batch_tokens):
                scores = score_rows(model, batch, rows, temperature=self.config.temperature,
                                    value_head=self.value_head if values else None, dtype=self.config.dtype)
                index = torch.tensor(rows)
                logprobs[index] = scores.logprobs_BT.float().cpu()
                if values_BT is not None and scores.values_BT is not None:
                    values_BT[index] = scores.values_BT.float().cpu()
        return logprobs, values_BT

    def add_signals(self, batch: Batch) -> Batch:
        """The batch with the model signals the algorithm needs, computed without grad:
        "old_logprobs" (and "values") from the current weights, "ref_logprobs" from the
        frozen reference, "prm_logprobs" from the PRM."""
        signals: dict[str, Tensor] = {}
        if self.needs_old_logprobs or self.value_head is not None:
            old, values = self._score_all(self.model, batch, values=self.value_head is not None)
            if self.needs_old_logprobs:
                signals["old_logprobs"] = old
            if values is not None:
                signals["values"] = values
        if self.reference is not None:
            signals["ref_logprobs"] = self._score_all(self.reference, batch)[0]
        if self.prm is not None:
            signals["prm_logprobs"] = self._score_all(self.prm, batch)[0]
        return batch.with_extras(**signals) if signals else batch

    # ------------------------------------------------------------------ update
    def _set_lr(self) -> float:
        opt = self.config.optimizer
        factor = lr_factor(self.step, warmup_steps=opt.warmup_steps, total_steps=self.total_steps,
                           schedule=opt.schedule, min_ratio=opt.min_lr_ratio)
        for group, base in zip(self.optimizer.param_groups, self._base_lrs, strict=True):
            group["lr"] = base * factor
        return self._base_lrs[0] * factor

    def _mini_batches(self, batch: Batch) -> list[Batch]:
        n = min(self.config.mini_batches, batch.num_groups)
        if n == 1:
            return [batch]
        bounds = [round(i * batch.num_groups / n) for i in range(n + 1)]
        out = []
        for lo, hi in itertools.pairwise(bounds):
            keep = torch.zeros(batch.num_groups, dtype=torch.bool)
            keep[lo:hi] = True
            out.append(batch.select_groups(keep))
        return out

    def _optimizer_step(self, mini: Batch) -> dict[str, float]:
        """Accumulate the loss of every micro-batch of `mini`, clip, step."""
        lr = self._set_lr()
        self.optimizer.zero_grad(set_to_none=True)
        with_entropy = "entropy" in self.algo.needs
        sums: dict[str, float] = defaultdict(float)
        weights: dict[str, float] = defaultdict(float)
        loss_total = 0.0
        lengths = mini.attention_mask_BT.sum(dim=1).tolist()
        mini_device = mini.to(self.device)
        for rows in plan_micro_batches(lengths, self.config.micro_batch_tokens):
            scores = score_rows(self.model, mini_device, rows, temperature=self.config.temperature,
                                with_entropy=with_entropy, value_head=self.value_head, dtype=self.config.dtype,
                                loss_positions_only=True)
            index = torch.tensor(rows, device=self.device)
            inputs = LossInputs.from_batch(mini_device, scores.logprobs_BT.float(), rows=index,
                                           entropy_BT=scores.entropy_BT, values_BT=scores.values_BT)
            out = compute_loss(inputs, self.algo.loss)
            out.loss.backward()
            loss_total += float(out.loss.detach())
            tokens = float(mini.loss_mask_BT[torch.tensor(rows)].sum())
            for key, value in out.metrics.items():
                if math.isfinite(value):
                    sums[key] += value * tokens
                    weights[key] += tokens
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        max_norm = self.config.optimizer.max_grad_norm
        grad_norm = float(torch.nn.utils.clip_grad_norm_(params, max_norm if max_norm is not None else math.inf))
        if math.isfinite(grad_norm):
            self.optimizer.step()
        else:
            log.warning("non-finite gradient norm at step %d: skipping this optimizer step", self.step)
        self.step += 1
        metrics = {key: sums[key] / weights[key] for key in sums if weights[key] > 0}
        metrics.update({"loss/total": loss_total, "learner/grad_norm": grad_norm, "learner/lr": lr,
                        "learner/skipped_step": float(not math.isfinite(grad_norm))})
        return metrics

    def update(self, batch: Batch) -> dict[str, float]:
        """Train on a batch with advantages (after `add_signals`, rewards and advantages).
        Returns the metrics of its optimizer steps, averaged, plus throughput."""
        if batch.advantages_BT is None:
            raise LearnerError("the batch has no advantages: score it and call compute_advantages first")
        if self.needs_old_logprobs and "old_logprobs" not in batch.extras:
            raise LearnerError("this config takes several optimizer steps per batch: call "
                               "learner.add_signals(batch) before computing advantages and updating")
        started = time.perf_counter()
        self.model.train()
        per_step: list[dict[str, float]] = []
        for _ in range(self.config.ppo_epochs):
            for mini in self._mini_batches(batch):
                if mini.num_loss_tokens == 0:
                    continue
                per_step.append(self._optimizer_step(mini))
        elapsed = time.perf_counter() - started
        keys = {k for m in per_step for k in m}
        metrics = {k: sum(m[k] for m in per_step if k in m) / sum(k in m for m in per_step) for k in keys}
        trained = batch.num_loss_tokens * self.config.ppo_epochs
        total = int(batch.attention_mask_BT.sum()) * self.config.ppo_epochs
        metrics.update({"learner/optimizer_steps": float(len(per_step)), "learner/update_s": elapsed,
                        "learner/trained_tokens": float(trained), "learner/tokens": float(total),
                        "learner/tokens_per_s": total / elapsed if elapsed > 0 else 0.0,
                        "learner/step": float(self.step)})
        return metrics

    # ------------------------------------------------------------------ weights & state
    def policy_state_dict(self) -> dict[str, Tensor]:
        """A detached CPU copy of the policy weights (for an engine that runs elsewhere)."""
        return {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}

    def state_dict(self) -> dict[str, Any]:
        """Optimizer, schedule position and value head (the model is saved separately)."""
        return {"step": self.step, "optimizer": self.optimizer.state_dict(),
                "value_head": None if self.value_head is None else self.value_head.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = int(state["step"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.value_head is not None:
            if state.get("value_head") is None:
                raise LearnerError("the checkpoint has no value head but this config needs one")
            self.value_head.load_state_dict(state["value_head"])
