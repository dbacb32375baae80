"""Agents that act in envs without a model: for sanity checks and smoke runs.

`scripted` plays the env's reference actions (should score 1.0), `wrong` submits a
deliberately wrong answer (should score 0.0), `random` samples random text actions
(exercises parsing and invalid-action handling). Model-backed agents come from the
engines. Registered by name in `AGENTS`.
"""

from __future__ import annotations

import abc
from collections.abc import Callable

from envs.base import TextEnv
from envs.errors import EnvConfigError
from envs.types import Message
from sandbox.registry import Registry


class Agent(abc.ABC):
    """Chooses the next action (text) from the env's latest observation."""

    name: str = "agent"

    async def start(self, env: TextEnv, observation: list[Message]) -> None:
        """Called after each reset, with the opening messages."""

    @abc.abstractmethod
    async def act(self, env: TextEnv, observation: list[Message]) -> str:
        """The next action."""


class ScriptedAgent(Agent):
    """Replays `env.scripted_actions(kind)`; repeats the last one if the script runs out.

    Envs whose reference depends on what the page shows now (web pages change after each
    action) offer `scripted_next_action(kind)` instead, asked again every turn."""

    def __init__(self, kind: str = "reference") -> None:
        self.kind = kind
        self.name = "scripted" if kind == "reference" else kind
        self._script: list[str] = []

    async def start(self, env: TextEnv, observation: list[Message]) -> None:
        scripted = getattr(env, "scripted_actions", None)
        if scripted is None:
            raise EnvConfigError(f"{type(env).__name__} offers no scripted actions, so the "
                                 f"{self.name!r} agent cannot play it")
        self._script = list(scripted(self.kind))
        if not self._script:
            raise EnvConfigError(f"{type(env).__name__}.scripted_actions({self.kind!r}) returned nothing")

    async def act(self, env: TextEnv, observation: list[Message]) -> str:
        step = getattr(env, "scripted_next_action", None)
        if step is not None:
            return str(step(self.kind))
        return self._script.pop(0) if len(self._script) > 1 else self._script[0]


class RandomAgent(Agent):
    """Random text from the env's action space, seeded from the env's episode seed so a
    seeded evaluation is reproducible."""

    name = "random"

    async def start(self, env: TextEnv, observation: list[Message]) -> None:
        env.action_space.seed(int(env.np_random.integers(0, 2**31 - 1)))

    async def act(self, env: TextEnv, observation: list[Message]) -> str:
        return env.action_space.sample()


AGENTS: Registry[Callable[[], Agent]] = Registry("agent")
AGENTS.register("scripted", lambda: ScriptedAgent("reference"))
AGENTS.register("wrong", lambda: ScriptedAgent("wrong"))
AGENTS.register("random", RandomAgent)


def make_agent(name: str) -> Agent:
    return AGENTS.get(name)()


__all__ = ["AGENTS", "Agent", "RandomAgent", "ScriptedAgent", "make_agent"]
