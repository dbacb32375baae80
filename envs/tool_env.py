"""`ToolEnv`: an episode that acts through a tool server and is scored by it.

What it does for every tool-using env (code, SQL, search, ...):
  * picks a task (seeded, or `options={"task_id": ...}` / `{"task_index": ...}`),
    opens a tool-server session for it, and shows the opening messages;
  * parses each action with the env's parser (reasoning stripped first); a malformed
    action becomes an observation explaining the format and counts as invalid, and
    `max_invalid_actions` consecutive invalid actions end the episode (truncated);
  * runs tool calls through the session; a call the server rejects (unknown tool, bad
    arguments) is an observation, a server that fails or does not answer is an
    infrastructure failure: the episode ends with `info["env_error"] = True` and a NaN
    reward — never a 0 a learner could mistake for a wrong answer;
  * scores a final answer server-side (`evaluate`), so hidden tests never leave it;
  * ends at `max_turns` without an answer (truncated, outcome 0).

Subclasses describe their tasks through a handful of hooks (see the abstract methods).
"""

from __future__ import annotations

import abc
import asyncio
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Generic, TypeVar

from envs.base import StepResult, TextEnv
from envs.errors import EnvConfigError, EpisodeStateError, ParseError
from envs.parsing import ParsedAction, make_parser
from envs.task_choice import choose_task
from envs.types import Message, Turn, tool_message, user
from tool_servers import ServerSettings, ToolClient, create_app, make_tool_server
from tool_servers.errors import (
    SessionExpiredError,
    ToolServerClientError,
    ToolServerInfraError,
    UnknownSessionError,
)
from tool_servers.schemas import EvaluateResponse, ToolSpec
from tool_servers.types import ToolCall, ToolResult

log = logging.getLogger(__name__)

TaskT = TypeVar("TaskT")

#: Failures that are not the model's fault: the episode ends as `env_error`. A session the
#: server no longer knows (expired, or the server restarted) is infrastructure, even
#: though the protocol answers it with a 4xx.
INFRA_ERRORS = (ToolServerInfraError, UnknownSessionError, SessionExpiredError)


@dataclass(frozen=True, slots=True)
class StepRewards:
    """Optional per-step (process) rewards, reported as named parts `step/<name>`.

    All default to 0 (off). Typical shaping: a small penalty for invalid actions and
    tool errors, so that a policy learns the format before it learns the task.
    """

    invalid_action: float = 0.0
    tool_error: float = 0.0
    tool_call: float = 0.0

    @classmethod
    def coerce(cls, value: StepRewards | dict[str, float] | None) -> StepRewards:
        if value is None:
            return cls()
        if isinstance(value, StepRewards):
            return value
        known = {f.name for f in fields(cls)}
        unknown = set(value) - known
        if unknown:
            raise EnvConfigError(f"unknown step reward(s) {sorted(unknown)}; known: {sorted(known)}")
        return cls(**{k: float(v) for k, v in value.items()})


class ToolEnv(TextEnv, Generic[TaskT]):
    """A text env backed by a tool server.

    Args:
        tasks: the task set (non-empty).
        parser: action-parser spec, e.g. "hermes+answer" (see `envs.parsing`).
        max_turns: model turns before the episode is truncated (≥ 1).
        max_invalid_actions: consecutive invalid actions before truncation (≥ 1).
        max_tool_calls_per_turn: extra calls in one turn are refused with a message.
        step_rewards: process-reward shaping (see `StepRewards`).
        server_url: talk to a running tool server instead of an in-process one.
        tool_client: share an existing client (not closed by this env).
        server_options: keyword arguments for the in-process tool server.
        server_settings: protocol limits of the in-process tool server.
        session_ttl_s: idle time after which the server may reap this env's session; longer
            than the slowest expected turn (generation included).
        tool_schemas_in_prompt: render the tools' JSON schemas into the prompt through the
            chat template (`prompt_tools`). False keeps prompts short when the system prompt
            already shows the call format (the tools still work).
    """

    #: Name of the tool server in `tool_servers.TOOL_SERVERS` (the embedded default).
    tool_server: ClassVar[str]

    def __init__(self, tasks: Sequence[TaskT], *, parser: str = "hermes+answer", max_turns: int = 5,
                 max_invalid_actions: int = 3, max_tool_calls_per_turn: int = 4,
                 step_rewards: StepRewards | dict[str, float] | None = None,
                 server_url: str | None = None, tool_client: ToolClient | None = None,
                 server_options: dict[str, Any] | None = None,
                 server_settings: ServerSettings | dict[str, Any] | None = None,
                 session_ttl_s: float = 3600.0, tool_schemas_in_prompt: bool = True,
                 render_mode: str | None = None) -> None:
        super().__init__(render_mode=render_mode)
        if not tasks:
            raise EnvConfigError(f"{type(self).__name__} needs at least one task, got none")
        for name, value in (("max_turns", max_turns), ("max_invalid_actions", max_invalid_actions),
                            ("max_tool_calls_per_turn", max_tool_calls_per_turn)):
            if not isinstance(value, int) or value < 1:
                raise EnvConfigError(f"{name} must be an integer ≥ 1, got {value!r}")
        if server_url is not None and tool_client is not None:
            raise EnvConfigError("pass server_url= or tool_client=, not both")
        self.tasks: list[TaskT] = list(tasks)
        self._index = {self.task_id(t): i for i, t in enumerate(self.tasks)}
        self.parser = make_parser(parser)
        self.max_turns = max_turns
        self.max_invalid_actions = max_invalid_actions
        self.max_tool_calls_per_turn = max_tool_calls_per_turn
        self.step_rewards = StepRewards.coerce(step_rewards)
        self._server_url = server_url
        self._server_options = dict(server_options or {})
        if isinstance(server_settings, ServerSettings):
            server_settings = server_settings.model_dump(exclude_unset=True)
        self._server_settings: dict[str, Any] = dict(server_settings or {})
        ServerSettings.model_validate(self._server_settings)  # a bad limit fails now, not at reset
        if not session_ttl_s > 0:
            raise EnvConfigError(f"session_ttl_s must be > 0, got {session_ttl_s!r}")
        self.session_ttl_s = float(session_ttl_s)
        self.tool_schemas_in_prompt = bool(tool_schemas_in_prompt)
        self._client = tool_client
        self._owns_client = tool_client is None
        self._tools: list[ToolSpec] = []
        self.task: TaskT | None = None
        self.turns: list[Turn] = []
        self._session: str | None = None
        self._done = True
        self._invalid_streak = 0
        self._counters: dict[str, int] = {}

    # ---- hooks for subclasses ----------------------------------------------------------
    @abc.abstractmethod
    def task_id(self, task: TaskT) -> str:
        """A stable, unique id of the task."""

    @abc.abstractmethod
    def initial_messages(self, task: TaskT, tools: list[ToolSpec]) -> list[Message]:
        """The opening messages (system prompt with format instructions, the problem)."""

    @abc.abstractmethod
    def session_params(self, task: TaskT) -> dict[str, Any]:
        """What the tool server needs for this task (may include hidden ground truth)."""

    def evaluate_payload(self, task: TaskT, answer: str) -> dict[str, Any]:
        """The evaluate request for a final answer (used by the default `grade`)."""
        raise NotImplementedError(f"{type(self).__name__} must override evaluate_payload() or grade()")

    async def grade(self, task: TaskT, answer: str) -> EvaluateResponse:
        """Score a final answer. By default the tool server does it (`evaluate_payload` →
        `POST /sessions/{id}/evaluate`), so ground truth can stay server-side. Envs whose
        answer is plain data checked against a public value (a number, a label) may
        override this and score locally; nothing model-written is executed either way."""
        assert self._client is not None and self._session is not None
        return await self._client.evaluate(self._session, self.evaluate_payload(task, answer))

    def scripted_actions(self, kind: str = "reference") -> list[str]:
        """Actions of a scripted agent for the current task: "reference" should score 1,
        "wrong" should score 0. Used by `agent-rl eval --agent scripted|wrong` to prove an
        env and its server end to end. Envs without references raise NotImplementedError."""
        raise NotImplementedError(f"{type(self).__name__} has no scripted {kind!r} actions")

    # ---- tool client ------------------------------------------------------------------
    def build_tool_client(self) -> ToolClient:
        """A client for this env's tool server: `server_url` if given, else a new in-process
        server built from `server_options` / `server_settings`. Evaluation runs share one
        such client between many env instances (pass it as `tool_client=`)."""
        if self._server_url is not None:
            return ToolClient(self._server_url)
        server = make_tool_server(self.tool_server, **self._server_options)
        settings = ServerSettings.model_validate({**server.default_settings, **self._server_settings})
        return ToolClient.in_process(create_app(server, settings))

    @property
    def tools(self) -> list[ToolSpec]:
        """The tool specs (OpenAI shape) of this env's server; known after the first reset."""
        return list(self._tools)

    @property
    def prompt_tools(self) -> list[ToolSpec]:
        """The tool specs the agent loop renders into the prompt (none when
        `tool_schemas_in_prompt` is False)."""
        return self.tools if self.tool_schemas_in_prompt else []

    async def _ensure_client(self) -> ToolClient:
        if self._client is None:
            self._client = self.build_tool_client()
        if not self._tools:
            self._tools = list(await self._client.list_tools())
        return self._client

    async def _end_session(self) -> None:
        session, self._session = self._session, None
        if session is not None and self._client is not None:
            try:
                await self._client.delete_session(session)
            except ToolServerInfraError as exc:  # the server is gone; its reaper or death cleans up
                log.warning("could not delete session %s: %s", session, exc)
            except asyncio.CancelledError:  # maybe not deleted: keep the id, so that the next
                self._session = session  # `aend_episode`/`aclose`/`areset` deletes it (idempotent)
                raise

    async def aend_episode(self) -> None:
        self._done = True
        await self._end_session()

    async def aclose(self) -> None:
        await self._end_session()
        self._done = True
        if self._client is not None and self._owns_client:
            client, self._client = self._client, None
            await client.aclose()

    # ---- episode ----------------------------------------------------------------------
    async def areset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
                     ) -> tuple[list[Message], dict[str, Any]]:
        self.seed_episode(seed)
        task = choose_task(self.tasks, self._index, options or {}, self.np_random)
        client = await self._ensure_client()
        await self._end_session()
        self.task, self.turns, self._invalid_streak = task, [], 0
        self._counters = {"turns": 0, "tool_calls": 0, "tool_errors": 0, "invalid_actions": 0}
        self._session = await client.create_session(self.session_params(task), ttl_s=self.session_ttl_s)
        self._done = False
        messages = self.initial_messages(task, self._tools)
        self.transcript = [dict(m) for m in messages]  # type: ignore[misc]  # copies of TypedDicts
        return messages, {"task_id": self.task_id(task), "counters": dict(self._counters)}

    async def astep(self, action: str) -> StepResult:
        if self._done or self.task is None:
            raise EpisodeStateError("call reset() before step(), and again after an episode ends")
        if not isinstance(action, str):
            raise TypeError(f"actions are strings (the model's text), got {type(action).__name__}")
        turn = Turn(index=self._counters["turns"], action=action)
        self._counters["turns"] += 1
        self.turns.append(turn)
        self.transcript.append({"role": "assistant", "content": action})
        try:
            parsed: ParsedAction | None = self.parser.parse(action)
            error = ""
        except ParseError as exc:
            parsed, error = None, str(exc)
        try:
            if parsed is None:
                result = self._invalid(turn, error)
            elif parsed.final_answer is not None:
                result = await self._finish(turn, parsed.final_answer)
            else:
                result = await self._run_tools(turn, list(parsed.tool_calls))
        except INFRA_ERRORS as exc:
            result = self._env_error(turn, exc)
        if result[2] or result[3]:
            self._done = True
            await self._end_session()
        self.transcript.extend(dict(m) for m in result[0])  # type: ignore[misc]
        return result

    # ---- outcomes of one step ---------------------------------------------------------------
    def _info(self, turn: Turn, status: str, **extra: Any) -> dict[str, Any]:
        assert self.task is not None
        info: dict[str, Any] = {
            "task_id": self.task_id(self.task), "turn": turn.index, "status": status,
            "counters": dict(self._counters), "step_reward": turn.step_reward,
            "reward_parts": dict(turn.reward_parts), "invalid_action": turn.invalid,
            "final": turn.final, "env_error": False,
        }
        info.update(extra)
        return info

    def _add_step_reward(self, turn: Turn, name: str, count: int = 1) -> None:
        value = getattr(self.step_rewards, name) * count
        if value:
            turn.reward_parts[f"step/{name}"] = turn.reward_parts.get(f"step/{name}", 0.0) + value
            turn.step_reward += value

    def _continue_or_truncate(self, turn: Turn, obs: list[Message], **extra: Any) -> StepResult:
        turn.observation = [dict(m) for m in obs]  # type: ignore[misc]  # the caller may mutate `obs`
        if self._counters["turns"] >= self.max_turns:
            info = self._info(turn, "truncated", outcome_reward=0.0, success=False,
                              truncation_reason="max_turns", **extra)
            return obs, turn.step_reward, False, True, info
        return obs, turn.step_reward, False, False, self._info(turn, "running", **extra)

    def _invalid(self, turn: Turn, error: str) -> StepResult:
        turn.invalid = True
        self._invalid_streak += 1
        self._counters["invalid_actions"] += 1
        self._add_step_reward(turn, "invalid_action")
        obs: list[Message] = [user(f"Invalid action: {error}")]
        if self._invalid_streak >= self.max_invalid_actions:
            turn.observation = [dict(m) for m in obs]  # type: ignore[misc]
            info = self._info(turn, "truncated", outcome_reward=0.0, success=False,
                              truncation_reason="invalid_actions", error=error)
            return obs, turn.step_reward, False, True, info
        return self._continue_or_truncate(turn, obs, error=error)

    async def _run_tools(self, turn: Turn, calls: list[ToolCall]) -> StepResult:
        assert self._client is not None and self._session is not None
        self._invalid_streak = 0
        obs: list[Message] = []
        for position, call in enumerate(calls):
            if position >= self.max_tool_calls_per_turn:
                result = ToolResult(name=call.name, call_id=call.id, is_error=True,
                                    content=f"Not run: at most {self.max_tool_calls_per_turn} tool calls per turn.")
            else:
                try:
                    result = await self._client.call(self._session, call)
                except INFRA_ERRORS:
                    raise
                except ToolServerClientError as exc:  # unknown tool, bad arguments: the model's fault
                    result = ToolResult(name=call.name, call_id=call.id, is_error=True, content=f"Error: {exc}")
                self._counters["tool_calls"] += 1
                self._add_step_reward(turn, "tool_call")
            if result.is_error:
                self._counters["tool_errors"] += 1
                self._add_step_reward(turn, "tool_error")
            turn.tool_calls.append(call)
            turn.tool_results.append(result)
            obs.append(self.format_tool_result(result))
        return self._continue_or_truncate(turn, obs)

    def format_tool_result(self, result: ToolResult) -> Message:
        """The message the model sees for a tool result (override to reformat)."""
        return tool_message(result)

    async def _finish(self, turn: Turn, answer: str) -> StepResult:
        assert self._client is not None and self._session is not None and self.task is not None
        try:
            verdict = await self.grade(self.task, answer)
        except INFRA_ERRORS:
            raise
        except ToolServerClientError as exc:  # e.g. an answer over the server's size limit
            return self._invalid(turn, f"your answer was rejected: {exc}")
        self._invalid_streak = 0
        turn.final = True
        parts = {f"outcome/{k}": float(v) for k, v in verdict.parts.items()}
        info = self._info(turn, "completed", outcome_reward=float(verdict.reward), success=verdict.success,
                          outcome_parts=parts)
        return [], float(verdict.reward) + turn.step_reward, True, False, info

    def _env_error(self, turn: Turn, exc: Exception) -> StepResult:
        log.warning("env_error in %s on task %s: %s", self.env_id or type(self).__name__,
                    self.task_id(self.task) if self.task is not None else "?", exc)
        info = self._info(turn, "env_error", env_error=True, error=f"{type(exc).__name__}: {exc}",
                          outcome_reward=None, success=False)
        return [], math.nan, False, True, info
