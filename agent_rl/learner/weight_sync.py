"""Pushing the learner's weights to the engine after each step, with a new version.

In-process engines (`hf`, `scripted`) take a state dict copied into their model between
two decode steps. HTTP engines (vLLM, SGLang, `agent-rl serve model`) load a checkpoint
from disk through their own documented route, so the weights are saved first to
`export_dir/v<version>` (a path the server can read) and older exports are removed.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

from torch import nn

from agent_rl.engines import Engine, WeightUpdate

__all__ = ["push_weights"]


def _in_process(engine: Engine) -> bool:
    from agent_rl.engines.hf import HFEngine
    from agent_rl.engines.scripted import ScriptedEngine

    return isinstance(engine, (HFEngine, ScriptedEngine))


async def push_weights(engine: Engine, model: nn.Module, version: int, *, export_dir: str | Path | None = None,
                       tokenizer: Any = None, abort_running: bool = True) -> int:
    """Load `model`'s weights into `engine` as `version`; returns the engine's new version.

    With `abort_running` (the default, for partial rollouts) generations in flight stop
    and resume under the new weights; their tokens keep their old version."""
    if _in_process(engine):
        state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        return await engine.update_weights(WeightUpdate(version, state_dict=state), abort_running=abort_running)
    if export_dir is None:
        raise ValueError(f"the {engine.name!r} engine loads weights from disk: pass export_dir= "
                         "(a directory its server can read)")
    root = Path(export_dir)
    target = root / f"v{version}"

    def save() -> None:
        model.save_pretrained(target, safe_serialization=True)
        if tokenizer is not None:
            tokenizer.save_pretrained(target)

    await asyncio.to_thread(save)
    new_version = await engine.update_weights(WeightUpdate(version, path=str(target)), abort_running=abort_running)
    for old in root.glob("v*"):
        if old != target and old.name[1:].isdigit() and int(old.name[1:]) < version:
            shutil.rmtree(old, ignore_errors=True)
    return new_version
