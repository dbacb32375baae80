"""`TextEnv`: the gymnasium contract for text-action, multi-turn episodes.

Actions are the model's text; observations are the *new* chat messages since the last
step (the agent already knows what it said). The async methods are primary — an env
talks to tool servers and must not block a rollout loop that runs hundreds of episodes
at once; the sync gymnasium methods run them on a private loop (see `_sync.py`).

Subclass contract (what `gymnasium.utils.env_checker.check_env` verifies):
  * `areset` starts by calling `self.seed_episode(seed)` (gymnasium's
    `super().reset(seed=seed)`), then returns `(messages, info)`.
  * `astep(action)` returns `(messages, reward, terminated, truncated, info)`.
  * every call returns fresh objects (observations and infos are never reused).
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import gymnasium

from envs._sync import LoopThread
from envs.spaces import MessagesSpace, TextActionSpace
from envs.types import Message, message_text

StepResult = tuple[list[Message], float, bool, bool, dict[str, Any]]


class TextEnv(gymnasium.Env[list[Message], str], abc.ABC):
    """Base class of every agent-rl environment.

    Args:
        render_mode: None or "ansi" (the transcript as text).
        max_action_chars: longest accepted action; longer text is an invalid action.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"]}
    #: Set by the registry to the id the env was made with.
    env_id: str = ""

    def __init__(self, *, render_mode: str | None = None, max_action_chars: int = 1 << 20) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        self.render_mode = render_mode
        self.observation_space = MessagesSpace()
        self.action_space = TextActionSpace(max_length=max_action_chars)
        self.transcript: list[Message] = []
        self._loop_thread: LoopThread | None = None

    # ---- the async API (primary) -------------------------------------------------
    @abc.abstractmethod
    async def areset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
                     ) -> tuple[list[Message], dict[str, Any]]:
        """Start an episode; returns the opening messages and an info dict."""

    @abc.abstractmethod
    async def astep(self, action: str) -> StepResult:
        """Apply the model's text; returns (new messages, reward, terminated, truncated, info)."""

    async def aclose(self) -> None:
        """Release sessions and clients. Idempotent."""

    async def aend_episode(self) -> None:
        """The caller stops this episode early (a rollout's token budget ran out): release
        per-episode resources now. The env stays usable: `areset` starts a new episode."""

    def seed_episode(self, seed: int | None) -> None:
        """Seed `self.np_random` exactly as gymnasium's `Env.reset(seed=...)` does."""
        gymnasium.Env.reset(self, seed=seed)

    # ---- the sync gymnasium API (wrappers) ------------------------------------------
    def _sync(self) -> LoopThread:
        if self._loop_thread is None:
            self._loop_thread = LoopThread(name=f"env-{self.env_id or type(self).__name__}")
        return self._loop_thread

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[list[Message], dict[str, Any]]:
        return self._sync().run(self.areset(seed=seed, options=options))

    def step(self, action: str) -> StepResult:
        return self._sync().run(self.astep(action))

    def close(self) -> None:
        """Release everything; after async use, `await aclose()` instead (or as well)."""
        if self._loop_thread is not None:
            loop_thread, self._loop_thread = self._loop_thread, None
            try:
                loop_thread.run(self.aclose())
            finally:
                loop_thread.close()

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        return "\n".join(f"[{m['role']}] {message_text(m)}" for m in self.transcript)
