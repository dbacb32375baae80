"""The asynchronous rollout manager: many episodes at once, grouped, bounded in staleness.

Tasks go in; completed *groups* (`group_size` samples of one task, for group-relative
advantages) come out through a bounded queue as soon as each finishes, so a learner
can start on the first groups while slow ones still run, and tool latency never
leaves the engine idle.

Staleness is bounded at admission, never by throwing work away afterwards: a new group
starts only while

    accepted + running + 1 ≤ (max_staleness + version + 1) × batch_size

(groups; `version` = the engine's current weight version), so no group reaches the
learner more than `max_staleness` versions after it was admitted. `env_error`
episodes (infrastructure) are retried up to `max_retries` times and never count in
a group's statistics.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from agent_rl.rollout.agent_loop import AgentLoop
from agent_rl.rollout.env_pool import EnvPool, to_the_end
from agent_rl.rollout.handoff import HandOff
from agent_rl.rollout.metrics import RolloutMetrics
from agent_rl.trajectory import Trajectory, TrajectoryStatus
from agent_rl.trajectory_io import TrajectoryWriter

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RolloutConfig:
    """How the manager schedules episodes.

    Attributes:
        group_size: samples per task (G).
        max_concurrency: episodes running at once, over all envs.
        per_env_concurrency: episodes at once per env id (tool servers have limits too).
        batch_size: groups per learner step (the unit of the staleness bound).
        max_staleness: versions a group may lag the learner; None = unbounded (evaluation).
        max_retries: re-runs of an `env_error` episode before it is kept as such.
        retry_backoff_s: wait before the first re-run, doubled for each further one (a
            crashed tool server needs a moment to come back).
        queue_size: finished groups waiting for the consumer (back-pressure).
    """

    group_size: int = 4
    max_concurrency: int = 32
    per_env_concurrency: int = 16
    batch_size: int = 8
    max_staleness: int | None = 1
    max_retries: int = 2
    retry_backoff_s: float = 1.0
    queue_size: int = 16

    def __post_init__(self) -> None:
        for name in ("group_size", "max_concurrency", "per_env_concurrency", "batch_size", "queue_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"RolloutConfig.{name} must be ≥ 1, got {getattr(self, name)}")
        if self.max_staleness is not None and self.max_staleness < 0:
            raise ValueError(f"RolloutConfig.max_staleness must be ≥ 0 or None, got {self.max_staleness}")
        if self.max_retries < 0:
            raise ValueError(f"RolloutConfig.max_retries must be ≥ 0, got {self.max_retries}")


@dataclass(frozen=True, slots=True)
class TaskRef:
    """One task to sample: which env, which task in it, and the base seed of its group."""

    env_id: str
    task_index: int
    seed: int = 0


@dataclass(slots=True)
class Group:
    """`group_size` episodes of one task; `trajectories` holds their rows (one per episode
    unless a context forked; rows of an episode share `metadata["episode_id"]`)."""

    group_id: str
    task: TaskRef
    trajectories: list[Trajectory]
    admitted_version: int
    retries: int = 0

    @property
    def scorable(self) -> list[Trajectory]:
        """Trajectories that count in group statistics (env_error ones excluded)."""
        return [t for t in self.trajectories if t.is_scorable]

    @property
    def task_id(self) -> str:
        ids = [t.task_id for t in self.trajectories if t.task_id]
        return ids[0] if ids else str(self.task.task_index)


@dataclass(slots=True)
class _Admission:
    accepted: int = 0
    running: int = 0
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)


class RolloutManager:
    """Collects groups of trajectories concurrently from envs with one engine.

    Args:
        loop: the agent loop (engine + renderer + budgets).
        envs: env factories by env id, e.g. `{"code-v0": {"max_turns": 4}}` (kwargs for
            `envs.make`), or an `EnvPool` shared with someone else.
        config: scheduling.
        writer: where each finished group is appended (flushed per group), if anywhere.
    """

    def __init__(self, loop: AgentLoop, envs: dict[str, dict[str, Any]] | EnvPool,
                 config: RolloutConfig | None = None, writer: TrajectoryWriter | None = None) -> None:
        self.loop = loop
        self.config = config or RolloutConfig()
        self.pool = envs if isinstance(envs, EnvPool) else EnvPool(envs, self.config.per_env_concurrency)
        self._owns_pool = not isinstance(envs, EnvPool)
        self.writer = writer
        self.metrics = RolloutMetrics(loop.busy_meter)
        self._slots = asyncio.Semaphore(self.config.max_concurrency)
        self._admission = _Admission()

    @property
    def version(self) -> int:
        return self.loop.engine.weight_version

    async def version_changed(self) -> None:
        """Call after a weight update: groups waiting for admission may start."""
        async with self._admission.changed:
            self._admission.changed.notify_all()

    def _may_admit(self) -> bool:
        if self.config.max_staleness is None:
            return True
        adm = self._admission
        return adm.accepted + adm.running + 1 <= (self.config.max_staleness + self.version + 1) * self.config.batch_size

    async def _admit(self) -> int:
        async with self._admission.changed:
            await self._admission.changed.wait_for(self._may_admit)
            self._admission.running += 1
            return self.version

    async def _finish(self) -> None:
        async with self._admission.changed:
            self._admission.running -= 1
            self._admission.accepted += 1
            self._admission.changed.notify_all()

    async def _episode(self, task: TaskRef, group_id: str, sample: int) -> tuple[list[Trajectory], int]:
        retries = 0
        while True:
            async with self._slots, self.pool.env(task.env_id) as env:
                rows = await self.loop.run(env, seed=task.seed + sample + 7919 * retries,
                                           options={"task_index": task.task_index}, group_id=group_id)
            if rows[0].status is not TrajectoryStatus.ENV_ERROR or retries >= self.config.max_retries:
                return rows, retries
            retries += 1
            log.warning("env_error on %s task %d (retry %d/%d): %s", task.env_id, task.task_index, retries,
                        self.config.max_retries, rows[0].metadata.get("error", ""))
            await asyncio.sleep(min(30.0, self.config.retry_backoff_s * 2 ** (retries - 1)))

    async def _group(self, task: TaskRef, version: int, key: int) -> None:
        try:
            group_id = uuid.uuid4().hex[:16]
            results = await _all_to_the_end(self._episode(task, group_id, i) for i in range(self.config.group_size))
            group = Group(group_id, task, [row for rows, _ in results for row in rows], version,
                          sum(r for _, r in results))
            if self.writer is not None:
                await asyncio.to_thread(self.writer.append_many, group.trajectories)
            self.metrics.record_group(group, self.version)
        except BaseException:
            await self._handoff.forget(key)
            raise
        finally:
            await self._finish()
        await self._handoff.complete(key, group)

    async def run(self, tasks: Iterable[TaskRef], *, start_version: int = 0) -> AsyncIterator[Group]:
        """Stream finished groups for `tasks`: completion order, except that a group is
        held back while an older unfinished one would otherwise exceed the staleness bound
        (see `handoff.py`). The consumer is expected to train one step per `batch_size`
        groups and then call `version_changed()`.

        A consumer that may stop early wraps the stream in `contextlib.aclosing(...)`, so
        that episodes still in flight are cancelled and their sessions released at once
        (Python closes an abandoned async generator only when it is garbage-collected);
        the close returns only once every one of them has released its session.

        `start_version`: a resumed training run whose learner is at this version counts
        `start_version × batch_size` groups as already trained, so the staleness bound
        and the hand-off deadlines continue where they stopped."""
        self._handoff = HandOff(self.config.batch_size, self.config.max_staleness)
        self._handoff.handed_over = start_version * self.config.batch_size
        self._admission.accepted = max(self._admission.accepted, start_version * self.config.batch_size)
        failure: list[BaseException] = []
        producer = asyncio.create_task(self._produce(tasks, failure))
        try:
            while True:
                next_group = asyncio.ensure_future(self._handoff.next())
                await asyncio.wait({next_group, producer}, return_when=asyncio.FIRST_COMPLETED)
                if next_group.done():
                    yield next_group.result()
                    continue
                next_group.cancel()
                await asyncio.gather(next_group, return_exceptions=True)
                if failure:
                    raise failure[0]
                while self._handoff.outstanding():  # the producer is done: drain what is left
                    yield await self._handoff.next()
                return
        finally:  # returns once every episode still in flight is cancelled and its session released
            producer.cancel()
            await to_the_end(producer)
            if not producer.cancelled():
                producer.exception()  # retrieved; it hands its failures over in `failure`

    async def _produce(self, tasks: Iterable[TaskRef], failure: list[BaseException]) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                for task in tasks:
                    version = await self._admit()  # blocks while the staleness bound is reached
                    group.create_task(self._group(task, version, self._handoff.admit(version)))
        except BaseExceptionGroup as errors:
            failure.append(errors.exceptions[0])
        except Exception as exc:  # noqa: BLE001  (handed to the consumer, re-raised there)
            failure.append(exc)

    async def aclose(self) -> None:
        if self._owns_pool:
            await self.pool.aclose()


async def _all_to_the_end(coros: Iterable[Coroutine[Any, Any, T]]) -> list[T]:
    """Run `coros` as tasks and return their results once all are done. Unlike
    `asyncio.gather`, which returns (or raises) as soon as ONE is cancelled or fails while
    the others still unwind, this waits for every one of them: a cancelled group's
    episodes have all released their sessions when it ends. A failure cancels the rest
    and is raised as itself, not as an ExceptionGroup."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(coro) for coro in coros]
    except BaseExceptionGroup as errors:
        raise errors.exceptions[0] from None
    return [task.result() for task in tasks]


def collect(manager: RolloutManager, tasks: Iterable[TaskRef],
            on_group: Callable[[Group], None] | None = None) -> asyncio.Future[list[Group]]:
    """Run `tasks` to completion and return every group (helper for evaluation)."""

    async def gather() -> list[Group]:
        groups = []
        async for group in manager.run(tasks):
            groups.append(group)
            if on_group is not None:
                on_group(group)
        return groups

    return asyncio.ensure_future(gather())

