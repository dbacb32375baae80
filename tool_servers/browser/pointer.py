"""Coordinate actions for the pixel mode: the mouse and keyboard through Playwright's
`page.mouse` / `page.keyboard`, at points of the screenshot (BrowserGym's `coord` action set).

Coordinates are screenshot pixels of the fixed pixel-mode viewport (`PIXEL_VIEWPORT`,
device scale 1, so a screenshot pixel is a CSS pixel); (0, 0) is the top-left corner. A
point outside the viewport is refused with `OutOfScreen` (the tool answers
`error_kind="out_of_screen"`, like the desktop server). Keys take Playwright's names
(`Enter`, `Control+a`) or pyautogui's (`enter`, `ctrl+a`); anything else is refused.

>>> playwright_key("ctrl+a"), playwright_key("Enter"), playwright_key("shift+tab"), playwright_key("+")
('Control+a', 'Enter', 'Shift+Tab', '+')
"""

from __future__ import annotations

import re

from tool_servers.browser.schemas import (
    KeyboardPressArgs,
    KeyboardTypeArgs,
    MouseButtonArgs,
    MouseClickArgs,
    MouseDragArgs,
    MousePointArgs,
)
from tool_servers.browser.session import ActionFailed, BrowserSession

__all__ = ["PIXEL_VIEWPORT", "OutOfScreen", "playwright_key", "pointer"]

#: The pixel mode's viewport (width, height): MiniWoB++'s whole task area (`#wrap`, 160x210
#: at the page's top-left corner), as in CC-Net and Pix2Act; every served task fits in it.
PIXEL_VIEWPORT = (160, 210)

#: pyautogui / OSWorld key names → Playwright's.
PYAUTOGUI_KEYS = {
    "enter": "Enter", "return": "Enter", "tab": "Tab", "backspace": "Backspace", "delete": "Delete",
    "del": "Delete", "esc": "Escape", "escape": "Escape", "space": "Space", "up": "ArrowUp",
    "down": "ArrowDown", "left": "ArrowLeft", "right": "ArrowRight", "home": "Home", "end": "End",
    "pageup": "PageUp", "pgup": "PageUp", "pagedown": "PageDown", "pgdn": "PageDown", "insert": "Insert",
    "ctrl": "Control", "control": "Control", "ctrlleft": "Control", "ctrlright": "Control", "shift": "Shift",
    "shiftleft": "Shift", "shiftright": "Shift", "alt": "Alt", "altleft": "Alt", "altright": "Alt",
    "win": "Meta", "super": "Meta", "cmd": "Meta", "command": "Meta", "meta": "Meta", "capslock": "CapsLock",
    **{f"f{i}": f"F{i}" for i in range(1, 13)},
}
#: Playwright's own names that pass unchanged (besides single printable characters).
PLAYWRIGHT_KEYS = frozenset({*PYAUTOGUI_KEYS.values(), "ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight",
                             "ControlOrMeta", *(f"Key{c}" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
                             *(f"Digit{d}" for d in range(10))})
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{1,15}$")


def playwright_key(combo: str) -> str:
    """A Playwright key (combination) for Playwright's or pyautogui's names; `ActionFailed`
    naming the bad key otherwise."""
    names = combo[:-1].split("+") + ["+"] if combo.endswith("++") else combo.split("+")
    if combo == "+":
        names = ["+"]
    keys = []
    for name in names:
        if (len(name) == 1 and name.isprintable()) or name in PLAYWRIGHT_KEYS:
            keys.append(name)
        elif _NAME.match(name) and name.lower() in PYAUTOGUI_KEYS:
            keys.append(PYAUTOGUI_KEYS[name.lower()])
        else:
            raise ActionFailed(f"unknown key {name!r} in {combo!r}; use names such as 'Enter', 'Tab', "
                               "'Backspace', 'ArrowUp', 'Control+a' (or pyautogui's 'enter', 'ctrl+a')")
    return "+".join(keys)


class OutOfScreen(ActionFailed):
    """A point outside the viewport (the model's mistake, told to it)."""


def pointer(session: BrowserSession) -> tuple[int, int]:
    """Where the mouse is (Playwright's mouse starts at (0, 0))."""
    x, y = session.extra.get("pointer", (0, 0))
    return int(x), int(y)


def _point(session: BrowserSession, x: int, y: int) -> tuple[int, int]:
    size = session.page.viewport_size
    width, height = (size["width"], size["height"]) if size else PIXEL_VIEWPORT
    if not (0 <= x < width and 0 <= y < height):
        raise OutOfScreen(f"({x}, {y}) is outside the {width}x{height} screen; "
                          f"x must be in [0, {width - 1}] and y in [0, {height - 1}]")
    return x, y


async def _move(session: BrowserSession, x: int, y: int, steps: int = 1) -> None:
    await session.page.mouse.move(x, y, steps=steps)
    session.extra["pointer"] = (x, y)


async def mouse_click(session: BrowserSession, args: MouseClickArgs) -> str:
    x, y = _point(session, args.x, args.y)
    await _move(session, x, y)
    await session.page.mouse.click(x, y, button=args.button, click_count=args.num_clicks)
    times = {1: "", 2: " twice", 3: " three times"}[args.num_clicks]
    return f"clicked {args.button}{times} at ({x}, {y})"


async def mouse_dblclick(session: BrowserSession, args: MousePointArgs) -> str:
    x, y = _point(session, args.x, args.y)
    await _move(session, x, y)
    await session.page.mouse.dblclick(x, y)
    return f"double-clicked at ({x}, {y})"


async def mouse_move(session: BrowserSession, args: MousePointArgs) -> str:
    await _move(session, *_point(session, args.x, args.y))
    return f"moved the mouse to ({args.x}, {args.y})"


async def _move_if_asked(session: BrowserSession, args: MouseButtonArgs) -> None:
    """Move to (x, y) first when either is given (the other stays where the mouse is)."""
    if args.x is not None or args.y is not None:
        here = pointer(session)
        await _move(session, *_point(session, here[0] if args.x is None else args.x,
                                     here[1] if args.y is None else args.y))


async def mouse_down(session: BrowserSession, args: MouseButtonArgs) -> str:
    await _move_if_asked(session, args)
    await session.page.mouse.down(button=args.button)
    return f"pressed the {args.button} button at {pointer(session)}"


async def mouse_up(session: BrowserSession, args: MouseButtonArgs) -> str:
    await _move_if_asked(session, args)
    await session.page.mouse.up(button=args.button)
    return f"released the {args.button} button at {pointer(session)}"


async def mouse_drag_and_drop(session: BrowserSession, args: MouseDragArgs) -> str:
    """Press the left button at the first point, move in steps to the second, release."""
    start = _point(session, args.from_x, args.from_y)
    end = _point(session, args.to_x, args.to_y)
    await _move(session, *start)
    await session.page.mouse.down()
    await _move(session, *end, steps=8)
    await session.page.mouse.up()
    return f"dragged from {start} to {end}"


async def keyboard_type(session: BrowserSession, args: KeyboardTypeArgs) -> str:
    await session.page.keyboard.type(args.text)
    return f"typed {len(args.text)} characters"


async def keyboard_press(session: BrowserSession, args: KeyboardPressArgs) -> str:
    key = playwright_key(args.key)
    await session.page.keyboard.press(key)
    return f"pressed {key}"
