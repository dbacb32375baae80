"""GUI actions: OSWorld's `computer_13` JSON actions and `pyautogui` calls, parsed — never run.

Both forms become calls of the desktop tool server's tools (`click`, `move`, `drag`,
`scroll`, `type`, `key`, `wait`, `done`, `fail`, ...). JSON actions are read with
`json`; pyautogui calls with `ast`, literal arguments only, from a whitelist of
functions: `pyautogui.click(__import__("os"))` is a `ParseError`, not code. OSWorld's
pyautogui mode also uses the bare words `WAIT`, `DONE` and `FAIL`.

| OSWorld JSON `action_type`   | pyautogui                          | tool call                   |
|------------------------------|------------------------------------|-----------------------------|
| CLICK {x, y, button, num_clicks} | click(x, y, clicks=, button=)  | click                       |
| DOUBLE_CLICK / RIGHT_CLICK {x, y} | doubleClick / rightClick / tripleClick | double_click / right_click / click |
| MOVE_TO / DRAG_TO {x, y}     | moveTo / dragTo                    | move / drag                 |
| MOUSE_DOWN / MOUSE_UP {button} | mouseDown / mouseUp              | mouse_down / mouse_up       |
| SCROLL {dx, dy}              | scroll(clicks[, x, y]) / hscroll   | scroll                      |
| TYPING {text}                | write / typewrite(text)            | type                        |
| PRESS {key}, HOTKEY {keys}   | press(key or [keys]), hotkey(*keys)| key {combo}                 |
| WAIT, DONE, FAIL             | WAIT, DONE, FAIL                   | wait, done, fail            |

>>> [(c.name, dict(c.arguments)) for c in GuiParser().parse("pyautogui.click(100, 200)").tool_calls]
[('click', {'x': 100, 'y': 200, 'button': 'left', 'num_clicks': 1})]
>>> GuiParser().parse('{"action_type": "HOTKEY", "keys": ["ctrl", "a"]}').tool_calls[0].arguments
{'combo': 'ctrl+a'}
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Callable
from typing import Any

from envs.errors import ParseError
from envs.parsing._calls import read_call
from envs.parsing.composite import ToolCallParser
from tool_servers.types import ToolCall

EXAMPLES = ('pyautogui.click(120, 245), pyautogui.write("hello"), pyautogui.hotkey("ctrl", "a"), DONE, '
            'or {"action_type": "CLICK", "x": 120, "y": 245}')
MAX_CALL_CHARS = 5000
_PYAUTOGUI = re.compile(r"(?<![\w.])pyautogui\s*\.\s*([A-Za-z_]\w*)\s*\(")
_KEYWORD = re.compile(r"(?<![\w\"'])(WAIT|DONE|FAIL)(?![\w\"'])")


def _number(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value) or abs(value) > 1e6:
        raise ParseError(f"{what} must be a number of pixels, got {value!r}")
    return round(value)


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ParseError(f"{what} must be a string, got {value!r}")
    return value


def _button(value: Any) -> str:
    if value not in ("left", "right", "middle"):
        raise ParseError(f"button must be 'left', 'right' or 'middle', got {value!r}")
    return str(value)


def _point(x: Any, y: Any) -> dict[str, int]:
    if x is None or y is None:
        raise ParseError("this action needs both x and y screen coordinates")
    return {"x": _number(x, "x"), "y": _number(y, "y")}


def _click(x: Any = None, y: Any = None, clicks: Any = 1, interval: Any = 0.0, button: Any = "left",
           **_ignored: Any) -> ToolCall:
    count = _number(clicks, "clicks")
    if not 1 <= count <= 3:
        raise ParseError(f"clicks must be 1, 2 or 3, got {clicks!r}")
    return ToolCall("click", {**_point(x, y), "button": _button(button), "num_clicks": count})


def _keys(keys: Any) -> str:
    names = keys if isinstance(keys, list) else [keys]
    if not names or not all(isinstance(k, str) and k for k in names):
        raise ParseError(f"keys must be key names such as 'enter' or ['ctrl', 'a'], got {keys!r}")
    return "+".join(names)


def _press(keys: Any, presses: Any = 1, **_ignored: Any) -> list[ToolCall]:
    names = keys if isinstance(keys, list) else [keys]
    count = _number(presses, "presses")
    if not 1 <= count <= 20:
        raise ParseError(f"presses must be in [1, 20], got {presses!r}")
    return [ToolCall("key", {"combo": _keys(name)}) for name in names for _ in range(count)]


def _scroll(clicks: Any, x: Any = None, y: Any = None, horizontal: bool = False) -> ToolCall:
    args: dict[str, Any] = {"dx" if horizontal else "dy": _number(clicks, "clicks")}
    if x is not None or y is not None:
        args.update(_point(x, y))
    return ToolCall("scroll", args)


#: pyautogui function → builder of tool calls from its (literal) arguments.
PYAUTOGUI: dict[str, Callable[..., ToolCall | list[ToolCall]]] = {
    "click": _click,
    "leftClick": lambda x=None, y=None, **kw: _click(x, y),
    "doubleClick": lambda x=None, y=None, **kw: ToolCall("double_click", _point(x, y)),
    "tripleClick": lambda x=None, y=None, **kw: _click(x, y, clicks=3),
    "rightClick": lambda x=None, y=None, **kw: ToolCall("right_click", _point(x, y)),
    "moveTo": lambda x=None, y=None, *a, **kw: ToolCall("move", _point(x, y)),
    "dragTo": lambda x=None, y=None, *a, **kw: ToolCall("drag", _point(x, y)),
    "mouseDown": lambda x=None, y=None, button="left", **kw: ToolCall("mouse_down", {"button": _button(button)}),
    "mouseUp": lambda x=None, y=None, button="left", **kw: ToolCall("mouse_up", {"button": _button(button)}),
    "scroll": lambda clicks, x=None, y=None, **kw: _scroll(clicks, x, y),
    "vscroll": lambda clicks, x=None, y=None, **kw: _scroll(clicks, x, y),
    "hscroll": lambda clicks, x=None, y=None, **kw: _scroll(clicks, x, y, horizontal=True),
    "write": lambda message, interval=0.0, **kw: ToolCall("type", {"text": _text(message, "the text")}),
    "typewrite": lambda message, interval=0.0, **kw: ToolCall("type", {"text": _text(message, "the text")}),
    "press": _press,
    "hotkey": lambda *keys, **kw: ToolCall("key", {"combo": _keys(list(keys))}),
    "sleep": lambda seconds=0.5: ToolCall("wait", {"seconds": min(5.0, max(0.0, float(_number(seconds, "seconds"))))}),
}


def _json_action(action: Any) -> list[ToolCall]:
    """One OSWorld computer_13 action (a dict, or the strings "WAIT"/"DONE"/"FAIL")."""
    if isinstance(action, str):
        action = {"action_type": action}
    if not isinstance(action, dict) or not isinstance(action.get("action_type"), str):
        raise ParseError(f"a JSON action is an object with an action_type, e.g. {EXAMPLES}")
    kind, p = action["action_type"].upper(), action.get("parameters", action)
    if not isinstance(p, dict):
        raise ParseError("an action's parameters must be a JSON object")
    if kind == "CLICK":
        return [_click(p.get("x"), p.get("y"), p.get("num_clicks", 1), button=p.get("button", "left"))]
    simple = {"DOUBLE_CLICK": "double_click", "RIGHT_CLICK": "right_click", "MOVE_TO": "move", "DRAG_TO": "drag"}
    if kind in simple:
        return [ToolCall(simple[kind], _point(p.get("x"), p.get("y")))]
    if kind in ("MOUSE_DOWN", "MOUSE_UP"):
        return [ToolCall(kind.lower(), {"button": _button(p.get("button", "left"))})]
    if kind == "SCROLL":
        return [ToolCall("scroll", {"dx": _number(p.get("dx", 0), "dx"), "dy": _number(p.get("dy", 0), "dy")})]
    if kind == "TYPING":
        return [ToolCall("type", {"text": _text(p.get("text"), "TYPING's text")})]
    if kind == "PRESS":
        return [ToolCall("key", {"combo": _keys(p.get("key"))})]
    if kind == "HOTKEY":
        return [ToolCall("key", {"combo": _keys(p.get("keys"))})]
    if kind in ("WAIT", "DONE", "FAIL"):
        return [ToolCall(kind.lower(), {})]
    raise ParseError(f"unsupported action_type {kind!r}; use CLICK, DOUBLE_CLICK, RIGHT_CLICK, MOVE_TO, DRAG_TO, "
                     "MOUSE_DOWN, MOUSE_UP, SCROLL, TYPING, PRESS, HOTKEY, WAIT, DONE or FAIL")


def _literal(node: ast.expr) -> Any:
    try:
        value = ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise ParseError(f"pyautogui arguments must be literal numbers or strings, e.g. {EXAMPLES}") from None
    return list(value) if isinstance(value, tuple) else value


def _pyautogui_call(text: str, start: int, name: str) -> tuple[list[ToolCall], int]:
    if name not in PYAUTOGUI:
        raise ParseError(f"pyautogui.{name} is not supported; use one of: {', '.join(PYAUTOGUI)}")
    found = read_call(text, start, max_chars=MAX_CALL_CHARS, max_tries=100)
    if found is not None:
        call, end = found
        args = [_literal(a) for a in call.args]
        if any(k.arg is None for k in call.keywords):
            raise ParseError("pyautogui calls take no **kwargs")
        kwargs = {k.arg: _literal(k.value) for k in call.keywords if k.arg is not None}
        try:
            built = PYAUTOGUI[name](*args, **kwargs)
        except TypeError:
            raise ParseError(f"pyautogui.{name}() got the wrong arguments; examples: {EXAMPLES}") from None
        return (built if isinstance(built, list) else [built]), end
    raise ParseError(f"the call pyautogui.{name}(...) is not closed or not valid; e.g. {EXAMPLES}")


def _json_actions(visible: str) -> tuple[list[ToolCall], str]:
    decoder, calls, rest, pos = json.JSONDecoder(), [], [], 0
    while (start := visible.find("{", pos)) != -1:
        try:
            value, end = decoder.raw_decode(visible, start)
        except ValueError:
            rest.append(visible[pos:start + 1])
            pos = start + 1
            continue
        if not (isinstance(value, dict) and "action_type" in value):
            rest.append(visible[pos:end])
            pos = end
            continue
        calls.extend(_json_action(value))
        rest.append(visible[pos:start])
        pos = end
    rest.append(visible[pos:])
    return calls, "".join(rest)


class GuiParser(ToolCallParser):
    """Finds OSWorld JSON actions, pyautogui calls and WAIT/DONE/FAIL (see the module docstring)."""

    name = "gui"

    def extract_calls(self, visible: str) -> tuple[list[ToolCall], str]:
        calls, rest = _json_actions(visible)
        found: list[ToolCall] = []
        pieces, pos = [], 0
        while (match := _PYAUTOGUI.search(rest, pos)) is not None:
            pieces.append(rest[pos:match.start()])
            built, pos = _pyautogui_call(rest, match.start(), match.group(1))
            found.extend(built)
        pieces.append(rest[pos:])
        rest = "".join(pieces)
        calls.extend(found)
        if not calls:
            words = _KEYWORD.findall(re.sub(r"```\w*", "", rest))
            calls = [ToolCall(word.lower(), {}) for word in words[-1:]]
            rest = _KEYWORD.sub("", rest) if calls else rest
        return calls, rest

    def format_instructions(self) -> str:
        return f"Act with one GUI action per turn, e.g. {EXAMPLES}."
