"""The GUI env end to end on real displays: every mini-app solved by the scripted agent
(1) and failed by the wrong one (0) through the real server, image-part observations,
unparsable and off-screen actions as observations (with optional penalties), env_error on
a killed display, and the parser's contract."""

from __future__ import annotations

import math
import os
import signal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envs.errors import EnvConfigError, ParseError
from envs.gui import GuiEnv, render_action
from envs.parsing import make_parser
from tests.episodes import play_scripted as play
from tests.gui.conftest import alive, needs_desktop, server_of
from tool_servers import ToolClient
from tool_servers.desktop.apps import APPS


@pytest.mark.parametrize("app", APPS)
@pytest.mark.asyncio(loop_scope="session")
@needs_desktop
async def test_scripted_solves_and_wrong_fails(desktop_client: ToolClient, app: str) -> None:
    env = GuiEnv([app], variants=3, observation="a11y", tool_client=desktop_client)
    try:
        reward, info = await play(env, "reference", seed=0, options={"task_index": 2})
        assert reward == 1.0 and info["success"], info
        reward, info = await play(env, "wrong", seed=0, options={"task_index": 1})
        assert reward == 0.0 and not info["success"] and not info["env_error"], info
    finally:
        await env.aclose()


@pytest.mark.asyncio(loop_scope="session")
@needs_desktop
async def test_screenshot_observations_and_json_actions(desktop_client: ToolClient) -> None:
    env = GuiEnv(["calculator"], variants=1, observation="screenshot", action_format="json",
                 tool_client=desktop_client)
    try:
        messages, info = await env.areset(seed=0)
        assert info["screen"] == [640, 480]
        parts = messages[-1]["content"]
        assert isinstance(parts, list) and [p["type"] for p in parts] == ["text", "image_url"]
        assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,iVBOR")
        assert "tag\tname" not in parts[0]["text"]  # pixels only
        assert env.observation_space.contains(messages)
        action = env.scripted_next_action()
        assert action.startswith('{"action_type": "CLICK"')
        observation, *_ = await env.astep(action)
        assert observation[0]["content"][1]["type"] == "image_url"
    finally:
        await env.aclose()


@pytest.mark.asyncio(loop_scope="session")
@needs_desktop
async def test_bad_actions_are_observations_with_penalties(desktop_client: ToolClient) -> None:
    env = GuiEnv(["form"], variants=1, observation="a11y", tool_client=desktop_client,
                 invalid_action_reward=-0.1, out_of_screen_reward=-0.2)
    try:
        await env.areset(seed=0)
        observation, reward, terminated, truncated, info = await env.astep("I would click somewhere")
        assert info["invalid_action"] and reward == pytest.approx(-0.1) and not (terminated or truncated)
        assert "pyautogui.click" in observation[0]["content"]
        observation, reward, *_ , info = await env.astep("pyautogui.click(5000, 10)")
        assert reward == pytest.approx(-0.2) and info["reward_parts"] == {"step/out_of_screen": -0.2}
        assert "outside the 640x480 screen" in observation[0]["content"]
        observation, reward, *_ = await env.astep('pyautogui.press("hyperspace")')
        assert "unknown key" in observation[0]["content"] and reward == 0.0
        observation, reward, terminated, _trunc, info = await env.astep("FAIL")
        assert terminated and reward == 0.0 and info["outcome_parts"]["outcome/declared_fail"] == 1.0
    finally:
        await env.aclose()


@pytest.mark.asyncio(loop_scope="session")
@needs_desktop
async def test_killed_display_is_env_error(desktop_client: ToolClient) -> None:
    env = GuiEnv(["settings"], variants=1, observation="a11y", tool_client=desktop_client)
    try:
        await env.areset(seed=0)
        session = next(s for s in server_of(desktop_client).live if s.params.app == "settings")
        pids = session.display.pids
        os.kill(session.display.xvfb.pid, signal.SIGKILL)
        session.display.xvfb and await session.display.xvfb.wait()
        _obs, reward, terminated, truncated, info = await env.astep(env.scripted_next_action())
        assert info["env_error"] and math.isnan(reward) and truncated and not terminated
        assert not any(alive(pid) for pid in pids)
    finally:
        await env.aclose()


def test_config_errors() -> None:
    with pytest.raises(EnvConfigError, match="observation"):
        GuiEnv(observation="video")  # type: ignore[arg-type]
    with pytest.raises(EnvConfigError, match="unknown app"):
        GuiEnv(["paint"])


@pytest.mark.parametrize(("text", "expected"), [
    ("pyautogui.click(100, 200)", [("click", {"x": 100, "y": 200, "button": "left", "num_clicks": 1})]),
    ("pyautogui.doubleClick(x=5.4, y=6)", [("double_click", {"x": 5, "y": 6})]),
    ("pyautogui.scroll(-3)", [("scroll", {"dy": -3})]),
    ("```python\npyautogui.write('hi')\npyautogui.press('enter')\n```",
     [("type", {"text": "hi"}), ("key", {"combo": "enter"})]),
    ('{"action_type": "DRAG_TO", "x": 1, "y": 2}', [("drag", {"x": 1, "y": 2})]),
    ('{"action_type": "SCROLL", "dx": 0, "dy": 2}', [("scroll", {"dx": 0, "dy": 2})]),
    ("<think>DONE? not yet</think> WAIT", [("wait", {})]),
    ("DONE", [("done", {})]),
])
def test_gui_parser(text: str, expected: list) -> None:
    parsed = make_parser("gui").parse(text)
    assert [(c.name, dict(c.arguments)) for c in parsed.tool_calls] == expected


@pytest.mark.parametrize("text", ["click(1, 2)", "pyautogui.click(__import__('os'))", "pyautogui.screenshot()",
                                  '{"action_type": "KEY_DOWN", "key": "a"}', "pyautogui.click(1)",
                                  "os.system('ls')", '{"action_type": "CLICK", "x": true, "y": 1}'])
def test_gui_parser_refuses(text: str) -> None:
    with pytest.raises(ParseError):
        make_parser("gui").parse(text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("pyautogui.click()[]{}\"'0123456789, xy=DONEWAITFAIL_action_type:\n")),
               max_size=80))
def test_gui_parser_raises_only_parse_error(text: str) -> None:
    try:
        make_parser("gui").parse(text)
    except ParseError:
        pass


@pytest.mark.parametrize("action", [("click", {"x": 3, "y": 4}), ("type", {"text": 'a "b"'}),
                                    ("key", {"combo": "ctrl+a"}), ("key", {"combo": "enter"}), ("done", {})])
@pytest.mark.parametrize("action_format", ["pyautogui", "json"])
def test_rendered_actions_parse_back(action: tuple, action_format: str) -> None:
    parsed = make_parser("gui").parse(render_action(action, action_format))
    call = parsed.tool_calls[0]
    assert call.name == action[0]
    assert {k: v for k, v in call.arguments.items() if k in action[1]} == action[1]
