"""The desktop tool server: one Xvfb display per session with a Tk mini-app in it, driven
with OSWorld's action space.

Tools — every action answers with a one-line result and the new observation (screenshot
and/or a11y tree, per the session's `observation`): `click(x, y, button, num_clicks)`,
`double_click(x, y)`, `right_click(x, y)`, `move(x, y)`, `drag(x, y)` (left button held
from the pointer to the point), `mouse_down` / `mouse_up`, `scroll(dx, dy, x?, y?)`,
`type(text)`, `key(combo)`, `wait(seconds)`, and the terminal `done()` / `fail()`;
`screenshot()` and `a11y_tree()` observe without acting. `evaluate` reads the app's state
and runs the app's checker (reward 0/1; `fail` scores 0, as every shipped task is
feasible).

`data` of every answer: `goal`, `screen` [w, h], `elements` (the a11y rows as dicts,
for scripted agents and grounding), `a11y` (the linearised tree), `screenshot_png`
(base64, when asked), `done`, `error_kind` ("out_of_screen" or ""), `step`, `pointer`.
"""

from __future__ import annotations

import asyncio
import random
import shutil
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from pydantic import BaseModel, ValidationError

from tool_servers.desktop.a11y import linearize
from tool_servers.desktop.apps import APPS, app_module
from tool_servers.desktop.config import DesktopServerConfig
from tool_servers.desktop.display import Display, mss_available
from tool_servers.desktop.errors import DesktopBusyError, DesktopConfigError, UnknownAppError
from tool_servers.desktop.keys import to_keysyms
from tool_servers.desktop.schemas import (
    ButtonArgs,
    ClickArgs,
    DesktopSessionParams,
    KeyArgs,
    NoArgs,
    PointArgs,
    ScrollArgs,
    TypeArgs,
    WaitArgs,
)
from tool_servers.desktop.session import DesktopSession
from tool_servers.schemas import EvaluateResponse
from tool_servers.server import Handler, NoParams, Tool, ToolOutput, ToolServer, through

BUTTONS = {"left": "1", "middle": "2", "right": "3"}
Action = Callable[[DesktopSession, Any], Awaitable[str]]


class OutOfScreen(Exception):
    """A point outside the display (the model's mistake, told to it)."""


class DesktopToolServer(ToolServer):
    """See the module docstring; options are `DesktopServerConfig`'s fields."""

    name = "desktop"
    session_params = DesktopSessionParams
    evaluate_payload = NoParams
    default_settings: ClassVar[dict[str, Any]] = {"max_sessions": 64, "max_concurrency": 8}

    def __init__(self, **options: Any) -> None:
        try:
            self.config = DesktopServerConfig(**options)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise DesktopConfigError(f"bad desktop server options: {first['loc']}: {first['msg']}") from None
        self._slots = asyncio.Semaphore(self.config.max_displays)
        self.live: set[DesktopSession] = set()

    def validate(self) -> None:
        for tool in (self.config.xvfb_path, self.config.xdotool_path):
            if shutil.which(tool) is None:
                raise DesktopConfigError(f"{tool} not found; install xvfb and xdotool with apt-get (`make setup`)")
        if not mss_available():
            raise DesktopConfigError("the `mss` package is missing: `pip install -e '.[gui]'` (or `make setup`)")

    async def shutdown(self) -> None:
        for session in list(self.live):
            await self.close_session(session)

    # ---- sessions -------------------------------------------------------------------
    async def open_session(self, params: BaseModel) -> DesktopSession:
        assert isinstance(params, DesktopSessionParams)
        try:
            module = app_module(params.app)
        except KeyError:
            raise UnknownAppError(f"no app {params.app!r}; this server has: {', '.join(APPS)}",
                                  details={"known": list(APPS)}) from None
        goal = module.make_goal(random.Random(f"{params.app}:{params.seed}"))
        try:
            async with asyncio.timeout(self.config.display_wait_s):
                await self._slots.acquire()
        except TimeoutError:
            raise DesktopBusyError(f"all {self.config.max_displays} displays stayed busy for "
                                   f"{self.config.display_wait_s:g} s; close sessions or raise max_displays",
                                   details={"max_displays": self.config.max_displays}) from None
        try:
            display = await Display.start(self.config, params.app, goal["init"])
        except BaseException:
            self._slots.release()
            raise
        session = DesktopSession(params, module, goal, display)
        self.live.add(session)
        return session

    async def close_session(self, state: Any) -> None:
        assert isinstance(state, DesktopSession)
        if state not in self.live:
            return
        self.live.discard(state)
        try:
            await state.display.close()
        finally:
            self._slots.release()

    # ---- tools ----------------------------------------------------------------------
    def tools(self) -> list[Tool]:
        def act(action: Action) -> Handler:
            return through(self._act, action)

        return [
            Tool("click", "Click at (x, y) in screen pixels (OSWorld CLICK).", ClickArgs, act(self._click)),
            Tool("double_click", "Double-click at (x, y).", PointArgs, act(self._double_click)),
            Tool("right_click", "Right-click at (x, y).", PointArgs, act(self._right_click)),
            Tool("move", "Move the pointer to (x, y) (OSWorld MOVE_TO).", PointArgs, act(self._move)),
            Tool("drag", "Drag with the left button held from the pointer to (x, y) (OSWorld DRAG_TO).",
                 PointArgs, act(self._drag)),
            Tool("mouse_down", "Press a mouse button at the pointer.", ButtonArgs, act(self._mouse_down)),
            Tool("mouse_up", "Release a mouse button at the pointer.", ButtonArgs, act(self._mouse_up)),
            Tool("scroll", "Scroll dy clicks up (+) / down (-) and dx right/left, at (x, y) if given.",
                 ScrollArgs, act(self._scroll)),
            Tool("type", "Type text into the focused widget (OSWorld TYPING).", TypeArgs, act(self._type)),
            Tool("key", "Press a key or combination, e.g. 'enter', 'ctrl+a' (OSWorld PRESS / HOTKEY).",
                 KeyArgs, act(self._key)),
            Tool("wait", "Wait, then look again (OSWorld WAIT).", WaitArgs, act(self._wait)),
            Tool("done", "Declare the task complete (OSWorld DONE); ends the episode.", NoArgs,
                 act(lambda s, _a: self._finish(s, "done"))),
            Tool("fail", "Declare the task infeasible (OSWorld FAIL); ends the episode.", NoArgs,
                 act(lambda s, _a: self._finish(s, "fail"))),
            Tool("observe", "Observe the screen in the session's observation mode, without acting.", NoArgs,
                 self._observe),
            Tool("screenshot", "Observe the screen (PNG, base64 in data) without acting.", NoArgs, self._screenshot),
            Tool("a11y_tree", "Observe the accessibility tree without acting.", NoArgs, self._a11y_tree),
        ]

    def _point(self, x: int, y: int) -> tuple[str, str]:
        if not (0 <= x < self.config.width and 0 <= y < self.config.height):
            raise OutOfScreen(f"({x}, {y}) is outside the {self.config.width}x{self.config.height} screen; "
                              f"x must be in [0, {self.config.width - 1}] and y in [0, {self.config.height - 1}]")
        return str(x), str(y)

    async def _click(self, s: DesktopSession, a: ClickArgs) -> str:
        x, y = self._point(a.x, a.y)
        await s.display.xdotool("mousemove", x, y, "click", "--repeat", str(a.num_clicks), "--delay", "60",
                                BUTTONS[a.button])
        s.pointer = (a.x, a.y)
        return f"Clicked {a.button} ×{a.num_clicks} at ({a.x}, {a.y})."

    async def _double_click(self, s: DesktopSession, a: PointArgs) -> str:
        return await self._click(s, ClickArgs(x=a.x, y=a.y, num_clicks=2))

    async def _right_click(self, s: DesktopSession, a: PointArgs) -> str:
        return await self._click(s, ClickArgs(x=a.x, y=a.y, button="right"))

    async def _move(self, s: DesktopSession, a: PointArgs) -> str:
        await s.display.xdotool("mousemove", *self._point(a.x, a.y))
        s.pointer = (a.x, a.y)
        return f"Moved the pointer to ({a.x}, {a.y})."

    async def _drag(self, s: DesktopSession, a: PointArgs) -> str:
        x, y = self._point(a.x, a.y)
        await s.display.xdotool("mousedown", "1", "mousemove", "--sync", x, y, "mouseup", "1")
        start, s.pointer = s.pointer, (a.x, a.y)
        return f"Dragged from {start} to ({a.x}, {a.y})."

    async def _mouse_down(self, s: DesktopSession, a: ButtonArgs) -> str:
        await s.display.xdotool("mousedown", BUTTONS[a.button])
        return f"Pressed the {a.button} button at {s.pointer}."

    async def _mouse_up(self, s: DesktopSession, a: ButtonArgs) -> str:
        await s.display.xdotool("mouseup", BUTTONS[a.button])
        return f"Released the {a.button} button at {s.pointer}."

    async def _scroll(self, s: DesktopSession, a: ScrollArgs) -> str:
        args: list[str] = []
        if a.x is not None or a.y is not None:
            x, y = self._point(a.x if a.x is not None else s.pointer[0], a.y if a.y is not None else s.pointer[1])
            args += ["mousemove", x, y]
            s.pointer = (int(x), int(y))
        for count, positive, negative in ((a.dy, "4", "5"), (a.dx, "7", "6")):
            if count:
                args += ["click", "--repeat", str(abs(count)), "--delay", "20", positive if count > 0 else negative]
        if args:
            await s.display.xdotool(*args)
        return f"Scrolled dx={a.dx}, dy={a.dy} at {s.pointer}."

    async def _type(self, s: DesktopSession, a: TypeArgs) -> str:
        await s.display.xdotool("type", "--delay", str(self.config.type_delay_ms), "--", a.text)
        return f"Typed {len(a.text)} characters."

    async def _key(self, s: DesktopSession, a: KeyArgs) -> str:
        await s.display.xdotool("key", "--", to_keysyms(a.combo))
        return f"Pressed {a.combo}."

    async def _wait(self, s: DesktopSession, a: WaitArgs) -> str:
        await asyncio.sleep(a.seconds)
        return f"Waited {a.seconds:g} s."

    async def _finish(self, s: DesktopSession, verdict: str) -> str:
        s.finished = verdict
        return "The task is declared done." if verdict == "done" else "The task is declared infeasible."

    async def _act(self, session: DesktopSession, action: Action, args: Any) -> ToolOutput:
        session.steps += 1
        error_kind = ""
        try:
            result = await action(session, args)
        except OutOfScreen as exc:
            result, error_kind = f"Error: {exc}", "out_of_screen"
        if self.config.settle_ms and not error_kind:
            await asyncio.sleep(self.config.settle_ms / 1000)
        return await self._answer(session, result, error_kind)

    async def _answer(self, session: DesktopSession, result: str, error_kind: str = "",
                      mode: str | None = None) -> ToolOutput:
        await session.display.ensure_alive()
        mode = mode or session.params.observation
        reply = await session.display.request({"cmd": "a11y"})
        elements = list(reply.get("elements") or [])
        tree = linearize(elements)
        data: dict[str, Any] = {
            "goal": session.goal["instruction"], "screen": [self.config.width, self.config.height],
            "elements": elements, "a11y": tree, "done": bool(session.finished), "finished": session.finished,
            "error_kind": error_kind, "step": session.steps, "pointer": list(session.pointer), "mode": mode,
        }
        if mode in ("screenshot", "screenshot_a11y"):
            data["screenshot_png"] = await session.display.screenshot_b64()
        text = f"{result}\n\n{tree}" if mode in ("a11y", "screenshot_a11y") else result
        return ToolOutput(text, is_error=bool(error_kind), data=data)

    async def _observe(self, session: DesktopSession, _args: NoArgs) -> ToolOutput:
        return await self._answer(session, "Observed the screen.")

    async def _screenshot(self, session: DesktopSession, _args: NoArgs) -> ToolOutput:
        return await self._answer(session, "Screenshot taken.", mode="screenshot")

    async def _a11y_tree(self, session: DesktopSession, _args: NoArgs) -> ToolOutput:
        return await self._answer(session, "Accessibility tree:", mode="a11y")

    # ---- scoring --------------------------------------------------------------------
    async def evaluate(self, state: Any, payload: BaseModel) -> EvaluateResponse:
        assert isinstance(state, DesktopSession)
        await state.display.ensure_alive()
        reply = await state.display.request({"cmd": "state"})
        parts = dict(state.app.check(state.goal["target"], reply.get("state") or {}))
        parts["declared_fail"] = float(state.finished == "fail")
        success = parts.pop("success") == 1.0 and state.finished != "fail"
        return EvaluateResponse(reward=float(success), success=success, parts=parts)
