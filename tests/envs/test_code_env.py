"""The code env end to end: real sandbox, real in-process tool server, no mocks."""

from __future__ import annotations

import math

import pytest

import envs
from envs.code import CodeEnv
from envs.parsing import render_tool_call
from tool_servers import ToolCall


@pytest.fixture
def stdio_env():
    env = envs.make("code-stdio-v0", max_turns=3)
    yield env
    env.close()


def run_script(env: CodeEnv, kind: str, task_index: int) -> tuple[float, dict]:
    env.reset(seed=0, options={"task_index": task_index})
    total, info, done = 0.0, {}, False
    actions = env.scripted_actions(kind)
    while not done:
        action = actions.pop(0) if len(actions) > 1 else actions[0]
        _, reward, terminated, truncated, info = env.step(action)
        total += reward
        done = terminated or truncated
    return total, info


def test_reference_scores_one_and_wrong_scores_zero(stdio_env: CodeEnv) -> None:
    for index in range(len(stdio_env.tasks)):
        reward, info = run_script(stdio_env, "reference", index)
        assert (reward, info["status"], info["success"]) == (1.0, "completed", True), stdio_env.tasks[index].task_id
        assert info["counters"] == {"turns": 2, "tool_calls": 1, "tool_errors": 0, "invalid_actions": 0}
        reward, info = run_script(stdio_env, "wrong", index)
        assert (reward, info["success"]) == (0.0, False)


def test_humaneval_reference_and_wrong() -> None:
    env = envs.make("code-humaneval-v0", limit=5)
    try:
        for index in range(5):
            assert run_script(env, "reference", index)[0] == 1.0
            assert run_script(env, "wrong", index)[0] == 0.0
    finally:
        env.close()


def test_python_tool_output_is_observed(stdio_env: CodeEnv) -> None:
    stdio_env.reset(seed=0)
    call = render_tool_call(ToolCall("python", {"code": "print(input()[::-1])", "stdin": "abc"}))
    observation, reward, terminated, truncated, info = stdio_env.step(call)
    assert observation[0]["role"] == "tool" and observation[0]["name"] == "python"
    assert "cba" in observation[0]["content"]
    assert (reward, terminated, truncated, info["counters"]["tool_calls"]) == (0.0, False, False, 1)


def test_hidden_tests_never_reach_observations(stdio_env: CodeEnv) -> None:
    stdio_env.reset(seed=0, options={"task_index": 0})
    task = stdio_env.tasks[0]
    seen = [m["content"] for m in stdio_env.transcript]
    for action in stdio_env.scripted_actions("reference"):
        observation, *_ = stdio_env.step(action)
        seen += [m["content"] for m in observation]
    hidden_outputs = [t.output.strip() for t in task.hidden.tests if t.output.strip()]
    public = {out.strip() for _, out in task.public_examples}
    secret = [o for o in hidden_outputs if o not in public and len(o) > 3]
    assert secret, "the task should have hidden outputs that are not public examples"
    assert not any(o in text for o in secret for text in seen)


def test_invalid_actions_end_the_episode_after_the_limit(stdio_env: CodeEnv) -> None:
    stdio_env.reset(seed=0)
    for step in range(3):
        observation, _reward, terminated, truncated, info = stdio_env.step("I think the answer is 42.")
        assert observation[0]["content"].startswith("Invalid action:")
        assert info["invalid_action"] and info["counters"]["invalid_actions"] == step + 1
    assert truncated and not terminated and info["truncation_reason"] == "invalid_actions"
    with pytest.raises(envs.EpisodeStateError):
        stdio_env.step("more")


def test_turn_limit_truncates_with_zero_outcome(stdio_env: CodeEnv) -> None:
    stdio_env.reset(seed=0)
    call = render_tool_call(ToolCall("python", {"code": "print(1)"}))
    for _ in range(3):
        _, _reward, terminated, truncated, info = stdio_env.step(call)
    assert truncated and not terminated
    assert (info["truncation_reason"], info["outcome_reward"], info["success"]) == ("max_turns", 0.0, False)


def test_tool_call_inside_reasoning_is_not_executed(stdio_env: CodeEnv) -> None:
    stdio_env.reset(seed=0)
    call = render_tool_call(ToolCall("python", {"code": "print(1)"}))
    _, _, _, _, info = stdio_env.step(f"<think>maybe {call}</think>")
    assert info["invalid_action"] and info["counters"]["tool_calls"] == 0


def test_rejected_tool_calls_are_observations_not_crashes(stdio_env: CodeEnv) -> None:
    stdio_env.reset(seed=0)
    unknown = render_tool_call(ToolCall("bash", {"cmd": "ls"}))
    observation, _, _, truncated, info = stdio_env.step(unknown)
    assert "unknown tool 'bash'" in observation[0]["content"] and not truncated
    bad = render_tool_call(ToolCall("python", {"source": "print(1)"}))
    observation, _, _, _, info = stdio_env.step(bad)
    assert "code" in observation[0]["content"] and info["counters"]["tool_errors"] == 2
    assert not info["env_error"]


def test_step_rewards_are_named_parts() -> None:
    env = envs.make("code-stdio-v0", step_rewards={"invalid_action": -0.1, "tool_error": -0.05})
    try:
        env.reset(seed=0)
        _, reward, _, _, info = env.step("no action here")
        assert reward == pytest.approx(-0.1) and info["reward_parts"] == {"step/invalid_action": -0.1}
        failing = render_tool_call(ToolCall("python", {"code": "raise SystemExit(3)"}))
        _, reward, _, _, info = env.step(failing)
        assert reward == pytest.approx(-0.05) and info["reward_parts"] == {"step/tool_error": -0.05}
    finally:
        env.close()
    with pytest.raises(envs.EnvConfigError, match="unknown step reward"):
        envs.make("code-stdio-v0", step_rewards={"typo": 1.0})


def test_partial_credit() -> None:
    env = envs.make("code-humaneval-v0", limit=1, partial_credit=True)
    try:
        env.reset(seed=0, options={"task_index": 0})
        task = env.tasks[0]
        assert len(task.hidden.tests) > 1
        # Right on the first hidden test only: return the expected value of one case by cheating.
        broken = task.reference_solution + f"\n_real = {task.entry_point}\n" \
            f"def {task.entry_point}(*a, **k):\n    r = _real(*a, **k)\n    return r if isinstance(r, bool) and r else not r\n"
        _, reward, terminated, _, info = env.step(f"<answer>{broken}</answer>")
        assert terminated and 0.0 < reward < 1.0
        assert info["outcome_parts"]["outcome/total"] == len(task.hidden.tests)
    finally:
        env.close()


async def test_async_api_and_sync_api_inside_a_running_loop() -> None:
    env = envs.make("code-stdio-v0", limit=1)
    try:
        observation, _info = await env.areset(seed=3)
        assert observation[1]["role"] == "user"
        _, reward, terminated, _, _ = await env.astep(env.scripted_actions("wrong")[0])
        assert terminated and reward == 0.0
    finally:
        await env.aclose()
    # The sync wrappers work even while this test's loop runs (they use their own loop).
    other = envs.make("code-stdio-v0", limit=1)
    try:
        assert other.reset(seed=0)[0]
    finally:
        other.close()


def test_seeded_reset_picks_the_same_task(stdio_env: CodeEnv) -> None:
    first = stdio_env.reset(seed=11)[1]["task_id"]
    assert stdio_env.reset(seed=11)[1]["task_id"] == first
    assert len({stdio_env.reset(seed=s)[1]["task_id"] for s in range(30)}) > 3


def test_unknown_task_id_is_a_config_error(stdio_env: CodeEnv) -> None:
    with pytest.raises(envs.EnvConfigError, match="unknown task_id"):
        stdio_env.reset(options={"task_id": "nope"})


def test_contest_tasks_from_a_jsonl_file_render_statement_and_starter_code() -> None:
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "code" / "data" / "livecodebench_sample.jsonl"
    env = envs.make("code-v0", tasks=str(path))
    try:
        observation, _info = env.reset(options={"task_index": 1})
        problem = observation[1]["content"]
        assert "twoSum" in problem and "class Solution" in problem and "Starter code" in problem
        with pytest.raises(envs.EnvConfigError, match="no reference solution"):
            env.scripted_actions("reference")
    finally:
        env.close()


def test_expired_session_mid_episode_is_env_error() -> None:
    import time

    env = envs.make("code-stdio-v0", limit=1, session_ttl_s=0.2)
    try:
        env.reset(seed=0)
        time.sleep(0.4)
        _, reward, _, truncated, info = env.step(render_tool_call(ToolCall("python", {"code": "print(1)"})))
        assert info["env_error"] and truncated and math.isnan(reward)
        assert "expired" in info["error"]
    finally:
        env.close()


def test_oversized_answer_is_an_invalid_action_not_a_crash(stdio_env: CodeEnv) -> None:
    stdio_env.reset(seed=0)
    _, reward, terminated, truncated, info = stdio_env.step("<answer>" + "x = 1\n" * 60_000 + "</answer>")
    assert info["invalid_action"] and not terminated and not truncated
    assert "rejected" in info["error"]
    _, reward, terminated, _, info = stdio_env.step(stdio_env.scripted_actions("reference")[-1])
    assert terminated and reward == 1.0  # the episode goes on and can still be won


def test_observations_are_copies(stdio_env: CodeEnv) -> None:
    stdio_env.reset(seed=0)
    observation, *_ = stdio_env.step(render_tool_call(ToolCall("python", {"code": "print(1)"})))
    observation[0]["content"] = "tampered"
    assert stdio_env.turns[-1].observation[0]["content"] != "tampered"


async def test_a_cancelled_session_delete_is_done_by_the_next_release() -> None:
    """An episode cancelled while its session's delete is still on the way keeps the id,
    so the next release (the rollout pool's, `aclose`, or the next reset) deletes it: the
    session does not sit on the server until its TTL."""
    import asyncio

    from tool_servers import ToolClient, create_app, make_tool_server

    class SlowDeletes(ToolClient):
        async def delete_session(self, session_id: str) -> bool:
            await asyncio.sleep(0.5)  # the request is still on its way to a remote server
            return await super().delete_session(session_id)

    client = SlowDeletes.in_process(create_app(make_tool_server("code")))
    env = envs.make("code-stdio-v0", tool_client=client)
    try:
        await env.areset(seed=0)
        assert (await client.health()).sessions == 1
        ending = asyncio.create_task(env.aend_episode())
        await asyncio.sleep(0.05)
        ending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await ending
        assert (await client.health()).sessions == 1  # not deleted yet…
        await env.aend_episode()
        assert (await client.health()).sessions == 0  # …and deleted by the next release
    finally:
        await env.aclose()
        await client.aclose()
