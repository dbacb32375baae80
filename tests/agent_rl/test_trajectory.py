"""The token-level trajectory contract: validation at construction and a lossless JSON line."""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from agent_rl.errors import InvalidTrajectoryError, TrajectoryFormatError
from agent_rl.trajectory import SCHEMA_VERSION, Trajectory, TrajectoryStatus, TurnSpan
from sandbox.errors import AgentRLError
from tests.agent_rl.factories import make_trajectory, trajectories


def _bits(values: list[float]) -> list[bytes]:
    return [struct.pack("<d", v) for v in values]


# ------------------------------------------------------------------------- round trip


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(trajectories())
def test_json_line_round_trip_is_lossless(traj: Trajectory) -> None:
    line = traj.to_json_line()
    assert "\n" not in line and line.isascii()
    back = Trajectory.from_json_line(line)
    assert back == traj
    # == treats -0.0 as 0.0; the bits must match too.
    assert _bits(back.behavior_logprobs) == _bits(traj.behavior_logprobs)
    assert _bits([back.created_at]) == _bits([traj.created_at])


def test_neg_inf_logprob_is_stored_as_a_string_not_a_nonstandard_literal() -> None:
    line = make_trajectory().to_json_line()
    assert "Infinity" not in line
    stored = json.loads(line)  # any standard JSON reader can load it
    assert stored["behavior_logprobs"][-1] == "-inf"
    assert stored["schema_version"] == 1 < SCHEMA_VERSION  # no images: still a version-1 line
    assert Trajectory.from_json_line(line).behavior_logprobs[-1] == -math.inf


def test_subnormal_and_negative_zero_logprobs_keep_their_bits() -> None:
    values = [-5e-324, -0.0, -2.2250738585072014e-308, -0.1]
    traj = make_trajectory(
        response_ids=[1, 2, 3, 4],
        loss_mask=[1, 1, 1, 1],
        behavior_logprobs=values,
        policy_version=[0, 0, 0, 0],
        turns=[],
    )
    back = Trajectory.from_json_line(traj.to_json_line().encode())
    assert _bits(back.behavior_logprobs) == _bits(values)


def test_properties() -> None:
    traj = make_trajectory()
    assert traj.num_model_tokens == 4
    assert traj.num_turns == 2
    assert traj.total_reward == 1.5
    assert traj.is_scorable
    unscored = make_trajectory(status=TrajectoryStatus.ENV_ERROR, outcome_reward=None)
    assert unscored.total_reward is None
    assert not unscored.is_scorable
    assert not make_trajectory(outcome_reward=None).is_scorable


def test_coercions_status_from_string_and_int_reward_to_float() -> None:
    traj = make_trajectory(status="truncated", outcome_reward=1)
    assert traj.status is TrajectoryStatus.TRUNCATED
    assert type(traj.outcome_reward) is float


def test_neg_inf_logprob_and_empty_response_are_valid() -> None:
    make_trajectory(behavior_logprobs=[-math.inf, -math.inf, 0.0, 0.0, -math.inf, -1.0])
    empty = make_trajectory(
        response_ids=[], loss_mask=[], behavior_logprobs=[], policy_version=[], turns=[]
    )
    assert Trajectory.from_json_line(empty.to_json_line()) == empty


def test_errors_belong_to_the_project_tree() -> None:
    assert issubclass(InvalidTrajectoryError, AgentRLError)
    assert issubclass(TrajectoryFormatError, AgentRLError)
    assert issubclass(InvalidTrajectoryError, ValueError)


# ------------------------------------------------------------------------- validation

INVALID_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("short mask", {"loss_mask": [1, 1, 0, 0, 1]}, "loss_mask has length 5"),
    ("short logprobs", {"behavior_logprobs": [-1.0]}, "behavior_logprobs has length 1"),
    ("short versions", {"policy_version": []}, "policy_version has length 0"),
    ("mask not a list", {"loss_mask": None}, "loss_mask must be a list"),
    ("mask value 2", {"loss_mask": [1, 2, 0, 0, 1, 1]}, "loss_mask[1] = 2"),
    ("negative response id", {"response_ids": [10, -1, 20, 21, 12, 13]}, "response_ids[1] = -1"),
    ("negative prompt id", {"prompt_ids": [-3]}, "prompt_ids[0] = -3"),
    ("bool token id", {"response_ids": [10, True, 20, 21, 12, 13]}, "has type bool"),
    ("float token id", {"prompt_ids": [1.0]}, "prompt_ids[0] = 1.0 has type float"),
    ("NaN logprob", {"behavior_logprobs": [-0.1, math.nan, 0.0, 0.0, -1.0, -1.0]}, "[1] is NaN"),
    ("positive logprob", {"behavior_logprobs": [0.5, -1.0, 0.0, 0.0, -1.0, -1.0]}, "[0] = 0.5 > 0"),
    ("+inf logprob", {"behavior_logprobs": [math.inf, -1.0, 0.0, 0.0, -1.0, -1.0]}, "> 0"),
    ("str logprob", {"behavior_logprobs": ["-inf", -1.0, 0.0, 0.0, -1.0, -1.0]}, "type str"),
    (
        "env token with a logprob",
        {"behavior_logprobs": [-0.1, -1.0, -0.3, 0.0, -1.0, -1.0]},
        "behavior_logprobs[2] = -0.3 at a loss_mask=0 position",
    ),
    (
        "env token with a version",
        {"policy_version": [3, 3, 3, -1, 4, 4]},
        "policy_version[2] = 3 at a loss_mask=0 position",
    ),
    (
        "model token without a version",
        {"policy_version": [3, -1, -1, -1, 4, 4]},
        "[1] = -1 at a model token",
    ),
    (
        "overlapping turns",
        {"turns": [TurnSpan(0, 4), TurnSpan(3, 6)]},
        "turns[1] = [3, 6) starts before",
    ),
    ("unsorted turns", {"turns": [TurnSpan(4, 6), TurnSpan(0, 4)]}, "sorted and non-overlapping"),
    ("turn past the end", {"turns": [TurnSpan(0, 7)]}, "past the end of response_ids (length 6)"),
    ("turn not a span", {"turns": [(0, 4)]}, "turns[0] must be a TurnSpan"),
    ("env_error with a score", {"status": "env_error", "outcome_reward": 0.0}, "never scored"),
    ("unknown status", {"status": "done"}, "status 'done' is not one of: completed"),
    ("NaN outcome", {"outcome_reward": math.nan}, "outcome_reward must be a finite number"),
    ("bool outcome", {"outcome_reward": True}, "outcome_reward must be a finite number"),
    ("inf reward part", {"reward_parts": {"x": math.inf}}, "reward_parts['x']"),
    ("negative counter", {"counters": {"turns": -1}}, "counters['turns'] = -1"),
    ("tuple in metadata", {"metadata": {"a": (1, 2)}}, "metadata['a'] has type tuple"),
    ("NaN in metadata", {"metadata": {"a": [1.0, math.nan]}}, "metadata['a'][1] = nan"),
    ("int key in metadata", {"metadata": {"a": {1: "x"}}}, "non-str key 1"),
    ("turns as a tuple", {"turns": (TurnSpan(0, 4),)}, "turns must be a list, got tuple"),
    ("metadata not a dict", {"metadata": [1]}, "metadata must be a dict, got list"),
    ("empty id", {"trajectory_id": ""}, "trajectory_id must be a non-empty string"),
    ("non-str id", {"group_id": 7}, "group_id must be a str"),
    ("inf created_at", {"created_at": math.inf}, "created_at must be a finite number"),
]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [case[1:] for case in INVALID_CASES],
    ids=[case[0] for case in INVALID_CASES],
)
def test_invalid_trajectory_is_rejected_with_a_message_naming_the_problem(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidTrajectoryError) as info:
        make_trajectory(**overrides)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((5, 4), "end (4) is before start (5)"),
        ((-1, 4), "TurnSpan.start must be an int ≥ 0"),
        ((0, 4, math.nan), "TurnSpan.step_reward must be a finite number"),
        ((0, 4, 0.0, {"x": math.nan}), "TurnSpan.reward_parts['x']"),
        ((0, 4, 0.0, {}, -1), "TurnSpan.num_tool_calls must be an int ≥ 0"),
    ],
)
def test_invalid_turn_span_is_rejected(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(InvalidTrajectoryError) as info:
        TurnSpan(*args)
    assert message in str(info.value)


def test_validate_catches_in_place_mutation() -> None:
    traj = make_trajectory()
    traj.loss_mask.append(1)
    with pytest.raises(InvalidTrajectoryError, match="loss_mask has length 7"):
        traj.validate()
    traj = make_trajectory()
    traj.outcome_reward = math.nan
    with pytest.raises(InvalidTrajectoryError, match="outcome_reward must be a finite number"):
        traj.validate()


# ---------------------------------------------------------------------- stored lines


def _stored(**changes: Any) -> str:
    record = json.loads(make_trajectory().to_json_line())
    for key, value in changes.items():
        if value is _DELETE:
            del record[key]
        else:
            record[key] = value
    return json.dumps(record)


_DELETE = object()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not a JSON line"),
        ("[1, 2]", "expected a JSON object, got list"),
        ('{"behavior_logprobs": [-Infinity]}', "non-standard JSON constant -Infinity"),
        (_stored(schema_version=3), "schema_version is 3; this agent-rl reads versions 1 to 2"),
        (_stored(schema_version=_DELETE), "schema_version is None"),
        (_stored(status=_DELETE), "field `status`: Field required"),
        (_stored(rewards=[1.0]), "field `rewards`: Extra inputs are not permitted"),
        (_stored(response_ids=[10, 11, "x", 21, 12, 13]), "field `response_ids.2`"),
        (_stored(loss_mask=[1, 1, 0, 0, 1, True]), "field `loss_mask.5`"),
        (_stored(turns=[{"start": 0}]), "field `turns.0.end`: Field required"),
        (_stored(status="finished"), "field `status`"),
        (
            _stored(behavior_logprobs=[-1.0, "-Infinity", 0.0, 0.0, -1.0, -1.0]),
            "behavior_logprobs.1",
        ),
        (_stored(loss_mask=[1, 1, 0, 0, 1, 3]), "stored trajectory is invalid: loss_mask[5] = 3"),
    ],
)
def test_corrupt_or_foreign_line_names_the_bad_field(line: str, message: str) -> None:
    with pytest.raises(TrajectoryFormatError) as info:
        Trajectory.from_json_line(line)
    assert message in str(info.value)
    assert info.value.line_number is None
