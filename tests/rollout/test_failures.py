"""Crashed tool servers and cancelled runs: env_error, retries, nothing lost or duplicated."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

import envs
from agent_rl.engines.base import SamplingParams
from agent_rl.engines.scripted import ScriptedEngine
from agent_rl.rollout import AgentLoop, LoopBudget, RolloutConfig, RolloutManager, TaskRef
from agent_rl.trajectory import TrajectoryStatus
from agent_rl.trajectory_io import TrajectoryWriter, read_trajectories
from envs import TextEnv
from envs.parsing import render_tool_call
from tool_servers import ToolCall
from tool_servers.local import free_port, start_local_server


def tool_then_wrong_answer(tokenizer):
    """Turn 1: a python call; turn 2: a (wrong) answer — enough to span a server restart."""
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    call = tokenizer.encode(render_tool_call(ToolCall("python", {"code": "print(1)"})), add_special_tokens=False)
    answer = tokenizer.encode("<answer>print(0)</answer>", add_special_tokens=False)

    def policy(prompt: list[int]) -> list[int]:
        return (answer if prompt.count(eos) >= 3 else call) + [eos]  # after a tool response: answer

    return policy, eos


async def test_a_tool_server_killed_mid_run_gives_env_errors_retries_and_no_lost_rows(
        tokenizer, renderer, tmp_path) -> None:
    port = free_port()
    server = start_local_server("code", port=port)
    policy, eos = tool_then_wrong_answer(tokenizer)
    engine = ScriptedEngine(policy, delay_s=0.15, eos_token_id=eos)
    loop = AgentLoop(engine, renderer, SamplingParams(max_new_tokens=128), LoopBudget(max_turns=4))
    path = tmp_path / "rows.jsonl"
    writer = TrajectoryWriter(path)
    config = RolloutConfig(group_size=2, max_staleness=None, max_retries=6, retry_backoff_s=0.25)
    manager = RolloutManager(loop, {"code-stdio-v0": {"server_url": server.url, "max_turns": 4}}, config,
                             writer=writer)

    async def crash_and_restart() -> None:
        nonlocal server
        await asyncio.sleep(0.25)  # episodes are mid-flight: sessions open, tool calls pending
        server.stop()
        await asyncio.sleep(0.3)
        server = await asyncio.to_thread(start_local_server, "code", port=port)

    chaos = asyncio.create_task(crash_and_restart())
    try:
        groups = [g async for g in manager.run([TaskRef("code-stdio-v0", i, seed=i) for i in range(3)])]
        await chaos
    finally:
        writer.close()
        await manager.aclose()
        server.stop()
    assert sorted(g.task.task_index for g in groups) == [0, 1, 2]
    rows = [t for g in groups for t in g.trajectories]
    assert all(len(g.trajectories) == 2 for g in groups)
    assert sum(g.retries for g in groups) >= 1  # the crash was seen and retried…
    assert all(t.status is TrajectoryStatus.COMPLETED for t in rows)  # …and every episode recovered
    assert all(t.outcome_reward == 0.0 for t in rows)  # wrong answers score 0; crashes never do
    stored = [t.trajectory_id for t in read_trajectories(path)]
    assert sorted(stored) == sorted(t.trajectory_id for t in rows)  # nothing lost, nothing twice


async def test_stopping_early_releases_every_session(tokenizer, renderer) -> None:
    policy, eos = tool_then_wrong_answer(tokenizer)
    engine = ScriptedEngine(policy, delay_s=0.05, eos_token_id=eos)
    loop = AgentLoop(engine, renderer, SamplingParams(max_new_tokens=128), LoopBudget(max_turns=4))
    manager = RolloutManager(loop, {"code-stdio-v0": {}}, RolloutConfig(group_size=2, max_staleness=None))
    async with contextlib.aclosing(manager.run([TaskRef("code-stdio-v0", i, seed=i) for i in range(8)])) as stream:
        async for _ in stream:
            break  # the consumer walks away with episodes in flight
    client = manager.pool._clients["code-stdio-v0"]
    assert client is not None
    assert (await client.health()).sessions == 0  # cancelled episodes closed their sessions
    await manager.aclose()


class HeldSessionEnv(TextEnv):
    """A tool env's episode lifecycle without a server: every episode holds a "session"
    (an entry in the shared `live` set) until `aend_episode` has released it. Task 0
    answers at once; every other task's first step is a tool call that never returns
    (or, with `crash=True`, task 0's first sample fails with a bug). Releasing takes
    `slow_release_s` for odd seeds (a slow server) and no time for even ones, so one
    episode of a group finishes unwinding long before its sibling."""

    def __init__(self, live: set[object] | None = None, slow_release_s: float = 0.3, crash: bool = False,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.live = live if live is not None else set()
        self.slow_release_s, self.crash = slow_release_s, crash
        self.session: object | None = None

    async def areset(self, *, seed=None, options=None):
        self.seed_episode(seed)
        self.seed, self.task_index = seed or 0, (options or {}).get("task_index", 0)
        self.session = object()
        self.live.add(self.session)
        return [{"role": "user", "content": "Go."}], {"task_id": f"held-{self.task_index}"}

    async def astep(self, action):
        info = {"counters": {"turns": 1, "tool_calls": 0}, "step_reward": 0.0}
        if self.task_index == 0 and self.crash and self.seed % 2 == 0:
            raise RuntimeError("a bug in the env")
        if self.task_index == 0:
            await self.aend_episode()
            return [], 0.0, True, False, {**info, "outcome_reward": 0.0, "success": False}
        await asyncio.Event().wait()  # a tool call in flight, forever
        raise AssertionError("unreachable")

    async def aend_episode(self) -> None:
        session, self.session = self.session, None
        if session is not None:
            try:
                if self.seed % 2:
                    await asyncio.sleep(self.slow_release_s)
            except asyncio.CancelledError:
                self.session = session  # not released: the next release tries again (as ToolEnv does)
                raise
            self.live.discard(session)


if "held-session-v0" not in [s.id for s in envs.list()]:
    envs.register("held-session-v0", HeldSessionEnv, description="test env: sessions released slowly (tests/rollout)")


def held_manager(tokenizer, renderer, live: set[object], **env_kwargs) -> RolloutManager:
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    engine = ScriptedEngine(lambda prompt: tokenizer.encode("go", add_special_tokens=False) + [eos],
                            delay_s=0.02, eos_token_id=eos)
    loop = AgentLoop(engine, renderer, SamplingParams(max_new_tokens=16), LoopBudget(max_turns=2))
    return RolloutManager(loop, {"held-session-v0": {"live": live, **env_kwargs}},
                          RolloutConfig(group_size=2, max_staleness=None))


async def test_stopping_early_returns_only_once_every_episode_released_its_session(tokenizer, renderer) -> None:
    """Seeds 2i (fast release) and 2i+1 (slow) in every group: `asyncio.gather` would end a
    cancelled group as soon as its fast episode had unwound, before the slow one released."""
    live: set[object] = set()
    manager = held_manager(tokenizer, renderer, live)
    started = time.monotonic()
    async with contextlib.aclosing(manager.run([TaskRef("held-session-v0", i, seed=2 * i) for i in range(4)])) as stream:
        async for group in stream:
            assert group.task.task_index == 0
            assert len(live) == 6  # three groups' episodes are stuck in their tool calls
            break
    assert live == set()  # every cancelled episode's session is released when the stream closes
    assert time.monotonic() - started < 5.0
    await manager.aclose()


async def test_a_crashing_episode_cancels_and_releases_its_siblings_before_run_raises(tokenizer, renderer) -> None:
    live: set[object] = set()
    manager = held_manager(tokenizer, renderer, live, crash=True)
    with pytest.raises(RuntimeError, match="a bug in the env"):  # raised as itself, not as a group
        async with contextlib.aclosing(manager.run([TaskRef("held-session-v0", i, seed=2 * i) for i in range(3)])) as stream:
            async for _ in stream:
                raise AssertionError("no group completes: task 0 crashes, the others never end")
    assert live == set()  # the crashed episode's sibling and the other groups were cancelled and released
    await manager.aclose()
