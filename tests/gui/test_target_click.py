"""The GUI env's target-click bonus (`target_click_reward`, reward part `step/target_click`):
given for a left click inside the element the reference policy would click next on the
screen the click was made on — at its centre or its edge — and not for a click outside it,
a right click, typing, or when the option is off. On a real display through the real
server, plus `target_element` on crafted elements."""

from __future__ import annotations

import pytest

from envs.gui import GuiEnv
from envs.gui.solvers import target_element
from tests.gui.conftest import needs_desktop
from tool_servers import ToolClient
from tool_servers.desktop.a11y import center

PART = "step/target_click"


def test_target_element_on_crafted_elements() -> None:
    frame = {"tag": "panel", "name": "Box", "text": "", "description": "", "x": 0, "y": 0, "w": 100, "h": 60, "depth": 1}
    seven = {"tag": "push-button", "name": "7", "text": "", "description": "", "x": 25, "y": 10, "w": 50, "h": 40,
             "depth": 2}  # same centre as the frame: the innermost one is the target
    tape = {"tag": "label", "name": "Tape", "text": "", "description": "", "x": 0, "y": 70, "w": 100, "h": 20}
    target = {"a": 71, "op": "+", "b": 12, "result": 83}
    assert target_element("calculator", target, [frame, seven, tape]) is seven
    assert target_element("calculator", target, [frame, tape]) is None  # the button is not on screen
    assert target_element("calculator", target, [frame, seven, {**tape, "text": "71 + 12 ="}]) is None  # DONE next


@pytest.mark.asyncio(loop_scope="session")
@needs_desktop
async def test_bonus_inside_the_target_and_not_outside(desktop_client: ToolClient) -> None:
    env = GuiEnv(["settings"], variants=1, observation="a11y", tool_client=desktop_client, target_click_reward=0.25)
    try:
        await env.areset(seed=0)
        goal = env.task.goal()["target"]  # type: ignore[union-attr]
        box = target_element("settings", goal, env.last_data["elements"])
        assert box is not None and box["tag"] == "check-box"
        right, bottom = box["x"] + box["w"], box["y"] + box["h"]
        for x, y in ((right, box["y"] + box["h"] // 2), (630, 470)):  # just past the right edge; empty space
            _obs, reward, *_, info = await env.astep(f"pyautogui.click({x}, {y})")
            assert reward == 0.0 and PART not in info["reward_parts"]
        _obs, reward, *_, info = await env.astep(f"pyautogui.rightClick({box['x'] + 3}, {box['y'] + 3})")
        assert reward == 0.0 and PART not in info["reward_parts"]  # a right click is not the policy's click
        _obs, reward, *_, info = await env.astep(f"pyautogui.click({right - 1}, {bottom - 1})")  # the far edge
        assert reward == pytest.approx(0.25) and info["reward_parts"] == {PART: 0.25}
        after = target_element("settings", goal, env.last_data["elements"])
        assert after is not None and after["name"] != box["name"]  # progress: the next target moved on
        _obs, reward, *_, info = await env.astep(f"pyautogui.click({box['x']}, {box['y']})")  # the top-left edge
        assert reward == 0.0 and PART not in info["reward_parts"]  # the old target is no longer the one...
        assert target_element("settings", goal, env.last_data["elements"])["name"] == box["name"]  # ...undone
        x, y = center(box)  # two calls in one turn: each judged on the screen it was made on
        _obs, reward, *_, info = await env.astep(f"pyautogui.click({x}, {y})\npyautogui.click({x}, {y})")
        assert info["reward_parts"] == {PART: pytest.approx(0.25)}  # the first redoes it, the second undoes it
        over = "\n".join(["pyautogui.click(630, 470)"] * env.max_tool_calls_per_turn + [f"pyautogui.click({x}, {y})"])
        _obs, reward, *_, info = await env.astep(over)  # the target click is over the per-turn limit: not run
        assert reward == 0.0 and PART not in info["reward_parts"]
    finally:
        await env.aclose()


@pytest.mark.asyncio(loop_scope="session")
@needs_desktop
async def test_scripted_episode_earns_the_bonus_on_every_click(desktop_client: ToolClient) -> None:
    env = GuiEnv(["rename"], variants=1, observation="a11y", tool_client=desktop_client, target_click_reward=0.1)
    off = GuiEnv(["rename"], variants=1, observation="a11y", tool_client=desktop_client)
    try:
        await env.areset(seed=0)
        clicks = bonus = 0
        for _ in range(env.max_turns):
            action = env.scripted_next_action()
            clicks += action.startswith("pyautogui.click")
            _obs, reward, terminated, truncated, info = await env.astep(action)
            bonus += info["reward_parts"].get(PART, 0.0) > 0
            if terminated or truncated:
                break
        assert info["success"] and clicks >= 3 and bonus == clicks
        assert reward == pytest.approx(1.0)  # DONE is not a click: the outcome alone
        await off.areset(seed=0)
        _obs, reward, *_, info = await off.astep(off.scripted_next_action())
        assert reward == 0.0 and info["reward_parts"] == {}
    finally:
        await env.aclose()
        await off.aclose()
