"""MiniWoB++ in pixel mode, the shared part: the GUI parser's calls as browser coordinate
tools, and the scripted agents that solve the web env's tasks through coordinates alone.

The GUI parser (`envs.parsing.gui`) turns pyautogui calls and OSWorld JSON actions into
calls of the desktop server's tools; `to_browser_calls` renames them into the browser
server's coordinate tools (`tool_servers/browser/pointer.py`):

| desktop-style call (from the parser) | browser tool |
|---|---|
| click {x, y, button, num_clicks} / right_click | mouse_click |
| double_click {x, y} | mouse_dblclick |
| move {x, y} | mouse_move |
| drag {x, y} (from the pointer) | mouse_drag_and_drop |
| mouse_down / mouse_up {button} | mouse_down / mouse_up |
| scroll {dx, dy, x?, y?} (clicks; + is up/right) | mouse_move, then scroll (100 px per click) |
| type {text} | keyboard_type |
| key {combo} | keyboard_press |
| wait | observe |

The scripted agents reuse the web env's solvers (`envs.web.miniwob_solvers`): the pixel
observation's element boxes are read as the tree's elements (a box's `id` is the bid), the
solver picks an element action, and `pixel_actions` does it with the mouse and keyboard at
the element box's centre: a click is a click there; a fill is a click, select-all and
typing; a select is a click (opening the list), typing the option's label and Enter.

>>> [(c.name, c.arguments) for c in to_browser_calls([ToolCall("drag", {"x": 50, "y": 60})], (10, 20))]
[('mouse_drag_and_drop', {'from_x': 10, 'from_y': 20, 'to_x': 50, 'to_y': 60})]
>>> pixel_actions(("fill", {"bid": "7", "text": "hi"}), [{"id": 7, "x": 0, "y": 10, "w": 20, "h": 10}])
[('click', {'x': 10, 'y': 15}), ('key', {'combo': 'ctrl+a'}), ('type', {'text': 'hi'})]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from envs.gui.solvers import Action
from envs.web.miniwob_solvers import SOLVERS, PageView, wrong_action
from tool_servers.desktop.a11y import center
from tool_servers.types import ToolCall

__all__ = ["PIXELS_PER_SCROLL_CLICK", "page_view", "pixel_actions", "scripted_pixel_actions", "to_browser_calls"]

#: Page pixels one pyautogui scroll click moves.
PIXELS_PER_SCROLL_CLICK = 100


def _scroll(args: dict[str, Any]) -> list[ToolCall]:
    calls = [ToolCall("mouse_move", {"x": args["x"], "y": args["y"]})] if "x" in args else []
    for clicks, positive, negative in ((args.get("dy", 0), "up", "down"), (args.get("dx", 0), "right", "left")):
        if clicks:
            calls.append(ToolCall("scroll", {"direction": positive if clicks > 0 else negative,
                                             "amount": abs(clicks) * PIXELS_PER_SCROLL_CLICK}))
    return calls


def to_browser_calls(calls: Sequence[ToolCall], pointer: tuple[int, int]) -> list[ToolCall]:
    """The browser tool calls doing `calls` (desktop-style; see the module table), the
    pointer followed through them so that a drag starts where the mouse is. `done` and
    `fail` are the env's business, not the server's: leave them out before calling."""
    out: list[ToolCall] = []
    for call in calls:
        args = dict(call.arguments)
        if call.name in ("click", "right_click"):
            button = "right" if call.name == "right_click" else args.get("button", "left")
            out.append(ToolCall("mouse_click", {"x": args["x"], "y": args["y"], "button": button,
                                                "num_clicks": args.get("num_clicks", 1)}))
        elif call.name in ("double_click", "move"):
            out.append(ToolCall("mouse_dblclick" if call.name == "double_click" else "mouse_move",
                                {"x": args["x"], "y": args["y"]}))
        elif call.name == "drag":
            out.append(ToolCall("mouse_drag_and_drop", {"from_x": pointer[0], "from_y": pointer[1],
                                                        "to_x": args["x"], "to_y": args["y"]}))
        elif call.name in ("mouse_down", "mouse_up"):
            out.append(ToolCall(call.name, {"button": args.get("button", "left")}))
        elif call.name == "scroll":
            out.extend(_scroll(args))
        elif call.name == "type":
            out.append(ToolCall("keyboard_type", {"text": args["text"]}))
        elif call.name == "key":
            out.append(ToolCall("keyboard_press", {"key": args["combo"]}))
        elif call.name == "wait":
            out.append(ToolCall("observe", {}))
        else:
            raise ValueError(f"no browser tool for the GUI call {call.name!r}")
        if "x" in args and "y" in args:
            pointer = (int(args["x"]), int(args["y"]))
    return out


def page_view(data: dict[str, Any], history: list[Action]) -> PageView:
    """The web solvers' view of a pixel observation: each box as a tree element."""
    elements = [{"bid": str(box["id"]), "role": box["tag"], "name": box["name"], "value": box["text"],
                 "states": [s.strip() for s in str(box["description"]).split(",") if s.strip()]}
                for box in data.get("elements", [])]
    return PageView(str(data.get("goal", "")), elements, str(data.get("url", "")), history)


def pixel_actions(action: Action | None, boxes: Sequence[dict[str, Any]]) -> list[Action]:
    """An element action of the web solvers as desktop-style mouse and keyboard actions at
    the element box's centre (a WAIT when there is nothing to do)."""
    if action is None:
        return [("wait", {})]
    name, args = action
    box = next((b for b in boxes if str(b["id"]) == args.get("bid")), None)
    if name == "click" and box is not None:
        return [("click", dict(zip("xy", center(box), strict=True)))]
    if name == "fill" and box is not None:
        typed: list[Action] = [("type", {"text": args["text"]})] if args["text"] else [("key", {"combo": "backspace"})]
        return [("click", dict(zip("xy", center(box), strict=True))), ("key", {"combo": "ctrl+a"}), *typed]
    if name == "select" and box is not None:
        option = args["option"] if isinstance(args["option"], str) else args["option"][0]
        return [("click", dict(zip("xy", center(box), strict=True))), ("type", {"text": option}),
                ("key", {"combo": "enter"})]
    if name == "press":
        focus = [("click", dict(zip("xy", center(box), strict=True)))] if box is not None else []
        return [*focus, ("key", {"combo": args["key"]})]
    return [("wait", {})]


def scripted_pixel_actions(task: str, data: dict[str, Any], history: list[Action],
                           kind: str = "reference") -> tuple[Action | None, list[Action]]:
    """The web solver's (or the wrong agent's) next element action on the current screen,
    and the pixel actions doing it."""
    view = page_view(data, history)
    action = SOLVERS[task](view) if kind == "reference" else wrong_action(task, view)
    return action, pixel_actions(action, data.get("elements", []))
