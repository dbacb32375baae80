"""The desktop tool server on real Xvfb displays with real Tk apps and xdotool: PNG
screenshots that change after actions, a11y boxes that match what the pixels show, typed
errors, the session limit, and crashes (killed Xvfb / app) as infrastructure errors with
no processes left behind."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import signal

import pytest
from PIL import Image, ImageChops

from tests.gui.conftest import alive, needs_desktop, server_of
from tool_servers import ToolClient, create_app
from tool_servers.desktop.a11y import HEADER, center
from tool_servers.errors import (
    BadArgumentsError,
    InternalServerError,
    ServerBusyError,
    UnknownSessionError,
)
from tool_servers.types import ToolCall

pytestmark = [needs_desktop, pytest.mark.asyncio(loop_scope="session")]


def image(data: dict) -> Image.Image:
    raw = base64.b64decode(data["screenshot_png"])
    assert raw.startswith(b"\x89PNG\r\n\x1a\n")
    return Image.open(io.BytesIO(raw)).convert("RGB")


def find(elements: list[dict], **match: object) -> dict:
    return next(e for e in elements if all(e.get(k) == v for k, v in match.items()))


async def test_screenshot_changes_inside_the_clicked_widgets_box(desktop_client: ToolClient) -> None:
    sid = await desktop_client.create_session({"app": "settings", "seed": 2})
    try:
        first = await desktop_client.call(sid, ToolCall("observe", {}))
        before = image(first.data)
        assert before.size == tuple(first.data["screen"]) == (640, 480)
        assert first.content.split("\n\n", 1)[1].startswith(HEADER)
        box = find(first.data["elements"], tag="check-box", name="Dark mode")
        was_checked = "unchecked" not in box["description"]
        after = await desktop_client.call(sid, ToolCall("click", dict(zip("xy", center(box), strict=True))))
        assert after.data["error_kind"] == "" and not after.is_error
        assert ("unchecked" not in find(after.data["elements"], name="Dark mode")["description"]) != was_checked
        diff = ImageChops.difference(before, image(after.data)).getbbox()
        assert diff is not None, "the screen did not change after the click"
        left, top, right, bottom = diff  # the changed pixels lie in the widget's a11y box
        assert box["x"] <= left and right <= box["x"] + box["w"] and box["y"] <= top and bottom <= box["y"] + box["h"]
    finally:
        await desktop_client.delete_session(sid)


async def test_a11y_tree_lists_every_widget(desktop_client: ToolClient) -> None:
    sid = await desktop_client.create_session({"app": "calculator", "seed": 0, "observation": "a11y"})
    try:
        result = await desktop_client.call(sid, ToolCall("a11y_tree", {}))
        assert "screenshot_png" not in result.data
        buttons = [e for e in result.data["elements"] if e["tag"] == "push-button"]
        assert sorted(e["name"] for e in buttons) == sorted("0123456789+−×=C")
        for e in buttons:  # real, on-screen, non-overlapping boxes
            assert e["w"] > 20 and e["h"] > 20 and 0 <= e["x"] and e["x"] + e["w"] <= 640
        seven, eight = find(buttons, name="7"), find(buttons, name="8")
        assert seven["y"] == eight["y"] and seven["x"] + seven["w"] <= eight["x"]
        line = next(r for r in result.content.splitlines() if r.startswith("push-button\t7\t"))
        assert line.endswith(f"({seven['x']}, {seven['y']})\t({seven['w']}, {seven['h']})")
        await desktop_client.call(sid, ToolCall("click", dict(zip("xy", center(seven), strict=True))))
        display = find((await desktop_client.call(sid, ToolCall("a11y_tree", {}))).data["elements"], name="Display")
        assert display["text"] == "7"
    finally:
        await desktop_client.delete_session(sid)


async def test_typing_keys_and_model_errors(desktop_client: ToolClient) -> None:
    sid = await desktop_client.create_session({"app": "form", "seed": 0, "observation": "a11y"})
    try:
        first = await desktop_client.call(sid, ToolCall("observe", {}))
        entry = find(first.data["elements"], tag="entry", name="City")
        await desktop_client.call(sid, ToolCall("click", dict(zip("xy", center(entry), strict=True))))
        await desktop_client.call(sid, ToolCall("type", {"text": "Lyonx"}))
        result = await desktop_client.call(sid, ToolCall("key", {"combo": "backspace"}))
        assert find(result.data["elements"], name="City")["text"] == "Lyon"
        off = await desktop_client.call(sid, ToolCall("click", {"x": 640, "y": 10}))
        assert off.is_error and off.data["error_kind"] == "out_of_screen" and "outside" in off.content
        with pytest.raises(BadArgumentsError, match="unknown key"):
            await desktop_client.call(sid, ToolCall("key", {"combo": "ctrl+hyperspace"}))
        with pytest.raises(BadArgumentsError):
            await desktop_client.call(sid, ToolCall("click", {"x": "left", "y": 3}))
        done = await desktop_client.call(sid, ToolCall("done", {}))
        assert done.data["done"] and done.data["finished"] == "done"
        verdict = await desktop_client.evaluate(sid, {})
        assert verdict.reward == 0.0 and verdict.parts["submitted"] == 0.0
    finally:
        await desktop_client.delete_session(sid)
    with pytest.raises(BadArgumentsError, match="no app"):
        await desktop_client.create_session({"app": "paint"})
    with pytest.raises(UnknownSessionError):
        await desktop_client.call(sid, ToolCall("observe", {}))


@pytest.mark.parametrize("victim", ["xvfb", "app"])
async def test_killed_display_or_app_is_infrastructure_and_leaves_nothing(desktop_client: ToolClient,
                                                                          victim: str) -> None:
    sid = await desktop_client.create_session({"app": "form", "seed": 1, "observation": "a11y"})
    session = next(s for s in server_of(desktop_client).live if s.params.seed == 1 and s.params.app == "form")
    pids, workdir = session.display.pids, session.display.workdir
    os.kill(getattr(session.display, victim).pid, signal.SIGKILL)
    with pytest.raises(InternalServerError, match="gone|answer|failed"):
        for _ in range(3):  # the first call may race the process's death
            await desktop_client.call(sid, ToolCall("click", {"x": 10, "y": 10}))
    for _ in range(100):  # the teardown may still be finishing when the error is answered (≤ 5 s)
        if not any(alive(pid) for pid in pids) and not os.path.exists(workdir):
            break
        await asyncio.sleep(0.05)
    assert not any(alive(pid) for pid in pids) and not os.path.exists(workdir)
    await desktop_client.delete_session(sid)
    assert session not in server_of(desktop_client).live


async def test_session_limit() -> None:
    from tool_servers.desktop import DesktopToolServer

    client = ToolClient.in_process(create_app(DesktopToolServer(max_displays=1, display_wait_s=0.2)))
    try:
        first = await client.create_session({"app": "calculator"})
        with pytest.raises(ServerBusyError, match="displays stayed busy"):
            await client.create_session({"app": "calculator"})
        pids = next(iter(server_of(client).live)).display.pids
        await client.delete_session(first)
        assert not any(alive(pid) for pid in pids)
        await client.delete_session(await client.create_session({"app": "form"}))
    finally:
        await client.aclose()
