"""MiniWoB++ in pixel mode end to end, through real Chromium and the real browser server:
every served task solved by the pixel scripted agent (1) and failed by the wrong one (0)
using coordinates and keys only; screenshots are real 160x210 PNGs that change after an
action; element boxes agree with the DOM's hit testing; off-screen points are
`out_of_screen` observations. (gymnasium's checker runs on gui-miniwob-v0 with every
registered env, in tests/envs/test_check_env.py.)"""

from __future__ import annotations

import asyncio
import base64
import io

import pytest
import pytest_asyncio
from PIL import Image, ImageChops

from agent_rl.agents import ScriptedAgent
from envs.gui.miniwob import MiniWoBPixelEnv
from tests.web.conftest import needs_browser
from tool_servers import ToolClient, create_app
from tool_servers.browser.boxes import BOX_KEYS
from tool_servers.browser.pointer import PIXEL_VIEWPORT
from tool_servers.browser.sites.miniwob import TASKS
from tool_servers.types import ToolCall

pytestmark = [needs_browser, pytest.mark.asyncio(loop_scope="module")]
WORKERS = 3
#: The wrong agent on one task of each kind of action (the sessions are what costs time).
WRONG_TASKS = ("click-button", "click-checkboxes", "click-widget", "choose-list", "enter-text", "login-user",
               "use-autocomplete-nodelay")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client() -> ToolClient:
    from tool_servers.browser import BrowserToolServer

    client = ToolClient.in_process(create_app(BrowserToolServer(max_contexts=WORKERS, settle_ms=20)))
    yield client
    await client.aclose()


def page_of(client: ToolClient, session_id: str):  # type: ignore[no-untyped-def]  # -> playwright Page
    app = client.in_process_app
    assert app is not None
    return app.state.runtime.store.get(session_id).state.page


def image(data: dict) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(data["screenshot_png"])))


async def play(env: MiniWoBPixelEnv, kind: str, seed: int, task: str) -> dict:
    """One episode of the model-free agent `agent-rl eval` uses (it asks for a script first)."""
    agent = ScriptedAgent(kind)
    observation, _info = await env.areset(seed=seed, options={"task_id": f"miniwob/{task}"})
    await agent.start(env, observation)
    info: dict = {}
    for _ in range(env.max_turns):
        observation, reward, terminated, truncated, info = await env.astep(await agent.act(env, observation))
        if terminated or truncated:
            return {**info, "reward": reward}
    return {**info, "reward": None}


async def test_scripted_pixel_agent_solves_every_task_and_the_wrong_one_fails(client: ToolClient) -> None:
    queue: asyncio.Queue[str] = asyncio.Queue()
    for task in TASKS:
        queue.put_nowait(task)
    results: dict[tuple[str, str], dict] = {}

    async def worker(index: int) -> None:
        env = MiniWoBPixelEnv("miniwob", tool_client=client, max_turns=12,
                              action_format="json" if index == 0 else "pyautogui")
        try:
            while not queue.empty():
                task = queue.get_nowait()
                for kind in ("reference", "wrong") if task in WRONG_TASKS else ("reference",):
                    results[task, kind] = await play(env, kind, len(results), task)
        finally:
            await env.aclose()

    await asyncio.gather(*(worker(i) for i in range(WORKERS)))
    solved = {task for (task, kind), info in results.items() if kind == "reference" and info["reward"] == 1.0}
    failed = {task for (task, kind), info in results.items() if kind == "wrong" and info["reward"] == 0.0}
    assert solved == set(TASKS), {t: results[t, "reference"] for t in set(TASKS) - solved}
    assert failed == set(WRONG_TASKS), {t: results[t, "wrong"] for t in set(WRONG_TASKS) - failed}
    assert not any(info["env_error"] for info in results.values())


async def test_screenshots_are_pngs_of_the_viewport_and_change_after_an_action(client: ToolClient) -> None:
    env = MiniWoBPixelEnv(["enter-text"], tool_client=client, observation="screenshot_a11y")
    try:
        messages, info = await env.areset(seed=3)
        assert info["screen"] == list(PIXEL_VIEWPORT) == [160, 210]
        parts = messages[-1]["content"]
        assert [p["type"] for p in parts] == ["text", "image_url"]
        assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,iVBOR")
        assert "tag\tname\ttext" in parts[0]["text"] and info["goal"] in parts[0]["text"]
        assert env.observation_space.contains(messages)
        before = image(env.last_data)
        assert before.format == "PNG" and before.size == PIXEL_VIEWPORT
        box = next(b for b in env.last_data["elements"] if b["tag"] == "textbox")
        observation, reward, terminated, truncated, info = await env.astep(
            f'pyautogui.click({box["x"] + box["w"] // 2}, {box["y"] + box["h"] // 2})\npyautogui.write("hello")')
        assert not (terminated or truncated) and reward == 0.0
        assert observation[0]["content"][1]["type"] == "image_url"
        after = image(env.last_data)
        changed = ImageChops.difference(before.convert("RGB"), after.convert("RGB")).getbbox()
        assert changed is not None  # the typed text shows, inside the text box
        assert box["x"] <= changed[0] and changed[2] <= box["x"] + box["w"] + 1
        assert next(b for b in env.last_data["elements"] if b["id"] == box["id"])["text"] == "hello"
    finally:
        await env.aclose()


async def test_out_of_screen_points_are_observations_with_a_penalty(client: ToolClient) -> None:
    env = MiniWoBPixelEnv(["click-button"], tool_client=client, observation="a11y", out_of_screen_reward=-0.2,
                          invalid_action_reward=-0.1)
    try:
        await env.areset(seed=0)
        observation, reward, terminated, truncated, info = await env.astep("pyautogui.click(500, 10)")
        assert not (terminated or truncated) and not info["env_error"]
        assert reward == pytest.approx(-0.2) and info["reward_parts"] == {"step/out_of_screen": -0.2}
        assert "(500, 10) is outside the 160x210 screen" in observation[0]["content"]
        assert "tag\tname" in observation[0]["content"]  # the screen is still shown
        result = env.turns[-1].tool_results[0]
        assert result.is_error and result.data["error_kind"] == "out_of_screen"
        observation, reward, *_ = await env.astep('{"action_type": "CLICK", "x": 10, "y": -1}')
        assert "outside" in observation[0]["content"] and reward == pytest.approx(-0.2)
        observation, reward, *_ = await env.astep("click the OK button")
        assert reward == pytest.approx(-0.1) and "Invalid action" in observation[0]["content"]
        _obs, reward, terminated, _trunc, info = await env.astep("DONE")  # not solved: scored 0
        assert terminated and reward == 0.0 and info["success"] is False
    finally:
        await env.aclose()


async def test_element_boxes_match_the_dom(client: ToolClient) -> None:
    session = await client.create_session({"site": "miniwob", "task": "login-user", "seed": 5,
                                           "observation": "pixels"})
    try:
        result = await client.call(session, ToolCall("observe", {}))
        boxes = result.data["elements"]
        assert result.data["screen"] == [160, 210] and boxes
        assert all(tuple(b) == BOX_KEYS for b in boxes)
        assert {b["tag"] for b in boxes} >= {"textbox", "button", "StaticText"}
        page = page_of(client, session)
        rects = await page.evaluate("""ids => ids.map(id => {
            const r = document.querySelector(`[bid="${id}"]`).getBoundingClientRect();
            return [r.left, r.top, r.width, r.height]; })""", [str(b["id"]) for b in boxes])
        for box, (left, top, width, height) in zip(boxes, rects, strict=True):
            assert abs(box["x"] - left) <= 1 and abs(box["y"] - top) <= 1, box
            assert abs(box["w"] - width) <= 1 and abs(box["h"] - height) <= 1, box
            assert 0 <= box["x"] and box["x"] + box["w"] <= 160 and box["y"] + box["h"] <= 210
        for box in (b for b in boxes if b["tag"] in ("textbox", "button")):
            x, y = box["x"] + box["w"] // 2, box["y"] + box["h"] // 2
            hit = await page.evaluate("([x, y]) => document.elementFromPoint(x, y).closest('[bid]').getAttribute('bid')",
                                      [x, y])
            assert hit == str(box["id"]), (box, hit)
        button = next(b for b in boxes if b["tag"] == "button")
        clicked = await client.call(session, ToolCall("mouse_click", {"x": button["x"] + 2, "y": button["y"] + 2}))
        assert not clicked.is_error and clicked.data["pointer"] == [button["x"] + 2, button["y"] + 2]
        assert clicked.data["done"]  # Login with empty fields ends the episode (raw < 0)
    finally:
        await client.delete_session(session)


async def test_keys_and_bad_keys(client: ToolClient) -> None:
    session = await client.create_session({"site": "miniwob", "task": "enter-text", "seed": 1,
                                           "observation": "pixels"})
    try:
        box = next(b for b in (await client.call(session, ToolCall("observe", {}))).data["elements"]
                   if b["tag"] == "textbox")
        await client.call(session, ToolCall("mouse_click", {"x": box["x"] + 5, "y": box["y"] + 5}))
        await client.call(session, ToolCall("keyboard_type", {"text": "abc"}))
        for key in ("ctrl+a", "backspace", "Shift+KeyX"):
            assert not (await client.call(session, ToolCall("keyboard_press", {"key": key}))).is_error
        result = await client.call(session, ToolCall("observe", {}))
        assert next(b for b in result.data["elements"] if b["id"] == box["id"])["text"] == "X"
        bad = await client.call(session, ToolCall("keyboard_press", {"key": "hyper+q"}))
        assert bad.is_error and bad.data["error_kind"] == "action_failed" and "unknown key 'hyper'" in bad.content
    finally:
        await client.delete_session(session)



async def test_pointer_tools(client: ToolClient) -> None:
    session = await client.create_session({"site": "miniwob", "task": "enter-text", "seed": 2,
                                           "observation": "pixels"})
    try:
        box = next(b for b in (await client.call(session, ToolCall("observe", {}))).data["elements"]
                   if b["tag"] == "textbox")
        x, y = box["x"] + 5, box["y"] + box["h"] // 2
        moved = await client.call(session, ToolCall("mouse_move", {"x": x, "y": y}))
        assert moved.data["pointer"] == [x, y]
        for name in ("mouse_down", "mouse_up"):
            assert not (await client.call(session, ToolCall(name, {"button": "left"}))).is_error
        await client.call(session, ToolCall("keyboard_type", {"text": "one two"}))
        drag = await client.call(session, ToolCall("mouse_drag_and_drop", {
            "from_x": x, "from_y": y, "to_x": box["x"] + box["w"] - 2, "to_y": y}))
        assert not drag.is_error and drag.data["pointer"] == [box["x"] + box["w"] - 2, y]
        await client.call(session, ToolCall("keyboard_type", {"text": "Z"}))  # replaces the dragged selection
        double = await client.call(session, ToolCall("mouse_dblclick", {"x": x, "y": y}))
        assert next(b for b in double.data["elements"] if b["id"] == box["id"])["text"] == "Z"
        off = await client.call(session, ToolCall("mouse_drag_and_drop", {"from_x": x, "from_y": y,
                                                                          "to_x": 160, "to_y": y}))
        assert off.is_error and off.data["error_kind"] == "out_of_screen"
    finally:
        await client.delete_session(session)


async def test_the_screen_is_read_once_the_layout_stops_moving(client: ToolClient) -> None:
    """click-collapsible animates the section open, moving Submit down: the observation after
    the click must show where Submit ends up (measured: 60 px higher without the wait)."""
    env = MiniWoBPixelEnv(["click-collapsible"], tool_client=client)
    try:
        await env.areset(seed=1, options={"task_index": 0})
        await env.astep(env.scripted_next_action())  # clicks the section header
        after = [(e["name"], e["x"], e["y"]) for e in env.last_data["elements"]]
        await asyncio.sleep(1.0)
        later = await client.call(env._session, ToolCall("observe", {}))
        assert after == [(e["name"], e["x"], e["y"]) for e in later.data["elements"]]
    finally:
        await env.aclose()
