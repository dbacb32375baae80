"""Evaluation runs: agents × envs × tasks × samples, episodes recorded, a summary table.

Episodes run concurrently (asyncio) on a pool of env instances that share one tool
client, so a whole run uses one tool server (in-process by default, or `server_url`).
Each finished episode is appended to the output file at once, so a crash keeps them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import envs
from agent_rl.agents import Agent, make_agent
from agent_rl.images import image_store_for
from envs.base import TextEnv
from envs.tool_env import INFRA_ERRORS, ToolEnv
from tool_servers import ToolClient

log = logging.getLogger(__name__)


@dataclass(slots=True)
class EpisodeRecord:
    """One finished episode, as written (one JSON line) to `--out`."""

    env_id: str
    agent: str
    task_id: str
    sample: int
    status: str  # completed | truncated | env_error
    reward: float | None  # total (outcome + step rewards); None for env_error
    outcome_reward: float | None
    success: bool
    turns: int
    counters: dict[str, int]
    duration_s: float
    error: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class EvalSummary:
    """One row of the results table (one env × one agent)."""

    env_id: str
    agent: str
    tasks: int
    episodes: int
    mean_reward: float
    pass_rate: float
    env_errors: int
    mean_turns: float
    mean_tool_calls: float
    duration_s: float


def mean(values: list[float] | list[int]) -> float:
    return sum(values) / len(values) if values else math.nan


def summarize(env_id: str, agent: str, records: list[EpisodeRecord], duration_s: float) -> EvalSummary:
    """Mean reward and pass rate exclude env_error episodes (infrastructure, not skill)."""
    scored = [r for r in records if r.status != "env_error"]
    mean = lambda xs: sum(xs) / len(xs) if xs else math.nan
    return EvalSummary(
        env_id=env_id, agent=agent, tasks=len({r.task_id for r in records}), episodes=len(records),
        mean_reward=mean([r.reward or 0.0 for r in scored]),
        pass_rate=mean([1.0 if r.success else 0.0 for r in scored]),
        env_errors=len(records) - len(scored), mean_turns=mean([r.turns for r in scored]),
        mean_tool_calls=mean([r.counters.get("tool_calls", 0) for r in scored]), duration_s=duration_s,
    )


async def run_episode(env: TextEnv, agent: Agent, *, task_index: int, sample: int, seed: int,
                      keep_messages: bool = True) -> EpisodeRecord:
    start = time.perf_counter()
    try:
        observation, info = await env.areset(seed=seed, options={"task_index": task_index})
    except INFRA_ERRORS as exc:  # the tool server is down: an env_error record, not a crash
        return EpisodeRecord(env_id=env.env_id, agent=agent.name, task_id=str(task_index), sample=sample,
                             status="env_error", reward=None, outcome_reward=None, success=False, turns=0,
                             counters={}, duration_s=time.perf_counter() - start,
                             error=f"reset failed: {type(exc).__name__}: {exc}")
    await agent.start(env, observation)
    total, done, last_info = 0.0, False, info
    while not done:
        action = await agent.act(env, observation)
        observation, reward, terminated, truncated, last_info = await env.astep(action)
        total += reward
        done = terminated or truncated
    env_error = bool(last_info.get("env_error"))
    return EpisodeRecord(
        env_id=env.env_id, agent=agent.name, task_id=str(info.get("task_id", task_index)), sample=sample,
        status=str(last_info.get("status", "completed")), reward=None if env_error else total,
        outcome_reward=last_info.get("outcome_reward"), success=bool(last_info.get("success", False)),
        turns=int(last_info.get("counters", {}).get("turns", 0)), counters=dict(last_info.get("counters", {})),
        duration_s=time.perf_counter() - start, error=str(last_info.get("error", "")) if env_error else "",
        messages=[dict(m) for m in env.transcript] if keep_messages else [],
    )


def _shared_client(probe: TextEnv) -> ToolClient | None:
    """One tool client (and, in-process, one server) for every env instance of the run."""
    return probe.build_tool_client() if isinstance(probe, ToolEnv) else None


def _first_cause(error: BaseExceptionGroup) -> BaseException:
    first = error.exceptions[0]
    return _first_cause(first) if isinstance(first, BaseExceptionGroup) else first


async def evaluate(env_id: str, agent_name: str, *, n: int = 1, limit: int | None = None,
                   concurrency: int = 4, env_kwargs: dict[str, Any] | None = None,
                   server_url: str | None = None, out: Path | None = None, seed: int = 0,
                   on_episode: Callable[[EpisodeRecord], None] | None = None,
                   ) -> tuple[EvalSummary, list[EpisodeRecord]]:
    """Run `agent_name` on every task of `env_id` (first `limit` tasks), `n` samples each."""
    if n < 1 or concurrency < 1 or (limit is not None and limit < 1):
        raise ValueError(f"n, concurrency and limit must be ≥ 1, got n={n}, concurrency={concurrency}, "
                         f"limit={limit}")
    env_kwargs = dict(env_kwargs or {})
    if server_url:
        env_kwargs["server_url"] = server_url
    probe = envs.make(env_id, **env_kwargs)
    client = _shared_client(probe)
    env_kwargs.pop("server_url", None)
    if client is not None:
        env_kwargs["tool_client"] = client
    num_tasks = len(getattr(probe, "tasks", [None]))
    if limit is not None:
        num_tasks = min(num_tasks, limit)
    await probe.aclose()
    jobs: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
    for task_index in range(num_tasks):
        for sample in range(n):
            jobs.put_nowait((task_index, sample))
    records: list[EpisodeRecord] = []
    writer = out.open("a", encoding="utf-8") if out is not None else None
    images = image_store_for(out) if out is not None else None  # screenshots: once, by hash, beside the file
    started = time.perf_counter()

    async def worker() -> None:
        env, agent = envs.make(env_id, **env_kwargs), make_agent(agent_name)
        try:
            while not jobs.empty():
                task_index, sample = jobs.get_nowait()
                record = await run_episode(env, agent, task_index=task_index, sample=sample,
                                           seed=seed + task_index * 1000 + sample)
                records.append(record)
                if writer is not None and images is not None:
                    record.messages = images.externalize(record.messages)
                    writer.write(json.dumps(asdict(record), ensure_ascii=False) + "\n")
                    writer.flush()
                if on_episode is not None:
                    on_episode(record)
        finally:
            await env.aclose()

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(concurrency, jobs.qsize()) or 1):
                group.create_task(worker())
    except BaseExceptionGroup as group_error:  # report the first real cause, not the group
        raise _first_cause(group_error) from group_error
    finally:
        if writer is not None:
            writer.close()
        if client is not None:
            await client.aclose()
    records.sort(key=lambda r: (r.task_id, r.sample))
    return summarize(env_id, agent_name, records, time.perf_counter() - started), records
