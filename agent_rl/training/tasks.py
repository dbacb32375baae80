"""The training task stream: an endless, seeded, resumable sequence of `TaskRef`s.

Draw k picks an env by weight (from a generator seeded by (seed, k)) and that env's
next task in a per-epoch shuffle, so the whole stream is a function of the seed and the
cursor k: a resumed run continues with draw k = cursor, without storing the stream.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping

from agent_rl.rollout.manager import TaskRef

__all__ = ["TaskStream"]


class TaskStream:
    """Endless tasks over envs with `sizes` (tasks per env) and `weights` (shares).

    >>> s = TaskStream({"a": 3, "b": 2}, {"a": 1.0, "b": 1.0}, seed=0)
    >>> first = [next(s) for _ in range(6)]
    >>> s2 = TaskStream({"a": 3, "b": 2}, {"a": 1.0, "b": 1.0}, seed=0, cursor=4)
    >>> next(s2) == first[4], s.cursor
    (True, 6)
    """

    def __init__(self, sizes: Mapping[str, int], weights: Mapping[str, float], *, seed: int, cursor: int = 0) -> None:
        self.ids = sorted(sizes)
        self.sizes = dict(sizes)
        self.weights = [float(weights[i]) for i in self.ids]
        self.seed = seed
        self.cursor = 0
        self._taken = dict.fromkeys(self.ids, 0)
        for _ in range(cursor):  # replay the env choices to restore per-env positions
            self._take()

    def _take(self) -> TaskRef:
        k = self.cursor
        env_id = random.Random(f"{self.seed}/{k}").choices(self.ids, self.weights)[0]
        n, taken = self.sizes[env_id], self._taken[env_id]
        epoch, position = divmod(taken, n)
        order = random.Random(f"{self.seed}/{env_id}/{epoch}").sample(range(n), n)
        self._taken[env_id] += 1
        self.cursor += 1
        return TaskRef(env_id, order[position], seed=(self.seed * 1_000_003 + k * 1009) % (2**31))

    def __iter__(self) -> Iterator[TaskRef]:
        return self

    def __next__(self) -> TaskRef:
        return self._take()
