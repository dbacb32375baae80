"""Desktop mini-apps: small Tk applications, each with generated goals and a state checker.

An app module (stdlib + tkinter only, so it runs in its own light process) defines
`TITLE`, `make_goal(rng) -> {"instruction", "init", "target"}`, `check(target, state) ->
parts` (with "success" ∈ {0, 1}), `wrong_target(target)` (a plausible mistake, for the
scripted "wrong" agent) and `App(root, init)` with `state()`. Register a new one in `APPS`.

>>> goal_for("calculator", 3)["instruction"].startswith("Use the calculator")
True
"""

from __future__ import annotations

import importlib
import random
from pathlib import Path
from types import ModuleType
from typing import Any

APPS_DIR = Path(__file__).resolve().parent
MAIN = APPS_DIR / "_main.py"
APPS = ("form", "settings", "calculator", "listview", "rename")


def app_module(name: str) -> ModuleType:
    if name not in APPS:
        raise KeyError(name)
    return importlib.import_module(f"{__name__}.{name}")


def goal_for(app: str, seed: int) -> dict[str, Any]:
    """The goal of `app`'s task number `seed` (deterministic: envs and server agree)."""
    return app_module(app).make_goal(random.Random(f"{app}:{seed}"))
