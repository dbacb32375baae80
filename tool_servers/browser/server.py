"""The browser tool server: Playwright driving Debian's Chromium, one isolated context per
session, local task sites only.

Tools (every action answers with its one-line result and the new observation):
`goto(url)`, `click(bid)`, `fill(bid, text)`, `select(bid, option)`, `press(key, bid?)`,
`scroll(direction, amount)`, `go_back()`, WebShop's `search(query)` and
`click_text(text)`; coordinate actions (`pointer.py`, for the "pixels" observation):
`mouse_click(x, y, button, num_clicks)`, `mouse_dblclick`, `mouse_move`, `mouse_down` /
`mouse_up`, `mouse_drag_and_drop(from_x, from_y, to_x, to_y)`, `keyboard_type(text)`,
`keyboard_press(key)`; observations without acting: `observe()`, `page_text()`,
`screenshot()`. A "pixels" session has the fixed viewport `pointer.PIXEL_VIEWPORT` and
answers with `data["screen"]` [w, h], `data["pointer"]`, the visible elements' boxes in
`data["elements"]` (`boxes.py`) and a screenshot. A session plays one task of one site (`BrowserSessionParams`); after
every action the site says whether the task is over (`data["done"]`), and `evaluate`
scores it server-side.

What went wrong in an action is told to the model (`is_error=True`, with
`data["error_kind"]`: "no_such_element", "out_of_screen", "blocked" or "action_failed"); a browser that died
is a `BrowserCrashedError` (5xx), and the pool starts a new one for the next session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from pydantic import BaseModel, ValidationError

from tool_servers.browser import actions, pointer
from tool_servers.browser.config import BrowserServerConfig
from tool_servers.browser.errors import (
    BrowserConfigError,
    BrowserCrashedError,
    BrowserUnavailableError,
    UnknownSiteError,
)
from tool_servers.browser.launcher import find_chromium
from tool_servers.browser.observe import observe, page_text, screenshot
from tool_servers.browser.pool import BrowserPool, playwright_available
from tool_servers.browser.router import OriginGate
from tool_servers.browser.schemas import (
    BrowserSessionParams,
    ClickArgs,
    ClickTextArgs,
    FillArgs,
    GoBackArgs,
    GotoArgs,
    KeyboardPressArgs,
    KeyboardTypeArgs,
    MouseButtonArgs,
    MouseClickArgs,
    MouseDragArgs,
    MousePointArgs,
    ObserveArgs,
    PageTextArgs,
    PressArgs,
    ScreenshotArgs,
    ScrollArgs,
    SearchArgs,
    SelectArgs,
)
from tool_servers.browser.session import ActionFailed, BrowserSession
from tool_servers.browser.sites import build_sites
from tool_servers.browser.sites.base import Site
from tool_servers.schemas import EvaluateResponse
from tool_servers.server import Handler, NoParams, Tool, ToolOutput, ToolServer, through

log = logging.getLogger(__name__)

Action = Callable[[BrowserSession, Any], Awaitable[str]]


class BrowserToolServer(ToolServer):
    """See the module docstring; options are `BrowserServerConfig`'s fields."""

    name = "browser"
    session_params = BrowserSessionParams
    evaluate_payload = NoParams
    # A context per session: the pool's cap is the real limit; calls are short.
    default_settings: ClassVar[dict[str, Any]] = {"max_sessions": 64, "max_concurrency": 8}

    def __init__(self, **options: Any) -> None:
        try:
            self.config = BrowserServerConfig(**options)
        except ValidationError as exc:
            raise BrowserConfigError(f"bad browser server options: {exc.errors()[0]['loc']}: "
                                     f"{exc.errors()[0]['msg']}") from None
        self.pool = BrowserPool(self.config)
        self._sites: dict[str, Site] | None = None

    # ---- lifecycle ------------------------------------------------------------------
    def validate(self) -> None:
        if not playwright_available():
            raise BrowserConfigError("Playwright is not installed: `pip install -e '.[web]'` (or `make setup`)")
        find_chromium(self.config.executable_path)
        self.sites  # noqa: B018  # builds them: a missing package or data dir fails here

    @property
    def sites(self) -> dict[str, Site]:
        if self._sites is None:
            self._sites = build_sites(self.config)
        return self._sites

    async def startup(self) -> None:
        await asyncio.to_thread(lambda: self.sites)

    async def shutdown(self) -> None:
        await self.pool.close()

    # ---- sessions -------------------------------------------------------------------
    async def open_session(self, params: BaseModel) -> BrowserSession:
        assert isinstance(params, BrowserSessionParams)
        site = self.sites.get(params.site)
        if site is None:
            raise UnknownSiteError(f"no site {params.site!r}; this server serves: {', '.join(self.sites)}",
                                   details={"known": list(self.sites)})
        episode = site.new_episode(params)
        gate = OriginGate(self.sites, episode)
        from playwright.async_api import Error as PlaywrightError

        width, height = (pointer.PIXEL_VIEWPORT if params.observation == "pixels"
                         else (self.config.viewport_width, self.config.viewport_height))
        context, generation = await self.pool.new_context(
            viewport={"width": width, "height": height},
            service_workers="block", accept_downloads=False)
        try:
            await context.route("**/*", gate)
            page = await context.new_page()
            page.set_default_timeout(self.config.navigation_timeout_ms)
            context.on("page", _close_popup)
            cdp = await context.new_cdp_session(page)
            session = BrowserSession(params, site, episode, gate, context, page, cdp, generation, self.pool)
            session.extra["sites"] = self.sites
            await site.start(page, episode)
        except PlaywrightError as exc:
            await self.pool.release(context)
            if not self.pool.is_alive(generation):
                raise BrowserCrashedError(f"the browser died while opening a session: {exc}") from exc
            raise BrowserUnavailableError(f"could not start {params.site} task {params.task!r}: {exc}") from exc
        except BaseException:
            await self.pool.release(context)
            raise
        return session

    async def close_session(self, state: Any) -> None:
        assert isinstance(state, BrowserSession)
        if state.closed:
            return
        state.closed = True
        await self.pool.release(state.context)

    # ---- tools ----------------------------------------------------------------------
    def tools(self) -> list[Tool]:
        def act(action: Action) -> Handler:
            return through(self._act, action)

        return [
            Tool("goto", "Open a URL on one of the local sites.", GotoArgs, act(actions.goto)),
            Tool("click", "Click the element with this bid.", ClickArgs, act(actions.click)),
            Tool("fill", "Replace the text of a text field.", FillArgs, act(actions.fill)),
            Tool("select", "Choose an option of a select element.", SelectArgs, act(actions.select)),
            Tool("press", "Press a key or key combination (in an element, if a bid is given).",
                 PressArgs, act(actions.press)),
            Tool("scroll", "Scroll the page.", ScrollArgs, act(actions.scroll)),
            Tool("go_back", "Go back to the previous page.", GoBackArgs,
                 act(lambda session, _args: actions.go_back(session))),
            Tool("search", "Type a query into the page's search box and submit it (WebShop's search[...]).",
                 SearchArgs, act(actions.search)),
            Tool("click_text", "Click the link or button with this text (WebShop's click[...]).",
                 ClickTextArgs, act(actions.click_text)),
            Tool("mouse_click", "Click at (x, y) in screenshot pixels.", MouseClickArgs, act(pointer.mouse_click)),
            Tool("mouse_dblclick", "Double-click at (x, y).", MousePointArgs, act(pointer.mouse_dblclick)),
            Tool("mouse_move", "Move the mouse to (x, y).", MousePointArgs, act(pointer.mouse_move)),
            Tool("mouse_down", "Press a mouse button (at (x, y) if given).", MouseButtonArgs, act(pointer.mouse_down)),
            Tool("mouse_up", "Release a mouse button (at (x, y) if given).", MouseButtonArgs, act(pointer.mouse_up)),
            Tool("mouse_drag_and_drop", "Drag with the left button from one point to another.", MouseDragArgs,
                 act(pointer.mouse_drag_and_drop)),
            Tool("keyboard_type", "Type text into the focused element.", KeyboardTypeArgs, act(pointer.keyboard_type)),
            Tool("keyboard_press", "Press a key or combination, e.g. 'Enter', 'Control+a'.", KeyboardPressArgs,
                 act(pointer.keyboard_press)),
            Tool("observe", "Show the current page without acting.", ObserveArgs, self._observe),
            Tool("page_text", "The visible text of the page.", PageTextArgs, self._page_text),
            Tool("screenshot", "A PNG screenshot of the page (base64 in data).", ScreenshotArgs, self._screenshot),
        ]

    async def _act(self, session: BrowserSession, action: Action, args: Any) -> ToolOutput:
        session.steps += 1
        error_kind = ""
        try:
            async with session.guard("an action"):
                result = await action(session, args)
                await _settle(session)
        except actions.NoSuchElement as exc:
            result, error_kind = f"Error: {exc}", "no_such_element"
        except pointer.OutOfScreen as exc:
            result, error_kind = f"Error: {exc}", "out_of_screen"
        except ActionFailed as exc:
            result, error_kind = f"Error: {exc}", "action_failed"
        if not error_kind and session.gate.blocked and session.extra.get("blocked_seen", 0) < len(session.gate.blocked):
            result += f" (blocked a request to a non-local origin: {session.gate.blocked[-1]})"
            error_kind = "blocked" if session.page.url.startswith("chrome-error:") else ""
        session.extra["blocked_seen"] = len(session.gate.blocked)
        return await self._answer(session, result, error_kind)

    async def _answer(self, session: BrowserSession, result: str, error_kind: str = "") -> ToolOutput:
        try:
            async with session.guard("reading the page"):
                status = await session.site.status(session.page, session.episode)
                seen = await observe(session.page, session.cdp, session.params.observation,
                                     session.params.screenshot)
        except ActionFailed as exc:  # e.g. the page navigated while being read: try once more
            await asyncio.sleep(0.2)
            try:
                async with session.guard("reading the page"):
                    status = await session.site.status(session.page, session.episode)
                    seen = await observe(session.page, session.cdp, session.params.observation,
                                         session.params.screenshot)
            except ActionFailed:
                raise BrowserCrashedError(f"the page cannot be read: {exc}") from exc
        data: dict[str, Any] = {
            "url": seen.url, "title": seen.title, "goal": session.episode.goal_text,
            "observation": seen.text, "mode": session.params.observation, "elements": seen.elements,
            "done": bool(status.get("done")), "error_kind": error_kind, "step": session.steps,
            "blocked_requests": len(session.gate.blocked),
        }
        if seen.screenshot_png_b64 is not None:
            data["screenshot_png"] = seen.screenshot_png_b64
        if session.params.observation == "pixels":
            size = session.page.viewport_size or {"width": 0, "height": 0}
            data["screen"], data["pointer"] = [size["width"], size["height"]], list(pointer.pointer(session))
        return ToolOutput(f"{result}\n\n{seen.text}", is_error=bool(error_kind), data=data)

    async def _observe(self, session: BrowserSession, _args: ObserveArgs) -> ToolOutput:
        return await self._answer(session, f"Page: {session.page.url}")

    async def _page_text(self, session: BrowserSession, args: PageTextArgs) -> ToolOutput:
        async with session.guard("reading the page text"):
            text = await page_text(session.page, args.max_chars)
        return ToolOutput(text, data={"url": session.page.url})

    async def _screenshot(self, session: BrowserSession, args: ScreenshotArgs) -> ToolOutput:
        async with session.guard("taking a screenshot"):
            png = await screenshot(session.page, args.full_page)
        return ToolOutput(f"Screenshot of {session.page.url} ({len(png) * 3 // 4} bytes PNG, in data).",
                          data={"url": session.page.url, "screenshot_png": png})

    # ---- scoring --------------------------------------------------------------------
    async def evaluate(self, state: Any, payload: BaseModel) -> EvaluateResponse:
        assert isinstance(state, BrowserSession)
        try:
            async with state.guard("scoring"):
                return await state.site.evaluate(state.page, state.episode)
        except ActionFailed as exc:
            raise BrowserCrashedError(f"could not read the task's result: {exc}") from exc


#: A cheap signature of the page layout: every element's rounded box.
_LAYOUT_JS = """() => { const r = []; for (const e of document.querySelectorAll('body *')) {
  const b = e.getBoundingClientRect(); r.push(Math.round(b.x), Math.round(b.y), Math.round(b.width),
  Math.round(b.height)); } return r.join(','); }"""


async def _settle(session: BrowserSession) -> None:
    """Let what the action started finish: a navigation's load, then page timers, and in
    pixel sessions any movement of the layout (an animation shifting what the agent will
    click next: measured flaky on MiniWoB's click-collapsible under load without it)."""
    config = session.pool.config
    with contextlib.suppress(Exception):
        await session.page.wait_for_load_state("load", timeout=config.navigation_timeout_ms)
    if config.settle_ms:
        await asyncio.sleep(config.settle_ms / 1000)
    if session.params.observation != "pixels" or not config.stable_layout_ms:
        return
    with contextlib.suppress(Exception):  # a page that navigates away meanwhile is read as it is
        deadline = time.monotonic() + config.stable_layout_ms / 1000
        layout = await session.page.evaluate(_LAYOUT_JS)
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            now = await session.page.evaluate(_LAYOUT_JS)
            if now == layout:
                return
            layout = now


async def _close_popup(page: Any) -> None:
    """One tab per session: pages opened by `target=_blank` or `window.open` are closed."""
    with contextlib.suppress(Exception):
        if len(page.context.pages) > 1:
            await page.close()
