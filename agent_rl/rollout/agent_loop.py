"""The agent loop: one episode of an env against an engine, token in, token out.

    prompt  = render(opening messages, tools)                  # once
    repeat: tokens, logprobs = engine.generate(prompt + response)
            response += tokens                                  (mask 1, behaviour logprobs, version)
            obs = env.step(decode(tokens))
            response += delta(obs)                              (mask 0)

The learner later sees `prompt_ids + response_ids` — exactly the sequence the model
was conditioned on, never a re-tokenized approximation. A weight update in the middle
of a turn aborts the generation; the loop keeps the tokens (tagged with the old
version) and continues the same turn under the new weights (a partial rollout).

Context modes:
  * "incremental" (default): the context only ever grows by the template delta of new
    messages; one episode = one training row.
  * "rerender": each turn re-renders the whole conversation with the chat template
    (what a chat API does; needed when a template rewrites history, e.g. drops earlier
    reasoning). When the new rendering does not extend the tokens of the current row,
    the loop *forks*: the row is closed and a new one starts from the new rendering —
    never silently mixing two contexts in one row. Rows of an episode share its
    `episode_id` (metadata) and its outcome.
  * "chat": the engine renders: each turn sends the whole conversation (images inline,
    in the OpenAI image message format) to an engine with `chat()` — an OpenAI-compatible
    server running a vision-language model — and gets back the prompt token ids it
    rendered and the sampled ids. The row grows like "rerender" (extend, else fork), from
    the server's own token ids, so the learner still sees exactly what was sampled.

Images: every image part of an observation is stored once in the loop's `ImageStore`
(in memory unless a directory is given) and listed on the row as an `ImageRef` (hash +
the turn whose observation carried it), in token order; the token stream holds the
template's placeholder for it.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from agent_rl.engines.base import Engine, FinishReason, GenerationResult, SamplingParams
from agent_rl.images import ImageStore, ImageStoreError, image_urls
from agent_rl.rollout.metrics import EngineBusyMeter
from agent_rl.rollout.renderer import ChatRenderer
from agent_rl.trajectory import ImageRef, Trajectory, TrajectoryStatus, TurnSpan
from envs.base import TextEnv
from envs.tool_env import INFRA_ERRORS


@dataclass(frozen=True, slots=True)
class LoopBudget:
    """Limits of one episode. Hitting a token budget ends it as `truncated`."""

    max_turns: int = 8
    #: prompt + response of the current row. In the "chat" context the server renders the
    #: context, so its length is known only after a call: the episode ends at the first
    #: turn that starts past the budget (a row may exceed it by one turn's context).
    max_total_tokens: int = 4096
    max_tokens_per_turn: int = 512
    max_resumes: int = 8  # partial-rollout continuations of one turn (weight updates)
    #: When a turn hits `max_tokens_per_turn` without ending itself: False ends the episode
    #: (truncated); True closes the turn and hands the cut text to the env.
    length_ends_turn: bool = False

    def __post_init__(self) -> None:
        for name in ("max_turns", "max_total_tokens", "max_tokens_per_turn"):
            if getattr(self, name) < 1:
                raise ValueError(f"LoopBudget.{name} must be ≥ 1, got {getattr(self, name)}")


@dataclass(slots=True)
class _Row:
    """One training row under construction."""

    prompt_ids: list[int]
    response_ids: list[int] = field(default_factory=list)
    loss_mask: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)
    turns: list[TurnSpan] = field(default_factory=list)
    images: list[ImageRef] = field(default_factory=list)

    def add_model(self, ids: list[int], logprobs: list[float], version: int) -> None:
        self.response_ids += ids
        self.loss_mask += [1] * len(ids)
        self.logprobs += logprobs
        self.versions += [version] * len(ids)

    def add_context(self, ids: list[int]) -> None:
        self.response_ids += ids
        self.loss_mask += [0] * len(ids)
        self.logprobs += [0.0] * len(ids)
        self.versions += [-1] * len(ids)

    @property
    def tokens(self) -> list[int]:
        return self.prompt_ids + self.response_ids


@dataclass(slots=True)
class _Episode:
    """Everything about one episode besides its rows' tokens."""

    task_id: str
    tools: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    rows: list[_Row] = field(default_factory=list)
    status: TrajectoryStatus = TrajectoryStatus.TRUNCATED
    reward: float | None = 0.0
    parts: dict[str, float] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    finish: str = ""
    error: str = ""
    env_done: bool = False
    success: bool = False
    engine_s: float = 0.0
    env_s: float = 0.0
    resumes: int = 0
    forks: int = 0
    images: list[str] = field(default_factory=list)  # digests of every image so far, in order
    pending_images: list[ImageRef] = field(default_factory=list)  # not yet in a row (rerender/chat)

    @property
    def row(self) -> _Row:
        return self.rows[-1]


class AgentLoop:
    """Runs episodes of text envs with an engine and a chat renderer.

    Args:
        engine: generates tokens.
        renderer: the model's chat template (prompt and observation deltas).
        sampling: sampling parameters (its `max_new_tokens` is capped by the budget).
        budget: turn and token limits.
        context: "incremental", "rerender" or "chat" (see the module docstring).
        image_store: where observation images go (default: in memory).
    """

    def __init__(self, engine: Engine, renderer: ChatRenderer, sampling: SamplingParams | None = None,
                 budget: LoopBudget | None = None,
                 context: Literal["incremental", "rerender", "chat"] = "incremental",
                 image_store: ImageStore | None = None) -> None:
        if context not in ("incremental", "rerender", "chat"):
            raise ValueError(f"context must be 'incremental', 'rerender' or 'chat', got {context!r}")
        if context == "chat" and not callable(getattr(engine, "chat", None)):
            raise ValueError(f"context='chat' needs an engine with chat() (e.g. 'openai'); "
                             f"{type(engine).__name__} only takes token ids")
        self.image_store = image_store if image_store is not None else ImageStore(None)
        self.engine = engine
        self.renderer = renderer
        self.sampling = sampling or SamplingParams()
        self.budget = budget or LoopBudget()
        self.context = context
        self.busy_meter = EngineBusyMeter()  # time with ≥ 1 generation in flight, over all episodes

    async def run(self, env: TextEnv, *, seed: int | None = None, options: dict[str, Any] | None = None,
                  group_id: str = "", episode_id: str | None = None) -> list[Trajectory]:
        """Play one episode; returns its training rows (one, unless the context forked).
        Infrastructure failures come back as `env_error` rows, never as exceptions."""
        episode_id = episode_id or uuid.uuid4().hex
        started = time.perf_counter()
        try:
            observation, info = await env.areset(seed=seed, options=options)
        except INFRA_ERRORS as exc:
            ep = _Episode(task_id=str((options or {}).get("task_index", "")), tools=[], messages=[],
                          rows=[_Row(prompt_ids=[])], status=TrajectoryStatus.ENV_ERROR, reward=None,
                          error=f"reset: {type(exc).__name__}: {exc}", env_done=True)
            return self._rows(ep, env, group_id, episode_id, seed, options, started)
        tools = [t.model_dump() for t in getattr(env, "prompt_tools", getattr(env, "tools", []))]
        ep = _Episode(task_id=str(info.get("task_id", "")), tools=tools, messages=[dict(m) for m in observation])
        ep.rows.append(_Row(prompt_ids=[] if self.context == "chat" else self.renderer.render_prompt(observation, tools)))
        try:
            ep.row.images += self._store_images(ep, observation, turn=-1)
        except ImageStoreError as exc:  # the env's observation is broken: not the policy's doing
            ep.status, ep.reward, ep.error = TrajectoryStatus.ENV_ERROR, None, f"reset: observation image: {exc}"
            await env.aend_episode()
            return self._rows(ep, env, group_id, episode_id, seed, options, started)
        for _ in range(self.budget.max_turns):
            if not await self._turn(env, ep, f"{episode_id}-{len(ep.row.turns)}-{ep.forks}"):
                break
        if not ep.env_done:
            await env.aend_episode()  # a budget stopped it, not the env: release its session now
        return self._rows(ep, env, group_id, episode_id, seed, options, started)

    async def _generate_turn(self, ep: _Episode, request_id: str) -> tuple[list[int], FinishReason, int]:
        """One assistant turn, resumed across weight updates. Returns its tokens, why it
        ended, and how many of them are in the current row (fewer if a chat call forked)."""
        turn_ids: list[int] = []
        in_row = 0
        while True:
            room = min(self.budget.max_tokens_per_turn - len(turn_ids),
                       self.budget.max_total_tokens - len(ep.row.tokens))
            if room < 1:
                return turn_ids, FinishReason.LENGTH, in_row
            sampling = replace(self.sampling, max_new_tokens=min(self.sampling.max_new_tokens, room))
            started, forks = time.perf_counter(), ep.forks
            self.busy_meter.enter()
            try:
                if self.context == "chat":
                    result = await self._chat(ep, turn_ids, sampling, request_id)
                else:
                    result = await self.engine.generate(ep.row.tokens, sampling, request_id=request_id)
            finally:
                self.busy_meter.exit()
            ep.engine_s += time.perf_counter() - started
            ep.row.add_model(result.token_ids, result.logprobs, result.weight_version)
            turn_ids += result.token_ids
            in_row = (in_row if ep.forks == forks else 0) + len(result.token_ids)
            if result.finish_reason is not FinishReason.ABORT or ep.resumes >= self.budget.max_resumes:
                return turn_ids, result.finish_reason, in_row
            ep.resumes += 1  # partial rollout: continue this turn under the new weights

    async def _turn(self, env: TextEnv, ep: _Episode, request_id: str) -> bool:
        """Generate one turn and step the env with it; False when the episode is over."""
        turn_ids, reason, in_row = await self._generate_turn(ep, request_id)
        start = len(ep.row.response_ids) - in_row  # ("chat" adds the context inside the call)
        ep.finish = reason.value
        cut = reason is FinishReason.LENGTH and not self.renderer.ends_turn(turn_ids)
        room_left = self.budget.max_total_tokens - len(ep.row.tokens)
        if cut and not (self.budget.length_ends_turn and len(turn_ids) >= self.budget.max_tokens_per_turn
                        and room_left > 0):
            ep.row.turns.append(TurnSpan(start, len(ep.row.response_ids)))
            return False  # a token budget ran out mid-turn: truncated
        text = self.renderer.decode(turn_ids)
        step_started = time.perf_counter()
        observation, _, terminated, truncated, info = await env.astep(text)
        ep.env_s += time.perf_counter() - step_started
        tool_calls_before = ep.counters.get("tool_calls", 0)
        ep.counters = dict(info.get("counters", {}))
        done = terminated or truncated
        refs: list[ImageRef] = []
        image_error = ""
        if not done:
            try:
                refs = self._store_images(ep, observation, turn=len(ep.row.turns))
            except ImageStoreError as exc:
                image_error, done = f"observation image: {exc}", True
        ep.messages += [{"role": "assistant", "content": text}, *(dict(m) for m in observation)]
        if not done and self.context == "incremental":
            ep.row.add_context(self.renderer.delta(turn_ids, observation).ids)
        if not done:
            if self.context == "incremental":
                ep.row.images += refs
            else:  # the row takes them when the next rendering extends it (a fork re-lists all)
                ep.pending_images = refs
        ep.row.turns.append(TurnSpan(start, len(ep.row.response_ids), step_reward=float(info.get("step_reward", 0.0)),
                                     reward_parts=dict(info.get("reward_parts", {})),
                                     num_tool_calls=ep.counters.get("tool_calls", 0) - tool_calls_before))
        if not done and self.context == "rerender":
            self._extend_or_fork(ep)  # ("chat" does this with the server's ids, next turn)
        if image_error:  # the env has not ended: `run` releases its session
            ep.status, ep.reward, ep.error = TrajectoryStatus.ENV_ERROR, None, image_error
        elif info.get("env_error"):
            ep.status, ep.reward, ep.env_done = TrajectoryStatus.ENV_ERROR, None, True
            ep.error = str(info.get("error", ""))
        elif done:
            ep.status = TrajectoryStatus.COMPLETED if terminated else TrajectoryStatus.TRUNCATED
            ep.reward, ep.env_done = float(info.get("outcome_reward") or 0.0), True
            ep.parts, ep.success = dict(info.get("outcome_parts", {})), bool(info.get("success", False))
        return not done

    def _extend_or_fork(self, ep: _Episode, rendered: list[int] | None = None) -> None:
        """Re-render the conversation; extend the row if it is a strict extension, else fork
        (the new row's prompt holds every image seen so far)."""
        rendered = self.renderer.render_full(ep.messages, ep.tools) if rendered is None else rendered
        current = ep.row.tokens
        if rendered[: len(current)] == current:
            ep.row.add_context(rendered[len(current):])
            ep.row.images += ep.pending_images
        else:
            ep.forks += 1
            ep.rows.append(_Row(prompt_ids=rendered, images=[ImageRef(d) for d in ep.images]))
        ep.pending_images = []

    def _store_images(self, ep: _Episode, messages: list[Any], turn: int) -> list[ImageRef]:
        """Store the images of `messages` once each; their refs (turn -1 = the prompt)."""
        digests = [self.image_store.put_url(url) for url in image_urls(messages)]
        ep.images += digests
        return [ImageRef(digest, turn) for digest in digests]

    async def _chat(self, ep: _Episode, turn_ids: list[int], sampling: SamplingParams,
                    request_id: str) -> GenerationResult:
        """One chat call (context="chat"): the conversation so far goes out with its images
        inline; the server's prompt ids start, extend or fork the row. A turn resumed after an
        abort continues the assistant message sampled so far."""
        messages = list(ep.messages)
        if turn_ids:
            messages.append({"role": "assistant", "content": self.renderer.decode(turn_ids)})
        prompt_ids, result = await self.engine.chat(  # type: ignore[attr-defined]  # checked in __init__
            self.image_store.inline(messages), sampling, tools=ep.tools or None, request_id=request_id,
            continue_final_message=bool(turn_ids))
        if not prompt_ids:
            pass  # aborted before the server rendered anything: the turn is retried
        elif not ep.row.prompt_ids and not ep.row.response_ids:
            ep.row.prompt_ids = list(prompt_ids)
        elif list(prompt_ids) != ep.row.tokens:
            self._extend_or_fork(ep, list(prompt_ids))
        return result

    def _rows(self, ep: _Episode, env: TextEnv, group_id: str, episode_id: str, seed: int | None,
              options: dict[str, Any] | None, started: float) -> list[Trajectory]:
        metadata = {"episode_id": episode_id, "engine_s": round(ep.engine_s, 6), "env_s": round(ep.env_s, 6),
                    "resumes": ep.resumes, "forks": ep.forks, "finish_reason": ep.finish, "success": ep.success,
                    "wall_s": round(time.perf_counter() - started, 6), "seed": seed,
                    "task_index": (options or {}).get("task_index"),
                    "error": ep.error if ep.status is TrajectoryStatus.ENV_ERROR else ""}
        return [
            Trajectory(
                trajectory_id=f"{episode_id}-{index}" if len(ep.rows) > 1 else episode_id, group_id=group_id,
                task_id=ep.task_id, env_id=env.env_id, prompt_ids=row.prompt_ids, response_ids=row.response_ids,
                loss_mask=row.loss_mask, behavior_logprobs=row.logprobs, policy_version=row.versions,
                turns=row.turns, status=ep.status, outcome_reward=ep.reward, reward_parts=dict(ep.parts),
                counters=dict(ep.counters), metadata={**metadata, "row": index, "rows": len(ep.rows)},
                images=list(row.images),
            )
            for index, row in enumerate(ep.rows)
        ]
