"""Demonstrations: envs' scripted agents played through the real agent loop.

A demonstration is a `Trajectory` like any rollout — same prompt rendering, same
template deltas, same loss mask — so SFT trains on exactly the token layout RL will
later sample. The "model" is a `ScriptedEngine` that emits the tokens of the env's
`scripted_actions(kind)` for the current turn (plus the end-of-turn token). Mixing
kinds (e.g. 40 % "reference", 60 % "wrong") gives a noisy demonstration set, the
realistic case where SFT alone plateaus and RL has something to fix.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

from agent_rl.engines.base import SamplingParams
from agent_rl.engines.scripted import ScriptedEngine
from agent_rl.images import ImageStore
from agent_rl.rollout import AgentLoop, ChatRenderer, LoopBudget
from agent_rl.rollout.env_pool import EnvPool
from agent_rl.trajectory import Trajectory
from envs.base import TextEnv
from envs.errors import EnvConfigError

__all__ = ["collect_demonstrations", "pick_kinds"]


def pick_kinds(kinds: dict[str, float], count: int, seed: int) -> list[str]:
    """`count` kinds drawn by share (exact proportions, shuffled).

    >>> sorted(pick_kinds({"reference": 0.25, "wrong": 0.75}, 8, seed=0)).count("wrong")
    6
    """
    if not kinds or any(v < 0 for v in kinds.values()) or sum(kinds.values()) <= 0:
        raise EnvConfigError(f"demonstration kinds need positive shares, got {kinds}")
    total = sum(kinds.values())
    names = sorted(kinds)
    counts = {name: int(count * kinds[name] / total) for name in names}
    for name in names[: count - sum(counts.values())]:
        counts[name] += 1
    picked = [name for name in names for _ in range(counts[name])]
    random.Random(seed).shuffle(picked)
    return picked


def _scripted_engine(env: TextEnv, kind: str, renderer: ChatRenderer) -> ScriptedEngine:
    """An engine whose turn i is the tokens of `env.scripted_actions(kind)[i]`."""
    state: dict[str, Any] = {"turn": 0, "actions": None}
    tokenizer = renderer.tokenizer

    def policy(_prompt: list[int]) -> list[int]:
        if state["actions"] is None:
            state["actions"] = list(env.scripted_actions(kind))  # type: ignore[attr-defined]
        actions = state["actions"]
        text = actions[min(state["turn"], len(actions) - 1)]
        state["turn"] += 1
        return [*tokenizer.encode(text, add_special_tokens=False), renderer.end_of_turn]

    return ScriptedEngine(policy, eos_token_id=renderer.end_of_turn)


async def collect_demonstrations(env_specs: dict[str, dict[str, Any]], renderer: ChatRenderer, *,
                                 episodes: int, kinds: dict[str, float], seed: int = 0,
                                 budget: LoopBudget | None = None, concurrency: int = 8,
                                 on_episode: Callable[[Trajectory], None] | None = None,
                                 image_store: ImageStore | None = None) -> list[Trajectory]:
    """Play `episodes` scripted episodes spread over the envs' tasks (round robin over env
    ids, tasks in a seeded shuffle); returns their trajectories (env errors dropped).
    Screenshots go to `image_store` (where the rows' `ImageRef`s point)."""
    pool = EnvPool(env_specs, per_env_concurrency=concurrency)
    budget = budget or LoopBudget(max_tokens_per_turn=4096, max_total_tokens=1 << 16)
    env_ids = list(env_specs)
    rng = random.Random(seed)
    orders = {env_id: rng.sample(range(pool.num_tasks(env_id)), pool.num_tasks(env_id)) for env_id in env_ids}
    plan = [(env_ids[i % len(env_ids)], kind) for i, kind in enumerate(pick_kinds(kinds, episodes, seed))]
    limit = asyncio.Semaphore(concurrency)
    results: list[list[Trajectory]] = [[] for _ in plan]

    async def play(i: int, env_id: str, kind: str) -> None:
        order = orders[env_id]
        async with limit, pool.env(env_id) as env:
            loop = AgentLoop(_scripted_engine(env, kind, renderer), renderer, SamplingParams(max_new_tokens=4096),
                             budget, image_store=image_store)
            rows = await loop.run(env, seed=seed + i, options={"task_index": order[i // len(env_ids) % len(order)]},
                                  group_id=f"demo-{i}")
        for row in rows:
            row.metadata["demo_kind"] = kind
        kept = [row for row in rows if row.is_scorable]
        results[i] = kept
        if on_episode is not None:
            for row in kept:
                on_episode(row)

    try:
        await asyncio.gather(*(play(i, env_id, kind) for i, (env_id, kind) in enumerate(plan)))
    finally:
        await pool.aclose()
    return [row for rows in results for row in rows]
