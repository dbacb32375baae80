"""Which task an episode plays: one rule for every env with a task list.

`reset(options={"task_id": ...})` or `{"task_index": ...}` picks a task explicitly (how
evaluation walks a test split); otherwise the episode's seeded generator draws one, so a
seed always gives the same task.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

from envs.errors import EnvConfigError

T = TypeVar("T")


def choose_task(tasks: Sequence[T], index_by_id: Mapping[str, int], options: Mapping[str, Any],
                rng: np.random.Generator) -> T:
    """The task named by `options` ("task_id" or "task_index"), else a draw from `rng`.

    Raises:
        EnvConfigError: an unknown id or an index out of range.
    """
    if "task_id" in options:
        task_id = options["task_id"]
        if task_id not in index_by_id:
            raise EnvConfigError(f"unknown task_id {task_id!r} ({len(tasks)} tasks in this env)")
        return tasks[index_by_id[task_id]]
    if "task_index" in options:
        index = options["task_index"]
        if not isinstance(index, int) or not 0 <= index < len(tasks):
            raise EnvConfigError(f"task_index must be in [0, {len(tasks)}), got {index!r}")
        return tasks[index]
    return tasks[int(rng.integers(0, len(tasks)))]
