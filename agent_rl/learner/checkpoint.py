"""Checkpoints: written atomically, found again after any crash.

Layout under a run directory::

    checkpoints/step-000010/model/        save_pretrained (safetensors) + tokenizer
    checkpoints/step-000010/learner.pt    optimizer, schedule step, value head
    checkpoints/step-000010/state.json    trainer state (step, weight version, task cursor, …)
    checkpoints/step-000010/rng.pt        torch / numpy / random generator states
    checkpoints/latest                    the name of the newest complete checkpoint

A checkpoint is written into `step-000010.partial-<pid>` and renamed into place only
once every file is fsynced, then `latest` is replaced atomically. A crash at any point
leaves the previous checkpoint intact and `latest` pointing at a complete directory;
leftover `.partial-*` directories are ignored and swept by the next save.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agent_rl.errors import AgentRLError

__all__ = ["CheckpointError", "LoadedCheckpoint", "latest_checkpoint", "load_checkpoint", "restore_rng",
           "rng_state", "save_checkpoint"]

_NAME = re.compile(r"step-(\d{6,})")


class CheckpointError(AgentRLError):
    """No usable checkpoint where one was expected, or a damaged one."""


def rng_state() -> dict[str, Any]:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "random": random.getstate(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["random"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _fsync_tree(root: Path) -> None:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    for directory in [root, *[p for p in root.rglob("*") if p.is_dir()]]:
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def save_checkpoint(run_dir: str | Path, step: int, *, model: Any, learner_state: dict[str, Any],
                    trainer_state: dict[str, Any], tokenizer: Any = None, keep: int | None = 3) -> Path:
    """Write checkpoint `step` atomically; keep the newest `keep` (None: all). Returns its path."""
    root = Path(run_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    for stale in [*root.glob("*.partial-*"), *root.glob("*.deleting-*")]:
        shutil.rmtree(stale, ignore_errors=True)
    final = root / f"step-{step:06d}"
    tmp = root / f"{final.name}.partial-{os.getpid()}"
    model.save_pretrained(tmp / "model", safe_serialization=True)
    if tokenizer is not None:
        tokenizer.save_pretrained(tmp / "model")
    torch.save(learner_state, tmp / "learner.pt")
    torch.save(rng_state(), tmp / "rng.pt")
    (tmp / "state.json").write_text(json.dumps({"step": step, **trainer_state}, indent=2, sort_keys=True) + "\n")
    _fsync_tree(tmp)
    if final.exists():  # re-saving a step (e.g. after a resume): replace it whole
        _remove(final)
    os.replace(tmp, final)
    _write_text_atomic(root / "latest", final.name + "\n")
    if keep is not None:
        done = sorted(p for p in root.iterdir() if _NAME.fullmatch(p.name))
        for old in done[:-keep]:
            _remove(old)
    return final


def _remove(checkpoint: Path) -> None:
    """Delete a checkpoint so that no one ever sees half of it under its name: renamed away
    first (atomic), then removed; a crash in between leaves a `.deleting-` folder that the
    next save sweeps."""
    doomed = checkpoint.with_name(f"{checkpoint.name}.deleting-{os.getpid()}")
    os.replace(checkpoint, doomed)
    shutil.rmtree(doomed, ignore_errors=True)


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The newest complete checkpoint of a run, or None."""
    root = Path(run_dir) / "checkpoints"
    pointer = root / "latest"
    if pointer.is_file():
        named = root / pointer.read_text().strip()
        if (named / "state.json").is_file():
            return named
    done = sorted(p for p in root.glob("step-*") if _NAME.fullmatch(p.name) and (p / "state.json").is_file())
    return done[-1] if done else None


@dataclass(frozen=True, slots=True)
class LoadedCheckpoint:
    path: Path
    trainer_state: dict[str, Any]
    learner_state: dict[str, Any]
    rng: dict[str, Any]

    @property
    def model_dir(self) -> Path:
        return self.path / "model"


def load_checkpoint(path: str | Path) -> LoadedCheckpoint:
    """Read a checkpoint directory (the model itself loads from `.model_dir`)."""
    source = Path(path)
    missing = [name for name in ("state.json", "learner.pt", "rng.pt", "model") if not (source / name).exists()]
    if missing:
        raise CheckpointError(f"{source} is not a complete checkpoint (missing {', '.join(missing)})")
    try:
        state = json.loads((source / "state.json").read_text())
        learner = torch.load(source / "learner.pt", map_location="cpu", weights_only=False)
        rng = torch.load(source / "rng.pt", map_location="cpu", weights_only=False)
    except (OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"cannot read checkpoint {source}: {exc}") from exc
    return LoadedCheckpoint(source, state, learner, rng)
