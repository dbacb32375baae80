"""Env instances for concurrent episodes, reused across episodes.

One env instance runs one episode at a time. The pool keeps idle instances per env id,
creates new ones up to a per-env limit, and gives all instances of an env id one shared
tool client — one in-process tool server (or one connection pool to a remote one) per
env id, however many episodes run.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import envs
from envs.base import TextEnv
from envs.tool_env import ToolEnv
from tool_servers import ToolClient


async def to_the_end(task: asyncio.Future[Any]) -> None:
    """Wait until `task` is done, even when the caller is cancelled meanwhile — once or
    again and again (a task group aborting, a consumer's timeout): `task` itself is never
    cancelled from here, and the caller's cancellation is re-raised once it is done (its
    own outcome then dropped). For cleanup that must not be cut short: `asyncio.shield`
    alone returns at the first cancellation, and `gather` passes a second one on to `task`.
    The caller reads `task.result()` afterwards if it cares."""
    cancelled: asyncio.CancelledError | None = None
    while not task.done():
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError as exc:
            cancelled = exc
    if cancelled is not None:
        if not task.cancelled():
            task.exception()  # retrieved: not logged as "never retrieved"
        raise cancelled


async def _release(env: TextEnv) -> None:
    """End the env's episode (its session) and wait until that is done — also when the
    episode was cancelled: the release runs in its own task, is awaited to the end, and
    the cancellation re-raised afterwards."""
    release = asyncio.ensure_future(env.aend_episode())
    await to_the_end(release)
    release.result()


class EnvPool:
    """Env instances by env id.

    Args:
        specs: env id → keyword arguments for `envs.make`.
        per_env_concurrency: instances (episodes) at once per env id.
        wrap: applied to every episode env (e.g. `lambda env: DelayedEnv(env, draw)`).
    """

    def __init__(self, specs: dict[str, dict[str, Any]], per_env_concurrency: int = 16,
                 wrap: Callable[[TextEnv], TextEnv] | None = None) -> None:
        self.wrap = wrap
        if not specs:
            raise ValueError("EnvPool needs at least one env id")
        self.specs = {env_id: dict(kwargs) for env_id, kwargs in specs.items()}
        for env_id in self.specs:
            envs.spec(env_id)  # unknown ids fail now, with "did you mean"
        self._limits = {env_id: asyncio.Semaphore(per_env_concurrency) for env_id in self.specs}
        self._idle: dict[str, list[TextEnv]] = {env_id: [] for env_id in self.specs}
        self._all: list[TextEnv] = []
        self._clients: dict[str, ToolClient | None] = {}
        self._probes: dict[str, TextEnv] = {}

    def probe(self, env_id: str) -> TextEnv:
        """An instance of `env_id` for inspection (task count, tools); not for episodes."""
        if env_id not in self._probes:
            self._probes[env_id] = self._make(env_id, shared=False)
        return self._probes[env_id]

    def num_tasks(self, env_id: str) -> int:
        return len(getattr(self.probe(env_id), "tasks", [None]))

    def _make(self, env_id: str, *, shared: bool = True) -> TextEnv:
        kwargs = dict(self.specs[env_id])
        if shared:
            if env_id not in self._clients:
                probe = self.probe(env_id)
                self._clients[env_id] = probe.build_tool_client() if isinstance(probe, ToolEnv) else None
            client = self._clients[env_id]
            if client is not None:
                kwargs.pop("server_url", None)
                kwargs["tool_client"] = client
        env = envs.make(env_id, **kwargs)
        return self.wrap(env) if shared and self.wrap is not None else env

    @contextlib.asynccontextmanager
    async def env(self, env_id: str) -> AsyncIterator[TextEnv]:
        """Borrow an env for one episode; it is returned (episode ended) afterwards."""
        if env_id not in self.specs:
            raise KeyError(f"env {env_id!r} is not in this pool ({', '.join(self.specs)})")
        async with self._limits[env_id]:
            idle = self._idle[env_id]
            env = idle.pop() if idle else self._make(env_id)
            if env not in self._all:
                self._all.append(env)
            try:
                yield env
            finally:
                await _release(env)
                idle.append(env)

    async def aclose(self) -> None:
        """Close every env and shared client. Idempotent."""
        envs_, self._all = self._all + list(self._probes.values()), []
        self._probes = {}
        for env in envs_:
            await env.aclose()
        clients, self._clients = [c for c in self._clients.values() if c is not None], {}
        for client in clients:
            await client.aclose()
