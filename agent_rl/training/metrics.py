"""Training metrics: one dict per step to the console, a JSONL file and TensorBoard.

The JSONL file (`RUN_DIR/metrics.jsonl`) is the source of truth — appended and flushed
per step, so a crash keeps every finished step; the reward-curve plot and the final
summary read it back. TensorBoard event files are written alongside when the
`tensorboard` package is installed (`pip install agent-rl[train]`).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["MetricsLogger", "read_metrics", "truncate_metrics"]

log = logging.getLogger(__name__)

#: Shown on the console line, in this order, when present.
CONSOLE_KEYS = (("reward/mean", "reward"), ("rollout/pass_rate", "pass"), ("rollout/tool_calls_per_episode", "tools/ep"),
                ("loss/total", "loss"), ("kl/mean", "kl"), ("entropy/mean", "entropy"),
                ("learner/grad_norm", "|g|"), ("rollout/staleness_mean", "stale"), ("time/step_s", "s"))


class MetricsLogger:
    """Writes each step's metrics to RUN_DIR/metrics.jsonl (+ TensorBoard, + console)."""

    def __init__(self, run_dir: str | Path, *, tensorboard: bool = True, console: bool = True) -> None:
        self.path = Path(run_dir) / "metrics.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a")  # noqa: SIM115  (kept open for the run)
        self.console = console
        self._tb: Any = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(Path(run_dir) / "tensorboard"))
            except ImportError:
                log.info("tensorboard is not installed; metrics go to %s only", self.path)

    def log(self, step: int, metrics: Mapping[str, float], *, phase: str = "train") -> None:
        clean = {k: (float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None)
                 for k, v in metrics.items()}
        self._file.write(json.dumps({"step": step, "phase": phase, **clean}, sort_keys=True) + "\n")
        self._file.flush()
        if self._tb is not None:
            for key, value in clean.items():
                if value is not None:
                    self._tb.add_scalar(f"{phase}/{key}" if phase != "train" else key, value, step)
            self._tb.flush()
        if self.console and phase == "train":
            shown = [f"{label} {clean[k]:.3g}" for k, label in CONSOLE_KEYS if clean.get(k) is not None]
            print(f"step {step:>4} | " + " | ".join(shown), flush=True)

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            self._tb.close()


def read_metrics(run_dir: str | Path, phase: str | None = "train") -> list[dict[str, Any]]:
    """The logged steps (a torn last line, from a crash mid-write, is skipped)."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if phase is None or row.get("phase") == phase:
            rows.append(row)
    return rows


def truncate_metrics(run_dir: str | Path, step: int) -> int:
    """Drop logged rows after `step` (a resumed run redoes those steps); returns how many.
    The file is rewritten through a temporary file and an atomic rename."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return 0
    kept, dropped = [], 0
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            dropped += 1
            continue
        if row.get("phase") in ("train", "eval") and int(row.get("step", 0)) > step:
            dropped += 1
        else:
            kept.append(line)
    tmp = path.with_name(".metrics.jsonl.tmp")
    tmp.write_text("".join(f"{line}\n" for line in kept))
    tmp.replace(path)
    return dropped
