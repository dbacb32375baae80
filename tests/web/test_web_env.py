"""The web env end to end in real Chromium: MiniShop goals in every action format,
invalid and missing-element actions as observations (with optional penalties), the
observation budget, seeding, env_error on a killed browser, and `agent-rl eval`."""

from __future__ import annotations

import asyncio
import math
import os
import signal

import pytest

from agent_rl.evaluation import evaluate
from envs.errors import EnvConfigError
from envs.web import WebEnv
from tests.episodes import play_scripted as run
from tests.web.conftest import needs_browser, server_of
from tool_servers import ToolClient

pytestmark = [needs_browser, pytest.mark.asyncio(loop_scope="session")]


@pytest.mark.parametrize("action_format", ["browsergym", "hermes", "webshop"])
async def test_minishop_goals_bought_right_and_wrong(browser_client: ToolClient, action_format: str) -> None:
    env = WebEnv("minishop", action_format=action_format, tool_client=browser_client, max_turns=12)
    try:
        for index in (0, 5):
            reward, info = await run(env, "reference", seed=index, options={"task_index": index})
            assert reward == 1.0 and info["success"], info
            assert {"outcome/r_type", "outcome/r_attr", "outcome/r_option", "outcome/r_price"} <= set(info["outcome_parts"])
        reward, info = await run(env, "wrong", seed=1, options={"task_index": 5})
        assert info["status"] == "completed" and reward < 1.0 and not info["success"]
        assert info["outcome_parts"]["outcome/r_option"] == 0.0
    finally:
        await env.aclose()


async def test_text_mode_shows_webshop_observations(browser_client: ToolClient) -> None:
    env = WebEnv("minishop", action_format="webshop", tool_client=browser_client)
    try:
        messages, _info = await env.areset(seed=0)
        assert "[button] Search [button_]" in messages[-1]["content"]
        observation, *_ = await env.astep(f"search[{env.task.goal['query']}]")  # type: ignore[union-attr]
        assert "[button] Back to Search [button_] [SEP] Page 1" in observation[-1]["content"]
        observation, _r, _t, _tr, info = await env.astep("search[again]")
        assert "no search box" in observation[-1]["content"] and info["counters"]["tool_errors"] == 1
    finally:
        await env.aclose()


async def test_invalid_and_missing_element_actions_are_observations(browser_client: ToolClient) -> None:
    env = WebEnv(["click-button"], tool_client=browser_client, invalid_action_reward=-0.1,
                 missing_element_reward=-0.05, max_invalid_actions=5)
    try:
        await env.areset(seed=0)
        observation, reward, terminated, truncated, info = await env.astep("I think I should click it")
        assert "Invalid action" in observation[0]["content"] and 'click("12")' in observation[0]["content"]
        assert reward == pytest.approx(-0.1) and info["reward_parts"] == {"step/invalid_action": -0.1}
        observation, reward, terminated, truncated, info = await env.astep('click("4242")')
        assert 'no element with bid "4242"' in observation[0]["content"] and "[" in observation[0]["content"]
        assert reward == pytest.approx(-0.05) and info["reward_parts"] == {"step/missing_element": -0.05}
        assert not (terminated or truncated)
        observation, *_ = await env.astep('click(__import__("os"))')
        assert "literal" in observation[0]["content"]
    finally:
        await env.aclose()


async def test_the_tree_is_cut_to_the_budget_and_the_cut_is_marked(browser_client: ToolClient) -> None:
    env = WebEnv("minishop", tool_client=browser_client, max_obs_tokens=60)
    try:
        await env.areset(seed=0)
        observation, *_ = await env.astep(f'fill("{_searchbox(env)}", "shirt")')
        observation, *_ = await env.astep('press("Enter")')
        content = observation[-1]["content"]
        assert "more lines truncated to fit the 60-token observation budget" in content
        assert "RootWebArea" in content
    finally:
        await env.aclose()


def _searchbox(env: WebEnv) -> str:
    return next(e["bid"] for e in env.last_data["elements"] if e["role"] == "searchbox")


async def test_same_seed_same_episode(browser_client: ToolClient) -> None:
    env = WebEnv("miniwob", tool_client=browser_client)
    try:
        first, _ = await env.areset(seed=42)
        second, _ = await env.areset(seed=42)
        third, _ = await env.areset(seed=43)
        assert first == second and first != third
    finally:
        await env.aclose()


@pytest.mark.asyncio(loop_scope="session")
async def test_bad_options_fail_at_construction() -> None:
    with pytest.raises(EnvConfigError, match="action_format"):
        WebEnv("miniwob", action_format="selenium")  # type: ignore[arg-type]
    with pytest.raises(EnvConfigError, match="observation='webshop'"):
        WebEnv("minishop", action_format="webshop", observation="axtree")
    with pytest.raises(EnvConfigError, match="not served"):
        WebEnv(["draw-circle"])
    with pytest.raises(EnvConfigError, match="does not exist"):
        WebEnv("webshop:/nonexistent-dir-for-test")


async def test_a_killed_browser_ends_the_episode_as_env_error(browser_client: ToolClient) -> None:
    env = WebEnv(["click-test"], tool_client=browser_client)
    pool = server_of(browser_client).pool
    try:
        await env.areset(seed=0)
        generation = pool.generation
        os.kill(pool.browser_pid, signal.SIGKILL)  # type: ignore[arg-type]
        for _ in range(50):
            if not pool.is_alive(generation):
                break
            await asyncio.sleep(0.1)
        _obs, reward, terminated, truncated, info = await env.astep('click("13")')
        assert info["env_error"] and math.isnan(reward) and truncated and not terminated
        reward, info = await run(env, "reference", seed=1)
        assert reward == 1.0 and pool.generation == generation + 1
    finally:
        await env.aclose()


async def test_agent_rl_eval_runs_the_scripted_agent() -> None:
    _summary, records = await evaluate("web-shop-text-v0", "scripted", limit=2, concurrency=2)
    assert [r.reward for r in records] == [1.0, 1.0]
    _summary, records = await evaluate("web-shop-text-v0", "wrong", limit=1)
    assert records[0].reward is not None and records[0].reward < 1.0
