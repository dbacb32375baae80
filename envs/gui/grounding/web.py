"""MiniWoB++ screens for the grounding set, through the browser server's pixel mode.

A "pixels" session (`tool_servers/browser/boxes.py`) answers with a screenshot of the
160×210 task viewport and the visible elements' boxes from the DOM, in the desktop
server's element schema, so `generate.samples_from_screen` treats them like Tk widgets.
Three MiniWoB++-specific touches: elements in the task's own instruction bar (the top
`QUERY_BAR_HEIGHT` pixels) are left out; a screen's only unnamed text box is "the text
field"; a tab's inner link (same name, same place) is not a second target.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Sequence
from typing import Any

from envs.gui.grounding.generate import Screen, _box, _contains
from tool_servers.client import ToolClient
from tool_servers.types import ToolCall

__all__ = ["MINIWOB_TASKS", "QUERY_BAR_HEIGHT", "miniwob_elements", "miniwob_screens"]

#: Tasks whose screens hold nameable targets (buttons, boxes, options, tabs, links, fields).
MINIWOB_TASKS = ("click-button", "click-checkboxes", "click-option", "click-tab", "click-link", "enter-text",
                 "login-user", "click-dialog")
#: MiniWoB++'s `#query` bar, the task's own instruction, at the top of the viewport.
QUERY_BAR_HEIGHT = 50


def miniwob_elements(elements: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The elements of a MiniWoB++ screen that can be targets (see the module docstring).

    >>> [e["name"] for e in miniwob_elements([
    ...     {"tag": "StaticText", "name": "Enter it", "x": 0, "y": 0, "w": 160, "h": 50},
    ...     {"tag": "textbox", "name": "", "x": 5, "y": 56, "w": 128, "h": 21}])]
    ['text']
    """
    body = [dict(e) for e in elements if int(e["y"]) >= QUERY_BAR_HEIGHT]
    unnamed = [e for e in body if e.get("tag") == "textbox" and not e.get("name")]
    if len(unnamed) == 1:
        unnamed[0]["name"] = "text"
    tabs = [e for e in body if e.get("tag") == "tab"]
    return [e for e in body
            if not (e.get("tag") == "link"
                    and any(t.get("name") == e.get("name") and _contains(_box(t), _box(e)) for t in tabs))]


async def miniwob_screens(client: ToolClient, tasks: Sequence[str] | None, per_task: int) -> AsyncIterator[Screen]:
    """`per_task` screens (seeds 0, 1, ...) of each MiniWoB++ task, as first shown."""
    for task in tasks or MINIWOB_TASKS:
        for seed in range(per_task):
            session = await client.create_session({"site": "miniwob", "task": task, "seed": seed,
                                                   "observation": "pixels"})
            try:
                result = await client.call(session, ToolCall("observe", {}))
            finally:
                await client.delete_session(session)
            width, height = result.data["screen"]
            yield Screen(key=f"miniwob_{task.replace('-', '_')}_{seed:03d}", source=f"miniwob/{task}",
                         png=base64.b64decode(result.data["screenshot_png"]), size=(int(width), int(height)),
                         elements=miniwob_elements(result.data.get("elements", [])))
