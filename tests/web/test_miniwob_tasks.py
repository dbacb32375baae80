"""Every served MiniWoB++ task, in real headless Chromium: the scripted solver earns
reward 1 (raw > 0) and a wrong action sequence earns 0."""

from __future__ import annotations

import math

import pytest

from envs.web import WebEnv
from tests.episodes import play_scripted
from tests.web.conftest import needs_browser
from tool_servers import ToolClient
from tool_servers.browser.sites.miniwob import TASKS

pytestmark = [needs_browser, pytest.mark.asyncio(loop_scope="session")]


async def play(env: WebEnv, task: str, kind: str, seed: int = 11) -> tuple[float, dict]:
    return await play_scripted(env, kind, seed=seed, options={"task_id": f"miniwob/{task}"})


@pytest.mark.parametrize("task", TASKS)  # 26 click and typing tasks
async def test_reference_solves_and_wrong_fails(browser_client: ToolClient, task: str) -> None:
    env = WebEnv([task], tool_client=browser_client, max_turns=16)
    try:
        reward, info = await play(env, task, "reference")
        assert reward == 1.0 and info["status"] == "completed" and info["success"], info
        parts = info["outcome_parts"]
        assert parts["outcome/raw"] == 1.0 and 0.9 < parts["outcome/discounted"] <= 1.0
        env.max_turns = 3
        reward, info = await play(env, task, "wrong")
        assert reward == 0.0 and not info["success"] and not math.isnan(reward), info
        if info["status"] == "completed":
            assert info["outcome_parts"]["outcome/raw"] <= 0
    finally:
        await env.aclose()
