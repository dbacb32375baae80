"""BrowserGym's action syntax: Python-like calls such as `click("12")`, `fill("7", "text")`.

Each call becomes a call of the browser tool server's tool of the same job. Calls are read
with `ast` and only literal arguments are accepted (strings, numbers, lists of strings):
nothing is ever evaluated, so `click(__import__("os"))` is a `ParseError`, not code.
Calls may sit in prose or in a code fence; several calls run in order.

| action                          | tool call                                  |
|---------------------------------|--------------------------------------------|
| `click(bid)`                    | `click {bid}`                              |
| `fill(bid, text)`               | `fill {bid, text}`                         |
| `select_option(bid, option)`    | `select {bid, option}` (`select` too)      |
| `press(key)` / `press(bid, key)`| `press {key[, bid]}` (`keyboard_press(key)`) |
| `scroll(dx, dy)` / `scroll("down"[, px])` | `scroll {direction, amount}`     |
| `go_back()`, `goto(url)`, `noop()` | `go_back`, `goto {url}`, `observe`      |

>>> [(c.name, dict(c.arguments)) for c in BrowserGymParser().parse('fill("7", "Jerald")').tool_calls]
[('fill', {'bid': '7', 'text': 'Jerald'})]
>>> BrowserGymParser().parse("scroll(0, 200)").tool_calls[0].arguments
{'direction': 'down', 'amount': 200}
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from typing import Any

from envs.errors import ParseError
from envs.parsing._calls import read_call
from envs.parsing.composite import ToolCallParser
from tool_servers.types import ToolCall

EXAMPLES = 'click("12"), fill("7", "some text"), select_option("9", "blue"), press("Enter"), scroll(0, 300), go_back()'
MAX_CALL_CHARS = 20_000


def _bid(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ParseError(f"an element id must be a string like \"12\", got {value!r}")
    return str(value)


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ParseError(f"{what} must be a string in quotes, got {value!r}")
    return value


def _scroll(*args: Any) -> dict[str, Any]:
    if args and isinstance(args[0], str):
        amount = args[1] if len(args) > 1 else 300
        if args[0] not in ("up", "down", "left", "right") or not isinstance(amount, int | float):
            raise ParseError('scroll takes ("up"|"down"|"left"|"right"[, pixels]) or (delta_x, delta_y)')
        return {"direction": args[0], "amount": max(1, int(amount))}
    if len(args) != 2 or not all(isinstance(a, int | float) and not isinstance(a, bool) for a in args):
        raise ParseError("scroll takes two numbers, scroll(delta_x, delta_y), e.g. scroll(0, 300)")
    dx, dy = args
    if abs(dy) >= abs(dx):
        return {"direction": "down" if dy >= 0 else "up", "amount": max(1, int(abs(dy)))}
    return {"direction": "right" if dx > 0 else "left", "amount": max(1, int(abs(dx)))}


def _press(*args: Any) -> dict[str, Any]:
    if len(args) == 1:
        return {"key": _text(args[0], "the key")}
    if len(args) == 2:
        return {"bid": _bid(args[0]), "key": _text(args[1], "the key")}
    raise ParseError('press takes (key) or (bid, key), e.g. press("Enter")')


#: action name → (tool name, builder of the tool's arguments from the call's positional args).
ACTIONS: dict[str, tuple[str, Callable[..., dict[str, Any]]]] = {
    "click": ("click", lambda bid, *_: {"bid": _bid(bid)}),
    "fill": ("fill", lambda bid, text: {"bid": _bid(bid), "text": _text(text, "the text")}),
    "select_option": ("select", lambda bid, option: {"bid": _bid(bid), "option": option}),
    "select": ("select", lambda bid, option: {"bid": _bid(bid), "option": option}),
    "press": ("press", _press),
    "keyboard_press": ("press", lambda key: {"key": _text(key, "the key")}),
    "scroll": ("scroll", _scroll),
    "go_back": ("go_back", dict),
    "goto": ("goto", lambda url: {"url": _text(url, "the URL")}),
    "noop": ("observe", lambda *_: {}),
}
#: Keyword names BrowserGym uses, mapped to positions.
_KEYWORDS = {"bid": 0, "value": 1, "text": 1, "options": 1, "option": 1, "key_comb": -1, "key": -1,
             "delta_x": 0, "delta_y": 1, "url": 0, "wait_ms": 0, "button": 1}
_CALL_START = re.compile(r"(?<![\w.])(" + "|".join(sorted(ACTIONS, key=len, reverse=True)) + r")\s*\(")


def _literal(node: ast.expr) -> Any:
    try:
        value = ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise ParseError("action arguments must be literal strings or numbers, e.g. "
                         f"{EXAMPLES}") from None
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return list(value)
    if not isinstance(value, str | int | float):
        raise ParseError(f"unsupported argument {value!r}; use strings or numbers")
    return value


def _read_call(text: str, start: int) -> tuple[ast.Call, int]:
    """The call expression beginning at `start` and the index after it."""
    found = read_call(text, start, max_chars=MAX_CALL_CHARS)
    if found is None:
        name = text[start:text.find("(", start)]
        raise ParseError(f"the call {name}(...) is not closed or not valid; write actions like {EXAMPLES}")
    return found


def _to_tool_call(call: ast.Call) -> ToolCall:
    assert isinstance(call.func, ast.Name)
    name = call.func.id
    tool, build = ACTIONS[name]
    args = [_literal(a) for a in call.args]
    for keyword in call.keywords:
        if keyword.arg is None or keyword.arg not in _KEYWORDS:
            raise ParseError(f"{name}() got an unknown keyword argument {keyword.arg!r}")
        position = _KEYWORDS[keyword.arg]
        position = len(args) if position == -1 else position
        args.insert(min(position, len(args)), _literal(keyword.value))
    try:
        return ToolCall(tool, build(*args))
    except TypeError:
        raise ParseError(f"{name}() got {len(args)} argument(s); examples: {EXAMPLES}") from None


class BrowserGymParser(ToolCallParser):
    """Finds BrowserGym action calls in the visible text (see the module docstring)."""

    name = "browsergym"

    def extract_calls(self, visible: str) -> tuple[list[ToolCall], str]:
        calls: list[ToolCall] = []
        rest: list[str] = []
        pos = 0
        while (match := _CALL_START.search(visible, pos)) is not None:
            rest.append(visible[pos:match.start()])
            node, pos = _read_call(visible, match.start())
            calls.append(_to_tool_call(node))
        rest.append(visible[pos:])
        return calls, "".join(rest)

    def format_instructions(self) -> str:
        return f"Act with one BrowserGym action per turn, e.g. {EXAMPLES}; element ids are the numbers in [brackets]."
