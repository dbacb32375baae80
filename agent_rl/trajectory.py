"""The token-level `Trajectory`: the record the learner trains on.

One `Trajectory` is one row of training data: the prompt the engine saw and every token
after it, exactly as the engine saw and produced them (token-in, token-out; history is
never re-tokenized, see REFERENCE.md §1). Model tokens and env tokens share one
`response_ids` row; `loss_mask` tells them apart.

Layout of one row with two turns (M = model token, mask 1; O = observation/template
token, mask 0)::

    prompt_ids   | response_ids
    P P P P P P  | M M M O O O O M M M M
                 | 0 1 2 3 4 5 6 7 8 9 10    <- indices into response_ids
                 | turns[0] = [0, 7)  turns[1] = [7, 11)

Construction validates the whole contract in O(n) using C-level builtins (no pydantic on
this hot path), so a broken rollout fails where it is built. Serialisation is one JSON
object per line (see `Trajectory.to_json_line`); loading validates the line with a pydantic
model (`extra="forbid"`) first, so a corrupt or foreign line names its bad field.

JSON encoding (schema version 2; version 1 = no `images`):

- Keys are the dataclass field names plus `"schema_version"`; `status` is its string.
- Floats are written with `repr` (Python's `json`), which round-trips every finite float,
  subnormals and -0.0 included, bit for bit.
- `behavior_logprobs` may hold -inf (a token the engine scored as impossible). JSON has no
  infinity, and the non-standard `-Infinity` literal breaks other readers, so -inf is
  stored as the string `"-inf"`. No other field may hold a non-finite number.
- `images` (image references, `ImageRef`) is written only when a row has images, so
  text-only lines are unchanged; the image bytes live in an `ImageStore` beside the file.
- Lines are pure ASCII (`ensure_ascii=True`): any string, even one with lone surrogates,
  survives, and a newline inside a string is escaped, so one record is always one line.
"""

from __future__ import annotations

import enum
import json
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import compress
from typing import Any, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from agent_rl.errors import InvalidTrajectoryError, TrajectoryFormatError

__all__ = [
    "JSON",
    "SCHEMA_VERSION",
    "ImageRef",
    "Trajectory",
    "TrajectoryStatus",
    "TurnSpan",
]

JSON: TypeAlias = JsonValue
"""A JSON value: None, bool, int, float, str, list of JSON, or dict of str to JSON."""

_SHA256 = re.compile(r"[0-9a-f]{64}")
SCHEMA_VERSION = 2
"""Version of the JSON line layout. Bump it (and keep a reader for the old one) on any change.
Version 2 added `images`; a row without images is still written as version 1."""

_NEG_INF = float("-inf")
_NEG_INF_JSON = "-inf"  # how -inf in behavior_logprobs is stored (JSON has no infinity)


class TrajectoryStatus(enum.StrEnum):
    """How an episode ended. Only `env_error` says nothing about the policy."""

    COMPLETED = "completed"  # the env terminated the episode (final answer, goal, failure)
    TRUNCATED = "truncated"  # a turn, token or time budget ran out before the env terminated
    ENV_ERROR = "env_error"  # infrastructure failed (tool server, sandbox): retried, never scored
    ABORTED = "aborted"  # stopped from outside (shutdown, staleness bound, cancellation)


@dataclass(frozen=True, slots=True)
class TurnSpan:
    """One turn of the agent loop, as a half-open range `[start, end)` of `response_ids`.

    The range covers the turn's model tokens (mask 1) *and* the observation/template tokens
    appended after them (mask 0), so consecutive turns tile the response. Within a span the
    model tokens come first; `loss_mask` marks where the observation starts.

    Args:
        start: first index of the turn in `response_ids` (inclusive), ≥ 0.
        end: one past the turn's last token (exclusive), ≥ start. An empty turn is allowed
            (e.g. an engine call aborted before it produced a token).
        step_reward: process reward the env gave for this turn (0.0 when it gives none).
        reward_parts: named components of `step_reward`, for logging.
        num_tool_calls: tool calls the model made in this turn.
    """

    start: int
    end: int
    step_reward: float = 0.0
    reward_parts: dict[str, float] = field(default_factory=dict)
    num_tool_calls: int = 0

    def __post_init__(self) -> None:
        for name in ("start", "end", "num_tool_calls"):
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise InvalidTrajectoryError(f"TurnSpan.{name} must be an int ≥ 0, got {value!r}")
        if self.end < self.start:
            raise InvalidTrajectoryError(
                f"TurnSpan end ({self.end}) is before start ({self.start}); spans are [start, end)"
            )
        object.__setattr__(
            self, "step_reward", _finite_float("TurnSpan.step_reward", self.step_reward)
        )
        _check_reward_parts("TurnSpan.reward_parts", self.reward_parts)

    def __len__(self) -> int:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class ImageRef:
    """An image the model saw, by content hash (the bytes live in an `ImageStore`).

    Images are stored once, outside the JSONL line (a screenshot is ~100 kB of base64), and
    listed in the order they appear in the token stream, so a vision-language learner can
    pair them with the image placeholders of `prompt_ids + response_ids` one by one.

    Args:
        sha256: hex digest of the image bytes (the `ImageStore` key).
        turn: -1 for an image in the prompt; k for one in the observation that follows
            turn k (`turns[k]`).
    """

    sha256: str
    turn: int = -1

    def __post_init__(self) -> None:
        if not isinstance(self.sha256, str) or not _SHA256.fullmatch(self.sha256):
            raise InvalidTrajectoryError(f"ImageRef.sha256 must be 64 lowercase hex digits, got {self.sha256!r}")
        if type(self.turn) is not int or self.turn < -1:
            raise InvalidTrajectoryError(f"ImageRef.turn must be an int ≥ -1, got {self.turn!r}")


@dataclass(slots=True, kw_only=True)
class Trajectory:
    """One training row: a prompt, the tokens after it, and what the learner needs to use them.

    Per-token lists (`response_ids`, `loss_mask`, `behavior_logprobs`, `policy_version`)
    all have length T = len(response_ids) and are aligned index by index.

    Args:
        trajectory_id: unique id of this row.
        group_id: id shared by the G samples of one task (group-relative advantages) and by
            the rows of one forked episode.
        task_id: id of the task in the env's task set.
        env_id: registry id of the env that produced it.
        prompt_ids: (P,) token ids of the initial rendered context (system, tools, user).
        response_ids: (T,) every token after the prompt, model and env alike, exactly as the
            engine saw them. Python ints ≥ 0 (convert tensors with `.tolist()`).
        loss_mask: (T,) 1 = sampled by the policy (trained on); 0 = env/tool/template token
            (context only).
        behavior_logprobs: (T,) log μ(token) reported by the engine when it sampled the
            token, for mask-1 positions; exactly 0.0 at mask-0 positions. Each is ≤ 0 and
            not NaN; -inf is allowed. Off-policy corrections (TIS, decoupled PPO) divide by
            these, so they must be the sampler's numbers, never recomputed.
        policy_version: (T,) weight version that sampled each mask-1 token (≥ 0); -1 at
            mask-0 positions. Per token, not per row, because a partial rollout that is
            interrupted by a weight update resumes under the new weights: one row can span
            several versions, and staleness and importance weights are per token.
        status: how the episode ended (see `TrajectoryStatus`).
        turns: spans of `response_ids`, one per turn, sorted and non-overlapping.
        outcome_reward: the env's final reward, or None when there is none. An `env_error`
            row must have None: infrastructure failures are retried, never scored as 0.
            Envs that only give step rewards set 0.0 here.
        reward_parts: named components of `outcome_reward`, for logging.
        counters: episode counts such as `turns`, `tool_calls`, `tool_errors`,
            `invalid_actions` (ints ≥ 0; any names).
        metadata: free-form JSON (stop reason, fork parent, timings). Lists and dicts only,
            no tuples, no NaN/inf, so it survives the JSON round trip unchanged.
        created_at: Unix time the row was built.

    Raises:
        InvalidTrajectoryError: when any field breaks the contract above; the message names
            the field, the bad value and its index.

    Example:
        >>> traj = Trajectory(
        ...     trajectory_id="t0", group_id="g0", task_id="add-1", env_id="math-v0",
        ...     prompt_ids=[1, 2, 3],
        ...     response_ids=[10, 11, 20, 21, 12],
        ...     loss_mask=[1, 1, 0, 0, 1],
        ...     behavior_logprobs=[-0.1, -0.5, 0.0, 0.0, -0.2],
        ...     policy_version=[3, 3, -1, -1, 4],
        ...     status=TrajectoryStatus.COMPLETED,
        ...     turns=[TurnSpan(0, 4, step_reward=0.1), TurnSpan(4, 5)],
        ...     outcome_reward=1.0,
        ... )
        >>> traj.num_model_tokens, traj.total_reward, traj.is_scorable
        (3, 1.1, True)
        >>> Trajectory.from_json_line(traj.to_json_line()) == traj
        True
    """

    trajectory_id: str
    group_id: str
    task_id: str
    env_id: str
    prompt_ids: list[int]
    response_ids: list[int]
    loss_mask: list[int]
    behavior_logprobs: list[float]
    policy_version: list[int]
    status: TrajectoryStatus
    turns: list[TurnSpan] = field(default_factory=list)
    outcome_reward: float | None = None
    reward_parts: dict[str, float] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    metadata: dict[str, JSON] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)
    images: list[ImageRef] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.status = _parse_status(self.status)
        if self.outcome_reward is not None:
            self.outcome_reward = _finite_float("outcome_reward", self.outcome_reward)
        self.created_at = _finite_float("created_at", self.created_at)
        self.validate()

    def validate(self) -> None:
        """Check the whole contract in O(T). Called by the constructor; call it again after
        mutating a trajectory in place.

        Raises:
            InvalidTrajectoryError: naming the first broken rule.
        """
        for name in ("trajectory_id", "group_id", "task_id", "env_id"):
            if not isinstance(getattr(self, name), str):
                raise InvalidTrajectoryError(f"{name} must be a str, got {getattr(self, name)!r}")
        if not self.trajectory_id:
            raise InvalidTrajectoryError("trajectory_id must be a non-empty string")
        if not isinstance(self.status, TrajectoryStatus):
            raise InvalidTrajectoryError(f"status must be a TrajectoryStatus, got {self.status!r}")
        if self.outcome_reward is not None:
            _finite_float("outcome_reward", self.outcome_reward)
        _finite_float("created_at", self.created_at)
        if self.status is TrajectoryStatus.ENV_ERROR and self.outcome_reward is not None:
            raise InvalidTrajectoryError(
                f"an env_error trajectory has outcome_reward={self.outcome_reward!r}; infra "
                "failures are retried, never scored: set outcome_reward=None"
            )
        _check_token_ids("prompt_ids", self.prompt_ids)
        self._check_per_token_lists()
        self._check_turns()
        _check_reward_parts("reward_parts", self.reward_parts)
        _check_counters(self.counters)
        if not isinstance(self.metadata, dict):
            raise InvalidTrajectoryError(
                f"metadata must be a dict, got {type(self.metadata).__name__}"
            )
        _check_json_object("metadata", self.metadata)
        self._check_images()

    def _check_per_token_lists(self) -> None:
        for name in ("response_ids", "loss_mask", "behavior_logprobs", "policy_version"):
            if not isinstance(getattr(self, name), list):
                raise InvalidTrajectoryError(
                    f"{name} must be a list, got {type(getattr(self, name)).__name__}"
                )
        length = len(self.response_ids)
        for name in ("loss_mask", "behavior_logprobs", "policy_version"):
            if len(getattr(self, name)) != length:
                raise InvalidTrajectoryError(
                    f"{name} has length {len(getattr(self, name))} but response_ids has "
                    f"{length}; every per-token list must align with response_ids"
                )
        _check_token_ids("response_ids", self.response_ids)
        mask = self.loss_mask
        _check_exact_type("loss_mask", mask, int)
        if mask.count(0) + mask.count(1) != length:
            index, value = next((i, m) for i, m in enumerate(mask) if m not in (0, 1))
            raise InvalidTrajectoryError(f"loss_mask[{index}] = {value!r}; values must be 0 or 1")
        env_positions = [not m for m in mask]
        _check_logprobs(self.behavior_logprobs, env_positions)
        _check_versions(self.policy_version, mask, env_positions)

    def _check_turns(self) -> None:
        if not isinstance(self.turns, list):
            raise InvalidTrajectoryError(f"turns must be a list, got {type(self.turns).__name__}")
        previous_end = 0
        for index, span in enumerate(self.turns):
            if not isinstance(span, TurnSpan):
                raise InvalidTrajectoryError(f"turns[{index}] must be a TurnSpan, got {span!r}")
            if span.start < previous_end:
                raise InvalidTrajectoryError(
                    f"turns[{index}] = [{span.start}, {span.end}) starts before the previous "
                    f"turn ends ({previous_end}); turns must be sorted and non-overlapping"
                )
            previous_end = span.end
        if previous_end > len(self.response_ids):
            raise InvalidTrajectoryError(
                f"turns[-1] ends at {previous_end}, past the end of response_ids "
                f"(length {len(self.response_ids)})"
            )

    def _check_images(self) -> None:
        if not isinstance(self.images, list):
            raise InvalidTrajectoryError(f"images must be a list, got {type(self.images).__name__}")
        previous = -1
        for index, ref in enumerate(self.images):
            if not isinstance(ref, ImageRef):
                raise InvalidTrajectoryError(f"images[{index}] must be an ImageRef, got {ref!r}")
            if ref.turn < previous or ref.turn >= len(self.turns):
                raise InvalidTrajectoryError(
                    f"images[{index}].turn = {ref.turn} is out of order or past the last turn "
                    f"({len(self.turns)} turns); images are listed in token order")
            previous = ref.turn

    # ----------------------------------------------------------------- derived values

    @property
    def num_model_tokens(self) -> int:
        """Number of tokens sampled by the policy (mask 1): the tokens the loss sees."""
        return self.loss_mask.count(1)

    @property
    def num_turns(self) -> int:
        """Number of turn spans."""
        return len(self.turns)

    @property
    def total_reward(self) -> float | None:
        """`outcome_reward` plus every turn's `step_reward`; None when there is no outcome
        (the row is not scorable, see `is_scorable`)."""
        if self.outcome_reward is None:
            return None
        return self.outcome_reward + math.fsum(span.step_reward for span in self.turns)

    @property
    def is_scorable(self) -> bool:
        """True when the row may enter advantage estimation: not an env error, has an outcome."""
        return self.status is not TrajectoryStatus.ENV_ERROR and self.outcome_reward is not None

    # ------------------------------------------------------------------- JSON lines

    def to_json_line(self) -> str:
        """Encode as one line of JSON (no trailing newline); see the module docstring.

        Returns:
            An ASCII string that `Trajectory.from_json_line` turns back into an equal
            trajectory, every float bit for bit.
        """
        logprobs: list[float] | list[float | str] = self.behavior_logprobs
        if logprobs and min(logprobs) == _NEG_INF:
            logprobs = [_NEG_INF_JSON if lp == _NEG_INF else lp for lp in logprobs]
        record: dict[str, Any] = {  # Any: heterogeneous JSON object
            "schema_version": 1,  # 2 below when the row has images
            "trajectory_id": self.trajectory_id,
            "group_id": self.group_id,
            "task_id": self.task_id,
            "env_id": self.env_id,
            "prompt_ids": self.prompt_ids,
            "response_ids": self.response_ids,
            "loss_mask": self.loss_mask,
            "behavior_logprobs": logprobs,
            "policy_version": self.policy_version,
            "status": self.status.value,
            "turns": [
                {
                    "start": s.start,
                    "end": s.end,
                    "step_reward": s.step_reward,
                    "reward_parts": s.reward_parts,
                    "num_tool_calls": s.num_tool_calls,
                }
                for s in self.turns
            ],
            "outcome_reward": self.outcome_reward,
            "reward_parts": self.reward_parts,
            "counters": self.counters,
            "metadata": self.metadata,
            "created_at": self.created_at,
        }
        if self.images:  # absent when empty: text-only lines stay exactly as before (version 1)
            record["schema_version"] = 2
            record["images"] = [{"sha256": ref.sha256, "turn": ref.turn} for ref in self.images]
        return json.dumps(record, ensure_ascii=True, allow_nan=False, separators=(",", ":"))

    @classmethod
    def from_json_line(cls, line: str | bytes) -> Trajectory:
        """Decode one line written by `to_json_line` and validate it fully.

        Args:
            line: one JSON object; surrounding whitespace (the newline) is ignored.

        Returns:
            The trajectory, equal to the one that was written.

        Raises:
            TrajectoryFormatError: the line is not JSON, has the wrong schema version,
                a missing/unknown/mistyped field (named in the message), or breaks the
                contract `Trajectory` enforces.
        """
        try:
            raw = json.loads(line, parse_constant=_reject_constant)
        except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
            raise TrajectoryFormatError(f"not a JSON line: {exc}") from exc
        if not isinstance(raw, dict):
            raise TrajectoryFormatError(f"expected a JSON object, got {type(raw).__name__}")
        version = raw.get("schema_version")
        if version not in (1, SCHEMA_VERSION):
            raise TrajectoryFormatError(
                f"schema_version is {version!r}; this agent-rl reads versions 1 to {SCHEMA_VERSION} "
                "(a newer file needs a newer agent-rl; a missing version is not a trajectory)"
            )
        logprobs = raw.get("behavior_logprobs")
        if isinstance(logprobs, list) and _NEG_INF_JSON in logprobs:
            raw["behavior_logprobs"] = [_NEG_INF if lp == _NEG_INF_JSON else lp for lp in logprobs]
        try:
            record = _TrajectoryRecord.model_validate(raw)
        except ValidationError as exc:
            raise TrajectoryFormatError(_describe(exc)) from exc
        try:
            return record.to_trajectory()
        except InvalidTrajectoryError as exc:
            raise TrajectoryFormatError(f"stored trajectory is invalid: {exc}") from exc


# --------------------------------------------------------------------- validation helpers


def _parse_status(value: object) -> TrajectoryStatus:
    try:
        return TrajectoryStatus(value)
    except ValueError:
        known = ", ".join(s.value for s in TrajectoryStatus)
        raise InvalidTrajectoryError(f"status {value!r} is not one of: {known}") from None


def _finite_float(name: str, value: object) -> float:
    if type(value) is bool or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidTrajectoryError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _first_bad(values: Iterable[Any], is_bad: Callable[[Any], bool]) -> tuple[int, Any]:
    """(index, value) of the first bad element; only called on the error path.

    Any: callers pass lists whose element types are exactly what is being checked.
    """
    return next((i, v) for i, v in enumerate(values) if is_bad(v))


def _check_exact_type(name: str, values: list[Any], expected: type) -> None:  # Any: checked here
    if not isinstance(values, list):
        raise InvalidTrajectoryError(f"{name} must be a list, got {type(values).__name__}")
    if any(t is not expected for t in set(map(type, values))):
        index, value = _first_bad(values, lambda v: type(v) is not expected)
        raise InvalidTrajectoryError(
            f"{name}[{index}] = {value!r} has type {type(value).__name__}; {name} must hold "
            f"Python {expected.__name__}s (convert tensors and arrays with .tolist())"
        )


def _check_token_ids(name: str, ids: list[int]) -> None:
    _check_exact_type(name, ids, int)
    if ids and min(ids) < 0:
        index, value = _first_bad(ids, lambda v: v < 0)
        raise InvalidTrajectoryError(f"{name}[{index}] = {value}; token ids must be ≥ 0")


def _check_logprobs(logprobs: list[float], env_positions: list[bool]) -> None:
    if not isinstance(logprobs, list):
        raise InvalidTrajectoryError(
            f"behavior_logprobs must be a list, got {type(logprobs).__name__}"
        )
    if any(not issubclass(t, float) and t is not int for t in set(map(type, logprobs))):
        index, value = _first_bad(
            logprobs, lambda v: not isinstance(v, float) and type(v) is not int
        )
        raise InvalidTrajectoryError(
            f"behavior_logprobs[{index}] = {value!r} has type {type(value).__name__}; use "
            "Python floats (convert tensors and arrays with .tolist())"
        )
    if any(map(math.isnan, logprobs)):
        index, _ = _first_bad(logprobs, math.isnan)
        raise InvalidTrajectoryError(
            f"behavior_logprobs[{index}] is NaN; the engine sent a bad logprob"
        )
    if logprobs and max(logprobs) > 0:
        index, value = _first_bad(logprobs, lambda v: v > 0)
        raise InvalidTrajectoryError(
            f"behavior_logprobs[{index}] = {value!r} > 0; a log-probability is ≤ 0"
        )
    if any(lp != 0.0 for lp in set(compress(logprobs, env_positions))):
        index = next(i for i, env in enumerate(env_positions) if env and logprobs[i] != 0.0)
        raise InvalidTrajectoryError(
            f"behavior_logprobs[{index}] = {logprobs[index]!r} at a loss_mask=0 position; "
            "env tokens carry logprob 0.0"
        )


def _check_versions(versions: list[int], mask: list[int], env_positions: list[bool]) -> None:
    _check_exact_type("policy_version", versions, int)
    if any(v != -1 for v in set(compress(versions, env_positions))):
        index = next(i for i, env in enumerate(env_positions) if env and versions[i] != -1)
        raise InvalidTrajectoryError(
            f"policy_version[{index}] = {versions[index]} at a loss_mask=0 position; env tokens "
            "carry version -1"
        )
    if min(compress(versions, mask), default=0) < 0:
        index = next(i for i, m in enumerate(mask) if m and versions[i] < 0)
        raise InvalidTrajectoryError(
            f"policy_version[{index}] = {versions[index]} at a model token; versions are ≥ 0"
        )


def _check_reward_parts(name: str, parts: Mapping[str, float]) -> None:
    if not isinstance(parts, dict):
        raise InvalidTrajectoryError(f"{name} must be a dict, got {type(parts).__name__}")
    for key, value in parts.items():
        if not isinstance(key, str):
            raise InvalidTrajectoryError(f"{name} keys must be str, got {key!r}")
        _finite_float(f"{name}[{key!r}]", value)


def _check_counters(counters: Mapping[str, int]) -> None:
    if not isinstance(counters, dict):
        raise InvalidTrajectoryError(f"counters must be a dict, got {type(counters).__name__}")
    for key, value in counters.items():
        if not isinstance(key, str) or type(value) is not int or value < 0:
            raise InvalidTrajectoryError(
                f"counters[{key!r}] = {value!r}; counters map str to an int ≥ 0"
            )


def _check_json_object(path: str, value: object) -> None:
    """Reject what would not survive the JSON round trip unchanged (tuples, NaN, non-str keys)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidTrajectoryError(f"{path} has a non-str key {key!r}; JSON keys are str")
            _check_json_object(f"{path}[{key!r}]", item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_json_object(f"{path}[{index}]", item)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidTrajectoryError(f"{path} = {value!r}; JSON has no NaN or infinity")
    elif value is not None and not isinstance(value, (str, int)):
        raise InvalidTrajectoryError(
            f"{path} has type {type(value).__name__}; metadata holds only JSON values "
            "(None, bool, int, float, str, list, dict)"
        )


# ---------------------------------------------------------------- stored-record schema


class _TurnRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    start: int
    end: int
    step_reward: float
    reward_parts: dict[str, float]
    num_tool_calls: int


class _ImageRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    sha256: str
    turn: int


class _TrajectoryRecord(BaseModel):
    """Shape of a stored line (after -inf decoding). Boundary validation only."""

    model_config = ConfigDict(extra="forbid", strict=True)

    schema_version: int
    trajectory_id: str
    group_id: str
    task_id: str
    env_id: str
    prompt_ids: list[int]
    response_ids: list[int]
    loss_mask: list[int]
    behavior_logprobs: list[float]
    policy_version: list[int]
    status: TrajectoryStatus = Field(strict=False)  # stored as its string value
    turns: list[_TurnRecord]
    outcome_reward: float | None
    reward_parts: dict[str, float]
    counters: dict[str, int]
    metadata: dict[str, JsonValue]
    created_at: float
    images: list[_ImageRecord] = []

    def to_trajectory(self) -> Trajectory:
        return Trajectory(
            trajectory_id=self.trajectory_id,
            group_id=self.group_id,
            task_id=self.task_id,
            env_id=self.env_id,
            prompt_ids=self.prompt_ids,
            response_ids=self.response_ids,
            loss_mask=self.loss_mask,
            behavior_logprobs=self.behavior_logprobs,
            policy_version=self.policy_version,
            status=self.status,
            turns=[
                TurnSpan(t.start, t.end, t.step_reward, t.reward_parts, t.num_tool_calls)
                for t in self.turns
            ],
            outcome_reward=self.outcome_reward,
            reward_parts=self.reward_parts,
            counters=self.counters,
            metadata=self.metadata,
            created_at=self.created_at,
            images=[ImageRef(i.sha256, i.turn) for i in self.images],
        )


def _reject_constant(name: str) -> float:
    raise ValueError(f"non-standard JSON constant {name}; non-finite numbers are not stored")


def _describe(exc: ValidationError, limit: int = 5) -> str:
    """One line per pydantic error: the field path, what is wrong, and the value found."""
    lines = []
    for error in exc.errors()[:limit]:
        where = ".".join(str(part) for part in error["loc"]) or "<record>"
        if error["type"] in ("missing", "extra_forbidden"):
            lines.append(f"field `{where}`: {error['msg']}")
        else:
            lines.append(f"field `{where}`: {error['msg']} (got {error['input']!r:.80})")
    more = exc.error_count() - limit
    if more > 0:
        lines.append(f"... and {more} more")
    return "stored line does not match the trajectory schema: " + "; ".join(lines)
