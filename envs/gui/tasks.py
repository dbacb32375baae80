"""GUI tasks: a mini-app and a goal number. Goals are generated from (app, seed) by the app
module, identically here and in the desktop server, so the task list is tiny and the
scripted agents know the target without asking the server."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from envs.errors import EnvConfigError
from tool_servers.desktop.apps import APPS, goal_for


@dataclass(frozen=True, slots=True)
class GuiTask:
    app: str
    seed: int

    @property
    def task_id(self) -> str:
        return f"{self.app}-{self.seed:03d}"

    def goal(self) -> dict[str, Any]:
        return goal_for(self.app, self.seed)


def load_tasks(tasks: str | Sequence[str] | Sequence[GuiTask] = "desktop", *, variants: int = 20) -> list[GuiTask]:
    """`"desktop"` (every mini-app), a list of app names, or `GuiTask`s; `variants` goals per app."""
    if not isinstance(variants, int) or variants < 1:
        raise EnvConfigError(f"variants must be an integer ≥ 1, got {variants!r}")
    if isinstance(tasks, str):
        if tasks != "desktop":
            raise EnvConfigError(f"tasks must be 'desktop', a list of apps ({', '.join(APPS)}) or GuiTasks, "
                                 f"got {tasks!r}")
        tasks = list(APPS)
    out: list[GuiTask] = []
    for task in tasks:
        if isinstance(task, GuiTask):
            out.append(task)
        elif task in APPS:
            out.extend(GuiTask(str(task), seed) for seed in range(variants))
        else:
            raise EnvConfigError(f"unknown app {task!r}; apps: {', '.join(APPS)}")
    return out
